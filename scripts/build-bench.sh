#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`, on the host: the non-debug kernel (its own cache directory),
# the modules built against it out of a copy of the tree (so the test build
# in the repository is not touched), matplotlib for the plots, then the VM
# run and the report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PNALLOC_KERNEL_VARIANT=bench "$REPO_DIR/scripts/build-kernel.sh"

step "bench: modules against the benchmark kernel"
src=$CACHE_DIR/bench-module
mkdir -p "$src"
# Same mtimes as the tree, so kbuild rebuilds only what changed.
# Build products are excluded, which also keeps --delete off them.
rsync -a --delete --exclude .git --exclude target --exclude '*.o' --exclude '*.ko' \
	--exclude '.*.cmd' --exclude '*.mod*' --exclude Module.symvers --exclude modules.order \
	"$REPO_DIR/" "$src/"
make -C "$CACHE_DIR/build/bench" M="$src" "${KMAKE_FLAGS[@]}" -j"$(nproc)" modules >&2 ||
	die "module build against the benchmark kernel failed"

if ! "$TOOLS_DIR/venv/bin/python3" -c 'import matplotlib' 2>/dev/null; then
	step "bench: matplotlib into $TOOLS_DIR/venv"
	"$TOOLS_DIR/venv/bin/pip" install -q matplotlib || die "pip install matplotlib failed"
fi

"$REPO_DIR/scripts/vm.sh" --job bench
OUT=${PNALLOC_OUT:-$CACHE_DIR/vm-out}
"$TOOLS_DIR/venv/bin/python3" "$REPO_DIR/scripts/bench-report.py" "$OUT"
