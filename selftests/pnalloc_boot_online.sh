#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Auto-online policies and coexistence with virtio-mem. Runs in its own boot
# (scripts/vm.sh --job policy): memhp_default_state=online_movable, so the
# kernel onlines the DIMMs of nodes 1 and 2 at boot, and a virtio-mem device
# on node 0 with nothing plugged yet.
#
# pnalloc loaded with nodes=0x6 takes both nodes over from the kernel,
# keeps them for the module's life (memory hot-added there and onlined by
# the kernel's policy is pnalloc's at once), and leaves the global online
# page callback to virtio-mem, which plugs memory while pnalloc is loaded.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
DIMMS=$(pn_param dimms)
[ -n "$DIMMS" ] || ktap_exit_fail_msg "not booted by scripts/vm.sh"
grep -qw "memhp_default_state=online_movable" /proc/cmdline ||
	ktap_exit_fail_msg "not booted with memhp_default_state=online_movable (scripts/vm.sh --job policy)"
D=$PN_DEBUGFS
BS=$(pn_block_size)
BLOCK_PAGES=$((BS / 4096))
NODES=$(for d in ${DIMMS//,/ }; do echo "${d%%:*}"; done)
MASK=0
for n in $NODES; do MASK=$((MASK | (1 << n))); done
dimm_pages() { for d in ${DIMMS//,/ }; do [ "${d%%:*}" = "$1" ] && echo $((${d#*:} / 4096)); done; }
memtotal() { awk '/^MemTotal/ { print $2 }' /proc/meminfo; }
online_blocks() { pn_blocks_in "$1" online; }
ktap_set_plan 6

# 1: the boot policy gave the DIMMs to the kernel.
kernel_has_them() {
	local n ok=0
	for n in $NODES; do
		[ "$(online_blocks "$n")" = $(($(dimm_pages "$n") / BLOCK_PAGES)) ] ||
			{ ktap_print_msg "node $n: $(online_blocks "$n") online blocks"; ok=1; }
		pn_in_list "$(cat $PN_SYS_NODE/has_memory)" "$n" || { ktap_print_msg "node $n not in N_MEMORY"; ok=1; }
	done
	return $ok
}
ktap_test_result "memhp_default_state=online_movable onlined the DIMMs of nodes $(echo $NODES) into the kernel" kernel_has_them

# 2: pnalloc configured for the nodes takes them over: offlined (the kernel
# migrates what it put there), registered private, onlined into pnalloc.
MEMTOTAL_KERNEL=$(memtotal)
take_over() {
	local n ok=0 sum=0 want
	insmod "$KO" nodes=$MASK || return 1
	echo drain >$D/control
	for n in $NODES; do
		want=$(dimm_pages "$n")
		[ "$(pn_zone_field "$n" free)" = "$want" ] || { ktap_print_msg "node $n: free $(pn_zone_field "$n" free), want $want"; ok=1; }
		pn_in_list "$(cat $PN_SYS_NODE/has_memory)" "$n" && { ktap_print_msg "node $n still in N_MEMORY"; ok=1; }
		sum=$((sum + want * 4))
	done
	want=$((MEMTOTAL_KERNEL - sum))
	[ "$(memtotal)" = "$want" ] || { ktap_print_msg "MemTotal $(memtotal) kB, want $want"; ok=1; }
	[ "$(pn_write $D/control verify)" = ok ] || ok=1
	return $ok
}
ktap_test_result "nodes=$MASK takes the kernel's memory of nodes $(echo $NODES) over (exact pages, MemTotal drops by the DIMMs)" take_over

# 3: runtime auto-online on a configured node: the kernel's policy onlines
# a hot-added DIMM, and it is pnalloc's at once.
N1=$(echo "$NODES" | head -n1)
runtime_auto_online() {
	local ok=0 ans free mt
	echo online >$PN_SYS_MEM/auto_online_blocks || return 1
	free=$(pn_zone_field "$N1" free)
	mt=$(memtotal)
	ans=$(pn_hotplug_request "auto-$$" "node=$N1 size=$BS")
	case "$ans" in ok*) ;; *) ktap_print_msg "agent: $ans"; return 1 ;; esac
	for _ in $(seq 150); do
		[ "$(pn_zone_field "$N1" free)" = $((free + BLOCK_PAGES)) ] && break
		sleep 0.2
	done
	[ "$(pn_zone_field "$N1" free)" = $((free + BLOCK_PAGES)) ] || { ktap_print_msg "free $(pn_zone_field "$N1" free), want $((free + BLOCK_PAGES))"; ok=1; }
	[ "$(memtotal)" = "$mt" ] || { ktap_print_msg "MemTotal $(memtotal), was $mt"; ok=1; }
	pn_in_list "$(cat $PN_SYS_NODE/has_memory)" "$N1" && { ktap_print_msg "node $N1 in N_MEMORY"; ok=1; }
	echo online_movable >$PN_SYS_MEM/auto_online_blocks
	return $ok
}
ktap_test_result "a DIMM hot-added on a configured node and auto-onlined is pnalloc's at once" runtime_auto_online

# 4: virtio-mem probed at boot (the online page callback is free) and plugs
# memory into node 0 while pnalloc is loaded.
virtio_mem() {
	local ok=0 ans mt want
	[ -n "$(ls /sys/bus/virtio/drivers/virtio_mem/ 2>/dev/null | grep virtio)" ] ||
		{ ktap_print_msg "no device bound to virtio_mem"; return 1; }
	mt=$(memtotal)
	ans=$(pn_hotplug_request "vmem-$$" "resize=vmem0dev size=$((256 << 20))")
	[ "$ans" = "ok $((256 << 20))" ] || { ktap_print_msg "agent: $ans"; return 1; }
	want=$((mt + (256 << 10)))
	for _ in $(seq 150); do
		[ "$(memtotal)" = "$want" ] && break
		sleep 0.2
	done
	[ "$(memtotal)" = "$want" ] || { ktap_print_msg "MemTotal $(memtotal) kB, want $want"; ok=1; }
	grep -q "virtio_mem" /proc/iomem || { ktap_print_msg "no virtio-mem memory in /proc/iomem"; ok=1; }
	pn_loaded || ok=1
	[ "$(pn_write $D/control verify)" = ok ] || ok=1
	return $ok
}
ktap_test_result "virtio-mem plugs 256 MiB into node 0 while pnalloc is loaded" virtio_mem

# 5: after unload, memory the kernel onlines into ZONE_NORMAL of a CPU-less
# node: pnalloc told to take it over either does (exact pages) or refuses
# the load of that node with the reason in the log; nothing else changes.
kernel_zone() {
	local ok=0 b want mt
	pn_unload || return 1
	for b in $(pn_node_blocks "$N1"); do
		echo online_kernel >$PN_SYS_MEM/memory$b/state || { ktap_print_msg "online_kernel memory$b failed"; ok=1; }
	done
	want=$(($(pn_node_blocks "$N1" | wc -l) * BLOCK_PAGES))
	mt=$(memtotal)
	local since
	since=$(dmesg | wc -l)
	insmod "$KO" nodes=$((1 << N1)) || return 1
	echo drain >$D/control
	if [ "$(pn_zone_field "$N1" free)" = "$want" ]; then
		ktap_print_msg "ZONE_NORMAL memory of node $N1 taken over: $want pages"
		[ "$(memtotal)" = $((mt - want * 4)) ] || { ktap_print_msg "MemTotal $(memtotal), want $((mt - want * 4))"; ok=1; }
	else
		dmesg | tail -n +"$since" | grep -q "cannot go offline" ||
			{ ktap_print_msg "node $N1 neither taken over nor explained"; ok=1; }
		[ "$(memtotal)" = "$mt" ] || ok=1
	fi
	[ "$(pn_write $D/control verify)" = ok ] || ok=1
	pn_unload || ok=1
	return $ok
}
ktap_test_result "ZONE_NORMAL memory of a CPU-less node is taken over or refused with the reason" kernel_zone

ktap_test_result "no kernel warnings, KASAN or lockdep reports" pn_no_splats
ktap_finished
