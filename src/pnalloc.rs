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
//! - [`carve`]: claiming and releasing hot-plugged memory;
//!   [`hotplug`]: its blocks going online and offline.
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
mod hotplug;
#[cfg(CONFIG_KUNIT)]
mod kunit;
#[cfg(CONFIG_KUNIT)]
mod kunit_policy;
mod lock;
mod mm_sys;
mod node;
mod state;
mod verify;
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
            description: "Claim the memory of private-node candidates at load",
        },
        nodes: u64 {
            default: 0,
            description: "Bitmask of CPU-less nodes to own for the module's life, taking over memory the kernel onlined there (0: every memoryless, CPU-less node, once)",
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
/// handler, which the Rust debugfs abstraction does not offer; and
/// `fail_offline`, the kernel's fault-injection attribute (`mm_shim.c`).
struct AllocTagFiles;

impl AllocTagFiles {
    fn new() -> Result<Self> {
        mm_sys::alloc_tag_init()?;
        if let Err(e) = mm_sys::fault_init() {
            mm_sys::alloc_tag_exit();
            return Err(e);
        }
        Ok(AllocTagFiles)
    }
}

impl Drop for AllocTagFiles {
    fn drop(&mut self) {
        mm_sys::fault_exit();
        mm_sys::alloc_tag_exit();
    }
}

impl kernel::InPlaceModule for Pnalloc {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let nodes = module_parameters::nodes.value();
        try_pin_init!(&this in Self {
            state: Arc::new(state::State::new(nodes)?, GFP_KERNEL)?,
            // SAFETY: `state` is initialised above, before this field.
            debugfs <- debugfs::PnallocDebugfs::new(unsafe { &(*this.as_ptr()).state }),
            _tags: AllocTagFiles::new()?,
        }? Error)
        .pin_chain(move |this| {
            if module_parameters::claim.value() {
                this.state.claim_at_load(nodes);
            }
            Ok(())
        })
    }
}
