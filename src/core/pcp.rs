// SPDX-License-Identifier: GPL-2.0

//! Per-CPU page lists (`struct per_cpu_pages`).
//!
//! One [`PerCpuPages`] exists per zone and CPU. Orders up to
//! `PAGE_ALLOC_COSTLY_ORDER` are cached, one list per (order, migratetype) as
//! `order_to_pindex()` lays them out. Unlike the kernel, the list entries live
//! in a small table inside the pcp rather than in `struct page`, so the
//! per-CPU fast path touches no frame metadata and needs no zone lock; the
//! kernel layer pins the CPU and takes the pcp (try)lock around these calls.

use super::{
    alloc_flags::AllocFlags,
    frame::FrameStore,
    migratetype::{MigrateType, MIGRATE_PCPTYPES},
    zone::Zone,
    Pfn, PAGE_ALLOC_COSTLY_ORDER,
};

/// `NR_PCP_LISTS` without THP.
pub const NR_PCP_LISTS: usize = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1);
/// Entries one pcp can hold; `high + batch` must fit.
pub const PCP_CAPACITY: usize = 512;
/// `CONFIG_PCP_BATCH_SCALE_MAX` default.
pub const PCP_BATCH_SCALE_MAX: u32 = 5;
/// `zone_batchsize()` for zones of 256 MiB and more.
pub const PCP_DEFAULT_BATCH: u32 = 63;
/// The classic `6 * batch` high mark.
pub const PCP_DEFAULT_HIGH: u32 = 6 * PCP_DEFAULT_BATCH;

/// Slot ids are 1-based so that an all-zero `PerCpuPages` (what
/// `alloc_percpu()` returns) is a valid empty one.
const NIL: u16 = 0;

#[derive(Debug, Clone, Copy)]
struct Entry {
    pfn: Pfn,
    prev: u16,
    next: u16,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u16,
    tail: u16,
    len: u16,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// Per-CPU counters (`PGALLOC`/`PGFREE`-like, per zone and CPU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcpStat {
    /// Allocations served from the list.
    pub hit: u64,
    /// Allocations that found the list empty.
    pub miss: u64,
    /// `rmqueue_bulk()` calls that refilled a list.
    pub refill: u64,
    /// `free_pcppages_bulk()` calls.
    pub drain: u64,
    /// Frees that went onto the list.
    pub free: u64,
}

/// `order_to_pindex()`
pub const fn order_to_pindex(mt: MigrateType, order: u32) -> usize {
    MIGRATE_PCPTYPES * order as usize + mt.index()
}

/// `pindex_to_order()`
pub const fn pindex_to_order(pindex: usize) -> u32 {
    (pindex / MIGRATE_PCPTYPES) as u32
}

/// `pcp_allowed_order()`
pub const fn pcp_allowed_order(order: u32) -> bool {
    order <= PAGE_ALLOC_COSTLY_ORDER
}

/// `struct per_cpu_pages`
///
/// All-zero bytes are a valid, empty `PerCpuPages` with `high == batch == 0`,
/// which behaves like the kernel's boot pageset (`high` 0, `batch` 1): every
/// free drains at once; [`PerCpuPages::set_high_batch`] sets the
/// real marks. The kernel layer relies on this to initialise per-CPU memory
/// in place.
///
/// # Invariants
///
/// `count` equals the sum over lists of `len << order`; every slot id in
/// `1..=bump` is either on exactly one list or on the free-slot chain; ids
/// above `bump` were never used.
#[repr(C)]
pub struct PerCpuPages {
    /// `pcp->count`: pages on all lists.
    pub count: u32,
    /// `pcp->high`
    pub high: u32,
    /// `pcp->batch`
    pub batch: u32,
    /// `pcp->free_count`: pages freed since the last allocation.
    pub free_count: u32,
    /// `pcp->alloc_factor`
    pub alloc_factor: u32,
    /// Counters.
    pub stat: PcpStat,
    lists: [List; NR_PCP_LISTS],
    entries: [Entry; PCP_CAPACITY],
    free_slot: u16,
    bump: u16,
}

impl PerCpuPages {
    /// Empty lists with the default `high`/`batch`.
    pub fn new() -> Self {
        let mut p = PerCpuPages {
            count: 0,
            high: 0,
            batch: 0,
            free_count: 0,
            alloc_factor: 0,
            stat: PcpStat {
                hit: 0,
                miss: 0,
                refill: 0,
                drain: 0,
                free: 0,
            },
            lists: [List::EMPTY; NR_PCP_LISTS],
            entries: [Entry {
                pfn: 0,
                prev: NIL,
                next: NIL,
            }; PCP_CAPACITY],
            free_slot: NIL,
            bump: 0,
        };
        p.high = PCP_DEFAULT_HIGH;
        p.batch = PCP_DEFAULT_BATCH;
        p
    }

    /// Sets `high` and `batch` (`percpu_pagelist_high_fraction`-like). `high`
    /// may be 0 (every free drains), `batch` must be at least 1, and the two
    /// must fit the entry table.
    pub fn set_high_batch(&mut self, high: u32, batch: u32) -> Result<(), super::CoreError> {
        if batch == 0 || (high as usize + batch as usize) > PCP_CAPACITY {
            return Err(super::CoreError::Range);
        }
        self.high = high;
        self.batch = batch;
        Ok(())
    }

    /// Blocks on the list for (`order`, `mt`).
    pub fn list_len(&self, order: u32, mt: MigrateType) -> u32 {
        self.lists[order_to_pindex(mt, order)].len.into()
    }

    /// The pfns on list `pindex`, head first.
    pub fn list_pfns(&self, pindex: usize) -> impl Iterator<Item = Pfn> + '_ {
        let mut id = self.lists.get(pindex).map_or(NIL, |l| l.head);
        ::core::iter::from_fn(move || {
            let e = self.entry(id)?;
            id = e.next;
            Some(e.pfn)
        })
    }

    fn entry(&self, id: u16) -> Option<&Entry> {
        self.entries.get(usize::from(id).checked_sub(1)?)
    }

    fn entry_mut(&mut self, id: u16) -> Option<&mut Entry> {
        self.entries.get_mut(usize::from(id).checked_sub(1)?)
    }

    fn alloc_slot(&mut self) -> Option<u16> {
        if self.free_slot != NIL {
            let id = self.free_slot;
            self.free_slot = self.entry(id)?.next;
            return Some(id);
        }
        if usize::from(self.bump) < PCP_CAPACITY {
            self.bump += 1;
            return Some(self.bump);
        }
        None
    }

    fn push(&mut self, pindex: usize, pfn: Pfn, tail: bool) -> bool {
        let Some(list) = self.lists.get(pindex).copied() else {
            return false;
        };
        let Some(id) = self.alloc_slot() else {
            return false;
        };
        let (prev, next) = if tail {
            (list.tail, NIL)
        } else {
            (NIL, list.head)
        };
        if let Some(e) = self.entry_mut(id) {
            *e = Entry { pfn, prev, next };
        }
        match self.entry_mut(prev) {
            Some(p) => p.next = id,
            None => self.lists[pindex].head = id,
        }
        match self.entry_mut(next) {
            Some(n) => n.prev = id,
            None => self.lists[pindex].tail = id,
        }
        self.lists[pindex].len += 1;
        true
    }

    fn pop(&mut self, pindex: usize, tail: bool) -> Option<Pfn> {
        let list = *self.lists.get(pindex)?;
        let id = if tail { list.tail } else { list.head };
        let e = *self.entry(id)?;
        match self.entry_mut(e.prev) {
            Some(p) => p.next = e.next,
            None => self.lists[pindex].head = e.next,
        }
        match self.entry_mut(e.next) {
            Some(n) => n.prev = e.prev,
            None => self.lists[pindex].tail = e.prev,
        }
        self.lists[pindex].len -= 1;
        let free = self.free_slot;
        if let Some(slot) = self.entry_mut(id) {
            slot.next = free;
        }
        self.free_slot = id;
        Some(e.pfn)
    }

    /// `nr_pcp_alloc()` with `high_min == high_max`: how many blocks to refill.
    pub fn nr_pcp_alloc(&mut self, order: u32) -> u32 {
        let (high, base_batch) = (self.high, self.batch.max(1));
        if high < base_batch {
            return 1;
        }
        let mut batch = if order != 0 {
            base_batch
        } else {
            base_batch << self.alloc_factor
        };
        if order == 0 {
            let max_nr_alloc =
                core::cmp::max(high.saturating_sub(self.count + base_batch), base_batch);
            if batch <= max_nr_alloc && self.alloc_factor < PCP_BATCH_SCALE_MAX {
                self.alloc_factor += 1;
            }
            batch = batch.min(max_nr_alloc);
        }
        if batch > 1 {
            batch = core::cmp::max(batch >> order, 2);
        }
        batch
    }

    /// `nr_pcp_free()` with `high_min == high_max`.
    pub fn nr_pcp_free(&self) -> u32 {
        let batch = self.batch.max(1);
        if self.high < batch {
            return 1;
        }
        let (min_nr_free, max_nr_free) = (batch, self.high - batch);
        self.free_count
            .clamp(min_nr_free, core::cmp::max(min_nr_free, max_nr_free))
    }

    /// Takes a block from the list without refilling: the nolock path when
    /// the zone lock cannot be had, and the first step of [`rmqueue_pcplist`].
    pub fn take(&mut self, order: u32, mt: MigrateType) -> Option<Pfn> {
        let pfn = self.pop(order_to_pindex(pcp_mt(mt), order), false)?;
        self.count -= 1 << order;
        Some(pfn)
    }

    /// `free_pcppages_bulk()`: returns `count` pages to the buddy, round-robin
    /// over the lists starting at `pindex`, coldest (tail) first.
    pub fn free_pcppages_bulk<S: FrameStore>(
        &mut self,
        zone: &mut Zone<S>,
        count: u32,
        pindex: usize,
    ) {
        let mut count = i64::from(count.min(self.count));
        let mut pindex = pindex.wrapping_sub(1);
        self.stat.drain += 1;
        while count > 0 {
            // Lists are non-empty while count > 0, so this terminates.
            loop {
                pindex = pindex.wrapping_add(1);
                if pindex >= NR_PCP_LISTS {
                    pindex = 0;
                }
                if self.lists[pindex].len != 0 {
                    break;
                }
            }
            let order = pindex_to_order(pindex);
            while count > 0 {
                let Some(pfn) = self.pop(pindex, true) else {
                    break;
                };
                count -= 1 << order;
                self.count -= 1 << order;
                let mt = zone.pageblock_mt(pfn);
                zone.free_one_page(pfn, order, mt, false);
            }
        }
    }

    /// `drain_pages_zone()`: everything back to the buddy, in chunks of
    /// `batch << PCP_BATCH_SCALE_MAX` pages. The caller holds the zone lock
    /// throughout; with the default batch one chunk covers every list
    /// ([`PCP_CAPACITY`] is smaller), which is also what 7.3 does.
    pub fn drain<S: FrameStore>(&mut self, zone: &mut Zone<S>) {
        let chunk = self.batch.max(1) << PCP_BATCH_SCALE_MAX;
        while self.count != 0 {
            self.free_pcppages_bulk(zone, self.count.min(chunk), 0);
        }
    }
}

impl Default for PerCpuPages {
    fn default() -> Self {
        Self::new()
    }
}

/// HIGHATOMIC pages use the MOVABLE pcp list, as `free_frozen_page_commit()`
/// does for types beyond `MIGRATE_PCPTYPES`.
const fn pcp_mt(mt: MigrateType) -> MigrateType {
    match mt {
        MigrateType::HighAtomic => MigrateType::Movable,
        other => other,
    }
}

/// Access to a zone from the per-CPU path: the host passes the zone itself,
/// the module a guard over `zone->lock`. `None` means the lock could not be
/// taken (a nolock caller met contention).
pub trait ZoneLock<S: FrameStore> {
    /// Runs `f` with the zone locked, or returns `None`.
    fn with_zone<R>(&mut self, nolock: bool, f: impl FnOnce(&mut Zone<S>) -> R) -> Option<R>;
}

impl<S: FrameStore> ZoneLock<S> for Zone<S> {
    fn with_zone<R>(&mut self, _nolock: bool, f: impl FnOnce(&mut Zone<S>) -> R) -> Option<R> {
        Some(f(self))
    }
}

/// `__rmqueue_pcplist()`: a block from this CPU's list, refilled from the
/// buddy in one `rmqueue_bulk()` when empty.
pub fn rmqueue_pcplist<S: FrameStore, Z: ZoneLock<S>>(
    pcp: &mut PerCpuPages,
    zone: &mut Z,
    order: u32,
    mt: MigrateType,
    flags: AllocFlags,
) -> Option<Pfn> {
    let pindex = order_to_pindex(pcp_mt(mt), order);
    // An allocation resets the free streak (`pcp->free_count >>= 1`).
    pcp.free_count >>= 1;
    if pcp.lists[pindex].len == 0 {
        pcp.stat.miss += 1;
        // Do not refill for a high-order atomic allocation: send it to the
        // buddy, where the HIGHATOMIC reserve is.
        if flags.highatomic {
            return None;
        }
        let batch = pcp.nr_pcp_alloc(order);
        let alloced = zone.with_zone(flags.nolock, |z| {
            z.rmqueue_bulk(order, batch, pcp_mt(mt), flags, |pfn| {
                pcp.push(pindex, pfn, true)
            })
        })?;
        pcp.count += alloced << order;
        pcp.stat.refill += 1;
    } else {
        pcp.stat.hit += 1;
    }
    pcp.take(order, mt)
}

/// `free_frozen_page_commit()`: puts a freed block on this CPU's list and
/// drains a batch to the buddy when `high` is reached. When the list is full
/// or the zone lock cannot be taken for the drain, the block goes straight
/// to the buddy or waits on the list; it is never dropped.
pub fn free_pcp<S: FrameStore, Z: ZoneLock<S>>(
    pcp: &mut PerCpuPages,
    zone: &mut Z,
    pfn: Pfn,
    order: u32,
    mt: MigrateType,
    nolock: bool,
) -> bool {
    let pindex = order_to_pindex(pcp_mt(mt), order);
    pcp.alloc_factor >>= 1;
    if !pcp.push(pindex, pfn, false) {
        return zone
            .with_zone(nolock, |z| z.free_pages(pfn, order))
            .is_some();
    }
    pcp.count += 1 << order;
    pcp.stat.free += 1;
    if pcp.free_count < (pcp.batch << PCP_BATCH_SCALE_MAX) {
        pcp.free_count += 1 << order;
    }
    if pcp.count >= pcp.high {
        let mut to_free = pcp.nr_pcp_free();
        // Freed in `batch` chunks, each under its own hold of the zone lock,
        // as free_frozen_page_commit() does, so that a large drain never
        // keeps other CPUs off the zone for long. A nolock free that cannot
        // take the lock leaves the pages on the list; the next locked
        // operation drains them.
        while to_free > 0 && pcp.count > 0 {
            let batched = to_free.min(pcp.batch.max(1));
            if zone
                .with_zone(nolock, |z| pcp.free_pcppages_bulk(z, batched, pindex))
                .is_none()
            {
                break;
            }
            to_free -= batched;
        }
    }
    true
}
