# SPDX-License-Identifier: GPL-2.0
#
# pnalloc: the entry point for people. Kbuild reads ./Kbuild, not this file.
#
#   make            toolchain, kernel (cached), module
#   make run        ... then boot the VM, load pnalloc, show nodes and stats
#   make check      ... host tests, KUnit and kselftests in the VM (KTAP),
#                   then the auto-online / virtio-mem boot
#   make bench      ... pnalloc vs the kernel allocator, same VM boot
#   make kernel     just the patched kernel, incrementally
#   make module     just the module against $(KDIR)
#   make host-test  cargo test of the allocator core
#   make clippy     the module with CLIPPY=1
#   make fmt        rustfmt the module and core with the kernel's .rustfmt.toml
#   make mutants    cargo mutants over the core (not in make check: ~30 min)

include scripts/toolchain.mk

PNALLOC_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/pnalloc
export PNALLOC_CACHE
KDIR ?= $(PNALLOC_CACHE)/build/current
export KDIR

KMAKE := $(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_FLAGS)

.PHONY: all toolchain kernel module module-only selftests host-test run bench check clippy fmt fmt-check clean mutants

all: module

toolchain:
	@scripts/install-toolchain.sh

kernel: toolchain
	@scripts/build-kernel.sh

# The kernel step is a no-op when its key matches, so depending on it keeps
# `make module` honest without costing a rebuild.
module: kernel
	@$(MAKE) --no-print-directory module-only

module-only:
	@test -f $(KDIR)/Module.symvers || { echo "pnalloc: error: no built kernel in $(KDIR); run 'make kernel'" >&2; exit 1; }
	+$(KMAKE) modules

selftests: module
	@scripts/build-selftests.sh

host-test:
	@echo "==> host tier: cargo test (allocator core)"
	cargo test --release --quiet

run: module selftests
	@scripts/vm.sh --job main

# Its own non-debug kernel and module build; the test kernel is not touched.
bench: toolchain
	@scripts/build-bench.sh

check: toolchain host-test module selftests fmt-check
	@scripts/vm.sh --job check
	@scripts/vm.sh --job policy

clippy: kernel
	+$(KMAKE) CLIPPY=1 modules

fmt:
	/usr/bin/rustfmt --config-path $(KDIR)/source/.rustfmt.toml --edition 2021 src/pnalloc.rs src/core/mod.rs

fmt-check:
	@/usr/bin/rustfmt --check --config-path $(KDIR)/source/.rustfmt.toml --edition 2021 src/pnalloc.rs src/core/mod.rs || \
		{ echo "pnalloc: error: rustfmt differs; run 'make fmt'" >&2; exit 1; }

# Mutation testing of the allocator core against the host tests. cargo-mutants
# is installed on demand into the tool cache, like bindgen, but only here. The
# differential test runs 1000 cases per mutant instead of 10^4.
MUTANTS_VERSION ?= 27.1.0
MUTANTS_TOOLS := $(PNALLOC_CACHE)/tools
MUTANTS_OUT ?= $(PNALLOC_CACHE)
mutants:
	@test -x $(MUTANTS_TOOLS)/bin/cargo-mutants || \
		cargo install --locked --root $(MUTANTS_TOOLS) cargo-mutants --version $(MUTANTS_VERSION)
	PATH=$(MUTANTS_TOOLS)/bin:$$PATH PNALLOC_MODEL_CASES=1000 \
		cargo mutants --output $(MUTANTS_OUT) $(MUTANTS_ARGS)

clean:
	-$(KMAKE) clean 2>/dev/null
	cargo clean
