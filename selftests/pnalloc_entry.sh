#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The exported entry points of pnalloc.h, called as another module would,
# observed from outside: nodes chosen, zeroing, contents surviving until
# free, each free path, bulk and exact semantics, and every page back after
# each test. Then a cross-CPU stress: one CPU allocates while the other frees.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
pn_insmod || ktap_exit_fail_msg "insmod failed"
D=$PN_DEBUGFS
NODES=$(awk '/private=1/ { print $2 }' $D/nodes | xargs)
A=$(echo $NODES | cut -d' ' -f1)
B=$(echo $NODES | cut -d' ' -f2)
[ -n "$A" ] && [ -n "$B" ] || ktap_exit_fail_msg "need two private nodes, have '$NODES'"
TOTAL_A=$(pn_zone_field "$A" managed)
TOTAL_B=$(pn_zone_field "$B" managed)
GFP_KERNEL=0xcc0
GFP_THISNODE=0x200000

ktap_set_plan 10

t() { pn_write $PN_TEST "$1"; }
# Frees whatever an earlier failed test left held, so failures do not cascade.
reset() {
	local n
	n=$(head -n1 $PN_TEST | awk '{ print $2 }')
	[ "$n" = 0 ] || t "free $n" >/dev/null
}
nids() { awk 'NR > 1 { print $6 }' $PN_TEST | xargs; }
# Everything back to the buddy and merged, nothing outstanding.
baseline() {
	[ "$(pn_write $D/control drain)" = ok ] &&
		[ "$(pn_zone_field "$A" free)" = "$TOTAL_A" ] &&
		[ "$(pn_zone_field "$B" free)" = "$TOTAL_B" ] &&
		grep -q "^outstanding_pages 0$" $D/zoneinfo ||
		{ ktap_print_msg "not at baseline: free $(pn_zone_field "$A" free)/$TOTAL_A $(pn_zone_field "$B" free)/$TOTAL_B"; return 1; }
}

# 1
node_entry_points() {
	reset
	[ "$(t "ep node $B 2")" = ok ] && [ "$(t "ep nodemask $A 1 $GFP_KERNEL $((1 << B))")" = ok ] &&
		[ "$(t "ep folio_node $A 3")" = ok ] && [ "$(t "ep zonelist_private $B 2")" = ok ] &&
		[ "$(t "ep zonelist_default $A 0 $((GFP_KERNEL | GFP_THISNODE))")" = ok ] || return 1
	[ "$(nids)" = "$B $B $A $B $A" ] || { ktap_print_msg "nodes: $(nids)"; return 1; }
	grep -q "order 3 nid $A pages 8 free Folio" $PN_TEST || return 1
	[ "$(t "free 5")" = ok ] && baseline
}
ktap_test_result "alloc_pages_node, nodemask, folio_node and both zonelist selectors place pages where asked" node_entry_points

# 1b
private_zonelist_owners() {
	reset
	# Same owner: preferred A, nodemask {B}: both zonelists reach B.
	[ "$(t "ep zonelist_private $A 0 $GFP_KERNEL $((1 << B))")" = ok ] || return 1
	[ "$(t "ep zonelist_default $A 0 $GFP_KERNEL $((1 << B))")" = ok ] || return 1
	[ "$(nids)" = "$B $B" ] && [ "$(t "free 2")" = ok ] || return 1
	# B belongs to another owner now: the private zonelist of A never
	# falls back to it; the default one still does.
	[ "$(pn_write $D/control "owner $B 7")" = ok ] || return 1
	grep -q "^node $B .* owner=7 " $D/nodes || return 1
	[ "$(t "ep zonelist_private $A 0 $GFP_KERNEL $((1 << B))")" = "Cannot allocate memory" ] || return 1
	[ "$(t "ep zonelist_default $A 0 $GFP_KERNEL $((1 << B))")" = ok ] || return 1
	[ "$(pn_write $D/control "owner 0 7")" = "No such file or directory" ] || return 1
	[ "$(pn_write $D/control "owner $B 0")" = ok ] && [ "$(t "free 1")" = ok ] && baseline
}
ktap_test_result "ALLOC_ZONELIST_PRIVATE stays within the preferred node's owner; DEFAULT does not" private_zonelist_owners

# 2
# NUMA_NO_NODE is numa_mem_id(): the first private node of the calling CPU's
# node's zonelist. The CPUs are on node 0, whose list build_zonelists()
# builds first, before any node_load[]: the nearest private node by
# node_distance(), the lowest id among equals.
[ "$(cat $PN_SYS_NODE/node0/cpulist)" = "$(cat /sys/devices/system/cpu/online)" ] ||
	ktap_exit_fail_msg "CPUs outside node 0: $(cat /sys/devices/system/cpu/online)"
NEAREST=$(for n in $NODES; do echo "$(pn_distance 0 "$n") $n"; done | sort -n -k1,1 -k2,2 | head -n1 | cut -d' ' -f2)
no_node_entry_points() {
	reset
	[ "$(t "ep pages -1 0")" = ok ] && [ "$(t "ep folio -1 2")" = ok ] && [ "$(t "ep get_free_pages -1 1")" = ok ] || return 1
	[ "$(nids)" = "$NEAREST $NEAREST $NEAREST" ] || { ktap_print_msg "NUMA_NO_NODE gave nodes $(nids), want $NEAREST"; return 1; }
	[ "$(t "free 3")" = ok ] && baseline
}
ktap_test_result "alloc_pages, folio_alloc and __get_free_pages with NUMA_NO_NODE use node $NEAREST, the private node nearest to node 0" no_node_entry_points

# 3
zeroing() {
	reset
	# Dirty a page, free it (it waits on this CPU's list), then ask for a
	# zeroed page: the same page comes back, and must read as zeroes.
	[ "$(pn_write_on 0 $PN_TEST "ep node $A 0")" = ok ] && [ "$(t "fill 0x5a5a")" = ok ] &&
		[ "$(pn_write_on 0 $PN_TEST "free 1")" = ok ] || return 1
	[ "$(pn_write_on 0 $PN_TEST "ep zeroed $A 0")" = ok ] || return 1
	[ "$(t "verify 0")" = ok ] || { ktap_print_msg "get_zeroed_page is not zeroed"; return 1; }
	[ "$(t "ep node $A 3 $((GFP_KERNEL | 0x100))")" = ok ] && [ "$(t "verify 0")" = ok ] || return 1
	[ "$(t "free 2")" = ok ] && baseline
}
ktap_test_result "get_zeroed_page and __GFP_ZERO give zeroed memory, even when reusing a dirty page" zeroing

# 4
contents_survive() {
	reset
	[ "$(t "ep node $A 4")" = ok ] && [ "$(t "ep folio_node $B 2")" = ok ] && [ "$(t "fill 0x1234")" = ok ] || return 1
	# Churn both nodes meanwhile.
	[ "$(t "alloc $A 0 64")" = ok ] && [ "$(t "fill 0x9999 64")" = ok ] && [ "$(t "free 64")" = ok ] || return 1
	[ "$(t "verify 0x1234")" = ok ] || { ktap_print_msg "contents changed before free"; return 1; }
	[ "$(t "verify 0x4321")" = "Input/output error" ] || { ktap_print_msg "verify cannot fail"; return 1; }
	[ "$(t "free 2")" = ok ] && baseline
}
ktap_test_result "memory contents survive until free (and verify detects a wrong pattern)" contents_survive

# 5
bulk() {
	reset
	[ "$(t "ep bulk $B 16")" = ok ] || return 1
	[ "$(grep -c "order 0 nid $B pages 1 free Pages" $PN_TEST)" = 16 ] || return 1
	[ "$(awk 'NR > 1 { print $2 }' $PN_TEST | sort -u | wc -l)" = 16 ] || { ktap_print_msg "duplicate pages"; return 1; }
	[ "$(t "ep bulk $B 65")" = "Invalid argument" ] || return 1
	[ "$(t "free 16")" = ok ] && baseline
}
ktap_test_result "alloc_pages_bulk fills 16 distinct order-0 pages on the node" bulk

# 6
exact() {
	reset
	# 5 pages: an order-3 block is split and pages 6..8 go back at once.
	[ "$(t "ep exact $A 20480")" = ok ] || return 1
	grep -q "pages 5 free Exact(20480)" $PN_TEST || { cat $PN_TEST; return 1; }
	[ "$(awk '/^outstanding_pages/ { print $2 }' $D/zoneinfo)" = 5 ] || { ktap_print_msg "outstanding $(awk '/^outstanding_pages/ { print $2 }' $D/zoneinfo)"; return 1; }
	[ "$(t "fill 7")" = ok ] && [ "$(t "verify 7")" = ok ] && [ "$(t "free 1")" = ok ] && baseline
}
ktap_test_result "alloc_pages_exact keeps exactly 5 of 8 pages and free_pages_exact returns them" exact

# 7
bad_entry_input() {
	reset
	local cmd want got ok=0
	while IFS='|' read -r cmd want; do
		got=$(t "$cmd")
		[ "$got" = "$want" ] || { ktap_print_msg "'$cmd': got '$got', want '$want'"; ok=1; }
	done <<EOT
ep nosuch $A 0|Invalid argument
ep node $A 11|Invalid argument
ep node 0 0|Cannot allocate memory
ep exact $A 0|Invalid argument
ep node $A 0 0x8cc0|Cannot allocate memory
ep nodemask $A 0 $GFP_KERNEL 0|Cannot allocate memory
ep node $A 0 0x4|Cannot allocate memory
EOT
	grep -q "^held 0$" $PN_TEST || ok=1
	return $ok
}
ktap_test_result "bad entry-point requests fail cleanly and hold nothing" bad_entry_input

# 8
cross_cpu() {
	reset

	( for _ in $(seq 150); do taskset -c 0 sh -c "echo 'alloc $A 0 4' > $PN_TEST" 2>/dev/null; done ) &
	( for _ in $(seq 150); do taskset -c 1 sh -c "echo 'free 4' > $PN_TEST" 2>/dev/null; done ) &
	wait
	local held
	held=$(head -n1 $PN_TEST | awk '{ print $2 }')
	[ "$held" = 0 ] || [ "$(t "free $held")" = ok ] || return 1
	baseline && [ "$(pn_buddy "$A")" = "0 0 0 0 0 0 0 0 0 0 $((TOTAL_A / 1024))" ]
}
ktap_test_result "CPU 0 allocates while CPU 1 frees: every page comes back and merges" cross_cpu

# 9
unload() {
	pn_unload && pn_no_splats
}
ktap_test_result "unload after all tests, with no kernel warnings" unload

ktap_finished
