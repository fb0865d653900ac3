#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Private memory nodes: pnalloc claims the DIMMs of the memoryless nodes at
# load, the kernel never allocates there, pages freed through the kernel's
# own free paths come back to pnalloc, ranges are released only when free,
# unload is refused while pages are out, and bad control input changes
# nothing.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
DIMMS=$(pn_param dimms)
[ -n "$DIMMS" ] || ktap_exit_fail_msg "not booted by scripts/vm.sh"
D=$PN_DEBUGFS
BS=$(pn_block_size)
PAGES_PER_BLOCK=$((BS / 4096))
NODES=$(for d in ${DIMMS//,/ }; do echo "${d%%:*}"; done)
N1=$(echo "$NODES" | head -n1)
declare -A WANT_PAGES
for n in $NODES; do
	WANT_PAGES[$n]=$(($(pn_offline_blocks "$n") * PAGES_PER_BLOCK))
done
HAS_MEMORY_BEFORE=$(cat $PN_SYS_NODE/has_memory)
pn_dmesg_mark

ktap_set_plan 13

# 1
claims() {
	pn_insmod || return 1
	# The KUnit suites ran at load; pages they freed may wait on pcp lists.
	[ "$(pn_write $D/control drain)" = ok ] || return 1
	local n pages free ok=0
	for n in $NODES; do
		pages=$(awk -v n="$n" '$2 == n { s += $8 } END { print s + 0 }' $D/ranges)
		free=$(awk -v n="$n" '$2 == n { s += $12 } END { print s + 0 }' $D/ranges)
		if [ "$pages" != "${WANT_PAGES[$n]}" ] || [ "$free" != "$pages" ]; then
			ktap_print_msg "node $n: ranges present $pages free $free, want ${WANT_PAGES[$n]}"
			ok=1
		fi
		# All of it in MAX_PAGE_ORDER blocks: order 10 count = pages / 1024.
		if [ "$(pn_buddy "$n")" != "0 0 0 0 0 0 0 0 0 0 $((pages / 1024))" ]; then
			ktap_print_msg "node $n buddyinfo: $(pn_buddy "$n")"
			ok=1
		fi
	done
	# Exactly the DIMM of node N1 as QEMU was given it.
	local want1
	want1=$(for d in ${DIMMS//,/ }; do [ "${d%%:*}" = "$N1" ] && echo $((${d#*:} / 4096)); done)
	[ "${WANT_PAGES[$N1]}" = "$want1" ] || { ktap_print_msg "node $N1: $want1 pages expected"; ok=1; }
	return $ok
}
ktap_test_result "load claims every offline DIMM page of nodes $(echo $NODES)" claims

# 2
kernel_sees_nothing() {
	local n ok=0
	[ "$(cat $PN_SYS_NODE/has_memory)" = "$HAS_MEMORY_BEFORE" ] || {
		ktap_print_msg "has_memory $(cat $PN_SYS_NODE/has_memory), was $HAS_MEMORY_BEFORE"; ok=1; }
	for n in $NODES; do
		[ "$(pn_node_memtotal_kb "$n")" = 0 ] || { ktap_print_msg "node $n MemTotal $(pn_node_memtotal_kb "$n")"; ok=1; }
		grep -q "^node $n .*memory=0 .*private=1 " $D/nodes || { ktap_print_msg "$(grep "^node $n " $D/nodes)"; ok=1; }
		# The kernel's own zone on the node manages and frees nothing.
		local managed
		managed=$(awk -v n="$n" '/^Node/ { cur = $2; sub(",", "", cur); zone = $4 }
			cur == n && zone == "Normal" && $1 == "managed" { print $2 }' /proc/zoneinfo)
		[ "${managed:-0}" = 0 ] || { ktap_print_msg "kernel zoneinfo node $n managed $managed"; ok=1; }
	done
	# Every block of the nodes is online, and pnalloc's.
	for n in $NODES; do
		[ "$(pn_claimed_blocks "$n" | wc -l)" = "$(pn_node_blocks "$n" | wc -l)" ] || { ktap_print_msg "node $n: blocks not all pnalloc's"; ok=1; }
	done
	pgrep -f "kswapd[$(echo $NODES | tr -d ' ')]" >/dev/null && { ktap_print_msg "kswapd runs on a private node"; ok=1; }
	return $ok
}
ktap_test_result "the kernel does not see the private nodes as memory (N_MEMORY, MemTotal, zoneinfo, kswapd)" kernel_sees_nothing

# 3
stress_stays_out() {
	local before after ok=0 n
	before=$(for n in $NODES; do pn_zone_field "$n" free; done | xargs)
	mkdir -p /tmp/pnstress && mount -t tmpfs -o size=700m none /tmp/pnstress || return 1
	dd if=/dev/zero of=/tmp/pnstress/fill bs=1M count=600 status=none || ok=1
	after=$(for n in $NODES; do pn_zone_field "$n" free; done | xargs)
	for n in $NODES; do
		[ "$(pn_node_memtotal_kb "$n")" = 0 ] || ok=1
	done
	umount /tmp/pnstress
	[ "$before" = "$after" ] || { ktap_print_msg "pnalloc free $before -> $after"; ok=1; }
	return $ok
}
ktap_test_result "600 MiB of page cache in the guest never touches the private nodes" stress_stays_out

# 4
membind_refused() {
	local n ok=0
	numactl --membind=0 true || { ktap_print_msg "membind=0 failed"; ok=1; }
	for n in $NODES; do
		numactl --membind="$n" true 2>/dev/null && { ktap_print_msg "membind=$n accepted"; ok=1; }
	done
	return $ok
}
ktap_test_result "numactl --membind cannot place user memory on a private node" membind_refused

# 5
pcp_count() {
	awk -v node="$1" '/^Node/ { cur = $2; sub(",", "", cur) }
		cur == node && $1 == "count:" { print $2; exit }' $D/zoneinfo
}
free_dispatch() {
	local total ok=0 want
	total=${WANT_PAGES[$N1]}
	# Empty lists and unscaled batches, so the refills below are exact.
	[ "$(pn_write $D/control drain)" = ok ] || return 1
	# Pinned to CPU 0 so that one CPU's lists serve the whole sequence.
	[ "$(pn_write_on 0 $PN_TEST "alloc $N1 0 3")" = ok ] || return 1
	[ "$(pn_write_on 0 $PN_TEST "alloc $N1 3 2 0x40cc0")" = ok ] || return 1
	# One refill of batch 63 order-0 pages, one of 63 >> 3 = 7 order-3 blocks.
	want="$((total - 63 - 56)) 100"
	[ "$(pn_zone_field "$N1" free) $(pcp_count "$N1")" = "$want" ] ||
		{ ktap_print_msg "free/pcp $(pn_zone_field "$N1" free) $(pcp_count "$N1"), want $want"; ok=1; }
	[ "$(grep -c "nid $N1" $PN_TEST)" = 5 ] || ok=1
	# Order-3 compound blocks through folio_put(), order 0 through __free_pages():
	# both land on a pcp list of pnalloc, none in the kernel's buddy.
	[ "$(pn_write $PN_TEST "put 2")" = ok ] || ok=1
	[ "$(pcp_count "$N1")" = 116 ] || { ktap_print_msg "pcp $(pcp_count "$N1") after folio_put, want 116"; ok=1; }
	[ "$(pn_write $PN_TEST "free 3")" = ok ] || ok=1
	[ "$(pcp_count "$N1")" = 119 ] || { ktap_print_msg "pcp $(pcp_count "$N1") after __free_pages, want 119"; ok=1; }
	[ "$(pn_write $D/control drain)" = ok ] || ok=1
	[ "$(pn_zone_field "$N1" free) $(pcp_count "$N1")" = "$total 0" ] ||
		{ ktap_print_msg "after drain free/pcp $(pn_zone_field "$N1" free) $(pcp_count "$N1")"; ok=1; }
	[ "$(pn_buddy "$N1")" = "0 0 0 0 0 0 0 0 0 0 $((total / 1024))" ] || { ktap_print_msg "not merged back: $(pn_buddy "$N1")"; ok=1; }
	grep -q "^outstanding_pages 0$" $D/zoneinfo || ok=1
	[ "$(grep -c 'MemFree: *0 kB' $PN_SYS_NODE/node$N1/meminfo)" = 1 ] || ok=1
	return $ok
}
ktap_test_result "pages freed by __free_pages() and folio_put() return to pnalloc's free lists" free_dispatch

START1=$(awk -v n="$N1" '$2 == n { print $4; exit }' $D/ranges)
START1_PHYS=$(printf '%#x' $((START1 * 4096)))

# 6
busy_refusals() {
	local ranges ok=0 r
	[ "$(pn_write $PN_TEST "alloc $N1 0 1")" = ok ] || return 1
	# Release drains the pcp lists first (as offlining does); do it now so
	# that what is compared is only what a refused release must not touch.
	[ "$(pn_write $D/control drain)" = ok ] || return 1
	ranges=$(cat $D/ranges)
	r=$(pn_write $D/control "release $START1_PHYS")
	[ "$r" = "Device or resource busy" ] || { ktap_print_msg "release with a page out: $r"; ok=1; }
	[ "$(cat $D/ranges)" = "$ranges" ] || { ktap_print_msg "ranges changed"; ok=1; }
	# Unloading needs every block released first (each online block holds
	# a module reference), so the refused release above is what keeps a
	# page that is out from being lost by an unload; rmmod itself is
	# refused here by those references and by pnalloc_test's use.
	rmmod pnalloc 2>/dev/null && { ktap_print_msg "rmmod succeeded with a page out"; return 1; }
	pn_loaded || ok=1
	[ "$(pn_write $PN_TEST "free 1")" = ok ] || ok=1
	return $ok
}
ktap_test_result "release and unload are refused (EBUSY) while a page is out, and change nothing" busy_refusals

# 7
bad_input() {
	local ranges ok=0 cmd want got
	ranges=$(cat $D/ranges)
	while IFS='|' read -r cmd want; do
		got=$(pn_write $D/control "$cmd")
		[ "$got" = "$want" ] || { ktap_print_msg "'$cmd': got '$got', want '$want'"; ok=1; }
	done <<EOT
garbage|Invalid argument
claim|Invalid argument
claim 99|Invalid argument
claim -1|Invalid argument
claim 1 0x100000001 0x8000000|Invalid argument
claim 1 0x100000000 0x1000|Invalid argument
claim 1 0xffffffffffffffffffff 0x8000000|Numerical result out of range
claim 0|File exists
claim $N1 $START1_PHYS $BS|File exists
release 0x12345000|No such file or directory
release $((START1 * 4096 + 4096))|No such file or directory
release|Invalid argument
EOT
	while IFS='|' read -r cmd want; do
		got=$(pn_write $PN_TEST "$cmd")
		[ "$got" = "$want" ] || { ktap_print_msg "test '$cmd': got '$got', want '$want'"; ok=1; }
	done <<EOT
alloc $N1 11|Invalid argument
alloc 99 0|Invalid argument
alloc $N1 0 0|Invalid argument
alloc $N1 0 1 0x4|Cannot allocate memory
free 1|Invalid argument
put|Invalid argument
EOT
	[ "$(cat $D/ranges)" = "$ranges" ] || { ktap_print_msg "ranges changed"; ok=1; }
	grep -q "^held 0$" $PN_TEST || ok=1
	return $ok
}
ktap_test_result "bad control and test input gets EINVAL/ERANGE/EEXIST/ENOENT and changes nothing" bad_input

# 8
release_free() {
	local ok=0 blocks
	[ "$(pn_write $D/control "release $START1_PHYS")" = ok ] || return 1
	grep -q "start_pfn $START1 " $D/ranges && { ktap_print_msg "range still listed"; ok=1; }
	blocks=$(pn_offline_blocks "$N1")
	[ "$blocks" = $((${WANT_PAGES[$N1]} / PAGES_PER_BLOCK)) ] || { ktap_print_msg "node $N1: $blocks offline blocks"; ok=1; }
	grep -q "^node $N1 .*private=0 " $D/nodes || { ktap_print_msg "$(grep "^node $N1 " $D/nodes)"; ok=1; }
	[ -z "$(pn_buddy "$N1")" ] || { ktap_print_msg "node $N1 still in buddyinfo"; ok=1; }
	return $ok
}
ktap_test_result "releasing a free range offlines its blocks and the node stops being private" release_free

# 9
reclaim_and_hotadd() {
	local ans want ok=0 before
	[ "$(pn_write $D/control "claim $N1")" = ok ] || return 1
	before=$(pn_zone_field "$N1" managed)
	ans=$(pn_hotplug_request "priv-$$" "node=$N1 size=$((2 * BS))")
	case "$ans" in ok*) ;; *) ktap_print_msg "agent: $ans"; return 1 ;; esac
	for _ in $(seq 100); do
		[ "$(pn_offline_blocks "$N1")" = 2 ] && break
		sleep 0.2
	done
	[ "$(pn_write $D/control "claim $N1")" = ok ] || return 1
	want=$((before + 2 * PAGES_PER_BLOCK))
	[ "$(pn_zone_field "$N1" managed)" = "$want" ] || { ktap_print_msg "managed $(pn_zone_field "$N1" managed), want $want"; ok=1; }
	[ "$(pn_buddy "$N1" | awk '{ print $11 }')" = $((want / 1024)) ] || { ktap_print_msg "buddyinfo $(pn_buddy "$N1")"; ok=1; }
	[ "$(awk -v n="$N1" '$2 == n' $D/ranges | wc -l)" = $((want / PAGES_PER_BLOCK)) ] || ok=1
	return $ok
}
ktap_test_result "a range can be claimed again, and a DIMM hot-added at runtime is claimed into buddyinfo" reclaim_and_hotadd

# 10
pagetypeinfo_format() {
	head -n1 $D/pagetypeinfo | grep -qx "Page block order: 9" &&
		grep -q "^Node    $N1, zone   Normal, type      Movable      0      0      0      0      0      0      0      0      0      0 " $D/pagetypeinfo &&
		grep -q "^Node $N1, zone   Normal            0 " $D/pagetypeinfo
}
ktap_test_result "pagetypeinfo uses /proc/pagetypeinfo's layout" pagetypeinfo_format

# 11
# Node $N1's pageblocks in pfn order, one "<type letter><free pages>" a line.
pageblocks_of() {
	awk -v n="$1" '$1 == "node" { cur = $2; next } cur == n { for (i = 1; i <= NF; i++) print $i }' $D/pageblocks
}
pageblocks_dump() {
	local ok=0 managed free blocks sum partial
	[ "$(pn_write $PN_TEST "alloc $N1 0 1")" = ok ] || return 1
	[ "$(pn_write $D/control drain)" = ok ] || ok=1
	managed=$(pn_zone_field "$N1" managed)
	free=$(pn_zone_field "$N1" free)
	blocks=$(pageblocks_of "$N1" | wc -l)
	sum=$(pageblocks_of "$N1" | awk '{ s += substr($1, 2) } END { print s + 0 }')
	partial=$(pageblocks_of "$N1" | grep -cv '^[UMRH]512$')
	[ "$blocks" = $((managed / 512)) ] || { ktap_print_msg "$blocks pageblocks, managed $managed"; ok=1; }
	[ "$sum" = "$free" ] || { ktap_print_msg "pageblocks free $sum, zoneinfo free $free"; ok=1; }
	[ "$((managed - free))" = 1 ] || { ktap_print_msg "managed $managed free $free"; ok=1; }
	[ "$partial" = 1 ] && pageblocks_of "$N1" | grep -qx '[UMRH]511' ||
		{ ktap_print_msg "$partial pageblocks not wholly free: $(pageblocks_of "$N1" | grep -v '512$' | head -3)"; ok=1; }
	[ "$(pn_write $PN_TEST "free 1")" = ok ] || ok=1
	return $ok
}
ktap_test_result "pageblocks shows each pageblock's type and free pages, summing to the zone's free count" pageblocks_dump

# 12
unload_restores() {
	pn_unload || return 1
	local ok=0 n
	[ "$(cat $PN_SYS_NODE/has_memory)" = "$HAS_MEMORY_BEFORE" ] || ok=1
	for n in $NODES; do
		[ "$(pn_offline_blocks "$n")" = "$(pn_node_blocks "$n" | wc -l)" ] || { ktap_print_msg "node $n has online blocks"; ok=1; }
	done
	return $ok
}
ktap_test_result "unload leaves every block offline and N_MEMORY as it was" unload_restores

# 13
ktap_test_result "no kernel warnings or lockdep reports" pn_no_splats

ktap_finished
