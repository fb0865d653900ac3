#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`, inside the VM: show the NUMA nodes and the offline DIMM blocks,
# load pnalloc, print its debugfs files, unload. Exits non-zero if any step
# fails.
set -eu
. "$PNALLOC_REPO/selftests/pnalloc_lib.sh"
pn_mount_debugfs
KO=$(pn_ko)

echo "== NUMA nodes (kernel view)"
for n in $PN_SYS_NODE/node[0-9]*; do
	nid=${n##*node}
	printf 'node %s: cpus=[%s] MemTotal=%s kB memory blocks=%s\n' "$nid" "$(cat "$n/cpulist")" \
		"$(pn_node_memtotal_kb "$nid")" "$(pn_node_blocks "$nid" | wc -l)"
done
echo
echo "== hot-pluggable memory blocks ($(($(pn_block_size) >> 20)) MiB each)"
for n in $PN_SYS_NODE/node[0-9]*; do
	nid=${n##*node}
	[ -n "$(cat "$n/cpulist")" ] && continue
	for b in $(pn_node_blocks "$nid"); do
		printf 'node %s memory%s %s removable=%s\n' "$nid" "$b" "$(cat $PN_SYS_MEM/memory$b/state)" \
			"$(cat $PN_SYS_MEM/memory$b/removable 2>/dev/null || echo ?)"
	done
done
echo
echo "== insmod $KO, then pnalloc_test.ko (a consumer of its exported API)"
pn_insmod
dmesg | grep "pnalloc:" | tail -n 4
echo
echo "== kernel view after load: has_memory=$(cat $PN_SYS_NODE/has_memory), MemTotal $(awk '/^MemTotal/ { print $2 }' /proc/meminfo) kB"
for n in $PN_SYS_NODE/node[0-9]*; do
	nid=${n##*node}
	[ -n "$(cat "$n/cpulist")" ] && continue
	printf 'node %s: %s of %s blocks online (pnalloc'"'"'s), MemTotal=%s kB\n' "$nid" \
		"$(for b in $(pn_node_blocks "$nid"); do cat $PN_SYS_MEM/memory$b/state; done | grep -c '^online')" \
		"$(pn_node_blocks "$nid" | wc -l)" "$(pn_node_memtotal_kb "$nid")"
done
echo
echo "== allocate through the entry points ($PN_TEST, in pnalloc_test.ko)"
for c in "ep node 1 3" "ep folio_node 2 2" "ep bulk 2 8" "ep zeroed -1 0"; do
	echo "$c" >$PN_TEST && echo "  $c: ok"
done
cat $PN_TEST
echo
cat $PN_DEBUGFS/buddyinfo
echo "free 11" >$PN_TEST
echo drain >$PN_DEBUGFS/control
for f in "$PN_DEBUGFS"/*; do
	[ -f "$f" ] && [ -r "$f" ] && [ "${f##*/}" != control ] || continue
	echo
	echo "== $f"
	cat "$f"
done
echo
echo "== rmmod pnalloc_test; release all; rmmod pnalloc (each online block holds a module reference)"
pn_unload
[ ! -e "$PN_DEBUGFS" ] && echo "debugfs directory removed"
