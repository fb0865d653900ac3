#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pnalloc load/unload: the VM's DIMMs are where the runner put them and
# offline, the module loads, its debugfs files say what the kernel says, and
# bad load/unload sequences fail cleanly.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
DIMMS=$(pn_param dimms)
[ -n "$DIMMS" ] || ktap_exit_fail_msg "no pnalloc_test.dimms on the command line: not booted by scripts/vm.sh"

ktap_set_plan 8

# 1: each DIMM node is memoryless and holds exactly its DIMM, offline.
dimm_blocks_offline() {
	local bs nid bytes want got b ok=0
	bs=$(pn_block_size)
	for d in ${DIMMS//,/ }; do
		nid=${d%%:*}
		bytes=${d#*:}
		want=$((bytes / bs))
		got=$(pn_node_blocks "$nid" | wc -l)
		if [ "$got" != "$want" ]; then
			ktap_print_msg "node $nid: $got memory blocks, want $want ($bytes bytes / $bs)"
			ok=1
		fi
		for b in $(pn_node_blocks "$nid"); do
			if [ "$(cat $PN_SYS_MEM/memory$b/state)" != offline ]; then
				ktap_print_msg "memory$b on node $nid is $(cat $PN_SYS_MEM/memory$b/state)"
				ok=1
			fi
		done
		if [ -n "$(cat $PN_SYS_NODE/node$nid/cpulist)" ]; then
			ktap_print_msg "node $nid has CPUs $(cat $PN_SYS_NODE/node$nid/cpulist)"
			ok=1
		fi
		if [ "$(pn_node_memtotal_kb "$nid")" != 0 ]; then
			ktap_print_msg "node $nid MemTotal $(pn_node_memtotal_kb "$nid") kB, want 0"
			ok=1
		fi
	done
	return $ok
}
ktap_test_result "DIMM blocks exist offline on memoryless nodes ($DIMMS)" dimm_blocks_offline

# 2: the module loads.
load() {
	insmod "$KO" && pn_loaded && [ -d "$PN_DEBUGFS" ]
}
ktap_test_result "insmod pnalloc.ko creates /sys/module/pnalloc and $PN_DEBUGFS" load

# 3: version file.
version_ok() {
	local v
	v=$(cat "$PN_DEBUGFS/version")
	[ "$v" = "pnalloc 0.2.0" ] || { ktap_print_msg "version: '$v'"; return 1; }
}
ktap_test_result "debugfs version reads 'pnalloc 0.2.0'" version_ok

# 4: the nodes file agrees with sysfs and /proc/zoneinfo for every node.
nodes_ok() {
	local online has_mem has_cpu line nid ok=0 n=0 field want got
	online=$(cat $PN_SYS_NODE/online)
	has_mem=$(cat $PN_SYS_NODE/has_memory)
	has_cpu=$(cat $PN_SYS_NODE/has_cpu)
	while read -r line; do
		nid=$(echo "$line" | awk '{ print $2 }')
		n=$((n + 1))
		for field in online memory cpu present_pages; do
			got=$(echo "$line" | tr ' ' '\n' | sed -n "s/^$field=//p")
			case $field in
			online) pn_in_list "$online" "$nid" && want=1 || want=0 ;;
			memory) pn_in_list "$has_mem" "$nid" && want=1 || want=0 ;;
			cpu) pn_in_list "$has_cpu" "$nid" && want=1 || want=0 ;;
			present_pages) want=$(pn_zoneinfo_present "$nid") ;;
			esac
			if [ "$got" != "$want" ]; then
				ktap_print_msg "node $nid $field=$got, kernel says $want"
				ok=1
			fi
		done
	done <"$PN_DEBUGFS/nodes"
	# Node 0 plus the DIMM nodes at least.
	local want_nodes=$((1 + $(echo "${DIMMS//,/ }" | wc -w)))
	[ "$n" -ge "$want_nodes" ] || { ktap_print_msg "$n nodes listed, want >= $want_nodes"; ok=1; }
	[ "$(pn_zoneinfo_present 0)" -gt 0 ] || ok=1
	return $ok
}
ktap_test_result "debugfs nodes matches sysfs node states and zoneinfo present pages" nodes_ok

# 5: a second insmod fails with EEXIST and leaves the first instance alone.
load_twice() {
	local err
	err=$(insmod "$KO" 2>&1) && { ktap_print_msg "second insmod succeeded"; return 1; }
	echo "$err" | grep -q "File exists" || { ktap_print_msg "second insmod: $err"; return 1; }
	pn_loaded && [ "$(cat "$PN_DEBUGFS/version")" = "pnalloc 0.2.0" ]
}
ktap_test_result "second insmod fails with EEXIST, first instance intact" load_twice

# 6: unload removes everything.
unload() {
	rmmod pnalloc 2>/dev/null && { ktap_print_msg "rmmod succeeded with ranges claimed"; return 1; }
	pn_loaded || return 1
	pn_unload && ! pn_loaded && [ ! -e "$PN_DEBUGFS" ]
}
ktap_test_result "rmmod is refused while ranges are claimed; after release all it removes the module and its debugfs directory" unload

# 7: unloading what is not loaded fails.
unload_twice() {
	! rmmod pnalloc 2>/dev/null
}
ktap_test_result "rmmod when not loaded fails" unload_twice

# 8: nothing above made the kernel complain.
ktap_test_result "no kernel warnings or lockdep reports" pn_no_splats

ktap_finished
