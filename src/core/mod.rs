// SPDX-License-Identifier: GPL-2.0

//! The allocator core: Linux 7.3's buddy allocator (`mm/page_alloc.c`) as plain
//! Rust over an abstract frame array.
//!
//! Nothing here knows about `struct page`, locks or per-CPU data. The very same
//! files are a module of the `pnalloc` kernel crate and, through the top-level
//! `Cargo.toml`, the root of a host crate tested with `cargo test`. The kernel
//! layer adds locking (`zone->lock`, the pcp trylock), real per-CPU data and the
//! frame storage.
//!
//! Layers, bottom to top:
//! - [`frame`]: per-frame metadata ([`frame::FrameMeta`]) and the intrusive free
//!   lists threaded through it (`page->buddy_list`).
//! - [`zone`]: `free_area[order][migratetype]`, split ([`zone::Zone::expand`])
//!   and merge ([`zone::Zone::free_one_page`]), pageblock types, fallback,
//!   watermarks, highatomic reserves, ranges added and removed at runtime.
//! - [`pcp`]: per-CPU page lists with `high`/`batch`, bulk refill and drain.
//! - [`zonelist`]: per-node fallback order over the private nodes.
//! - [`page_alloc`]: `get_page_from_freelist` and the entry-point policy.

#![cfg_attr(not(MODULE), no_std)]

#[cfg(test)]
extern crate std;

pub mod alloc_flags;
pub mod frame;
pub mod gfp;
pub mod migratetype;
pub mod page_alloc;
pub mod pcp;
pub mod zone;
pub mod zonelist;

#[cfg(test)]
mod testing;

/// A page frame number.
pub type Pfn = u64;

/// `MAX_PAGE_ORDER` on x86-64 with 4 KiB pages.
pub const MAX_PAGE_ORDER: u32 = 10;
/// `NR_PAGE_ORDERS`: orders `0..=MAX_PAGE_ORDER`.
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER as usize + 1;
/// `MAX_ORDER_NR_PAGES`: ranges are aligned to this, so no free block straddles two.
pub const MAX_ORDER_NR_PAGES: u64 = 1 << MAX_PAGE_ORDER;
/// `pageblock_order` on x86-64 (the PMD order).
pub const PAGEBLOCK_ORDER: u32 = 9;
/// `pageblock_nr_pages`.
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << PAGEBLOCK_ORDER;
/// `PAGE_ALLOC_COSTLY_ORDER`: the highest order kept on per-CPU lists.
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;
/// `MAX_NUMNODES` with `CONFIG_NODES_SHIFT=6`.
pub const MAX_NUMNODES: usize = 64;
/// `NUMA_NO_NODE`.
pub const NUMA_NO_NODE: i32 = -1;

/// Sorts a short slice by key (insertion sort: stable, no allocation, and
/// none of `core::slice::sort`'s panic paths, which objtool flags in the
/// kernel). Only for the small tables here: nodes and ranges.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Why the core refused a request. The kernel layer maps these to errno values
/// (`From<CoreError> for kernel::error::Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreError {
    /// A malformed argument: bad order, unaligned range, flag combination (`EINVAL`).
    Invalid,
    /// The range overlaps one already managed (`EEXIST`).
    Exists,
    /// No such range, node or zone (`ENOENT`).
    NotFound,
    /// Frames are still in use; nothing was changed (`EBUSY`).
    Busy,
    /// A fixed-size table is full (`ENOSPC`).
    NoSpace,
    /// A value does not fit (`ERANGE`).
    Range,
    /// The frame store could not allocate metadata (`ENOMEM`).
    NoMemory,
}
