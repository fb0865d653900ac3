// SPDX-License-Identifier: GPL-2.0

//! The module's [`FrameStore`]: one vmalloc'ed [`FrameMeta`] array per range.
//!
//! 24 bytes per 4 KiB frame (0.6%): 3 MiB for a 512 MiB DIMM. The store is
//! used under the zone spinlock, where nothing may allocate or vfree, so
//! arrays are allocated before the lock is taken ([`KStore::stage`]) and
//! freed after it is dropped ([`KStore::take_retired`]).

use ::core::sync::atomic::{
    AtomicPtr,
    AtomicU32,
    AtomicU64,
    AtomicU8,
    Ordering, //
};

use kernel::{
    alloc::KVVec,
    prelude::*, //
};

use crate::core::{
    frame::{FrameMeta, FrameStore},
    migratetype::MigrateType,
    zone::MAX_RANGES,
    CoreError, Pfn, PAGEBLOCK_ORDER,
};

/// A copy of one range's pageblock types that the free path reads without
/// the zone lock, as the kernel reads its pageblock bitmap in
/// `get_pfnblock_migratetype()`. Written under the zone lock through
/// [`FrameStore::pageblock_changed`].
///
/// It also holds, per page, the allocinfo tag id the page was charged to
/// (4 bytes per page, 0.1%), read and written without locks because frees
/// arrive from any context, NMI included.
pub(crate) struct RangeMirror {
    start: Pfn,
    nr: u64,
    types: KVVec<AtomicU8>,
    tags: KVVec<AtomicU32>,
}

impl RangeMirror {
    pub(crate) fn new(start: Pfn, nr: u64) -> Result<KBox<Self>> {
        let blocks = usize::try_from(nr >> PAGEBLOCK_ORDER).map_err(|_| ERANGE)?;
        let mut types = KVVec::with_capacity(blocks, GFP_KERNEL)?;
        for _ in 0..blocks {
            types.push(AtomicU8::new(MigrateType::Movable as u8), GFP_KERNEL)?;
        }
        let pages = usize::try_from(nr).map_err(|_| ERANGE)?;
        let mut tags = KVVec::with_capacity(pages, GFP_KERNEL)?;
        for _ in 0..pages {
            tags.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(KBox::new(
            RangeMirror {
                start,
                nr,
                types,
                tags,
            },
            GFP_KERNEL,
        )?)
    }

    fn tag(&self, pfn: Pfn) -> Option<&AtomicU32> {
        if pfn < self.start {
            return None;
        }
        self.tags.get(usize::try_from(pfn - self.start).ok()?)
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
    #[pin]
    owned: kernel::sync::Mutex<KVec<KBox<RangeMirror>>>,
}

impl MirrorIndex {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(MirrorIndex {
            slots: [const { AtomicPtr::new(::core::ptr::null_mut()) }; MAX_RANGES],
            starts: [const { AtomicU64::new(0) }; MAX_RANGES],
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
        self.slots.iter().find_map(|slot| {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: by the invariant a non-null `p` points to a live mirror.
            let m = unsafe { p.as_ref() }?;
            (pfn >= m.start && pfn - m.start < m.nr).then_some(m)
        })
    }

    /// Records that `pfn` was charged to allocinfo tag `id`.
    pub(crate) fn set_tag(&self, pfn: Pfn, id: u32) {
        if let Some(t) = self.mirror_of(pfn).and_then(|m| m.tag(pfn)) {
            t.store(id, Ordering::Relaxed);
        }
    }

    /// The tag `pfn` was charged to, cleared (0: none).
    pub(crate) fn take_tag(&self, pfn: Pfn) -> u32 {
        self.mirror_of(pfn)
            .and_then(|m| m.tag(pfn))
            .map_or(0, |t| t.swap(0, Ordering::Relaxed))
    }

    /// The tag `pfn` was charged to (0: none).
    pub(crate) fn tag(&self, pfn: Pfn) -> u32 {
        self.mirror_of(pfn)
            .and_then(|m| m.tag(pfn))
            .map_or(0, |t| t.load(Ordering::Relaxed))
    }

    /// The pageblock type of `pfn`, read without the zone lock.
    pub(crate) fn pageblock_mt(&self, pfn: Pfn) -> MigrateType {
        for slot in &self.slots {
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

    fn find(&self, pfn: Pfn) -> Option<usize> {
        // Few ranges: a linear scan beats a binary search's branches.
        self.ranges
            .iter()
            .position(|(start, v, _)| pfn >= *start && pfn - *start < v.len() as u64)
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
