#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing pnalloc needs on a Debian 12 machine.
# Idempotent: each step checks first and skips what is already there. Only the
# stock apt sources are used; the kernel source comes through a private apt
# configuration in fetch-kernel.sh, never through the system's sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PKGS=(
	rustc-web rust-web-src rustfmt-web rust-web-clippy
	clang-22 lld-22 llvm-22 libclang-22-dev
	flex bison bc libelf-dev libssl-dev dwarves cpio kmod busybox-static
	qemu-system-x86 udev rsync numactl python3-pip python3-venv
	make gcc xz-utils zstd socat
)
BINDGEN_VERSION=0.72.1
VNG_VERSION=1.42

step "toolchain: apt packages"
missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	info "installing: ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -q || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
else
	info "all ${#APT_PKGS[@]} packages present"
fi

step "toolchain: bindgen-cli $BINDGEN_VERSION"
if bindgen_bin >/dev/null 2>&1 && "$(bindgen_bin)" --version | grep -q "bindgen 0.72"; then
	info "present: $("$(bindgen_bin)" --version)"
else
	# The rustup cargo builds bindgen-cli itself; the kernel build later uses
	# Debian's rustc-web for the kernel's own crates.
	cargo install --locked --root "$TOOLS_DIR" bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli failed"
fi

step "toolchain: virtme-ng $VNG_VERSION"
if [ -x "$TOOLS_DIR/venv/bin/vng" ] && "$TOOLS_DIR/venv/bin/vng" --version 2>/dev/null | grep -q "$VNG_VERSION"; then
	info "present: $("$TOOLS_DIR/venv/bin/vng" --version)"
else
	python3 -m venv "$TOOLS_DIR/venv" || die "python venv failed"
	"$TOOLS_DIR/venv/bin/pip" install -q "virtme-ng==$VNG_VERSION" || die "pip install virtme-ng failed"
fi

step "toolchain: ready"
info "rustc: $(/usr/bin/rustc --version)"
info "clang: $(clang-22 --version | head -n1)"
info "bindgen: $("$(bindgen_bin)" --version)"
info "vng: $("$TOOLS_DIR/venv/bin/vng" --version)"
