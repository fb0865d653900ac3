#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Allocation failures injected with the kernel's fault-injection framework
# (debugfs pnalloc/fail_node<N>, fail_nolock): every entry point reports
# them as the kernel's allocator reports a shortage (NULL, a short bulk
# count, fallback to the next node), allocinfo_ext counts them on the
# calling site, and nothing leaks.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
D=$PN_DEBUGFS
ktap_set_plan 5

pn_insmod || ktap_exit_fail_msg "insmod failed"
echo drain >$D/control
N1=$(awk '/private=1/ { print $2; exit }' $D/nodes)
N2=$(awk '/private=1/ { n++; if (n == 2) { print $2; exit } }' $D/nodes)
[ -n "$N1" ] && [ -n "$N2" ] || ktap_exit_fail_msg "fewer than two private nodes"
FN=$D/fail_node$N1
[ -d "$FN" ] && [ -d $D/fail_nolock ] || ktap_exit_fail_msg "no fault-injection attributes"
GFP=0xcc0
THISNODE=$((0xcc0 | 0x200000))
MASK1=$((1 << N1))
state() {
	echo "$(awk '/^outstanding_pages/ { print $2 }' $D/zoneinfo) $(pn_zone_field "$N1" free) $(pn_zone_field "$N2" free)"
}
failures() { awk '/^alloc_failures/ { print $2 }' $D/zoneinfo; }
ext_failures() { awk '$1 != "#" { s += $3 } END { print s + 0 }' $D/allocinfo_ext; }
t() { pn_write $PN_TEST "$1"; }
# probability 100, no stack dumps, for ever (times -1) unless told.
arm() {
	echo 0 >"$1/verbose"
	echo "${2:--1}" >"$1/times"
	echo "${3:-0}" >"$1/space"
	echo 1 >"$1/interval"
	echo 100 >"$1/probability"
}
disarm() { echo 0 >"$1/probability"; echo 0 >"$1/space"; }
BASE=$(state)

# 1: node N1 "empty": each entry point bound to it returns NULL (ENOMEM
# through the test interface), counted on its site and in alloc_failures.
entry_points_fail() {
	local ok=0 f0 e0 cmd n=0
	f0=$(failures)
	e0=$(ext_failures)
	arm "$FN"
	for cmd in "ep node $N1 0 $THISNODE" "ep nodemask $N1 2 $GFP $MASK1" \
		"ep folio_node $N1 1 $THISNODE" "ep zonelist_default $N1 0 $GFP $MASK1" \
		"ep zonelist_private $N1 3 $GFP $MASK1" "ep exact $N1 12288 $THISNODE" \
		"ep bulk $N1 8 $GFP $MASK1" "alloc $N1 9 1 $THISNODE"; do
		[ "$(t "$cmd")" = "Cannot allocate memory" ] || { ktap_print_msg "'$cmd': $(t "$cmd")"; ok=1; }
		n=$((n + 1))
	done
	disarm "$FN"
	grep -q "^held 0$" $PN_TEST || { ktap_print_msg "something was handed out"; ok=1; }
	[ "$(failures)" = $((f0 + n)) ] || { ktap_print_msg "alloc_failures $(failures), want $((f0 + n))"; ok=1; }
	[ "$(ext_failures)" = $((e0 + n)) ] || { ktap_print_msg "allocinfo_ext failures $(ext_failures), want $((e0 + n))"; ok=1; }
	return $ok
}
ktap_test_result "with fail_node$N1 armed, 8 entry points bound to node $N1 return NULL, each failure counted on its site" entry_points_fail

# 2: a shortage in the middle of a bulk request: the count is short. The
# space knob lets exactly three order-0 allocations through first.
short_bulk() {
	local ok=0 r
	arm "$FN" -1 $((3 * 4096 + 1))
	r=$(t "ep bulk $N1 8 $GFP $MASK1")
	disarm "$FN"
	[ "$r" = ok ] || { ktap_print_msg "bulk: $r"; ok=1; }
	grep -q "^held 3$" $PN_TEST || { ktap_print_msg "$(head -n1 $PN_TEST), want held 3"; ok=1; }
	[ "$(t "free 3")" = ok ] || ok=1
	return $ok
}
ktap_test_result "a failure after 3 pages makes alloc_pages_bulk() return 3 of 8" short_bulk

# 3: a node that fails is skipped: the allocation falls back to the next
# node of the nodemask, and the site counts a fallback.
fallback() {
	local ok=0 nid
	arm "$FN"
	[ "$(t "ep nodemask $N1 0 $GFP $(((1 << N1) | (1 << N2)))")" = ok ] || ok=1
	disarm "$FN"
	nid=$(awk '$1 == "pfn" { print $6; exit }' $PN_TEST)
	[ "$nid" = "$N2" ] || { ktap_print_msg "served by node $nid, want $N2"; ok=1; }
	[ "$(t "free 1")" = ok ] || ok=1
	return $ok
}
ktap_test_result "with node $N1 failing, a nodemask of $N1 and $N2 is served by $N2" fallback

# 4: a nolock caller whose trylock fails gets NULL at once; disarmed, the
# same call succeeds.
nolock() {
	local ok=0 r
	arm $D/fail_nolock
	r=$(t "nolock task $N1 0")
	disarm $D/fail_nolock
	[ "$r" = "Cannot allocate memory" ] || { ktap_print_msg "nolock with fail_nolock: $r"; ok=1; }
	[ "$(t "nolock task $N1 0")" = ok ] || ok=1
	return $ok
}
ktap_test_result "fail_nolock makes alloc_pages_nolock() return NULL; disarmed it succeeds" nolock

# 5: nothing leaked, the free lists are consistent, the log is clean.
clean() {
	echo drain >$D/control
	[ "$(state)" = "$BASE" ] || { ktap_print_msg "state $(state), want $BASE"; return 1; }
	[ "$(pn_write $D/control verify)" = ok ] || return 1
	pn_unload || return 1
	pn_no_splats
}
ktap_test_result "outstanding, free counts and free lists exactly as before; no kernel warnings" clean

ktap_finished
