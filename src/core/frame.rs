// SPDX-License-Identifier: GPL-2.0

//! Per-frame metadata and the intrusive free lists threaded through it.
//!
//! [`FrameMeta`] holds what `struct page` holds for the buddy allocator:
//! `PageBuddy` and the buddy order (`page_private`), the `buddy_list` links,
//! and, on the first frame of each pageblock, the pageblock's migratetype
//! (the kernel keeps that in a separate bitmap), and `PageHWPoison` for a
//! frame memory failure took off the buddy. A [`FrameStore`] maps pfns
//! of the ranges a zone manages to their metadata; the host tests back it
//! with `Vec`s, the module with vmalloc'ed arrays.

use super::{migratetype::MigrateType, CoreError, Pfn};

/// The "no frame" link value, like an empty `list_head`.
pub const NO_PFN: Pfn = Pfn::MAX;

/// Metadata of one page frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameMeta {
    /// Previous frame on the same free list, or [`NO_PFN`].
    pub prev: Pfn,
    /// Next frame on the same free list, or [`NO_PFN`].
    pub next: Pfn,
    /// `PageBuddy()`: the head of a free block on a `free_area` list.
    pub buddy: bool,
    /// `buddy_order()`; meaningful only when `buddy`.
    pub order: u8,
    /// For a buddy head, the free list it is on. For the head of a block
    /// handed out of the buddy, the migratetype it was taken as (for
    /// debugfs; claims ask [`FrameStore::page_is_movable`] instead).
    pub mt: MigrateType,
    /// The pageblock's migratetype; meaningful on pageblock-aligned frames.
    pub pageblock_mt: MigrateType,
    /// `PageHWPoison()` with `PageHWPoisonTakenOff()`: memory failure took
    /// the frame off the buddy ([`Zone::take_page_off_buddy`]) or kept it
    /// when its block came back ([`Zone::free_pages_except`]). It belongs
    /// to nobody: never on a free list or a per-CPU list, never handed out,
    /// never merged with its buddy.
    ///
    /// [`Zone::take_page_off_buddy`]: super::zone::Zone::take_page_off_buddy
    /// [`Zone::free_pages_except`]: super::zone::Zone::free_pages_except
    pub hwpoison: bool,
}

impl FrameMeta {
    /// A frame that is not free: how every frame starts when a range is added.
    pub const fn new() -> Self {
        FrameMeta {
            prev: NO_PFN,
            next: NO_PFN,
            buddy: false,
            order: 0,
            mt: MigrateType::Unmovable,
            pageblock_mt: MigrateType::Movable,
            hwpoison: false,
        }
    }
}

impl Default for FrameMeta {
    fn default() -> Self {
        Self::new()
    }
}

/// Storage for the metadata of the frames one zone manages.
///
/// Implementations own one metadata array per range. `get`/`get_mut` return
/// `None` for a pfn outside every range, which is how buddy lookups at a range
/// edge see "not my frame" (the kernel's `page_is_buddy()` zone check).
pub trait FrameStore {
    /// Metadata of `pfn`, if the zone manages it.
    fn get(&self, pfn: Pfn) -> Option<&FrameMeta>;
    /// Mutable metadata of `pfn`, if the zone manages it.
    fn get_mut(&mut self, pfn: Pfn) -> Option<&mut FrameMeta>;
    /// Allocates metadata for `nr` frames from `start`, each [`FrameMeta::new`].
    fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError>;
    /// Frees the metadata of the range starting at `start`.
    fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError>;
    /// Told of every pageblock type change, for stores that keep a copy
    /// readable without the zone lock (the kernel's lockless
    /// `get_pfnblock_migratetype()`).
    fn pageblock_changed(&mut self, _pfn: Pfn, _mt: MigrateType) {}
    /// `PageLRU(page) || page_has_movable_ops(page)` for a frame that is not
    /// free: what `prep_move_freepages_block()` counts as movable when a
    /// claim weighs a pageblock. Asked per page, so tails and pages on
    /// pcp lists answer for themselves. The default, for a store that cannot
    /// see its users, is that no page is movable.
    fn page_is_movable(&self, _pfn: Pfn) -> bool {
        false
    }
}

/// One intrusive list: `free_area[order].free_list[mt]`.
///
/// # Invariants
///
/// `head`/`tail` are both [`NO_PFN`] iff `nr == 0`; every frame on the list
/// has `prev`/`next` pointing at its neighbours on this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeList {
    /// First frame, or [`NO_PFN`].
    pub head: Pfn,
    /// Last frame, or [`NO_PFN`].
    pub tail: Pfn,
    /// Number of blocks on the list (`free_area.nr_free` counts per order).
    pub nr: u64,
}

impl FreeList {
    /// An empty list.
    pub const fn new() -> Self {
        FreeList {
            head: NO_PFN,
            tail: NO_PFN,
            nr: 0,
        }
    }

    /// `list_empty()`
    pub const fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// `list_add()` (`tail == false`) or `list_add_tail()`.
    pub fn add<S: FrameStore>(&mut self, frames: &mut S, pfn: Pfn, tail: bool) {
        let (prev, next) = if tail {
            (self.tail, NO_PFN)
        } else {
            (NO_PFN, self.head)
        };
        if let Some(m) = frames.get_mut(pfn) {
            m.prev = prev;
            m.next = next;
        }
        if let Some(p) = frames.get_mut(prev) {
            p.next = pfn;
        } else {
            self.head = pfn;
        }
        if let Some(n) = frames.get_mut(next) {
            n.prev = pfn;
        } else {
            self.tail = pfn;
        }
        // INVARIANT: pfn is linked between prev and next, and the ends are updated.
        self.nr += 1;
    }

    /// `list_del()`. The caller guarantees `pfn` is on this list.
    pub fn del<S: FrameStore>(&mut self, frames: &mut S, pfn: Pfn) {
        let (prev, next) = match frames.get_mut(pfn) {
            Some(m) => {
                let links = (m.prev, m.next);
                m.prev = NO_PFN;
                m.next = NO_PFN;
                links
            }
            None => return,
        };
        match frames.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match frames.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        // INVARIANT: the neighbours are joined and the count follows.
        self.nr = self.nr.saturating_sub(1);
    }

    /// `list_first_entry_or_null()`
    pub const fn first(&self) -> Option<Pfn> {
        if self.nr == 0 {
            None
        } else {
            Some(self.head)
        }
    }

    /// `list_last_entry()` of a non-empty list.
    pub const fn last(&self) -> Option<Pfn> {
        if self.nr == 0 {
            None
        } else {
            Some(self.tail)
        }
    }
}

impl Default for FreeList {
    fn default() -> Self {
        Self::new()
    }
}
