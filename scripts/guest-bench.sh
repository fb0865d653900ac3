#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`, inside the VM: pnalloc_bench.ko runs every workload on
# pnalloc (private node 1) and on the kernel's allocator (DIMM node 2 of
# the same size, onlined to ZONE_NORMAL here), interleaved, in this one
# boot. Writes the rows to $PNALLOC_OUT/bench.csv; scripts/bench-report.py
# turns them into tables and plots on the host.
set -eu
. "$PNALLOC_REPO/selftests/pnalloc_lib.sh"

PN=1
KN=2
REPS=${PNALLOC_BENCH_REPS:-5}
RUN=/sys/kernel/debug/pnalloc_bench/run
NCPU=$(nproc)
# Under -icount the vCPUs take turns on one host thread and the virtual
# clock charges each with the other's instructions: only 1-thread figures
# mean anything there.
MAXT=$NCPU
[ "${PNALLOC_BENCH_MODE:-}" = icount ] && MAXT=1
OUT=$PNALLOC_OUT

pn_mount_debugfs
ko=$(pn_param ko)
insmod "$ko" nodes=$((1 << PN))
insmod "$(dirname "$ko")/pnalloc_bench.ko"

# The kernel's side: node 2's DIMM, online to ZONE_NORMAL.
for b in $(pn_node_blocks $KN); do
	echo online_kernel >$PN_SYS_MEM/memory$b/state
done
pn_managed=$(pn_zone_field $PN managed)
k_managed=$(awk -v node=$KN '/^Node/ { cur = $2; sub(",", "", cur); zone = $4 }
	cur == node && zone == "Normal" && $1 == "managed" { print $2 }' /proc/zoneinfo)
# Same memory on both sides, to 1%.
if [ -z "$k_managed" ] || [ $((100 * (pn_managed - k_managed))) -gt "$pn_managed" ] ||
	[ $((100 * (k_managed - pn_managed))) -gt "$pn_managed" ]; then
	echo "bench: node $PN has $pn_managed pages, node $KN ${k_managed:-no} pages: not the same memory" >&2
	exit 1
fi

{
	echo "mode: ${PNALLOC_BENCH_MODE:-tcg-wall}"
	echo "vcpus: $NCPU"
	echo "reps: $REPS"
	echo "kernel: $(uname -r) (benchmark config: no KASAN, lockdep, DEBUG_VM, page debug hooks)"
	echo "host cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	echo "memory: pnalloc node $PN managed $pn_managed pages, kernel node $KN managed $k_managed pages"
	echo "vulnerabilities:"
	grep -H . /sys/devices/system/cpu/vulnerabilities/* 2>/dev/null | sed 's|.*/|  |'
} | tee "$OUT/bench-env.txt"

run() {
	echo "$*" >$RUN || {
		echo "bench: '$*' failed; the kernel log says:" >&2
		dmesg | grep pnalloc | tail -n 5 >&2
		cat $PN_DEBUGFS/buddyinfo $PN_DEBUGFS/zoneinfo >&2
		exit 1
	}
	# Every command gives back all it took (but a frag that holds).
	local out
	out=$(awk '/^outstanding_pages/ { print $2 }' $PN_DEBUGFS/zoneinfo)
	case "$*" in *hold) ;; *)
		[ "$out" = 0 ] || { echo "bench: '$*' left $out pages of pnalloc's out" >&2; exit 1; } ;;
	esac
}

t0=$SECONDS
run touch $PN $KN
run clear
# Half of the node's pages, the LAB bulk/rand working set.
half=$((pn_managed / 2))
for threads in $(seq 1 "$MAXT"); do
	for order in $(seq 0 10); do
		iters=$([ "$order" -le 3 ] && echo 20000 || { [ "$order" -le 8 ] && echo 2000 || echo 400; })
		run repeat $PN $KN "$threads" "$REPS" "$order" "$iters"
	done
	for order in 0 9; do
		run bulk $PN $KN "$threads" "$REPS" "$order" $((half / threads >> order))
	done
	run rand $PN $KN "$threads" "$REPS" 0 $((half / threads))
	echo "threads $threads done after $((SECONDS - t0)) s"
done
for batch in 1 8 32 128; do
	run bulkapi $PN $KN 1 "$REPS" "$batch" $((65536 / batch))
done
for threads in 1 2; do
	[ "$threads" -le "$MAXT" ] || continue
	run nolock $PN $KN "$threads" "$REPS" 0 20000
	run nolockirq $PN $KN "$threads" "$REPS" 0 5000
done
cat $PN_DEBUGFS/pageblocks >"$OUT/pageblocks-before-frag.txt"
# pnalloc's side keeps its pages, so the picture is the node LAB-frag left.
run frag $PN $KN 100 hold
cat $PN_DEBUGFS/pageblocks >"$OUT/pageblocks-after-frag.txt"
cat $PN_DEBUGFS/buddyinfo
echo "all workloads done after $((SECONDS - t0)) s"
cat $RUN >"$OUT/bench.csv"
cat /sys/kernel/debug/pnalloc_bench/cdf >"$OUT/nolock-cdf.csv"
echo "$(($(wc -l <"$OUT/bench.csv") - 1)) rows in bench.csv"
run clear

rmmod pnalloc_bench
echo "release all" >$PN_DEBUGFS/control
rmmod pnalloc
