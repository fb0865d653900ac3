#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runtime DIMM hot-add: the guest asks the host-side QMP agent for a DIMM and
# the new memory blocks arrive offline on the requested memoryless node.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

ktap_print_header
[ -d "$(pn_param hotplug_dir)" ] || ktap_exit_fail_msg "no hotplug directory (pnalloc_test.hotplug_dir): not booted by scripts/vm.sh"
pn_dmesg_mark
ktap_set_plan 3

NID=2
SIZE=$((256 << 20))
before=$(pn_node_blocks $NID | wc -l)

# 1: the agent plugs a 256 MiB DIMM on node 2.
plug() {
	local ans
	ans=$(pn_hotplug_request "plug-$$" "node=$NID size=$SIZE")
	case "$ans" in ok*) ;; *) ktap_print_msg "agent: $ans"; return 1 ;; esac
}
ktap_test_result "QMP agent hot-adds a 256 MiB DIMM on node $NID" plug

# 2: its blocks appear on node 2, offline (ACPI hotplug is asynchronous).
blocks_arrive() {
	local want now b
	want=$((before + SIZE / $(pn_block_size)))
	for _ in $(seq 100); do
		now=$(pn_node_blocks $NID | wc -l)
		[ "$now" = "$want" ] && break
		sleep 0.2
	done
	[ "$now" = "$want" ] || { ktap_print_msg "node $NID: $now blocks, want $want"; return 1; }
	for b in $(pn_node_blocks $NID); do
		[ "$(cat $PN_SYS_MEM/memory$b/state)" = offline ] || { ktap_print_msg "memory$b not offline"; return 1; }
	done
}
ktap_test_result "node $NID gains $((SIZE >> 27)) offline memory blocks" blocks_arrive

# 3: a malformed request is refused by the agent and plugs nothing.
bad_request() {
	local ans now
	now=$(pn_node_blocks $NID | wc -l)
	ans=$(pn_hotplug_request "bad-$$" "node=$NID size=12345")
	case "$ans" in error*) ;; *) ktap_print_msg "agent accepted: $ans"; return 1 ;; esac
	sleep 1
	[ "$(pn_node_blocks $NID | wc -l)" = "$now" ]
}
ktap_test_result "a malformed hot-add request is refused and changes nothing" bad_request

ktap_finished
