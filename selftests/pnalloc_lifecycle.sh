#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Private nodes against what the rest of the system does to memory and CPUs:
# memory onlined on a private node behind pnalloc's back, sysfs offline of a
# claimed block, a CPU going offline with pages on its pcp lists, and unload
# while ranges are claimed. Every case checks exact page counts.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
[ -d "$(pn_param hotplug_dir)" ] || ktap_exit_fail_msg "no hotplug directory: not booted by scripts/vm.sh"
D=$PN_DEBUGFS
ktap_set_plan 7

insmod "$KO" || ktap_exit_fail_msg "insmod failed"
echo drain >$D/control
N1=$(awk '/private=1/ { print $2; exit }' $D/nodes)
[ -n "$N1" ] || ktap_exit_fail_msg "no private node"
# Pages handed out, free in the buddy, and on pcp lists, of node N1.
pcp_count() {
	awk -v n="$N1," '/^Node/ { cur = $2 } cur == n && $1 == "count:" { print $2; exit }' $D/zoneinfo
}
counts() {
	echo "$(awk '/^outstanding_pages/ { print $2 }' $D/zoneinfo) $(pn_zone_field "$N1" free) $(pcp_count)"
}
BASE=$(counts)
MEMTOTAL=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)

# 1: memory hot-added on a private node cannot be onlined by anyone but
# pnalloc (udev rule, admin, auto-online): it would bypass the claim.
foreign_online() {
	local ans b new="" ok=0 r
	local before
	before=$(pn_node_blocks "$N1" | sort)
	ans=$(pn_hotplug_request "life-$$" "node=$N1 size=$((128 << 20))")
	case "$ans" in ok*) ;; *) ktap_print_msg "agent: $ans"; return 1 ;; esac
	for _ in $(seq 100); do
		new=$(comm -13 <(echo "$before") <(pn_node_blocks "$N1" | sort))
		[ -n "$new" ] && break
		sleep 0.2
	done
	[ -n "$new" ] || { ktap_print_msg "no new block on node $N1"; return 1; }
	for b in $new; do
		r=$(pn_write $PN_SYS_MEM/memory$b/state online)
		[ "$r" = "Operation not permitted" ] || { ktap_print_msg "online memory$b: $r"; ok=1; }
		[ "$(cat $PN_SYS_MEM/memory$b/state)" = offline ] || ok=1
	done
	[ "$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)" = "$MEMTOTAL" ] || ok=1
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts), want $BASE"; ok=1; }
	# pnalloc itself may claim it: the free count grows by exactly the block.
	[ "$(pn_write $D/control "claim $N1")" = ok ] || ok=1
	local free0 free1
	free0=$(echo "$BASE" | cut -d' ' -f2)
	free1=$(pn_zone_field "$N1" free)
	[ "$free1" = $((free0 + (128 << 20) / 4096)) ] || { ktap_print_msg "free $free1 after claim, was $free0"; ok=1; }
	BASE=$(counts)
	return $ok
}
ktap_test_result "onlining a hot-added block of a private node from sysfs is refused (EPERM); pnalloc claims it" foreign_online

# 2: sysfs offline of a claimed block is refused, with and without pages
# out, and changes nothing.
sysfs_offline() {
	local b ok=0 r
	b=$(pn_node_blocks "$N1" | head -n1)
	for out in 0 1; do
		[ $out = 1 ] && { [ "$(pn_write $D/test "alloc $N1 0 4")" = ok ] || return 1; }
		local c
		c=$(counts)
		r=$(pn_write $PN_SYS_MEM/memory$b/state offline)
		[ "$r" = "Device or resource busy" ] || { ktap_print_msg "offline memory$b ($out out): $r"; ok=1; }
		[ "$(cat $PN_SYS_MEM/memory$b/state)" = online ] || ok=1
		[ "$(counts)" = "$c" ] || { ktap_print_msg "counts $(counts), want $c"; ok=1; }
	done
	[ "$(pn_write $D/test "free 4")" = ok ] || ok=1
	echo drain >$D/control
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "counts $(counts), want $BASE"; ok=1; }
	return $ok
}
ktap_test_result "sysfs offline of a claimed block is refused (EBUSY) with and without pages out" sysfs_offline

# 3: a CPU that goes offline gives its pcp lists back to the buddy.
cpu_offline() {
	local ok=0 pcp
	[ -w /sys/devices/system/cpu/cpu1/online ] || { ktap_print_msg "cpu1 cannot go offline"; return 1; }
	[ "$(pn_write_on 1 $D/test "alloc $N1 0 8")" = ok ] || return 1
	[ "$(pn_write_on 1 $D/test "free 8")" = ok ] || return 1
	pcp=$(pcp_count)
	[ "$pcp" -gt 0 ] || { ktap_print_msg "nothing on cpu1's lists"; return 1; }
	echo 0 >/sys/devices/system/cpu/cpu1/online || return 1
	[ "$(counts)" = "$BASE" ] || { ktap_print_msg "after offline: $(counts), want $BASE (pcp was $pcp)"; ok=1; }
	echo 1 >/sys/devices/system/cpu/cpu1/online || ok=1
	return $ok
}
ktap_test_result "offlining a CPU returns the pages on its pcp lists to the buddy (exact counts)" cpu_offline

# 4: placement syscalls naming a private node are refused up front.
placement() {
	local pid r ok=0
	sleep 30 &
	pid=$!
	r=$(migratepages "$pid" 0 "$N1" 2>&1) && { ktap_print_msg "migrate_pages to node $N1 succeeded"; ok=1; }
	echo "$r" | grep -q "Invalid argument" || { ktap_print_msg "migrate_pages: $r"; ok=1; }
	numactl --membind="$N1" true 2>/dev/null && { ktap_print_msg "membind to node $N1 succeeded"; ok=1; }
	kill "$pid"
	dmesg | sed -n "/$PN_MARK/,\$p" | grep -q "page allocation failure" && { ktap_print_msg "allocation failure logged"; ok=1; }
	[ "$(counts)" = "$BASE" ] || ok=1
	return $ok
}
ktap_test_result "migrate_pages and mbind naming a private node fail with EINVAL, no allocation attempted" placement

# 5: each claimed range holds a module reference.
unload_refused() {
	local refs ranges
	ranges=$(grep -c . $D/ranges)
	refs=$(cat /sys/module/pnalloc/refcnt)
	[ "$refs" -ge $((ranges - 1)) ] || { ktap_print_msg "refcnt $refs for $ranges ranges"; return 1; }
	! rmmod pnalloc 2>/dev/null && pn_loaded && [ "$(counts)" = "$BASE" ]
}
ktap_test_result "rmmod is refused while ranges are claimed, and changes nothing" unload_refused

# 6: release all, unload, reload: the same memory is claimed again.
reload() {
	local free
	free=$(pn_zone_field "$N1" free)
	pn_unload || return 1
	grep -q "(pnalloc)" /proc/iomem && { ktap_print_msg "pnalloc resources left"; return 1; }
	insmod "$KO" || return 1
	echo drain >$D/control
	[ "$(pn_zone_field "$N1" free)" = "$free" ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $free"; return 1; }
	pn_unload
}
ktap_test_result "release all + rmmod, then a reload claims the same pages" reload

ktap_test_result "no kernel warnings, KASAN or lockdep reports" pn_no_splats
ktap_finished
