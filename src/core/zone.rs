// SPDX-License-Identifier: GPL-2.0

//! A zone: `free_area[order][migratetype]` over the ranges it manages.
//!
//! Function names and logic follow `mm/page_alloc.c` of 7.3; each function
//! says which C function it mirrors. All methods take `&mut self`: the kernel
//! layer holds `zone->lock` around them.

use super::{
    alloc_flags::{AllocFlags, Watermark},
    frame::{FrameMeta, FrameStore, FreeList},
    migratetype::{MigrateType, MIGRATE_PCPTYPES, MIGRATE_TYPES},
    CoreError, Pfn, MAX_ORDER_NR_PAGES, MAX_PAGE_ORDER, NR_PAGE_ORDERS, PAGEBLOCK_NR_PAGES,
    PAGEBLOCK_ORDER,
};

/// The zones a private node can have (`enum zone_type`, minus DMA/DMA32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum ZoneType {
    /// `ZONE_NORMAL`: what pnalloc onlines into, since its pages go to
    /// arbitrary, unmovable users.
    Normal = 0,
    /// `ZONE_MOVABLE`: reachable only by `__GFP_MOVABLE | __GFP_HIGHMEM`.
    Movable = 1,
}

/// `MAX_NR_ZONES` on a private node.
pub const MAX_NR_ZONES: usize = 2;
/// How many ranges one zone can manage. The kernel layer makes each online
/// memory block a range: 64 blocks is 8 GiB per node with 128 MiB blocks,
/// 128 GiB with the 2 GiB blocks of larger machines.
pub const MAX_RANGES: usize = 64;

impl ZoneType {
    /// All zone types, lowest first.
    pub const ALL: [ZoneType; MAX_NR_ZONES] = [ZoneType::Normal, ZoneType::Movable];

    /// The name `/proc/zoneinfo` prints.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
        }
    }
}

/// `struct free_area`
#[derive(Debug, Clone, Copy, Default)]
pub struct FreeArea {
    /// One list per migratetype.
    pub free_list: [FreeList; MIGRATE_TYPES],
    /// Free blocks of this order, all types.
    pub nr_free: u64,
}

/// A managed pfn range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PfnRange {
    /// First pfn.
    pub start: Pfn,
    /// Number of frames.
    pub nr: u64,
}

impl PfnRange {
    /// One past the last pfn.
    pub const fn end(&self) -> Pfn {
        self.start + self.nr
    }

    /// Does the range hold `pfn`?
    pub const fn contains(&self, pfn: Pfn) -> bool {
        pfn >= self.start && pfn < self.end()
    }
}

/// Event counters of one zone (`vm_event_item`-like, per zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZoneStat {
    /// Blocks handed out of the buddy (to callers or pcp lists).
    pub rmqueue_blocks: u64,
    /// Blocks returned to the buddy.
    pub freed_blocks: u64,
    /// `PGALLOC_EXTFRAG`-like: allocations that claimed a fallback block.
    pub fallback_claim: u64,
    /// Allocations that stole from a fallback type without claiming.
    pub fallback_steal: u64,
    /// Pageblocks moved to MIGRATE_HIGHATOMIC.
    pub highatomic_reserved: u64,
    /// Pageblocks given back from MIGRATE_HIGHATOMIC.
    pub highatomic_unreserved: u64,
    /// Watermark checks that failed.
    pub watermark_fail: u64,
}

/// Outcome of `find_suitable_fallback()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackResult {
    /// `FALLBACK_FOUND` with the type to take from.
    Found(MigrateType),
    /// `FALLBACK_EMPTY`
    Empty,
    /// `FALLBACK_NOCLAIM`
    NoClaim,
}

/// `enum rmqueue_mode`: where `__rmqueue()` found memory last time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RmqueueMode {
    /// `RMQUEUE_NORMAL`
    Normal,
    /// `RMQUEUE_CLAIM`
    Claim,
    /// `RMQUEUE_STEAL`
    Steal,
}

/// `watermark_scale_factor` default: 10 (0.1% of the zone).
pub const WATERMARK_SCALE_FACTOR: u64 = 10;
/// `SWAP_CLUSTER_MAX`: the floor of a ZONE_MOVABLE min watermark.
pub const SWAP_CLUSTER_MAX: u64 = 32;

/// What `__setup_per_zone_wmarks()` reads from outside one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WmarkParams {
    /// `min_free_kbytes >> (PAGE_SHIFT - 10)`: the min watermark of the
    /// whole system, in pages, shared out over its lowmem zones.
    pub pages_min: u64,
    /// Managed pages of every zone, system wide, that is neither highmem
    /// nor ZONE_MOVABLE (`lowmem_pages`).
    pub lowmem_pages: u64,
}

/// `calculate_min_free_kbytes()`: `sqrt(lowmem_kbytes * 16)`, clamped to
/// 128 KiB..256 MiB.
pub fn calculate_min_free_kbytes(lowmem_kbytes: u64) -> u64 {
    isqrt(lowmem_kbytes.saturating_mul(16)).clamp(128, 262_144)
}

/// A zone of one private node.
///
/// # Invariants
///
/// - Every frame of a managed range is in exactly one place: the head or tail
///   part of a block on a `free_area` list, a per-CPU list, handed out, or
///   withdrawn by memory failure (`hwpoison`, alone: never part of a block).
/// - A frame with `buddy` set is the head of a block of `1 << order` frames,
///   aligned to its size, on `free_area[order].free_list[mt]`.
/// - `nr_free_pages` is the sum of `(1 << order) * nr` over all lists;
///   `nr_free_highatomic` is that sum for the HIGHATOMIC lists.
/// - `nr_hwpoison` is the number of frames with `hwpoison` set. They stay in
///   `managed_pages`, as a poisoned page stays in the kernel's.
/// - Ranges are aligned to `MAX_ORDER_NR_PAGES`, so no free block straddles two.
pub struct Zone<S: FrameStore> {
    /// The node this zone belongs to.
    pub nid: i32,
    /// Which zone of the node.
    pub zone_type: ZoneType,
    /// `zone->free_area[]`
    pub free_area: [FreeArea; NR_PAGE_ORDERS],
    /// `NR_FREE_PAGES`
    pub nr_free_pages: u64,
    /// `zone->nr_free_highatomic`
    pub nr_free_highatomic: u64,
    /// `zone->nr_reserved_highatomic`
    pub nr_reserved_highatomic: u64,
    /// `zone_managed_pages()`
    pub managed_pages: u64,
    /// Pages withdrawn by memory failure ([`Zone::take_page_off_buddy`],
    /// [`Zone::free_pages_except`]): the zone's share of the kernel's
    /// `num_poisoned_pages`, for zoneinfo.
    pub nr_hwpoison: u64,
    /// `zone->_watermark[WMARK_MIN/LOW/HIGH]`
    pub watermark: [u64; 3],
    /// The system-wide inputs of the watermarks; `None` until the owner of
    /// the zone says, and then the zone is taken to be the only lowmem zone
    /// with the `min_free_kbytes` the kernel would compute for it.
    pub wmark_params: Option<WmarkParams>,
    /// Event counters.
    pub stat: ZoneStat,
    /// Frame metadata of the managed ranges.
    pub frames: S,
    ranges: [Option<PfnRange>; MAX_RANGES],
}

/// Integer square root, for the `min_free_kbytes` formula.
fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let mut x = n;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

impl<S: FrameStore> Zone<S> {
    /// An empty zone; it manages nothing until [`Zone::add_range`].
    pub fn new(nid: i32, zone_type: ZoneType, frames: S) -> Self {
        Zone {
            nid,
            zone_type,
            free_area: [FreeArea::default(); NR_PAGE_ORDERS],
            nr_free_pages: 0,
            nr_free_highatomic: 0,
            nr_reserved_highatomic: 0,
            managed_pages: 0,
            nr_hwpoison: 0,
            watermark: [0; 3],
            wmark_params: None,
            stat: ZoneStat::default(),
            frames,
            ranges: [None; MAX_RANGES],
        }
    }

    /// The managed ranges, in slot order.
    pub fn ranges(&self) -> impl Iterator<Item = PfnRange> + '_ {
        self.ranges.iter().flatten().copied()
    }

    /// `zone_spans_pfn()` for a zone made of ranges.
    pub fn spans(&self, pfn: Pfn) -> bool {
        self.ranges().any(|r| r.contains(pfn))
    }

    /// `populated_zone()`
    pub fn is_populated(&self) -> bool {
        self.managed_pages != 0
    }

    // ---- ranges --------------------------------------------------------

    /// Starts managing `nr` frames from `start`: every frame goes to the
    /// buddy as MAX_PAGE_ORDER blocks in MOVABLE pageblocks, as onlined memory
    /// does (`__free_pages_core()` then `__free_one_page()` to the tail).
    pub fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError> {
        if nr == 0
            || !start.is_multiple_of(MAX_ORDER_NR_PAGES)
            || !nr.is_multiple_of(MAX_ORDER_NR_PAGES)
        {
            return Err(CoreError::Invalid);
        }
        let end = start.checked_add(nr).ok_or(CoreError::Range)?;
        if self.ranges().any(|r| start < r.end() && r.start < end) {
            return Err(CoreError::Exists);
        }
        let slot = self
            .ranges
            .iter()
            .position(Option::is_none)
            .ok_or(CoreError::NoSpace)?;
        self.frames.add_range(start, nr)?;
        self.ranges[slot] = Some(PfnRange { start, nr });
        let mut pfn = start;
        while pfn < end {
            self.set_pageblock_mt(pfn, MigrateType::Movable);
            self.set_pageblock_mt(pfn + PAGEBLOCK_NR_PAGES, MigrateType::Movable);
            self.free_one_page(pfn, MAX_PAGE_ORDER, MigrateType::Movable, true);
            pfn += MAX_ORDER_NR_PAGES;
        }
        self.managed_pages += nr;
        self.setup_watermarks();
        Ok(())
    }

    /// Stops managing the range that starts at `start`. Every frame must be
    /// free in the buddy (drain the per-CPU lists first) or withdrawn by
    /// memory failure; otherwise `Busy` and nothing changes, as offlining
    /// refuses memory it cannot isolate.
    pub fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        let slot = self
            .ranges
            .iter()
            .position(|r| matches!(r, Some(r) if r.start == start))
            .ok_or(CoreError::NotFound)?;
        let range = self.ranges[slot].ok_or(CoreError::NotFound)?;
        // First pass: check only, so a Busy answer changes nothing.
        let mut pfn = range.start;
        while pfn < range.end() {
            match self.frames.get(pfn) {
                Some(m) if m.buddy => pfn += 1 << m.order,
                // test_pages_isolated() counts a PageHWPoison page as
                // isolated: memory with poisoned pages can go offline.
                Some(m) if m.hwpoison => pfn += 1,
                _ => return Err(CoreError::Busy),
            }
        }
        let mut pfn = range.start;
        let mut nr_hwpoison = 0;
        while pfn < range.end() {
            let (buddy, order, mt) = match self.frames.get(pfn) {
                Some(m) => (m.buddy, u32::from(m.order), m.mt),
                None => break,
            };
            if !buddy {
                // __offline_isolated_pages() steps over it; its metadata
                // goes with the range, so pfns added again start clean.
                nr_hwpoison += 1;
                pfn += 1;
                continue;
            }
            self.del_page_from_free_list(pfn, order, mt);
            self.account_freepages(-(1i64 << order), mt);
            pfn += 1 << order;
        }
        let mut pb = range.start;
        while pb < range.end() {
            if self.pageblock_mt(pb) == MigrateType::HighAtomic {
                self.nr_reserved_highatomic = self
                    .nr_reserved_highatomic
                    .saturating_sub(PAGEBLOCK_NR_PAGES);
            }
            pb += PAGEBLOCK_NR_PAGES;
        }
        self.frames.remove_range(range.start)?;
        self.ranges[slot] = None;
        self.managed_pages -= range.nr;
        self.nr_hwpoison = self.nr_hwpoison.saturating_sub(nr_hwpoison);
        self.setup_watermarks();
        Ok(())
    }

    /// `setup_per_zone_wmarks()` for this zone with new system-wide inputs.
    /// The owner calls it for every zone whenever any zone's managed pages
    /// or `min_free_kbytes` change, as memory hotplug does.
    pub fn setup_per_zone_wmarks(&mut self, params: WmarkParams) {
        self.wmark_params = Some(params);
        self.setup_watermarks();
    }

    /// `__setup_per_zone_wmarks()` for one zone: min is this zone's share
    /// of `pages_min` by its part of `lowmem_pages` (ZONE_MOVABLE: 1/1024 of
    /// the zone, clamped to `SWAP_CLUSTER_MAX..=128`), and low/high are
    /// spaced by the larger of a quarter of that share and
    /// `watermark_scale_factor`.
    pub fn setup_watermarks(&mut self) {
        let managed = self.managed_pages;
        let movable = self.zone_type == ZoneType::Movable;
        let params = self.wmark_params.unwrap_or_else(|| {
            let lowmem_pages = if movable { 0 } else { managed };
            WmarkParams {
                pages_min: calculate_min_free_kbytes(lowmem_pages * 4) / 4,
                lowmem_pages,
            }
        });
        let tmp = params
            .pages_min
            .saturating_mul(managed)
            .checked_div(params.lowmem_pages)
            .unwrap_or(0);
        let min = if movable {
            (managed / 1024).clamp(SWAP_CLUSTER_MAX, 128)
        } else {
            tmp
        };
        let gap = core::cmp::max(tmp / 4, managed * WATERMARK_SCALE_FACTOR / 10_000);
        self.watermark = [min, min + gap, min + 2 * gap];
    }

    /// The watermark `alloc_flags` asks for; `None` for ALLOC_NO_WATERMARKS.
    pub fn wmark_pages(&self, w: Watermark) -> Option<u64> {
        match w {
            Watermark::Min => Some(self.watermark[0]),
            Watermark::Low => Some(self.watermark[1]),
            Watermark::High => Some(self.watermark[2]),
            Watermark::None => None,
        }
    }

    // ---- pageblocks and lists ------------------------------------------

    fn pageblock_start(pfn: Pfn) -> Pfn {
        pfn & !(PAGEBLOCK_NR_PAGES - 1)
    }

    /// `get_pfnblock_migratetype()`
    pub fn pageblock_mt(&self, pfn: Pfn) -> MigrateType {
        self.frames
            .get(Self::pageblock_start(pfn))
            .map_or(MigrateType::Movable, |m| m.pageblock_mt)
    }

    /// `set_pageblock_migratetype()`
    pub fn set_pageblock_mt(&mut self, pfn: Pfn, mt: MigrateType) {
        let start = Self::pageblock_start(pfn);
        if let Some(m) = self.frames.get_mut(start) {
            m.pageblock_mt = mt;
            self.frames.pageblock_changed(start, mt);
        }
    }

    /// `change_pageblock_range()`
    fn change_pageblock_range(&mut self, pfn: Pfn, start_order: u32, mt: MigrateType) {
        let nr = 1u64 << start_order.saturating_sub(PAGEBLOCK_ORDER);
        for i in 0..nr {
            self.set_pageblock_mt(pfn + i * PAGEBLOCK_NR_PAGES, mt);
        }
    }

    /// `account_freepages()`
    fn account_freepages(&mut self, nr: i64, mt: MigrateType) {
        self.nr_free_pages = self.nr_free_pages.wrapping_add_signed(nr);
        if mt == MigrateType::HighAtomic {
            self.nr_free_highatomic = self.nr_free_highatomic.wrapping_add_signed(nr);
        }
    }

    /// `__add_to_free_list()` plus `set_buddy_order()`.
    fn add_to_free_list(&mut self, pfn: Pfn, order: u32, mt: MigrateType, tail: bool) {
        if let Some(m) = self.frames.get_mut(pfn) {
            m.buddy = true;
            m.order = order as u8;
            m.mt = mt;
        }
        let area = &mut self.free_area[order as usize];
        area.free_list[mt.index()].add(&mut self.frames, pfn, tail);
        area.nr_free += 1;
    }

    /// `__del_page_from_free_list()`: the block leaves the buddy.
    fn del_page_from_free_list(&mut self, pfn: Pfn, order: u32, mt: MigrateType) {
        let area = &mut self.free_area[order as usize];
        area.free_list[mt.index()].del(&mut self.frames, pfn);
        area.nr_free = area.nr_free.saturating_sub(1);
        if let Some(m) = self.frames.get_mut(pfn) {
            m.buddy = false;
            m.order = 0;
        }
    }

    /// `move_to_free_list()`: to the tail of another type's list.
    fn move_to_free_list(&mut self, pfn: Pfn, order: u32, old: MigrateType, new: MigrateType) {
        let area = &mut self.free_area[order as usize];
        area.free_list[old.index()].del(&mut self.frames, pfn);
        area.free_list[new.index()].add(&mut self.frames, pfn, true);
        if let Some(m) = self.frames.get_mut(pfn) {
            m.mt = new;
        }
        self.account_freepages(-(1i64 << order), old);
        self.account_freepages(1i64 << order, new);
    }

    /// `find_buddy_page_pfn()`: the buddy of `pfn` at `order`, if it is a free
    /// block of exactly that order in this zone (`page_is_buddy()`).
    pub fn find_buddy_pfn(&self, pfn: Pfn, order: u32) -> Option<Pfn> {
        let buddy = pfn ^ (1 << order);
        match self.frames.get(buddy) {
            Some(m) if m.buddy && u32::from(m.order) == order => Some(buddy),
            _ => None,
        }
    }

    /// `buddy_merge_likely()`
    fn buddy_merge_likely(&self, pfn: Pfn, buddy_pfn: Pfn, order: u32) -> bool {
        if order >= MAX_PAGE_ORDER - 1 {
            return false;
        }
        let higher = buddy_pfn & pfn;
        self.find_buddy_pfn(higher, order + 1).is_some()
    }

    // ---- free ------------------------------------------------------------

    /// `__free_one_page()`: puts a block back and merges it with free
    /// buddies. `to_tail` is `FPI_TO_TAIL`.
    pub fn free_one_page(&mut self, mut pfn: Pfn, mut order: u32, mt: MigrateType, to_tail: bool) {
        self.account_freepages(1i64 << order, mt);
        let mut buddy_pfn = pfn;
        while order < MAX_PAGE_ORDER {
            // find_buddy_page_pfn() reports the buddy's pfn even when it is
            // not free: buddy_merge_likely() below needs it.
            buddy_pfn = pfn ^ (1 << order);
            let Some(buddy) = self.find_buddy_pfn(pfn, order) else {
                break;
            };
            let mut buddy_mt = mt;
            if order >= PAGEBLOCK_ORDER {
                buddy_mt = self.pageblock_mt(buddy);
                if mt != buddy_mt && (!mt.is_mergeable() || !buddy_mt.is_mergeable()) {
                    break;
                }
            }
            // The free list a buddy is on is its own record; below pageblock
            // order it equals the pageblock type in the kernel, but here it is
            // read from the frame so a block is always removed from its list.
            // Like 7.3, no counter moves: the two types differ only above
            // pageblock order, where both are mergeable and
            // account_freepages() counts them alike.
            let listed_mt = self.frames.get(buddy).map_or(buddy_mt, |m| m.mt);
            self.del_page_from_free_list(buddy, order, listed_mt);
            if buddy_mt != mt {
                self.change_pageblock_range(buddy, order, mt);
            }
            pfn &= buddy;
            order += 1;
        }
        let to_tail = to_tail || self.buddy_merge_likely(pfn, buddy_pfn, order);
        self.add_to_free_list(pfn, order, mt, to_tail);
        self.stat.freed_blocks += 1;
    }

    /// `free_one_page()` / `split_large_buddy()`: frees a block handed out
    /// earlier; blocks larger than a pageblock go back per pageblock, each
    /// with its pageblock's type.
    pub fn free_pages(&mut self, pfn: Pfn, order: u32) {
        let end = pfn + (1u64 << order);
        let step = order.min(PAGEBLOCK_ORDER);
        let mut p = pfn;
        while p < end {
            let mt = self.pageblock_mt(p);
            self.free_one_page(p, step, mt, false);
            p += 1 << step;
        }
    }

    // ---- allocate ----------------------------------------------------------

    /// `expand()`: splits a block of order `high` down to `low`, putting the
    /// upper halves back. Returns the number of pages put back.
    pub fn expand(&mut self, pfn: Pfn, low: u32, mut high: u32, mt: MigrateType) -> u64 {
        let mut size = 1u64 << high;
        let mut nr_added = 0;
        while high > low {
            high -= 1;
            size >>= 1;
            self.add_to_free_list(pfn + size, high, mt, false);
            nr_added += size;
        }
        nr_added
    }

    /// `page_del_and_expand()`
    fn page_del_and_expand(&mut self, pfn: Pfn, low: u32, high: u32, mt: MigrateType) {
        self.del_page_from_free_list(pfn, high, mt);
        let nr_added = self.expand(pfn, low, high, mt);
        self.account_freepages(nr_added as i64 - (1i64 << high), mt);
    }

    /// `__rmqueue_smallest()`
    pub fn rmqueue_smallest(&mut self, order: u32, mt: MigrateType) -> Option<Pfn> {
        for current in order..=MAX_PAGE_ORDER {
            let Some(pfn) = self.free_area[current as usize].free_list[mt.index()].first() else {
                continue;
            };
            self.page_del_and_expand(pfn, order, current, mt);
            return Some(pfn);
        }
        None
    }

    /// `should_try_claim_block()`
    pub fn should_try_claim_block(order: u32, start_mt: MigrateType) -> bool {
        order >= PAGEBLOCK_ORDER / 2
            || start_mt == MigrateType::Reclaimable
            || start_mt == MigrateType::Unmovable
    }

    /// `find_suitable_fallback()`
    pub fn find_suitable_fallback(
        &self,
        order: u32,
        mt: MigrateType,
        claimable: bool,
    ) -> FallbackResult {
        if claimable && !Self::should_try_claim_block(order, mt) {
            return FallbackResult::NoClaim;
        }
        let area = &self.free_area[order as usize];
        if area.nr_free == 0 {
            return FallbackResult::Empty;
        }
        for &fallback in mt.fallbacks() {
            if !area.free_list[fallback.index()].is_empty() {
                return FallbackResult::Found(fallback);
            }
        }
        FallbackResult::Empty
    }

    /// `prep_move_freepages_block()`: free pages and movable pages (asked of
    /// the frame store page by page, as the kernel tests `PageLRU()`) of the
    /// pageblock holding `pfn`.
    fn pageblock_usage(&self, pfn: Pfn) -> (u64, u64) {
        let start = Self::pageblock_start(pfn);
        let (mut free, mut movable) = (0, 0);
        let mut p = start;
        while p < start + PAGEBLOCK_NR_PAGES {
            match self.frames.get(p) {
                Some(m) if m.buddy => {
                    free += 1u64 << m.order;
                    p += 1 << m.order;
                    continue;
                }
                Some(_) if self.frames.page_is_movable(p) => movable += 1,
                _ => {}
            }
            p += 1;
        }
        (free, movable)
    }

    /// `__move_freepages_block()` + `set_pageblock_migratetype()`. 7.3's count
    /// of pages moved is not returned: its callers only test it against -1
    /// (a block straddling the zone, which a private zone never has) and,
    /// in the unreserve, against 0, which cannot be: the block was found by
    /// one of its free pages.
    fn move_freepages_block(&mut self, pfn: Pfn, old: MigrateType, new: MigrateType) {
        let start = Self::pageblock_start(pfn);
        let mut p = start;
        while p < start + PAGEBLOCK_NR_PAGES {
            match self.frames.get(p) {
                Some(m) if m.buddy => {
                    let (order, listed) = (u32::from(m.order), m.mt);
                    if listed == old {
                        self.move_to_free_list(p, order, old, new);
                    }
                    p += 1 << order;
                }
                _ => p += 1,
            }
        }
        self.set_pageblock_mt(start, new);
    }

    /// `try_to_claim_block()`
    fn try_to_claim_block(
        &mut self,
        pfn: Pfn,
        current_order: u32,
        order: u32,
        start_mt: MigrateType,
        block_mt: MigrateType,
    ) -> Option<Pfn> {
        if current_order >= PAGEBLOCK_ORDER {
            self.del_page_from_free_list(pfn, current_order, block_mt);
            self.account_freepages(-(1i64 << current_order), block_mt);
            self.change_pageblock_range(pfn, current_order, start_mt);
            let nr_added = self.expand(pfn, order, current_order, start_mt);
            self.account_freepages(nr_added as i64, start_mt);
            return Some(pfn);
        }
        let (free, movable) = self.pageblock_usage(pfn);
        let alike = if start_mt == MigrateType::Movable {
            movable
        } else if block_mt == MigrateType::Movable {
            PAGEBLOCK_NR_PAGES - (free + movable)
        } else {
            0
        };
        if free + alike >= 1 << (PAGEBLOCK_ORDER - 1) {
            self.move_freepages_block(pfn, block_mt, start_mt);
            return self.rmqueue_smallest(order, start_mt);
        }
        None
    }

    /// `__rmqueue_claim()`
    fn rmqueue_claim(
        &mut self,
        order: u32,
        start_mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn> {
        let min_order = if order < PAGEBLOCK_ORDER && flags.nofragment {
            PAGEBLOCK_ORDER
        } else {
            order
        };
        let mut current = MAX_PAGE_ORDER as i32;
        while current >= min_order as i32 {
            let c = current as u32;
            match self.find_suitable_fallback(c, start_mt, true) {
                FallbackResult::Empty => {}
                FallbackResult::NoClaim => break,
                FallbackResult::Found(fallback) => {
                    let pfn = self.free_area[c as usize].free_list[fallback.index()].first()?;
                    if let Some(p) = self.try_to_claim_block(pfn, c, order, start_mt, fallback) {
                        self.stat.fallback_claim += 1;
                        return Some(p);
                    }
                }
            }
            current -= 1;
        }
        None
    }

    /// `__rmqueue_steal()`
    fn rmqueue_steal(&mut self, order: u32, start_mt: MigrateType) -> Option<Pfn> {
        for current in order..=MAX_PAGE_ORDER {
            if let FallbackResult::Found(fallback) =
                self.find_suitable_fallback(current, start_mt, false)
            {
                let pfn = self.free_area[current as usize].free_list[fallback.index()].first()?;
                self.page_del_and_expand(pfn, order, current, fallback);
                self.stat.fallback_steal += 1;
                return Some(pfn);
            }
        }
        None
    }

    /// `__rmqueue()`
    pub fn rmqueue(
        &mut self,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
        mode: &mut RmqueueMode,
    ) -> Option<Pfn> {
        if *mode == RmqueueMode::Normal {
            if let Some(p) = self.rmqueue_smallest(order, mt) {
                return Some(p);
            }
        }
        if *mode != RmqueueMode::Steal {
            if let Some(p) = self.rmqueue_claim(order, mt, flags) {
                *mode = RmqueueMode::Normal;
                return Some(p);
            }
        }
        if !flags.nofragment {
            if let Some(p) = self.rmqueue_steal(order, mt) {
                *mode = RmqueueMode::Steal;
                return Some(p);
            }
        }
        None
    }

    /// Records that a block left the buddy as an allocation of type `mt`.
    fn mark_allocated(&mut self, pfn: Pfn, mt: MigrateType) {
        if let Some(m) = self.frames.get_mut(pfn) {
            m.mt = mt;
        }
        self.stat.rmqueue_blocks += 1;
    }

    /// `rmqueue_bulk()`: up to `count` blocks of `order` for a per-CPU list,
    /// handed to `push` in physical order. Returns how many were taken.
    pub fn rmqueue_bulk(
        &mut self,
        order: u32,
        count: u32,
        mt: MigrateType,
        flags: AllocFlags,
        mut push: impl FnMut(Pfn) -> bool,
    ) -> u32 {
        let mut mode = RmqueueMode::Normal;
        let mut i = 0;
        while i < count {
            let Some(pfn) = self.rmqueue(order, mt, flags, &mut mode) else {
                break;
            };
            self.mark_allocated(pfn, mt);
            if !push(pfn) {
                // The per-CPU list is full: put the block straight back.
                self.free_pages(pfn, order);
                break;
            }
            i += 1;
        }
        i
    }

    /// `rmqueue_buddy()`: one block straight from the buddy, with the
    /// HIGHATOMIC reserve rules. A high-order atomic allocation in the slow
    /// path (ALLOC_HIGHATOMIC at WMARK_MIN) may reserve its pageblock.
    pub fn rmqueue_buddy(&mut self, order: u32, mt: MigrateType, flags: AllocFlags) -> Option<Pfn> {
        let mut page = None;
        if flags.highatomic {
            page = self.rmqueue_smallest(order, MigrateType::HighAtomic);
        }
        if page.is_none() {
            let mut mode = RmqueueMode::Normal;
            page = self.rmqueue(order, mt, flags, &mut mode);
            if page.is_none() && (flags.oom || flags.non_block) {
                page = self.rmqueue_smallest(order, MigrateType::HighAtomic);
            }
        }
        let pfn = page?;
        self.mark_allocated(pfn, mt);
        if flags.highatomic && flags.wmark == Watermark::Min {
            self.reserve_highatomic_pageblock(pfn, order);
        }
        Some(pfn)
    }

    // ---- watermarks and reserves -----------------------------------------

    /// `__zone_watermark_unusable_free()`
    fn unusable_free(&self, order: u32, flags: AllocFlags) -> u64 {
        let mut unusable = (1u64 << order) - 1;
        if !flags.reserves() {
            unusable += self.nr_free_highatomic;
        }
        unusable
    }

    /// `__zone_watermark_ok()` (no lowmem_reserve: a private node has no
    /// lower zones to protect from its own Movable zone's users).
    pub fn watermark_ok(&self, order: u32, mark: u64, flags: AllocFlags) -> bool {
        let free = self.nr_free_pages as i64 - self.unusable_free(order, flags) as i64;
        let mut min = mark as i64;
        if flags.reserves() {
            if flags.min_reserve {
                min -= min / 2;
                if flags.non_block {
                    min -= min / 4;
                }
            }
            if flags.oom {
                min -= min / 2;
            }
        }
        if free <= min {
            return false;
        }
        if order == 0 {
            return true;
        }
        for o in order as usize..NR_PAGE_ORDERS {
            let area = &self.free_area[o];
            if area.nr_free == 0 {
                continue;
            }
            if area.free_list[..MIGRATE_PCPTYPES]
                .iter()
                .any(|l| !l.is_empty())
            {
                return true;
            }
            if (flags.highatomic || flags.oom)
                && !area.free_list[MigrateType::HighAtomic.index()].is_empty()
            {
                return true;
            }
        }
        false
    }

    /// `zone_watermark_fast()`: the check `get_page_from_freelist()` makes
    /// with the watermark `flags` selects; failures are counted.
    pub fn zone_watermark_fast(&mut self, order: u32, flags: AllocFlags) -> bool {
        let ok = match self.wmark_pages(flags.wmark) {
            None => true,
            Some(mark) => self.watermark_ok(order, mark, flags),
        };
        if !ok {
            self.stat.watermark_fail += 1;
        }
        ok
    }

    /// `zone_watermark_fast()` at order 0 against the watermark plus `nr`,
    /// the check `alloc_pages_bulk_noprof()` makes before taking `nr`
    /// pages under one pcp lock; failures are counted.
    pub fn zone_watermark_bulk(&mut self, flags: AllocFlags, nr: u64) -> bool {
        let ok = match self.wmark_pages(flags.wmark) {
            None => true,
            Some(mark) => self.watermark_ok(0, mark.saturating_add(nr), flags),
        };
        if !ok {
            self.stat.watermark_fail += 1;
        }
        ok
    }

    /// `reserve_highatomic_pageblock()`: the pageblock(s) of `pfn` become
    /// MIGRATE_HIGHATOMIC, up to about 1% of the zone; none at all in a
    /// zone whose 1% is less than a pageblock.
    pub fn reserve_highatomic_pageblock(&mut self, pfn: Pfn, order: u32) {
        let one_percent = self.managed_pages / 100;
        if one_percent < PAGEBLOCK_NR_PAGES {
            return;
        }
        let max_managed = one_percent.next_multiple_of(PAGEBLOCK_NR_PAGES);
        if self.nr_reserved_highatomic >= max_managed {
            return;
        }
        let mt = self.pageblock_mt(pfn);
        if !mt.is_mergeable() {
            return;
        }
        if order < PAGEBLOCK_ORDER {
            self.move_freepages_block(pfn, mt, MigrateType::HighAtomic);
            self.nr_reserved_highatomic += PAGEBLOCK_NR_PAGES;
        } else {
            self.change_pageblock_range(pfn, order, MigrateType::HighAtomic);
            self.nr_reserved_highatomic += 1 << order;
        }
        self.stat.highatomic_reserved += 1;
    }

    /// `unreserve_highatomic_pageblock()` for one zone: gives one reserved
    /// pageblock back to `mt`. Without `force`, the last pageblock stays.
    pub fn unreserve_highatomic_pageblock(&mut self, mt: MigrateType, force: bool) -> bool {
        if !force && self.nr_reserved_highatomic <= PAGEBLOCK_NR_PAGES {
            return false;
        }
        for order in 0..=MAX_PAGE_ORDER {
            let Some(pfn) =
                self.free_area[order as usize].free_list[MigrateType::HighAtomic.index()].first()
            else {
                continue;
            };
            let size =
                core::cmp::max(PAGEBLOCK_NR_PAGES, 1 << order).min(self.nr_reserved_highatomic);
            self.nr_reserved_highatomic -= size;
            if order < PAGEBLOCK_ORDER {
                self.move_freepages_block(pfn, MigrateType::HighAtomic, mt);
            } else {
                self.move_to_free_list(pfn, order, MigrateType::HighAtomic, mt);
                self.change_pageblock_range(pfn, order, mt);
            }
            self.stat.highatomic_unreserved += 1;
            return true;
        }
        false
    }

    // ---- memory failure ----------------------------------------------------

    /// The free block holding `pfn`, as (head, order): the walk of
    /// `is_free_buddy_page()` and `take_page_off_buddy()`, up the orders
    /// until an aligned head is `PageBuddy` with at least that order.
    /// Ranges are aligned to `MAX_ORDER_NR_PAGES`, so every head it looks
    /// at is in the range of `pfn`. 7.3 also stops at a head with a
    /// reference; a frame handed out or on a per-CPU list is never inside
    /// a free block, so here the walk just finds nothing.
    fn free_block_of(&self, pfn: Pfn) -> Option<(Pfn, u32)> {
        self.frames.get(pfn)?;
        (0..=MAX_PAGE_ORDER).find_map(|order| {
            let head = pfn & !((1u64 << order) - 1);
            match self.frames.get(head) {
                Some(m) if m.buddy && u32::from(m.order) >= order => {
                    Some((head, u32::from(m.order)))
                }
                _ => None,
            }
        })
    }

    /// `is_free_buddy_page()`: is `pfn` part of a free block on a
    /// `free_area` list? Pages on per-CPU lists are not.
    pub fn is_free_buddy_page(&self, pfn: Pfn) -> bool {
        self.free_block_of(pfn).is_some()
    }

    /// `SetPageHWPoisonTakenOff()` on a frame that is in no block any more.
    fn set_page_hwpoison_taken_off(&mut self, pfn: Pfn) {
        if let Some(m) = self.frames.get_mut(pfn) {
            // INVARIANT: the frame left its block; it is withdrawn, counted once.
            m.hwpoison = true;
            self.nr_hwpoison += 1;
        }
    }

    /// `break_down_buddy_pages()`: splits the block of order `high` at
    /// `pfn`, already off its list, down to order `low` around `target`.
    /// At each order the half without `target` goes to the head of `mt`'s
    /// list and the half with it is split further, so `target`'s own
    /// order-`low` block is left out. Returns the number of pages put back.
    fn break_down_buddy_pages(
        &mut self,
        mut pfn: Pfn,
        target: Pfn,
        low: u32,
        mut high: u32,
        mt: MigrateType,
    ) -> u64 {
        let mut size = 1u64 << high;
        let mut nr_added = 0;
        while high > low {
            high -= 1;
            size >>= 1;
            let current_buddy = if target >= pfn + size {
                let lower = pfn;
                pfn += size;
                lower
            } else {
                pfn + size
            };
            self.add_to_free_list(current_buddy, high, mt, false);
            nr_added += size;
        }
        nr_added
    }

    /// `take_page_off_buddy()`: memory failure hit `pfn`. If it is part of
    /// a free block, the block leaves its list, every other page of it goes
    /// back ([`Zone::break_down_buddy_pages`]) and `pfn` is withdrawn.
    /// Returns false, with nothing changed, for a frame that is handed out,
    /// on a per-CPU list (the caller drains them and tries again, as
    /// `__page_handle_poison()` takes the page with the pcp lists
    /// disabled), already withdrawn, or not in this zone.
    pub fn take_page_off_buddy(&mut self, pfn: Pfn) -> bool {
        let Some((head, order)) = self.free_block_of(pfn) else {
            return false;
        };
        // 7.3 reads the pageblock's type, which is the list's for a free
        // block; here the list a block is on is its own record, as in
        // free_one_page(), so the pieces stay on the list the block was on.
        let Some(mt) = self.frames.get(head).map(|m| m.mt) else {
            return false;
        };
        self.del_page_from_free_list(head, order, mt);
        let nr_added = self.break_down_buddy_pages(head, pfn, 0, order, mt);
        self.account_freepages(nr_added as i64 - (1i64 << order), mt);
        self.set_page_hwpoison_taken_off(pfn);
        true
    }

    /// `put_page_back_buddy()`: unpoison. A withdrawn frame goes back as an
    /// order-0 free of its pageblock's type (`__free_one_page()`,
    /// `FPI_NONE`), merging as any free does. Returns false, with nothing
    /// changed, if `pfn` is not withdrawn.
    pub fn put_page_back_buddy(&mut self, pfn: Pfn) -> bool {
        match self.frames.get_mut(pfn) {
            Some(m) if m.hwpoison => m.hwpoison = false,
            _ => return false,
        }
        self.nr_hwpoison = self.nr_hwpoison.saturating_sub(1);
        let mt = self.pageblock_mt(pfn);
        self.free_one_page(pfn, 0, mt, false);
        true
    }

    /// [`Zone::free_pages`] of a block handed out earlier, except
    /// `bad_pfn`, which memory failure hit while the block was out: that
    /// frame is withdrawn, as [`Zone::take_page_off_buddy`] leaves one.
    /// Every pageblock-sized piece without it is freed as `free_pages()`
    /// frees it; the piece with it goes back broken down around it
    /// ([`Zone::break_down_buddy_pages`]), to the list heads of its
    /// pageblock's type. Those parts need no merge attempt: the buddy of
    /// each is the part holding `bad_pfn`, which is never free. They are
    /// not counted in `stat.freed_blocks`, which counts `__free_one_page()`.
    ///
    /// 7.3 has no counterpart: `__free_pages_prepare()` keeps back only an
    /// order-0 `PageHWPoison` page, and a larger block goes back whole.
    ///
    /// `Invalid`, with nothing changed, unless the block is aligned and in
    /// this zone, and `bad_pfn` is in it and neither free nor withdrawn.
    pub fn free_pages_except(
        &mut self,
        pfn: Pfn,
        order: u32,
        bad_pfn: Pfn,
    ) -> Result<(), CoreError> {
        if order > MAX_PAGE_ORDER || pfn & ((1u64 << order) - 1) != 0 {
            return Err(CoreError::Invalid);
        }
        let end = pfn.checked_add(1 << order).ok_or(CoreError::Invalid)?;
        if !(pfn..end).contains(&bad_pfn) || self.frames.get(pfn).is_none() {
            return Err(CoreError::Invalid);
        }
        // A page of the block already free or withdrawn means the block
        // is not out; withdrawing it again would count it twice.
        if self.frames.get(bad_pfn).is_none_or(|m| m.hwpoison) || self.is_free_buddy_page(bad_pfn) {
            return Err(CoreError::Invalid);
        }
        let step = order.min(PAGEBLOCK_ORDER);
        let mut p = pfn;
        while p < end {
            let mt = self.pageblock_mt(p);
            let next = p + (1 << step);
            if (p..next).contains(&bad_pfn) {
                let nr_added = self.break_down_buddy_pages(p, bad_pfn, 0, step, mt);
                self.account_freepages(nr_added as i64, mt);
                self.set_page_hwpoison_taken_off(bad_pfn);
            } else {
                self.free_one_page(p, step, mt, false);
            }
            p = next;
        }
        Ok(())
    }

    /// Free blocks per order, all types (`/proc/buddyinfo`).
    pub fn nr_free_per_order(&self) -> [u64; NR_PAGE_ORDERS] {
        core::array::from_fn(|o| self.free_area[o].nr_free)
    }

    /// Free blocks per order of one type (`/proc/pagetypeinfo`).
    pub fn nr_free_per_order_mt(&self, mt: MigrateType) -> [u64; NR_PAGE_ORDERS] {
        core::array::from_fn(|o| self.free_area[o].free_list[mt.index()].nr)
    }

    /// Pageblocks of each type (`/proc/pagetypeinfo`'s block counts).
    pub fn pageblock_counts(&self) -> [u64; MIGRATE_TYPES] {
        let mut counts = [0; MIGRATE_TYPES];
        for r in self.ranges() {
            let mut p = r.start;
            while p < r.end() {
                counts[self.pageblock_mt(p).index()] += 1;
                p += PAGEBLOCK_NR_PAGES;
            }
        }
        counts
    }

    /// The pageblock holding `pfn`: its migratetype and how many of its
    /// pages are free in the buddy (pcp pages count as used), for debugfs.
    pub fn pageblock_state(&self, pfn: Pfn) -> (MigrateType, u64) {
        let start = Self::pageblock_start(pfn);
        // Inside a free block above pageblock order, whose head may lie in
        // an earlier pageblock.
        for order in PAGEBLOCK_ORDER..=MAX_PAGE_ORDER {
            let head = start & !((1 << order) - 1);
            if matches!(self.frames.get(head), Some(m) if m.buddy && u32::from(m.order) >= order) {
                return (self.pageblock_mt(start), PAGEBLOCK_NR_PAGES);
            }
        }
        (self.pageblock_mt(start), self.pageblock_usage(start).0)
    }

    /// Metadata of one frame, for invariant checks and debugfs.
    pub fn frame(&self, pfn: Pfn) -> Option<&FrameMeta> {
        self.frames.get(pfn)
    }
}
