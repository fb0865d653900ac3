// SPDX-License-Identifier: GPL-2.0

//! pnalloc: an isolated instance of the Linux page allocator on private memory
//! nodes carved out of hot-plugged memory.
//!
//! The crate root only declares the layers; see `Documentation/pnalloc/` for
//! the design. Data flows top to bottom on allocation:
//!
//! - [`debugfs`]: what an mm developer reads under `/sys/kernel/debug/pnalloc/`.
//! - [`core`]: the allocator core, plain Rust over a frame array, also built and
//!   tested on the host (`cargo test`).
//! - [`mm_sys`]: the one thin layer that talks to C (bindings and `mm_shim.c`).

// The core's items are `pub` because the same files are the root of the host
// crate (`Cargo.toml`); inside the module they are crate-internal. Until the
// kernel layer drives every part of it, the unused parts are host-tested only.
#[allow(unreachable_pub, dead_code)]
mod core;
mod debugfs;
mod mm_sys;

use kernel::prelude::*;

module! {
    type: Pnalloc,
    name: "pnalloc",
    authors: ["pnalloc developers"],
    description: "Page allocator instance on private memory nodes",
    license: "GPL",
}

/// The loaded module: everything it owns is dropped, in field order, on unload.
#[pin_data(PinnedDrop)]
struct Pnalloc {
    #[pin]
    debugfs: debugfs::PnallocDebugfs,
}

impl kernel::InPlaceModule for Pnalloc {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "pnalloc {} loaded: {} possible nodes\n",
            debugfs::VERSION,
            mm_sys::nr_node_ids()
        );
        try_pin_init!(Self {
            debugfs <- debugfs::PnallocDebugfs::new(),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Pnalloc {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("pnalloc unloaded\n");
    }
}
