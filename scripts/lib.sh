# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared settings and helpers for pnalloc's scripts. Sourced, not run.

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything large lives outside the repository so clean clones stay small and
# a second build is incremental.
CACHE_DIR=${PNALLOC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pnalloc}
TOOLS_DIR=$CACHE_DIR/tools
# The installed kselftests the VM runs (one tree per checkout if several
# share a cache: PNALLOC_KSELFTEST=<dir>).
ST_DIR=${PNALLOC_KSELFTEST:-$CACHE_DIR/kselftest}
mkdir -p "$CACHE_DIR" "$TOOLS_DIR"

export LIBCLANG_PATH=/usr/lib/llvm-22/lib
export PATH="$TOOLS_DIR/bin:$TOOLS_DIR/venv/bin:$PATH"

step() { printf '\n==> [%s] %s\n' "$(date +%T)" "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() {
	printf 'pnalloc: error: %s\n' "$*" >&2
	exit 1
}
bindgen_bin() { command -v bindgen; }

# shellcheck disable=SC2034 # used by the scripts that source this file
KERNEL_VERSION=${PNALLOC_KERNEL_VERSION:-7.3.4}
# shellcheck disable=SC2034
read -r -a KMAKE_FLAGS <<<"$(sed -n 's/^KMAKE_FLAGS := //p' "$REPO_DIR/scripts/toolchain.mk")"
# build-kernel.sh points this link at the build directory it last finished;
# the module, the VM runner and the tests use the kernel found there.
KBUILD_LINK=$CACHE_DIR/build/current
KDIR=${KDIR:-$KBUILD_LINK}
