#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the cached kernel in a virtme-ng VM with pnalloc's NUMA topology and
# run one job in it:
#
#   --job main    show the nodes, the offline DIMM blocks, load pnalloc and
#                 print its debugfs files (what `make run` shows)
#   --job bench   pnalloc against the kernel's allocator in the same boot
#   --job check   run the installed kselftests (KTAP); the exit status is
#                 non-zero if any test failed, was skipped, or the VM broke
#   --job policy  the auto-online and virtio-mem kselftest, in a boot with
#                 memhp_default_state=online_movable and a virtio-mem device
#   --exec CMD    run CMD in the guest
#
# Topology: node 0 has both CPUs and the boot memory; nodes 1, 2 and 3 are
# memoryless and each gets a cold-plugged pc-dimm (512M, 512M, 256M) that the
# guest keeps offline (memhp_default_state=offline, or PNALLOC_MEMHP_STATE;
# with PNALLOC_VIRTIO_MEM=<size>, node 0 also gets a virtio-mem device of that
# maximum size). The SLIT makes node 2 nearer to node 1 (15) than node 3 is
# (25), and node 2 nearer to node 3 (20) than node 1 is, so fallback order by
# distance differs from node id order. Free slots allow hot-adding more at
# runtime through QMP: the guest writes a request file into the shared
# hotplug directory and scripts/qmp-agent.py, running beside QEMU, plugs it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JOB=""
EXEC=""
while [ $# -gt 0 ]; do
	case "$1" in
	--job) JOB=$2; shift 2 ;;
	--exec) EXEC=$2; shift 2 ;;
	*) die "vm.sh: unknown argument $1" ;;
	esac
done

DIMM_SIZE=${PNALLOC_DIMM_SIZE:-512M}
# What the kernel does with hot-added memory (memhp_default_state): the
# tests keep it offline; the boot-policy test boots with online_movable.
MEMHP_STATE=${PNALLOC_MEMHP_STATE:-offline}
[ "$JOB" = policy ] && MEMHP_STATE=${PNALLOC_MEMHP_STATE:-online_movable}
# A virtio-mem device on node 0 (max size; nothing plugged at boot), for
# the coexistence test; empty for none.
VIRTIO_MEM=${PNALLOC_VIRTIO_MEM:-}
[ "$JOB" = policy ] && VIRTIO_MEM=${PNALLOC_VIRTIO_MEM:-1G}
DIMM_NODES=(1 2 3)
DIMM_SIZES=("$DIMM_SIZE" "$DIMM_SIZE" "${PNALLOC_DIMM3_SIZE:-256M}")
# node_distance() (ACPI SLIT) as from:to:distance, symmetric, 10 on the diagonal.
NUMA_DIST=(0:1:20 0:2:20 0:3:20 1:2:15 1:3:25 2:3:20)
BOOT_MEM=${PNALLOC_BOOT_MEM:-2G}
OUT=${PNALLOC_OUT:-$CACHE_DIR/vm-out}

# The modules the guest loads: the test build in the repository, or for
# the benchmark the build against the non-debug kernel (make bench).
KO_DIR=$REPO_DIR
if [ "$JOB" = bench ]; then
	KDIR=$CACHE_DIR/build/bench
	KO_DIR=$CACHE_DIR/bench-module
fi
# make bench's timing mode: tcg-wall (wall clock), icount (QEMU -icount,
# shift 0, sleep off: one virtual ns per instruction, repeatable), kvm, or
# auto (the default): kvm where the probe boot works, else tcg-wall.
BENCH_MODE=${PNALLOC_BENCH_MODE:-auto}
case $BENCH_MODE in
auto | tcg-wall | icount | kvm) ;;
*) die "PNALLOC_BENCH_MODE=$BENCH_MODE: want auto, tcg-wall, icount or kvm" ;;
esac

[ -f "$KDIR/arch/x86/boot/bzImage" ] || die "no kernel in $KDIR; run 'make kernel'"

# One VM at a time on this machine: two TCG guests on two cores would each
# run at half speed and share $OUT.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/vm.lock"
flock 9
command -v vng >/dev/null || die "vng not found; run scripts/install-toolchain.sh"

rm -rf "$OUT"
mkdir -p "$OUT/hotplug"

# The guest learns what QEMU was given from the kernel command line, so the
# tests can assert exact numbers instead of guessing.
dimm_desc=""
qemu_dimms=""
for i in "${!DIMM_NODES[@]}"; do
	n=${DIMM_NODES[$i]}
	size=${DIMM_SIZES[$i]}
	dimm_desc+="${dimm_desc:+,}$n:$(numfmt --from=iec "$size")"
	qemu_dimms+=" -object memory-backend-ram,id=dimm$i,size=$size"
	qemu_dimms+=" -device pc-dimm,id=d$i,memdev=dimm$i,node=$n"
done
numa_dist=()
for d in "${NUMA_DIST[@]}"; do
	IFS=: read -r src dst val <<<"$d"
	numa_dist+=(--numa-distance "$src,$dst=$val")
done

qemu_vmem=""
if [ -n "$VIRTIO_MEM" ]; then
	qemu_vmem=" -object memory-backend-ram,id=vmem0,size=$VIRTIO_MEM"
	qemu_vmem+=" -device virtio-mem-pci,id=vmem0dev,memdev=vmem0,node=0,requested-size=0"
fi

# QEMU's SRAT names a node only if it has boot memory or a possible CPU
# (plus the last node, which gets the hotplug window). A DIMM's _PXM for any
# other node maps to nothing and its memory lands on node 0. So each DIMM node
# gets one possible-but-absent CPU (maxcpus > cpus): the node exists from
# boot, yet has no online CPU and no memory.
numa_dimm_nodes=()
for i in "${!DIMM_NODES[@]}"; do
	numa_dimm_nodes+=(--numa "0,cpus=$((2 + i))")
done

# KVM is used only where a short boot proves it works; on our CI machines
# nested KVM fails ("failed to set MSR 0x10a" or a hung guest), so TCG it is.
kvm_works() {
	[ "${PNALLOC_KVM:-auto}" = 0 ] && return 1
	[ -w /dev/kvm ] || return 1
	local probe=$CACHE_DIR/kvm-probe
	if [ ! -f "$probe" ]; then
		if timeout 60 vng --run "$KDIR" --cpus 1 --memory 512M --exec "true" >"$probe.log" 2>&1; then
			echo yes >"$probe"
		else
			echo no >"$probe"
		fi
	fi
	[ "$(cat "$probe")" = yes ]
}
accel=(--disable-kvm)
mode=TCG
qemu_icount=""
if [ "$JOB" = bench ] && [ "$BENCH_MODE" = icount ]; then
	qemu_icount=" -icount shift=0,sleep=off"
	mode="TCG icount"
elif [ "$JOB" = bench ] && [ "$BENCH_MODE" = tcg-wall ]; then
	:
elif kvm_works; then
	accel=()
	mode=KVM
	BENCH_MODE=kvm
elif [ "$JOB" = bench ] && [ "$BENCH_MODE" = kvm ]; then
	die "PNALLOC_BENCH_MODE=kvm, but KVM is not usable (PNALLOC_KVM=0, no /dev/kvm, or the probe boot failed)"
else
	BENCH_MODE=tcg-wall
fi

# The kernel's own debuggers watch every page pnalloc hands out (the config
# builds them; these switch on their runtime parts). page_poison=1 is left
# off: 7.3 lets page poisoning take precedence over init_on_alloc
# (mem_debugging_and_hardening_init() turns init_on_alloc off), and the
# init_on_alloc contract is the one a user's data depends on. The benchmark
# runs on the same kernel with all of them off, so both allocators pay the
# same.
debug_append="debug_pagealloc=on page_owner=on init_on_alloc=1"
[ "$JOB" = bench ] && debug_append=""

case "$JOB" in
main) guest_cmd="$REPO_DIR/scripts/guest-main.sh" ;;
bench) guest_cmd="$REPO_DIR/scripts/guest-bench.sh" ;;
check) guest_cmd="$ST_DIR/run_kselftest.sh" ;;
policy) guest_cmd="$ST_DIR/pnalloc/pnalloc_boot_online.sh" ;;
"") [ -n "$EXEC" ] || die "vm.sh: give --job main|check or --exec CMD"
	guest_cmd=$EXEC ;;
*) die "vm.sh: unknown job $JOB" ;;
esac

SOCK=$OUT/qmp.sock
python3 "$REPO_DIR/scripts/qmp-agent.py" "$SOCK" "$OUT/hotplug" >"$OUT/qmp-agent.log" 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT

step "vm: booting $(basename "$(readlink -f "$KDIR")") ($mode, 2 vCPUs, node0 $BOOT_MEM, DIMMs ${DIMM_SIZES[*]} on nodes ${DIMM_NODES[*]}); job: ${JOB:-exec}"
start=$(date +%s)
set +e
vng --run "$KDIR" "${accel[@]}" ${PNALLOC_VNG_VERBOSE:+--verbose} --cpus 2 --memory "$BOOT_MEM" \
	--numa "$BOOT_MEM,cpus=0-1" "${numa_dimm_nodes[@]}" "${numa_dist[@]}" \
	--rwdir "$OUT" \
	--append "memhp_default_state=$MEMHP_STATE $debug_append pnalloc_test.dimms=$dimm_desc pnalloc_test.hotplug_dir=$OUT/hotplug pnalloc_test.ko=$KO_DIR/pnalloc.ko" \
	--qemu-opts="-smp 2,maxcpus=$((2 + ${#DIMM_NODES[@]})) -m $BOOT_MEM,slots=8,maxmem=16G $qemu_dimms$qemu_vmem$qemu_icount -qmp unix:$SOCK,server=on,wait=off" \
	--exec "PNALLOC_REPO=$REPO_DIR PNALLOC_OUT=$OUT PNALLOC_BENCH_MODE=$BENCH_MODE${PNALLOC_BENCH_REPS:+ PNALLOC_BENCH_REPS=$PNALLOC_BENCH_REPS} $guest_cmd" 2>&1 | tee "$OUT/console.log"
rc=${PIPESTATUS[0]}
set -e
info "vm: exited with $rc after $(($(date +%s) - start)) s ($mode); log: $OUT/console.log"

if [ "$JOB" = check ] || [ "$JOB" = policy ]; then
	"$REPO_DIR/scripts/ktap-verdict.sh" "$OUT/console.log" || exit 1
	[ "$rc" = 0 ] || die "kselftest run exited with $rc"
	exit 0
fi
exit "$rc"
