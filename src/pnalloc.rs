// SPDX-License-Identifier: GPL-2.0

//! pnalloc: an isolated instance of the Linux page allocator on private memory
//! nodes carved out of hot-plugged memory.
//!
//! The crate root only declares the layers; see `Documentation/pnalloc/` for
//! the design. Data flows top to bottom on allocation:
//!
//! - [`api`] (Rust) and `pnalloc.h` (C, exported from `mm_shim.c`): the
//!   entry points of `include/linux/gfp.h` on private nodes.
//! - [`debugfs`], [`control`]: what an mm developer reads and writes under
//!   `/sys/kernel/debug/pnalloc/`.
//! - [`state`]: what a loaded module owns, and its teardown order.
//! - [`node`]: the instance, zones behind their locks, the allocation glue;
//!   [`zonelists`]: the topology, read under RCU.
//! - [`carve`]: claiming and releasing hot-plugged ranges.
//! - [`core`]: the allocator core, plain Rust over a frame array, also built
//!   and tested on the host (`cargo test`); [`frames`] stores its metadata.
//! - [`mm_sys`]: the one thin layer that talks to C (`mm_shim.c`).

mod api;
mod carve;
mod control;
// The core's items are `pub` because the same files are the root of the host
// crate (`Cargo.toml`); inside the module they are crate-internal. Until the
// kernel layer drives every part of it, the unused parts are host-tested only.
#[allow(unreachable_pub, dead_code)]
mod core;
mod debugfs;
mod frames;
#[cfg(CONFIG_KUNIT)]
mod kunit;
mod lock;
mod mm_sys;
mod node;
mod state;
mod zonelists;

use kernel::{
    prelude::*,
    sync::Arc, //
};

module! {
    type: Pnalloc,
    name: "pnalloc",
    authors: ["pnalloc developers"],
    description: "Page allocator instance on private memory nodes",
    license: "GPL",
    params: {
        claim: bool {
            default: true,
            description: "Claim offline hot-plugged memory of memoryless nodes at load",
        },
        nodes: u64 {
            default: 0,
            description: "Bitmask of the nodes to claim at load (0: every eligible node)",
        },
    },
}

/// The loaded module: everything it owns is dropped, in field order, on unload.
#[pin_data]
struct Pnalloc {
    // Created last (inside the debugfs directory), removed first.
    _tags: AllocTagFiles,
    #[pin]
    debugfs: debugfs::PnallocDebugfs,
    state: Arc<state::State>,
}

/// `allocinfo` and `allocinfo_ext` (C, `alloc_tag.c`): they need an ioctl
/// handler, which the Rust debugfs abstraction does not offer.
struct AllocTagFiles;

impl AllocTagFiles {
    fn new() -> Result<Self> {
        mm_sys::alloc_tag_init()?;
        Ok(AllocTagFiles)
    }
}

impl Drop for AllocTagFiles {
    fn drop(&mut self) {
        mm_sys::alloc_tag_exit();
    }
}

impl kernel::InPlaceModule for Pnalloc {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            state: {
                let s = state::State::new(
                    module_parameters::claim.value(),
                    module_parameters::nodes.value(),
                )?;
                Arc::new(s, GFP_KERNEL)?
            },
            // SAFETY: `state` is initialised above, before this field.
            debugfs <- debugfs::PnallocDebugfs::new(unsafe { &(*this.as_ptr()).state }),
            _tags: AllocTagFiles::new()?,
        }? Error)
    }
}
