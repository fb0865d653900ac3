// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/pnalloc/`: what pnalloc shows an mm developer.
//!
//! Files are root-only (0400 to read), as the kernel's debugfs helpers create
//! them.

use kernel::{
    debugfs::{
        Dir,
        File, //
    },
    fmt,
    prelude::*, //
};

use crate::mm_sys;

/// The module's version, as `version` reports it.
pub(crate) const VERSION: &str = "0.1.0";

/// The debugfs directory and the files in it; dropping it removes them.
#[pin_data]
pub(crate) struct PnallocDebugfs {
    #[pin]
    _version: File<()>,
    #[pin]
    _nodes: File<()>,
    // Dropped last: the files above are removed before their directory.
    _dir: Dir,
}

impl PnallocDebugfs {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"pnalloc");
        try_pin_init!(Self {
            _version <- dir.read_callback_file(c"version", (), &version_show),
            _nodes <- dir.read_callback_file(c"nodes", (), &nodes_show),
            _dir: dir,
        }? Error)
    }
}

fn version_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "pnalloc {VERSION}")
}

/// One line per possible node, `key=value` pairs, in node id order:
/// `node 1 online=1 memory=0 normal=0 cpu=0 start_pfn=0 present_pages=0 spanned_pages=0`.
fn nodes_show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for nid in 0..mm_sys::nr_node_ids() {
        let Ok(n) = mm_sys::node_info(nid) else {
            continue;
        };
        if n.possible == 0 {
            continue;
        }
        writeln!(
            f,
            "node {nid} online={} memory={} normal={} cpu={} start_pfn={} present_pages={} spanned_pages={}",
            n.online,
            n.has_memory,
            n.has_normal_memory,
            n.has_cpu,
            n.node_start_pfn,
            n.present_pages,
            n.spanned_pages
        )?;
    }
    Ok(())
}
