#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`, inside the VM: pnalloc against the kernel's own allocator,
# measured side by side in this one boot, printed as ns per alloc+free pair
# and as a ratio (pnalloc / kernel; below 1 means pnalloc is faster).
set -eu
. "$PNALLOC_REPO/selftests/pnalloc_lib.sh"
pn_mount_debugfs
insmod "$(pn_ko)"
nid=$(awk '/private=1/ { print $2; exit }' $PN_DEBUGFS/nodes)
echo "== mode: $(grep -qw hypervisor /proc/cpuinfo && echo VM) $(cat /proc/cmdline | grep -o 'pnalloc_bench_mode=[a-z]*' || echo 'pnalloc_bench_mode=tcg-wall')"
echo "== cpu vulnerabilities (mitigations change allocator costs)"
grep -H . /sys/devices/system/cpu/vulnerabilities/* 2>/dev/null | sed 's|.*/||' | head -20
echo
printf '%-6s %-8s %12s %12s %7s %12s %12s %7s\n' order iters "pn ns" "kernel ns" ratio "pn64 ns" "kern64 ns" ratio
for order in 0 1 3 9 10; do
	iters=$([ "$order" -ge 9 ] && echo 512 || echo 20000)
	echo "bench $nid $order $iters" >$PN_DEBUGFS/test
	line=$(dmesg | grep "bench order $order iters $iters:" | tail -n1)
	# shellcheck disable=SC2046 # one word per number, on purpose
	set -- $(echo "$line" | grep -o '[0-9]\+ ns' | awk '{ print $1 }')
	printf '%-6s %-8s %12s %12s %7s %12s %12s %7s\n' "$order" "$iters" "$1" "$2" \
		"$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }')" "$3" "$4" \
		"$(awk -v a="$3" -v b="$4" 'BEGIN { printf "%.2f", a / b }')"
done
echo drain >$PN_DEBUGFS/control
echo "release all" >/sys/kernel/debug/pnalloc/control
rmmod pnalloc
