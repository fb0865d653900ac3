# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by pnalloc's kselftests and `make run`. Sourced.
#
# The VM runner (scripts/vm.sh) tells the guest what it built on the kernel
# command line (pnalloc_test.dimms=<nid>:<bytes>,..., pnalloc_test.ko=...,
# pnalloc_test.hotplug_dir=...), so tests assert exact values.

PN_DEBUGFS=/sys/kernel/debug/pnalloc
# The selftests' allocation interface, in pnalloc_test.ko: a consumer of
# pnalloc's exported API in a module of its own.
PN_TEST=/sys/kernel/debug/pnalloc_test/test
PN_SYS_NODE=/sys/devices/system/node
PN_SYS_MEM=/sys/devices/system/memory

pn_param() {
	tr ' ' '\n' </proc/cmdline | sed -n "s/^pnalloc_test\.$1=//p" | head -n1
}

# The module: next to the installed tests first, else the one the runner named.
pn_ko() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [ -f "$here/pnalloc.ko" ]; then
		echo "$here/pnalloc.ko"
	else
		pn_param ko
	fi
}

# pnalloc_test.ko, built beside pnalloc.ko.
pn_test_ko() {
	local k
	for k in "$(dirname "$(pn_ko)")/pnalloc_test.ko" "$(dirname "$(pn_param ko)")/pnalloc_test.ko"; do
		[ -f "$k" ] && { echo "$k"; return 0; }
	done
	return 1
}

# Loads pnalloc (with any module parameters given) and its test consumer.
pn_insmod() {
	local tko
	tko=$(pn_test_ko) || { echo "pnalloc_test.ko not found" >&2; return 1; }
	insmod "$KO" "$@" || return 1
	insmod "$tko" || { pn_unload; return 1; }
}

pn_mount_debugfs() {
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
}

pn_block_size() {
	printf '%d\n' "0x$(cat $PN_SYS_MEM/block_size_bytes)"
}

# Memory block ids of node $1, one per line.
pn_node_blocks() {
	local d
	for d in "$PN_SYS_NODE/node$1"/memory[0-9]*; do
		[ -e "$d" ] && echo "${d##*/memory}"
	done | sort -n
}

# Sum of the kernel's "present" pages over node $1's zones in /proc/zoneinfo.
pn_zoneinfo_present() {
	awk -v node="$1" '
		/^Node/ { cur = $2; sub(",", "", cur) }
		$1 == "present" && cur == node { sum += $2 }
		END { print sum + 0 }' /proc/zoneinfo
}

pn_node_memtotal_kb() {
	awk '/MemTotal/ { print $4 }' "$PN_SYS_NODE/node$1/meminfo"
}

# In a node list like "0-1,3": is $2 in $1?
pn_in_list() {
	local list=$1 n=$2 part lo hi
	[ -n "$list" ] || return 1
	for part in ${list//,/ }; do
		lo=${part%-*}
		hi=${part#*-}
		[ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ] && return 0
	done
	return 1
}

# The nodes of a node list like "0-1,3", one per line.
pn_expand_list() {
	local part
	for part in ${1//,/ }; do
		seq "${part%-*}" "${part#*-}"
	done
}

# node_distance($1, $2) from sysfs: node $1's distance file lists one
# distance per online node, in node id order.
pn_distance() {
	local i=0 n d
	read -r -a d <"$PN_SYS_NODE/node$1/distance"
	for n in $(pn_expand_list "$(cat $PN_SYS_NODE/online)"); do
		[ "$n" = "$2" ] && { echo "${d[$i]}"; return 0; }
		i=$((i + 1))
	done
	return 1
}

# Marks the kernel log; pn_splats_since prints any splat after the mark.
pn_dmesg_mark() {
	PN_MARK="pnalloc-selftest-mark-$$-$RANDOM"
	echo "$PN_MARK" >/dev/kmsg
}

pn_splats_since() {
	# A mark that scrolled out of the log buffer would hide every splat.
	dmesg | grep -q "$PN_MARK" || { echo "kernel log mark $PN_MARK lost"; return 0; }
	dmesg | sed -n "/$PN_MARK/,\$p" |
		grep -E 'BUG:|WARNING: CPU:|WARNING: ([^ ]+:[0-9]+ )?at |Oops|Call Trace:|possible circular locking|inconsistent lock state|suspicious RCU usage|kmemleak:|Uhhuh\. NMI received|Dazed and confused' || true
}

# KTAP check: nothing since pn_dmesg_mark made the kernel complain.
pn_no_splats() {
	local s
	s=$(pn_splats_since)
	[ -z "$s" ] || { ktap_print_msg "$s"; return 1; }
}

# The start every test program shares: KTAP header, root, the module found,
# debugfs mounted, no pnalloc loaded, and a kernel log mark for splat checks.
pn_begin() {
	ktap_print_header
	[ "$(id -u)" = 0 ] || ktap_exit_fail_msg "must run as root"
	KO=$(pn_ko)
	[ -f "$KO" ] || ktap_exit_fail_msg "pnalloc.ko not found ($KO)"
	pn_mount_debugfs
	if pn_loaded || [ -d /sys/module/pnalloc_test ]; then
		pn_unload || ktap_exit_fail_msg "cannot unload pnalloc"
	fi
	pn_dmesg_mark
}

pn_loaded() {
	[ -d /sys/module/pnalloc ]
}

# The test consumer first (it frees what it holds), then each online block
# holds a module reference: release them all, then unload.
pn_unload() {
	if [ -d /sys/module/pnalloc_test ]; then
		rmmod pnalloc_test || return 1
	fi
	if [ -e "$PN_DEBUGFS/control" ]; then
		echo "release all" >"$PN_DEBUGFS/control" || return 1
	fi
	rmmod pnalloc
}

# Writes "$2" to debugfs file "$1" and prints "ok" or the error text.
pn_write() {
	local err
	if err=$( { echo "$2" >"$1"; } 2>&1); then
		echo ok
	else
		echo "${err##*: }"
	fi
}

# pn_write, but from CPU $1 (so one CPU's pcp lists serve the command).
pn_write_on() {
	local err
	# shellcheck disable=SC2016 # expanded by the inner bash
	if err=$(taskset -c "$1" bash -c 'echo "$2" >"$1"' bash "$2" "$3" 2>&1); then
		echo ok
	else
		echo "${err##*: }"
	fi
}

# Field $2 of node $1's zone in pnalloc's zoneinfo ("pages free" -> free).
pn_zone_field() {
	awk -v node="$1" -v field="$2" '
		/^Node/ { cur = $2; sub(",", "", cur) }
		cur == node && $1 == field { print $2; exit }
		cur == node && $1 == "pages" && $2 == field { print $3; exit }' "$PN_DEBUGFS/zoneinfo"
}

# Free blocks per order of node $1 from pnalloc's buddyinfo, space separated.
pn_buddy() {
	awk -v node="$1," '$2 == node { $1 = $2 = $3 = $4 = ""; print }' "$PN_DEBUGFS/buddyinfo" | xargs
}

# Memory blocks of node $1 in state $2 (online, offline).
pn_blocks_in() {
	local b n=0
	for b in $(pn_node_blocks "$1"); do
		[ "$(cat $PN_SYS_MEM/memory$b/state)" = "$2" ] && n=$((n + 1))
	done
	echo $n
}

pn_offline_blocks() { pn_blocks_in "$1" offline; }

# Asks the host's QMP agent (scripts/qmp-agent.py) for a hotplug operation:
# "node=N size=BYTES" (add a DIMM), "del=ID" (eject one); prints its answer.
pn_hotplug_request() {
	local hp name=$1 body=$2
	hp=$(pn_param hotplug_dir)
	[ -d "$hp" ] || { echo "no hotplug dir"; return 1; }
	rm -f "$hp/$name.done"
	echo "$body" >"$hp/$name.req.tmp" && mv "$hp/$name.req.tmp" "$hp/$name.req"
	# An eject under TCG with KASAN can take a minute.
	for _ in $(seq 900); do
		[ -f "$hp/$name.done" ] && { cat "$hp/$name.done"; return 0; }
		sleep 0.2
	done
	echo timeout
}

# The memory block ids in which the test interface holds pages.
pn_held_blocks() {
	local bs pfn
	bs=$(pn_block_size)
	awk '$1 == "pfn" { print $2 }' "$PN_TEST" | while read -r pfn; do
		echo $((pfn * 4096 / bs))
	done | sort -un
}

# Online memory blocks of node $1 that are pnalloc's (its ranges file).
pn_claimed_blocks() {
	local bs pfn
	bs=$(pn_block_size)
	awk -v n="$1" '$2 == n { print $4 }' "$PN_DEBUGFS/ranges" | while read -r pfn; do
		echo $((pfn * 4096 / bs))
	done | sort -n
}
