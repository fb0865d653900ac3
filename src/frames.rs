// SPDX-License-Identifier: GPL-2.0

//! The module's [`FrameStore`]: one vmalloc'ed [`FrameMeta`] array per range.
//!
//! 24 bytes per 4 KiB frame (0.6%): 3 MiB for a 512 MiB DIMM. The store is
//! used under the zone spinlock, where nothing may allocate or vfree, so
//! arrays are allocated before the lock is taken ([`KStore::stage`]) and
//! freed after it is dropped ([`KStore::take_retired`]).

use ::core::{
    cell::Cell,
    sync::atomic::{
        AtomicPtr,
        AtomicU32,
        AtomicU64,
        AtomicU8,
        AtomicUsize,
        Ordering, //
    },
};

use kernel::{
    alloc::KVVec,
    prelude::*, //
};

use crate::core::{
    frame::{FrameMeta, FrameStore, NO_PFN},
    migratetype::MigrateType,
    zone::MAX_RANGES,
    CoreError, Pfn, PAGEBLOCK_ORDER,
};

/// A copy of one range's pageblock types that the free path reads without
/// the zone lock, as the kernel reads its pageblock bitmap in
/// `get_pfnblock_migratetype()`. Written under the zone lock through
/// [`FrameStore::pageblock_changed`].
///
/// It also holds, per page, whether the page heads a block that is handed
/// out, the block's order and the allocinfo tag id it was charged to (4
/// bytes per page, 0.1%), read and written without locks because frees
/// arrive from any context, NMI included. This is what lets a free be
/// checked before it touches a list: a block that was not handed out, or
/// not with that order, is refused.
pub(crate) struct RangeMirror {
    start: Pfn,
    nr: u64,
    types: KVVec<AtomicU8>,
    state: KVVec<AtomicU32>,
}

/// [`RangeMirror::state`] bits: the head of a block handed out ...
const ALLOCATED: u32 = 1 << 31;
/// ... not compound (`___free_pages()` may free it in pieces) ...
const NONCOMPOUND: u32 = 1 << 30;
/// ... whose head page was freed while tail pieces are still out ...
const HEAD_FREED: u32 = 1 << 29;
/// ... its order ...
const ORDER_SHIFT: u32 = 24;
const ORDER_MASK: u32 = 0xf << ORDER_SHIFT;
/// ... and the tag it is charged to (0: none).
const TAG_MASK: u32 = (1 << ORDER_SHIFT) - 1;

const fn allocated(order: u32, tag: u32) -> u32 {
    ALLOCATED | (order << ORDER_SHIFT) | (tag & TAG_MASK)
}

const fn state_order(s: u32) -> u32 {
    (s & ORDER_MASK) >> ORDER_SHIFT
}

/// What a valid free returns: which frames go back to the free lists.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FreedBlock {
    /// A whole block handed out (or one page of a split one): it goes back.
    Block {
        /// The tag it was charged to.
        tag: u32,
    },
    /// The upper half of a non-compound block whose head is still
    /// referenced: `___free_pages()` frees the tail pieces one by one. The
    /// piece goes back; so does the head page, at `head`, if it was freed
    /// before this last piece.
    TailPiece {
        /// The head's tag.
        tag: u32,
        /// The head page, order 0, if it is free now too.
        head: Option<Pfn>,
    },
    /// The head page of a non-compound block freed while tail pieces are
    /// still out (another reference dropped it first): it waits for them
    /// and nothing goes back yet.
    HeadFirst {
        /// The tag it was charged to.
        tag: u32,
    },
}

/// Why a free was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadFree {
    NotOwned,
    Misaligned,
    NotAllocated,
    WrongOrder,
}

impl BadFree {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BadFree::NotOwned => "outside every claimed range",
            BadFree::Misaligned => "not aligned to its order",
            BadFree::NotAllocated => "not handed out (double free?)",
            BadFree::WrongOrder => "freed with another order than allocated",
        }
    }
}

impl RangeMirror {
    pub(crate) fn new(start: Pfn, nr: u64) -> Result<KBox<Self>> {
        let blocks = usize::try_from(nr >> PAGEBLOCK_ORDER).map_err(|_| ERANGE)?;
        let mut types = KVVec::with_capacity(blocks, GFP_KERNEL)?;
        for _ in 0..blocks {
            types.push(AtomicU8::new(MigrateType::Movable as u8), GFP_KERNEL)?;
        }
        let pages = usize::try_from(nr).map_err(|_| ERANGE)?;
        let mut state = KVVec::with_capacity(pages, GFP_KERNEL)?;
        for _ in 0..pages {
            state.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(KBox::new(
            RangeMirror {
                start,
                nr,
                types,
                state,
            },
            GFP_KERNEL,
        )?)
    }

    fn state(&self, pfn: Pfn) -> Option<&AtomicU32> {
        if pfn < self.start {
            return None;
        }
        self.state.get(usize::try_from(pfn - self.start).ok()?)
    }

    fn slot(&self, pfn: Pfn) -> Option<&AtomicU8> {
        if pfn < self.start || pfn - self.start >= self.nr {
            return None;
        }
        self.types
            .get(usize::try_from((pfn - self.start) >> PAGEBLOCK_ORDER).ok()?)
    }
}

/// Lock-free lookup of pageblock types over a zone's ranges.
///
/// # Invariants
///
/// Every non-null slot points to a [`RangeMirror`] owned by `owned`, which
/// only grows until the index is dropped: a reader never sees freed memory.
/// A range's slot is cleared before its memory is released, and no page of
/// it can be freed after that (release requires every page free).
#[pin_data]
pub(crate) struct MirrorIndex {
    slots: [AtomicPtr<RangeMirror>; MAX_RANGES],
    starts: [AtomicU64; MAX_RANGES],
    /// One past the highest slot ever published: lookups scan only these
    /// (one or two ranges per node in practice), not all `MAX_RANGES`.
    used: AtomicUsize,
    #[pin]
    owned: kernel::sync::Mutex<KVec<KBox<RangeMirror>>>,
}

impl MirrorIndex {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(MirrorIndex {
            slots: [const { AtomicPtr::new(::core::ptr::null_mut()) }; MAX_RANGES],
            starts: [const { AtomicU64::new(0) }; MAX_RANGES],
            used: AtomicUsize::new(0),
            owned <- kernel::new_mutex!(KVec::new()),
        })
    }

    /// Takes ownership of `m` and publishes it; returns the pointer the
    /// store writes through.
    pub(crate) fn publish(&self, m: KBox<RangeMirror>) -> Result<*const RangeMirror> {
        let mut owned = self.owned.lock();
        let i = self
            .slots
            .iter()
            .position(|s| s.load(Ordering::Relaxed).is_null())
            .ok_or(ENOSPC)?;
        let start = m.start;
        owned.push(m, GFP_KERNEL)?;
        let p = owned
            .last()
            .map(|b| ::core::ptr::from_ref::<RangeMirror>(b))
            .ok_or(ENOMEM)?;
        self.starts[i].store(start, Ordering::Relaxed);
        self.slots[i].store(p.cast_mut(), Ordering::Release);
        self.used.fetch_max(i + 1, Ordering::Release);
        Ok(p)
    }

    /// Stops looking up the range at `start` (its memory stays until drop).
    pub(crate) fn unpublish(&self, start: Pfn) {
        let _owned = self.owned.lock();
        for (slot, s) in self.slots.iter().zip(self.starts.iter()) {
            if !slot.load(Ordering::Relaxed).is_null() && s.load(Ordering::Relaxed) == start {
                slot.store(::core::ptr::null_mut(), Ordering::Release);
            }
        }
    }

    fn mirror_of(&self, pfn: Pfn) -> Option<&RangeMirror> {
        let used = self.used.load(Ordering::Acquire);
        self.slots.iter().take(used).find_map(|slot| {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: by the invariant a non-null `p` points to a live mirror.
            let m = unsafe { p.as_ref() }?;
            (pfn >= m.start && pfn - m.start < m.nr).then_some(m)
        })
    }

    /// Records that the block at `pfn` of `order` is handed out, charged
    /// to tag `tag` (0: none); `compound` as `__GFP_COMP` made it.
    pub(crate) fn set_allocated(&self, pfn: Pfn, order: u32, tag: u32, compound: bool) {
        if let Some(st) = self.mirror_of(pfn).and_then(|m| m.state(pfn)) {
            let nc = if compound || order == 0 {
                0
            } else {
                NONCOMPOUND
            };
            st.store(allocated(order, tag) | nc, Ordering::Release);
        }
    }

    /// Checks a free of the block at `pfn` of `order` and marks it no
    /// longer handed out. Two frees of one block race on one atomic: only
    /// one of them can succeed.
    pub(crate) fn take_allocated(&self, pfn: Pfn, order: u32) -> Result<FreedBlock, BadFree> {
        let nr = 1u64 << order;
        if pfn & (nr - 1) != 0 {
            return Err(BadFree::Misaligned);
        }
        let m = self.mirror_of(pfn).ok_or(BadFree::NotOwned)?;
        if pfn - m.start + nr > m.nr {
            return Err(BadFree::NotOwned);
        }
        let st = m.state(pfn).ok_or(BadFree::NotOwned)?;
        let s = st.load(Ordering::Acquire);
        if s & ALLOCATED != 0 {
            if s & HEAD_FREED != 0 {
                return Err(BadFree::NotAllocated);
            }
            let (new, freed) = if state_order(s) == order {
                (0, FreedBlock::Block { tag: s & TAG_MASK })
            } else if order == 0 && s & NONCOMPOUND != 0 {
                // The head of a non-compound block whose other reference
                // went first, while ___free_pages() is still freeing the
                // tail pieces: it waits for the last piece.
                (s | HEAD_FREED, FreedBlock::HeadFirst { tag: s & TAG_MASK })
            } else {
                return Err(BadFree::WrongOrder);
            };
            return st
                .compare_exchange(s, new, Ordering::AcqRel, Ordering::Acquire)
                .map(|_| freed)
                .map_err(|_| BadFree::NotAllocated);
        }
        // ___free_pages() with the head still referenced frees the upper
        // half of order `n - 1`, then of `n - 2`, ...: each piece sits right
        // after a head whose recorded order is one more, and shrinks it.
        let head = pfn.checked_sub(nr).ok_or(BadFree::NotAllocated)?;
        if head & ((nr << 1) - 1) != 0 {
            return Err(BadFree::NotAllocated);
        }
        let hs = m.state(head).ok_or(BadFree::NotAllocated)?;
        let h = hs.load(Ordering::Acquire);
        if h & ALLOCATED == 0 || h & NONCOMPOUND == 0 || state_order(h) != order + 1 {
            return Err(BadFree::NotAllocated);
        }
        // The last piece of a head freed first frees the head too.
        let head_done = order == 0 && h & HEAD_FREED != 0;
        let new = if head_done {
            0
        } else {
            (h & !ORDER_MASK) | (order << ORDER_SHIFT)
        };
        hs.compare_exchange(h, new, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| FreedBlock::TailPiece {
                tag: h & TAG_MASK,
                head: head_done.then_some(head),
            })
            .map_err(|_| BadFree::NotAllocated)
    }

    /// `split_page()`: the block at `pfn` of `order` becomes `1 << order`
    /// order-0 blocks, each charged to the head's tag. Returns that tag if
    /// the block was handed out and charged to one.
    pub(crate) fn split(&self, pfn: Pfn, order: u32) -> Option<u32> {
        let m = self.mirror_of(pfn)?;
        let s = m.state(pfn)?.load(Ordering::Acquire);
        if s & ALLOCATED == 0 || state_order(s) != order {
            return None;
        }
        let tag = s & TAG_MASK;
        for i in 0..(1u64 << order) {
            if let Some(st) = m.state(pfn + i) {
                st.store(allocated(0, tag), Ordering::Release);
            }
        }
        (tag != 0).then_some(tag)
    }

    /// The block handed out that contains `pfn`: its head and the tag it
    /// is charged to, if any. Looks at most `MAX_PAGE_ORDER` heads back.
    pub(crate) fn holder(&self, pfn: Pfn) -> Option<(Pfn, u32)> {
        let m = self.mirror_of(pfn)?;
        for order in 0..=crate::core::MAX_PAGE_ORDER {
            let head = pfn & !((1u64 << order) - 1);
            let Some(st) = m.state(head) else {
                continue;
            };
            let s = st.load(Ordering::Acquire);
            if s & ALLOCATED != 0 && state_order(s) >= order {
                return Some((head, s & TAG_MASK));
            }
        }
        None
    }

    /// The pageblock type of `pfn`, read without the zone lock.
    pub(crate) fn pageblock_mt(&self, pfn: Pfn) -> MigrateType {
        let used = self.used.load(Ordering::Acquire);
        for slot in self.slots.iter().take(used) {
            let p = slot.load(Ordering::Acquire);
            if p.is_null() {
                continue;
            }
            // SAFETY: by the invariant `p` points to a live `RangeMirror`.
            let m = unsafe { &*p };
            if let Some(t) = m.slot(pfn) {
                return MigrateType::from_index(usize::from(t.load(Ordering::Relaxed)))
                    .unwrap_or(MigrateType::Movable);
            }
        }
        MigrateType::Movable
    }
}

/// Frame metadata of one zone's ranges.
///
/// # Invariants
///
/// `ranges` is sorted by start pfn and never grows beyond `MAX_RANGES`, the
/// capacity reserved at creation, so pushing never allocates.
pub(crate) struct KStore {
    ranges: KVec<(Pfn, KVVec<FrameMeta>, *const RangeMirror)>,
    /// Index into `ranges` of the last lookup's range, tried first: a
    /// block, its buddies and its list neighbours mostly share a range.
    /// Only a hint: any index is checked before it is trusted.
    hint: Cell<usize>,
    staged: Option<(Pfn, KVVec<FrameMeta>, *const RangeMirror)>,
    retired: Option<(KVVec<FrameMeta>, *const RangeMirror)>,
}

// SAFETY: the raw mirror pointers point into a `MirrorIndex` that outlives
// the store and whose entries are atomics; everything else is owned data.
unsafe impl Send for KStore {}

impl KStore {
    pub(crate) fn new() -> Result<Self> {
        Ok(KStore {
            ranges: KVec::with_capacity(MAX_RANGES, GFP_KERNEL)?,
            hint: Cell::new(0),
            staged: None,
            retired: None,
        })
    }

    /// Allocates the metadata for a range about to be added; call without
    /// the zone lock, then [`crate::core::zone::Zone::add_range`] under it.
    pub(crate) fn alloc_meta(nr: u64) -> Result<KVVec<FrameMeta>> {
        let n = usize::try_from(nr).map_err(|_| ERANGE)?;
        Ok(KVVec::from_elem(FrameMeta::new(), n, GFP_KERNEL)?)
    }

    /// Hands a pre-allocated array, and the published mirror of the range's
    /// pageblock types, to the next `add_range(start, ..)`.
    pub(crate) fn stage(&mut self, start: Pfn, meta: KVVec<FrameMeta>, mirror: *const RangeMirror) {
        self.staged = Some((start, meta, mirror));
    }

    /// The array (and mirror) of the last removed range, or an unused
    /// staged one, to be dropped by the caller after it releases the zone
    /// lock, or staged again if the removal is undone.
    pub(crate) fn take_retired(&mut self) -> Option<(KVVec<FrameMeta>, *const RangeMirror)> {
        self.retired
            .take()
            .or_else(|| self.staged.take().map(|(_, m, mirror)| (m, mirror)))
    }

    /// The index of the range holding `pfn`. Every split and merge level
    /// looks up about ten frames, a third of them the `NO_PFN` end of a
    /// list, so the common cases cost one comparison each.
    fn find(&self, pfn: Pfn) -> Option<usize> {
        let holds = |(start, v, _): &(Pfn, KVVec<FrameMeta>, _)| {
            pfn >= *start && pfn - *start < v.len() as u64
        };
        if pfn == NO_PFN {
            return None;
        }
        let h = self.hint.get();
        if self.ranges.get(h).is_some_and(holds) {
            return Some(h);
        }
        // Few ranges: a linear scan beats a binary search's branches.
        let i = self.ranges.iter().position(holds)?;
        self.hint.set(i);
        Some(i)
    }
}

impl FrameStore for KStore {
    fn get(&self, pfn: Pfn) -> Option<&FrameMeta> {
        let i = self.find(pfn)?;
        let (start, v, _) = &self.ranges[i];
        v.get(usize::try_from(pfn - start).ok()?)
    }

    fn get_mut(&mut self, pfn: Pfn) -> Option<&mut FrameMeta> {
        let i = self.find(pfn)?;
        let (start, v, _) = &mut self.ranges[i];
        v.get_mut(usize::try_from(pfn - *start).ok()?)
    }

    fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError> {
        match self.staged.take() {
            Some((s, meta, mirror)) if s == start && meta.len() as u64 == nr => {
                // INVARIANT: capacity MAX_RANGES was reserved and the zone
                // never holds more ranges than that.
                self.ranges
                    .push_within_capacity((start, meta, mirror))
                    .map_err(|_| CoreError::NoSpace)?;
                crate::core::sort_by_key(self.ranges.as_mut_slice(), |(s, _, _)| *s);
                Ok(())
            }
            other => {
                self.staged = other;
                Err(CoreError::NoMemory)
            }
        }
    }

    fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        let i = self
            .ranges
            .iter()
            .position(|(s, _, _)| *s == start)
            .ok_or(CoreError::NotFound)?;
        let (_, meta, mirror) = self.ranges.remove(i).map_err(|_| CoreError::NotFound)?;
        self.retired = Some((meta, mirror));
        Ok(())
    }

    fn pageblock_changed(&mut self, pfn: Pfn, mt: MigrateType) {
        if let Some(i) = self.find(pfn) {
            let mirror = self.ranges[i].2;
            if !mirror.is_null() {
                // SAFETY: staged mirrors are published in a `MirrorIndex`
                // that outlives this store and never frees them early.
                if let Some(t) = unsafe { &*mirror }.slot(pfn) {
                    t.store(mt as u8, Ordering::Relaxed);
                }
            }
        }
    }
}
