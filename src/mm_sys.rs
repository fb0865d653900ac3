// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer between pnalloc and mm/.
//!
//! C header: [`src/mm_shim.h`](../src/mm_shim.h)
//!
//! Leaf modules never touch `bindings::` or the shim directly; they call the
//! typed, safe functions here.

use kernel::{
    error::to_result,
    ffi::c_int,
    prelude::*, //
};

/// Mirror of `struct pnalloc_node_info` in `mm_shim.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct NodeInfo {
    pub(crate) possible: u8,
    pub(crate) online: u8,
    pub(crate) has_normal_memory: u8,
    pub(crate) has_memory: u8,
    pub(crate) has_cpu: u8,
    pub(crate) present_pages: u64,
    pub(crate) spanned_pages: u64,
    pub(crate) node_start_pfn: u64,
}

extern "C" {
    fn pnalloc_nr_node_ids() -> c_int;
    fn pnalloc_node_info(nid: c_int, info: *mut NodeInfo) -> c_int;
}

/// Number of possible node ids (`nr_node_ids`): valid ids are `0..nr_node_ids()`.
pub(crate) fn nr_node_ids() -> i32 {
    // SAFETY: `pnalloc_nr_node_ids` only reads `nr_node_ids`, which is set at
    // boot and never changes afterwards.
    unsafe { pnalloc_nr_node_ids() }
}

/// A snapshot of node `nid`'s state; `EINVAL` for an id outside `0..nr_node_ids()`.
pub(crate) fn node_info(nid: i32) -> Result<NodeInfo> {
    let mut info = NodeInfo::default();
    // SAFETY: `info` is a valid, writable `NodeInfo`, whose layout matches
    // `struct pnalloc_node_info`; the callee checks `nid`.
    to_result(unsafe { pnalloc_node_info(nid, &mut info) })?;
    Ok(info)
}
