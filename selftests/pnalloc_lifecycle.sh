#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Private nodes against what the rest of the system does to memory and CPUs:
# the admin onlining and offlining blocks through sysfs, an ACPI eject of a
# DIMM, a release that fails half-way (fault injection), compaction and
# show_mem, memory failure, a CPU going offline with pages on its pcp lists,
# placement syscalls, and unload. Every case checks exact page counts, and
# `control: verify` walks the free lists after each failure.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
[ -d "$(pn_param hotplug_dir)" ] || ktap_exit_fail_msg "no hotplug directory: not booted by scripts/vm.sh"
D=$PN_DEBUGFS
ktap_set_plan 11

pn_insmod || ktap_exit_fail_msg "insmod failed"
echo drain >$D/control
N1=$(awk '/private=1/ { print $2; exit }' $D/nodes)
N2=$(awk '/private=1/ { n++; if (n == 2) { print $2; exit } }' $D/nodes)
[ -n "$N1" ] && [ -n "$N2" ] || ktap_exit_fail_msg "fewer than two private nodes"
BS=$(pn_block_size)
BLOCK_PAGES=$((BS / 4096))
# Pages handed out, free in the buddy, and on pcp lists, of node N1.
pcp_count() {
	awk -v n="$N1," '/^Node/ { cur = $2 } cur == n && $1 == "count:" { print $2; exit }' $D/zoneinfo
}
counts() {
	echo "$(awk '/^outstanding_pages/ { print $2 }' $D/zoneinfo) $(pn_zone_field "$N1" free) $(pcp_count)"
}
free_of() { echo "$1" | cut -d' ' -f2; }
memtotal() { awk '/^MemTotal/ { print $2 }' /proc/meminfo; }
verify() { [ "$(pn_write $D/control verify)" = ok ] || { ktap_print_msg "free lists inconsistent: $(dmesg | grep 'verify:' | tail -n1)"; return 1; }; }
state() { cat $PN_SYS_MEM/memory$1/state; }
BASE=$(counts)
MEMTOTAL=$(memtotal)

# Hot-adds a DIMM of $2 bytes on node $1: sets HP_ID (the agent's device
# id) and NEW (the new memory block ids, once they all appeared).
hot_add() {
	local ans before want
	before=$(pn_node_blocks "$1")
	want=$(($(echo "$before" | grep -c .) + $2 / BS))
	ans=$(pn_hotplug_request "life-$$-$RANDOM" "node=$1 size=$2")
	case "$ans" in ok*) HP_ID=${ans#ok } ;; *) ktap_print_msg "agent: $ans"; return 1 ;; esac
	for _ in $(seq 150); do
		[ "$(pn_node_blocks "$1" | grep -c .)" = "$want" ] && break
		sleep 0.2
	done
	NEW=$(comm -13 <(echo "$before") <(pn_node_blocks "$1"))
	[ "$(echo "$NEW" | grep -c .)" = $(($2 / BS)) ] || { ktap_print_msg "node $1: new blocks '$NEW'"; return 1; }
}

# 1: memory of a private node is pnalloc's while it is online, whoever
# onlines it: the admin onlining a hot-added block gives it to pnalloc, not
# to the kernel (MemTotal and N_MEMORY unchanged).
sysfs_online() {
	local b ok=0 r
	hot_add "$N1" "$BS" || return 1
	for b in $NEW; do
		[ "$(state "$b")" = offline ] || { ktap_print_msg "memory$b came up $(state "$b")"; ok=1; }
		r=$(pn_write $PN_SYS_MEM/memory$b/state online)
		[ "$r" = ok ] || { ktap_print_msg "online memory$b: $r"; ok=1; }
		# Already online: the kernel's own answer.
		r=$(pn_write $PN_SYS_MEM/memory$b/state online_movable)
		[ "$r" = "Invalid argument" ] || { ktap_print_msg "online_movable memory$b: $r"; ok=1; }
	done
	[ "$(memtotal)" = "$MEMTOTAL" ] || { ktap_print_msg "MemTotal $(memtotal), was $MEMTOTAL"; ok=1; }
	pn_in_list "$(cat $PN_SYS_NODE/has_memory)" "$N1" && { ktap_print_msg "node $N1 in N_MEMORY"; ok=1; }
	local want=$(($(free_of "$BASE") + BLOCK_PAGES))
	[ "$(pn_zone_field "$N1" free)" = "$want" ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $want"; ok=1; }
	BASE=$(counts)
	verify || ok=1
	return $ok
}
ktap_test_result "a block onlined on a private node from sysfs is pnalloc's (exact free count, MemTotal unchanged)" sysfs_online

# 2: sysfs offline of every claimed block: refused (EBUSY) for a block
# with pages out, which changes nothing; a block with none leaves pnalloc
# (free count drops by exactly one block) and online_movable brings it back.
sysfs_offline() {
	local b ok=0 r c held
	[ "$(pn_write $PN_TEST "alloc $N1 0 4")" = ok ] || return 1
	[ "$(pn_write $PN_TEST "fill 7")" = ok ] || return 1
	held=$(pn_held_blocks)
	for b in $(pn_claimed_blocks "$N1"); do
		# Offlining drains the pcp lists: compare against drained counts.
		echo drain >$D/control
		c=$(counts)
		r=$(pn_write $PN_SYS_MEM/memory$b/state offline)
		if echo "$held" | grep -qx "$b"; then
			[ "$r" = "Device or resource busy" ] || { ktap_print_msg "offline memory$b (pages out): $r"; ok=1; }
			[ "$(state "$b")" = online ] || ok=1
			[ "$(counts)" = "$c" ] || { ktap_print_msg "counts $(counts), want $c"; ok=1; }
			continue
		fi
		[ "$r" = ok ] || { ktap_print_msg "offline memory$b: $r"; ok=1; continue; }
		[ "$(pn_zone_field "$N1" free)" = $(($(free_of "$c") - BLOCK_PAGES)) ] ||
			{ ktap_print_msg "free $(pn_zone_field "$N1" free) after offlining memory$b, was $(free_of "$c")"; ok=1; }
		r=$(pn_write $PN_SYS_MEM/memory$b/state online_movable)
		[ "$r" = ok ] || { ktap_print_msg "online_movable memory$b: $r"; ok=1; }
		echo drain >$D/control
		[ "$(counts)" = "$c" ] || { ktap_print_msg "counts $(counts) after memory$b came back, want $c"; ok=1; }
	done
	[ "$(pn_write $PN_TEST "verify 7")" = ok ] || { ktap_print_msg "pattern lost"; ok=1; }
	[ "$(pn_write $PN_TEST "free 4")" = ok ] || ok=1
	echo drain >$D/control
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts), want $BASE"; ok=1; }
	verify || ok=1
	return $ok
}
ktap_test_result "sysfs offline: EBUSY with pages out, else the block leaves and comes back (exact counts)" sysfs_offline

# 3: a release that fails half-way (the kernel's fault injection fails the
# second block's MEM_GOING_OFFLINE) puts every block back: no frame is free
# twice or lost; the retry releases everything, and a claim takes it back.
FI=$D/fail_offline
failed_release() {
	local ok=0 r start run
	start=$(awk -v n="$N1" '$2 == n { print $4; exit }' $D/ranges)
	run=$(awk -v n="$N1" -v s="$start" '$2 == n && $4 == s' $D/ranges)
	[ -n "$run" ] || return 1
	echo 0 >$FI/verbose
	echo 100 >$FI/probability
	echo 2 >$FI/interval
	echo 1 >$FI/times
	r=$(pn_write $D/control "release $((start * 4096))")
	echo 0 >$FI/probability
	[ "$r" = "Input/output error" ] || { ktap_print_msg "release with an injected failure: $r"; ok=1; }
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts) after the failed release, want $BASE"; ok=1; }
	verify || ok=1
	r=$(pn_write $D/control "release $((start * 4096))")
	[ "$r" = ok ] || { ktap_print_msg "retry: $r"; ok=1; }
	verify || ok=1
	[ "$(pn_write $D/control "claim $N1")" = ok ] || ok=1
	echo drain >$D/control
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts) after reclaim, want $BASE"; ok=1; }
	verify || ok=1
	return $ok
}
ktap_test_result "an injected failure in the middle of a release loses and doubles nothing; the retry releases" failed_release

# 4: ACPI eject of a DIMM pnalloc holds pages in is refused and changes
# nothing; once they are freed the eject offlines the blocks through
# pnalloc and the DIMM goes away. The other node is served throughout.
eject() {
	local ok=0 r new b others
	hot_add "$N1" $((2 * BS)) || return 1
	new=$NEW
	[ "$(pn_write $D/control "claim $N1")" = ok ] || { ktap_print_msg "claim of the new DIMM failed"; return 1; }
	# Only the new DIMM serves node N1, so the pages held are in it.
	others=$(pn_claimed_blocks "$N1" | grep -vxF "$new")
	for b in $others; do
		r=$(pn_write $PN_SYS_MEM/memory$b/state offline)
		[ "$r" = ok ] || { ktap_print_msg "offline memory$b: $r"; return 1; }
	done
	[ "$(pn_write $PN_TEST "alloc $N1 0 8")" = ok ] || return 1
	[ "$(pn_write $PN_TEST "fill 11")" = ok ] || return 1
	local c
	echo drain >$D/control
	c=$(counts)
	r=$(pn_hotplug_request "eject-$$" "del=$HP_ID")
	# _OST 0x82: the kernel's acpi_scan_try_to_offline() got EBUSY.
	[ "$r" = "refused 0x82" ] || { ktap_print_msg "eject with pages out: $r"; ok=1; }
	for b in $new; do
		[ "$(state "$b")" = online ] || { ktap_print_msg "memory$b is $(state "$b") after a refused eject"; ok=1; }
	done
	echo drain >$D/control
	[ "$(counts)" = "$c" ] || { ktap_print_msg "counts $(counts), want $c"; ok=1; }
	[ "$(pn_write $PN_TEST "verify 11")" = ok ] || { ktap_print_msg "pattern lost"; ok=1; }
	verify || ok=1
	[ "$(pn_write $PN_TEST "free 8")" = ok ] || ok=1
	r=$(pn_hotplug_request "eject2-$$" "del=$HP_ID")
	[ "$r" = "ok deleted" ] || { ktap_print_msg "eject with nothing out: $r"; ok=1; }
	for b in $new; do
		[ -e $PN_SYS_MEM/memory$b ] && { ktap_print_msg "memory$b still present"; ok=1; }
	done
	[ "$(pn_write $PN_TEST "alloc $N2 0 1")" = ok ] && [ "$(pn_write $PN_TEST "free 1")" = ok ] ||
		{ ktap_print_msg "node $N2 not served"; ok=1; }
	[ "$(pn_write $D/control "claim $N1")" = ok ] || ok=1
	echo drain >$D/control
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts) after reclaim, want $BASE"; ok=1; }
	verify || ok=1
	return $ok
}
ktap_test_result "ACPI eject: refused with pages out (pattern, counts intact); with none out the DIMM goes" eject

# 5: compaction and show_mem walk physical memory; they must neither take
# nor move a page of pnalloc's.
compact_sysrq() {
	local ok=0 c
	[ "$(pn_write $PN_TEST "alloc $N1 0 16")" = ok ] || return 1
	[ "$(pn_write $PN_TEST "fill 13")" = ok ] || return 1
	c=$(counts)
	echo 1 >/proc/sys/vm/compact_memory || ok=1
	echo m >/proc/sysrq-trigger || ok=1
	[ "$(counts)" = "$c" ] || { ktap_print_msg "counts $(counts), want $c"; ok=1; }
	[ "$(pn_write $PN_TEST "verify 13")" = ok ] || { ktap_print_msg "pattern lost"; ok=1; }
	[ "$(pn_write $PN_TEST "free 16")" = ok ] || ok=1
	echo drain >$D/control
	[ "$(counts)" = "$BASE" ] || ok=1
	verify || ok=1
	return $ok
}
ktap_test_result "compact_memory and sysrq-m with pages out change no count and no page" compact_sysrq

# 6: a CPU that goes offline gives its pcp lists back to the buddy.
cpu_offline() {
	local ok=0 pcp
	[ -w /sys/devices/system/cpu/cpu1/online ] || { ktap_print_msg "cpu1 cannot go offline"; return 1; }
	[ "$(pn_write_on 1 $PN_TEST "alloc $N1 0 8")" = ok ] || return 1
	[ "$(pn_write_on 1 $PN_TEST "free 8")" = ok ] || return 1
	pcp=$(pcp_count)
	[ "$pcp" -gt 0 ] || { ktap_print_msg "nothing on cpu1's lists"; return 1; }
	echo 0 >/sys/devices/system/cpu/cpu1/online || return 1
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "after offline: $(counts), want $BASE (pcp was $pcp)"; ok=1; }
	echo 1 >/sys/devices/system/cpu/cpu1/online || ok=1
	return $ok
}
ktap_test_result "offlining a CPU returns the pages on its pcp lists to the buddy (exact counts)" cpu_offline

# 7: placement syscalls naming a private node are refused up front: the
# three policy calls with EINVAL (migrate_pages through patch 0003),
# move_pages with the kernel's ENODEV for a node without N_MEMORY.
placement() {
	local pid r ok=0 want
	sleep 30 &
	pid=$!
	r=$(migratepages "$pid" 0 "$N1" 2>&1) && { ktap_print_msg "migrate_pages to node $N1 succeeded"; ok=1; }
	echo "$r" | grep -q "Invalid argument" || { ktap_print_msg "migratepages: $r"; ok=1; }
	numactl --membind="$N1" true 2>/dev/null && { ktap_print_msg "membind to node $N1 succeeded"; ok=1; }
	kill "$pid"
	want=$(printf '%s\n' "set_mempolicy EINVAL" "mbind EINVAL" "migrate_pages EINVAL" "move_pages ENODEV status 0")
	r=$("$DIR/placement" "$N1")
	[ "$r" = "$want" ] || { ktap_print_msg "placement syscalls: $(echo $r)"; ok=1; }
	dmesg | sed -n "/$PN_MARK/,\$p" | grep -q "page allocation failure" && { ktap_print_msg "allocation failure logged"; ok=1; }
	[ "$(counts)" = "$BASE" ] || ok=1
	return $ok
}
ktap_test_result "set_mempolicy, mbind, migrate_pages (EINVAL) and move_pages (ENODEV) naming a private node; no allocation attempted" placement

# 8: memory failure on a free frame withdraws it for good; on a held page
# it is reported with the allocation site, and the page never comes back.
HWP=/sys/kernel/debug/hwpoison/corrupt-pfn
corrupted_kb() { awk '/^HardwareCorrupted/ { print $2 }' /proc/meminfo; }
hwpoison() {
	local ok=0 pfn start buddy n10 hc free site r b0
	[ -w $HWP ] || { ktap_print_msg "no $HWP"; return 1; }
	echo drain >$D/control
	buddy=$(pn_buddy "$N1")
	[ "$(echo "$buddy" | cut -d' ' -f1-10)" = "0 0 0 0 0 0 0 0 0 0" ] || { ktap_print_msg "node $N1 not in whole blocks: $buddy"; return 1; }
	n10=$(echo "$buddy" | cut -d' ' -f11)
	hc=$(corrupted_kb)
	free=$(pn_zone_field "$N1" free)
	# A free frame in the middle of an order-10 block.
	start=$(awk -v n="$N1" '$2 == n { print $4; exit }' $D/ranges)
	pfn=$((start + 1024 + 333))
	echo $pfn >$HWP || { ktap_print_msg "corrupt-pfn $pfn failed"; ok=1; }
	# Withdrawn, the rest of its block broken down around it.
	[ "$(pn_buddy "$N1")" = "1 1 1 1 1 1 1 1 1 1 $((n10 - 1))" ] || { ktap_print_msg "buddyinfo $(pn_buddy "$N1")"; ok=1; }
	[ "$(pn_zone_field "$N1" free)" = $((free - 1)) ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $((free - 1))"; ok=1; }
	[ "$(pn_zone_field "$N1" nr_hwpoison)" = 1 ] || { ktap_print_msg "nr_hwpoison $(pn_zone_field "$N1" nr_hwpoison)"; ok=1; }
	[ "$(corrupted_kb)" = $((hc + 4)) ] || { ktap_print_msg "HardwareCorrupted $(corrupted_kb) kB, was $hc"; ok=1; }
	verify || ok=1
	# A page in use: reported with its allocation site, kept out on free.
	[ "$(pn_write $PN_TEST "alloc $N1 0 1")" = ok ] || return 1
	pfn=$(awk '$1 == "pfn" { print $2; exit }' $PN_TEST)
	# The kernel's answer for a page it cannot recover: EBUSY.
	r=$(pn_write $HWP $((pfn)))
	[ "$r" = "Device or resource busy" ] || { ktap_print_msg "corrupt-pfn of a page in use: $r"; ok=1; }
	dmesg | sed -n "/$PN_MARK/,\$p" | grep -q "memory failure at pfn $(printf '%#x' $((pfn))): in use .* allocated at .*func:" ||
		{ ktap_print_msg "no report naming the site"; ok=1; }
	site=$(awk '$1 != "#" && $7 > 0' $D/allocinfo_ext | grep -c .)
	[ "$site" = 1 ] || { ktap_print_msg "allocinfo_ext rows with hwpoison: $site"; ok=1; }
	[ "$(pn_write $PN_TEST "free 1")" = ok ] || ok=1
	echo drain >$D/control
	grep -q "^outstanding_pages 0$" $D/zoneinfo || { ktap_print_msg "$(grep outstanding $D/zoneinfo)"; ok=1; }
	[ "$(pn_zone_field "$N1" free)" = $((free - 2)) ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $((free - 2))"; ok=1; }
	[ "$(pn_zone_field "$N1" nr_hwpoison)" = 2 ] || { ktap_print_msg "nr_hwpoison $(pn_zone_field "$N1" nr_hwpoison)"; ok=1; }
	verify || ok=1
	# The blocks still go offline with their poisoned frames; the kernel
	# never onlines the poisoned one again, and the claim skips it.
	local mt
	mt=$(memtotal)
	[ "$(pn_write $D/control "release $((start * 4096))")" = ok ] || { ktap_print_msg "release with poisoned frames failed"; ok=1; }
	# offline_pages() counts poisoned pages as managed: pnalloc's never were.
	[ "$(memtotal)" = "$mt" ] || { ktap_print_msg "MemTotal $(memtotal) kB after the release, was $mt"; ok=1; }
	[ "$(pn_write $D/control "claim $N1")" = ok ] || ok=1
	b0=$((start * 4096 / BS))
	[ "$(state $b0)" = offline ] || { ktap_print_msg "poisoned memory$b0 is $(state $b0)"; ok=1; }
	[ "$(pn_zone_field "$N1" free)" = $((free - BLOCK_PAGES)) ] || { ktap_print_msg "free $(pn_zone_field "$N1" free) after reclaim, want $((free - BLOCK_PAGES))"; ok=1; }
	echo drain >$D/control
	BASE=$(counts)
	return $ok
}
ktap_test_result "memory failure: a free frame is withdrawn, a held one reported and kept out on free" hwpoison

# 9: each online block holds a module reference.
unload_refused() {
	local refs blocks
	# Without the test consumer, only the blocks' references keep pnalloc.
	rmmod pnalloc_test || return 1
	blocks=$(grep -c . $D/ranges)
	refs=$(cat /sys/module/pnalloc/refcnt)
	[ "$refs" -ge "$blocks" ] || { ktap_print_msg "refcnt $refs for $blocks blocks"; return 1; }
	! rmmod pnalloc 2>/dev/null && pn_loaded && [ "$(counts)" = "$BASE" ]
}
ktap_test_result "rmmod is refused while blocks are claimed, and changes nothing" unload_refused

# 10: release all, unload (nothing stays private or online), reload: the
# same memory is claimed again.
reload() {
	local free b
	free=$(pn_zone_field "$N1" free)
	pn_unload || return 1
	for b in $(pn_node_blocks "$N1"); do
		[ "$(state "$b")" = offline ] || { ktap_print_msg "memory$b left $(state "$b")"; return 1; }
	done
	pn_insmod || return 1
	echo drain >$D/control
	[ "$(pn_zone_field "$N1" free)" = "$free" ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $free"; return 1; }
	verify || return 1
	pn_unload
}
ktap_test_result "release all + rmmod leaves every block offline; a reload claims the same pages" reload

ktap_test_result "no kernel warnings, KASAN or lockdep reports" pn_no_splats
ktap_finished
