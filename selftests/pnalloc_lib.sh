# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by pnalloc's kselftests and `make run`. Sourced.
#
# The VM runner (scripts/vm.sh) tells the guest what it built on the kernel
# command line (pnalloc_test.dimms=<nid>:<bytes>,..., pnalloc_test.ko=...,
# pnalloc_test.hotplug_dir=...), so tests assert exact values.

PN_DEBUGFS=/sys/kernel/debug/pnalloc
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

# Marks the kernel log; pn_splats_since prints any splat after the mark.
pn_dmesg_mark() {
	PN_MARK="pnalloc-selftest-mark-$$-$RANDOM"
	echo "$PN_MARK" >/dev/kmsg
}

pn_splats_since() {
	dmesg | sed -n "/$PN_MARK/,\$p" |
		grep -E 'BUG:|WARNING: CPU:|Oops|Call Trace:|possible circular locking|inconsistent lock state' || true
}

pn_loaded() {
	[ -d /sys/module/pnalloc ]
}
