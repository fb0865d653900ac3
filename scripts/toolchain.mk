# SPDX-License-Identifier: GPL-2.0
#
# The one place that names the tools the kernel and the module are built with.
# Included by the top-level Makefile and read by scripts/lib.sh.
#
# The rustup rustc first on PATH has no rust-src; the kernel's crates must be
# built by Debian's rustc-web, and so must the host proc-macro crate (HOSTRUSTC)
# or the macros crate fails to load (E0514).
KMAKE_FLAGS := LLVM=-22 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver
