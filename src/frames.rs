// SPDX-License-Identifier: GPL-2.0

//! The module's [`FrameStore`]: one vmalloc'ed [`FrameMeta`] array per range.
//!
//! 24 bytes per 4 KiB frame (0.6%): 3 MiB for a 512 MiB DIMM. The store is
//! used under the zone spinlock, where nothing may allocate or vfree, so
//! arrays are allocated before the lock is taken ([`KStore::stage`]) and
//! freed after it is dropped ([`KStore::take_retired`]).

use kernel::{
    alloc::KVVec,
    prelude::*, //
};

use crate::core::{
    frame::{FrameMeta, FrameStore},
    zone::MAX_RANGES,
    CoreError, Pfn,
};

/// Frame metadata of one zone's ranges.
///
/// # Invariants
///
/// `ranges` is sorted by start pfn and never grows beyond `MAX_RANGES`, the
/// capacity reserved at creation, so pushing never allocates.
pub(crate) struct KStore {
    ranges: KVec<(Pfn, KVVec<FrameMeta>)>,
    staged: Option<(Pfn, KVVec<FrameMeta>)>,
    retired: Option<KVVec<FrameMeta>>,
}

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

    /// Hands a pre-allocated array to the next `add_range(start, ..)`.
    pub(crate) fn stage(&mut self, start: Pfn, meta: KVVec<FrameMeta>) {
        self.staged = Some((start, meta));
    }

    /// The array of the last removed range (or an unused staged one), to be
    /// dropped by the caller after it releases the zone lock.
    pub(crate) fn take_retired(&mut self) -> Option<KVVec<FrameMeta>> {
        self.retired
            .take()
            .or_else(|| self.staged.take().map(|(_, m)| m))
    }

    fn find(&self, pfn: Pfn) -> Option<usize> {
        // Few ranges: a linear scan beats a binary search's branches.
        self.ranges
            .iter()
            .position(|(start, v)| pfn >= *start && pfn - *start < v.len() as u64)
    }
}

impl FrameStore for KStore {
    fn get(&self, pfn: Pfn) -> Option<&FrameMeta> {
        let i = self.find(pfn)?;
        let (start, v) = &self.ranges[i];
        v.get(usize::try_from(pfn - start).ok()?)
    }

    fn get_mut(&mut self, pfn: Pfn) -> Option<&mut FrameMeta> {
        let i = self.find(pfn)?;
        let (start, v) = &mut self.ranges[i];
        v.get_mut(usize::try_from(pfn - *start).ok()?)
    }

    fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError> {
        match self.staged.take() {
            Some((s, meta)) if s == start && meta.len() as u64 == nr => {
                // INVARIANT: capacity MAX_RANGES was reserved and the zone
                // never holds more ranges than that.
                self.ranges
                    .push_within_capacity((start, meta))
                    .map_err(|_| CoreError::NoSpace)?;
                crate::core::sort_by_key(self.ranges.as_mut_slice(), |(s, _)| *s);
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
            .position(|(s, _)| *s == start)
            .ok_or(CoreError::NotFound)?;
        let (_, meta) = self.ranges.remove(i).map_err(|_| CoreError::NotFound)?;
        self.retired = Some(meta);
        Ok(())
    }
}
