// SPDX-License-Identifier: GPL-2.0

//! A reference model of pnalloc's allocator, written from the rules of
//! 7.3's `mm/page_alloc.c` (and the deliberate differences listed in
//! `Documentation/pnalloc/core.rst`) without any of the core's code.
//!
//! It is meant to be obviously right rather than fast: free lists are
//! `VecDeque`s of pfns (front is the list head), free blocks are found in a
//! map from head pfn to (order, list), pageblock types are a map from
//! pageblock start to type, handed-out blocks a map from head to what they
//! are, pages withdrawn by memory failure a set. Migrate types are plain
//! indices: 0 unmovable, 1 movable, 2 reclaimable, 3 highatomic. Zonelists
//! are recomputed from the node set and distances on every allocation.
//!
//! The differential test (`model_tests.rs`) runs the core and this model
//! side by side and compares everything observable after every step.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    vec,
    vec::Vec,
};

use super::super::CoreError;

pub type Pfn = u64;

pub const UNMOVABLE: usize = 0;
pub const MOVABLE: usize = 1;
pub const RECLAIMABLE: usize = 2;
pub const HIGHATOMIC: usize = 3;

const MAX_ORDER: u32 = 10;
const PB_ORDER: u32 = 9;
const PB_PAGES: u64 = 512;
const COSTLY: u32 = 3;
const NODES: usize = 64;
const PCP_LISTS: usize = 12;
const PCP_CAPACITY: usize = 512;
const PCP_SCALE_MAX: u32 = 5;
const MAX_RANGES: usize = 32;

// gfp bits of include/linux/gfp_types.h (7.3, x86-64).
pub const G_DMA: u32 = 0x01;
pub const G_HIGHMEM: u32 = 0x02;
pub const G_DMA32: u32 = 0x04;
pub const G_MOVABLE: u32 = 0x08;
pub const G_RECLAIMABLE: u32 = 0x10;
pub const G_HIGH: u32 = 0x20;
pub const G_IO: u32 = 0x40;
pub const G_DIRECT_RECLAIM: u32 = 0x400;
pub const G_NOWARN: u32 = 0x2000;
pub const G_RETRY_MAYFAIL: u32 = 0x4000;
pub const G_NOFAIL: u32 = 0x8000;
pub const G_NORETRY: u32 = 0x10000;
pub const G_MEMALLOC: u32 = 0x20000;
pub const G_NOMEMALLOC: u32 = 0x80000;
pub const G_THISNODE: u32 = 0x200000;

pub const A_NOLOCK: u32 = 0x400;
pub const A_NO_CODETAG: u32 = 0x1000;

/// `fallbacks[]`
fn fallbacks(mt: usize) -> &'static [usize] {
    match mt {
        UNMOVABLE => &[RECLAIMABLE, MOVABLE],
        MOVABLE => &[RECLAIMABLE, UNMOVABLE],
        RECLAIMABLE => &[UNMOVABLE, MOVABLE],
        _ => &[],
    }
}

fn isqrt(n: u64) -> u64 {
    let mut r = 0u64;
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

/// Which watermark, and the reserve bits, of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// 0 min, 1 low, 2 high, 3 none.
    pub wmark: usize,
    pub min_reserve: bool,
    pub non_block: bool,
    pub highatomic: bool,
    pub nolock: bool,
}

impl Flags {
    fn reserves(&self) -> bool {
        self.min_reserve || self.non_block || self.highatomic
    }
}

#[derive(Debug, Clone, Default)]
pub struct MPcp {
    pub lists: [VecDeque<Pfn>; PCP_LISTS],
    pub count: u32,
    pub high: u32,
    pub batch: u32,
    pub free_count: u32,
    pub alloc_factor: u32,
    /// hit, miss, refill, drain (bulk frees), free.
    pub stat: [u64; 5],
}

impl MPcp {
    fn new() -> Self {
        MPcp {
            high: 378,
            batch: 63,
            ..Default::default()
        }
    }

    fn entries(&self) -> usize {
        self.lists.iter().map(VecDeque::len).sum()
    }
}

#[derive(Debug, Clone)]
pub struct MZone {
    pub movable_zone: bool,
    pub ranges: Vec<(Pfn, u64)>,
    pub managed: u64,
    /// `free[order][mt]`, head at the front.
    pub free: Vec<Vec<VecDeque<Pfn>>>,
    /// Free block head -> (order, list it is on).
    pub heads: BTreeMap<Pfn, (u32, usize)>,
    /// Pageblock start -> type.
    pub pb: BTreeMap<Pfn, usize>,
    /// Pages withdrawn by memory failure: in no block, on no list.
    pub poisoned: BTreeSet<Pfn>,
    pub nr_reserved_ha: u64,
    pub wmark: [u64; 3],
    pub wmark_fail: u64,
    /// Blocks out of the buddy, blocks into it, claims, steals, reserves,
    /// unreserves.
    pub stat: [u64; 6],
    pub pcp: Vec<MPcp>,
}

impl MZone {
    fn new(movable_zone: bool, nr_cpus: usize) -> Self {
        MZone {
            movable_zone,
            ranges: Vec::new(),
            managed: 0,
            free: vec![vec![VecDeque::new(); 4]; MAX_ORDER as usize + 1],
            heads: BTreeMap::new(),
            pb: BTreeMap::new(),
            poisoned: BTreeSet::new(),
            nr_reserved_ha: 0,
            wmark: [0; 3],
            wmark_fail: 0,
            stat: [0; 6],
            pcp: (0..nr_cpus).map(|_| MPcp::new()).collect(),
        }
    }

    pub fn nr_free(&self) -> u64 {
        self.heads.values().map(|&(o, _)| 1u64 << o).sum()
    }

    pub fn nr_free_ha(&self) -> u64 {
        self.heads
            .values()
            .filter(|&&(_, t)| t == HIGHATOMIC)
            .map(|&(o, _)| 1u64 << o)
            .sum()
    }

    fn spans(&self, pfn: Pfn) -> bool {
        self.ranges.iter().any(|&(s, n)| pfn >= s && pfn < s + n)
    }

    pub fn pb_type(&self, pfn: Pfn) -> usize {
        self.pb
            .get(&(pfn & !(PB_PAGES - 1)))
            .copied()
            .unwrap_or(MOVABLE)
    }

    fn set_pb(&mut self, pfn: Pfn, mt: usize) {
        let start = pfn & !(PB_PAGES - 1);
        if let Some(t) = self.pb.get_mut(&start) {
            *t = mt;
        }
    }

    /// Every pageblock of a block of `order` at `pfn` (at least one).
    fn set_pb_range(&mut self, pfn: Pfn, order: u32, mt: usize) {
        let n = 1u64 << order.saturating_sub(PB_ORDER);
        for i in 0..n {
            self.set_pb(pfn + i * PB_PAGES, mt);
        }
    }

    fn add(&mut self, pfn: Pfn, order: u32, mt: usize, tail: bool) {
        self.heads.insert(pfn, (order, mt));
        let l = &mut self.free[order as usize][mt];
        if tail {
            l.push_back(pfn);
        } else {
            l.push_front(pfn);
        }
    }

    fn del(&mut self, pfn: Pfn) -> (u32, usize) {
        let (order, mt) = self
            .heads
            .remove(&pfn)
            .expect("model: del of a non-free block");
        let l = &mut self.free[order as usize][mt];
        let i = l
            .iter()
            .position(|&p| p == pfn)
            .expect("model: block not on its list");
        l.remove(i);
        (order, mt)
    }

    fn is_free_head(&self, pfn: Pfn, order: u32) -> bool {
        self.heads.get(&pfn).is_some_and(|&(o, _)| o == order)
    }

    /// `__free_one_page()`
    fn free_one(&mut self, mut pfn: Pfn, mut order: u32, mt: usize, mut to_tail: bool) {
        let mut buddy = pfn;
        while order < MAX_ORDER {
            buddy = pfn ^ (1 << order);
            if !self.is_free_head(buddy, order) {
                break;
            }
            let mut buddy_mt = mt;
            if order >= PB_ORDER {
                buddy_mt = self.pb_type(buddy);
                if mt != buddy_mt && (mt == HIGHATOMIC || buddy_mt == HIGHATOMIC) {
                    break;
                }
            }
            self.del(buddy);
            if buddy_mt != mt {
                self.set_pb_range(buddy, order, mt);
            }
            pfn &= buddy;
            order += 1;
        }
        // buddy_merge_likely()
        if !to_tail && order < MAX_ORDER - 1 {
            let higher = buddy & pfn;
            to_tail = self.is_free_head(higher ^ (1 << (order + 1)), order + 1);
        }
        self.add(pfn, order, mt, to_tail);
        self.stat[1] += 1;
    }

    /// `free_one_page()` / `split_large_buddy()`
    fn free_pages(&mut self, pfn: Pfn, order: u32) {
        let step = order.min(PB_ORDER);
        let mut p = pfn;
        while p < pfn + (1 << order) {
            let mt = self.pb_type(p);
            self.free_one(p, step, mt, false);
            p += 1 << step;
        }
    }

    /// The pages of an order-`order` block at `head` but `bad`, as the
    /// largest aligned blocks that leave it out: for each order below
    /// `order`, the buddy of the block of that order holding `bad`. There
    /// is one per order, so the order they go to their lists' heads in
    /// does not matter.
    fn add_all_but(&mut self, bad: Pfn, order: u32, mt: usize) {
        for o in 0..order {
            let holding = bad & !((1 << o) - 1);
            self.add(holding ^ (1 << o), o, mt, false);
        }
    }

    /// `take_page_off_buddy()`: the free block holding `pfn` leaves the
    /// buddy but for `pfn`, which is withdrawn.
    fn take_off(&mut self, pfn: Pfn) -> bool {
        let Some((&head, &(order, mt))) = self.heads.range(..=pfn).next_back() else {
            return false;
        };
        if pfn >= head + (1 << order) {
            return false;
        }
        self.del(head);
        self.add_all_but(pfn, order, mt);
        self.poisoned.insert(pfn);
        true
    }

    /// `put_page_back_buddy()`: a withdrawn page is freed, order 0.
    fn put_back(&mut self, pfn: Pfn) -> bool {
        if !self.poisoned.remove(&pfn) {
            return false;
        }
        let mt = self.pb_type(pfn);
        self.free_one(pfn, 0, mt, false);
        true
    }

    /// `free_pages()` but for `bad`: its pageblock-sized piece goes back
    /// without it, not merged, at the list heads of its pageblock's type.
    fn free_pages_except(&mut self, pfn: Pfn, order: u32, bad: Pfn) {
        let step = order.min(PB_ORDER);
        let mut p = pfn;
        while p < pfn + (1 << order) {
            let mt = self.pb_type(p);
            if bad >= p && bad < p + (1 << step) {
                self.add_all_but(bad, step, mt);
                self.poisoned.insert(bad);
            } else {
                self.free_one(p, step, mt, false);
            }
            p += 1 << step;
        }
    }

    /// `expand()`: upper halves to the list heads.
    fn expand(&mut self, pfn: Pfn, low: u32, mut high: u32, mt: usize) {
        while high > low {
            high -= 1;
            self.add(pfn + (1 << high), high, mt, false);
        }
    }

    /// `__rmqueue_smallest()`
    fn smallest(&mut self, order: u32, mt: usize) -> Option<Pfn> {
        for o in order..=MAX_ORDER {
            if let Some(&p) = self.free[o as usize][mt].front() {
                self.del(p);
                self.expand(p, order, o, mt);
                return Some(p);
            }
        }
        None
    }

    /// `find_suitable_fallback()`: Ok(type), Err(true) for NOCLAIM,
    /// Err(false) for EMPTY.
    fn fallback(&self, order: u32, mt: usize, claim: bool) -> Result<usize, bool> {
        if claim && !(order >= PB_ORDER / 2 || mt == RECLAIMABLE || mt == UNMOVABLE) {
            return Err(true);
        }
        for &f in fallbacks(mt) {
            if !self.free[order as usize][f].is_empty() {
                return Ok(f);
            }
        }
        Err(false)
    }

    /// `prep_move_freepages_block()` counts.
    fn usage(&self, pfn: Pfn, lru: &dyn Fn(Pfn) -> bool) -> (u64, u64) {
        let start = pfn & !(PB_PAGES - 1);
        let (mut free, mut movable) = (0, 0);
        let mut p = start;
        while p < start + PB_PAGES {
            if let Some(&(o, _)) = self.heads.get(&p) {
                free += 1u64 << o;
                p += 1 << o;
                continue;
            }
            if lru(p) {
                movable += 1;
            }
            p += 1;
        }
        (free, movable)
    }

    /// `move_freepages_block()`: free blocks of the pageblock on `old`'s
    /// lists go to the tail of `new`'s; the pageblock becomes `new`.
    fn move_block(&mut self, pfn: Pfn, old: usize, new: usize) {
        let start = pfn & !(PB_PAGES - 1);
        let blocks: Vec<(Pfn, u32, usize)> = self
            .heads
            .range(start..start + PB_PAGES)
            .map(|(&p, &(o, t))| (p, o, t))
            .collect();
        for (p, o, t) in blocks {
            if t == old {
                self.del(p);
                self.add(p, o, new, true);
            }
        }
        self.set_pb(start, new);
    }

    fn try_claim(
        &mut self,
        pfn: Pfn,
        cur: u32,
        order: u32,
        start_mt: usize,
        block_mt: usize,
        lru: &dyn Fn(Pfn) -> bool,
    ) -> Option<Pfn> {
        if cur >= PB_ORDER {
            self.del(pfn);
            self.set_pb_range(pfn, cur, start_mt);
            self.expand(pfn, order, cur, start_mt);
            return Some(pfn);
        }
        let (free, movable) = self.usage(pfn, lru);
        let alike = if start_mt == MOVABLE {
            movable
        } else if block_mt == MOVABLE {
            PB_PAGES - (free + movable)
        } else {
            0
        };
        if free + alike >= PB_PAGES / 2 {
            self.move_block(pfn, block_mt, start_mt);
            return self.smallest(order, start_mt);
        }
        None
    }

    /// `__rmqueue()`; `mode`: 0 normal, 1 claim, 2 steal.
    fn rmqueue(
        &mut self,
        order: u32,
        mt: usize,
        nofrag: bool,
        mode: &mut u8,
        lru: &dyn Fn(Pfn) -> bool,
    ) -> Option<Pfn> {
        if *mode == 0 {
            if let Some(p) = self.smallest(order, mt) {
                return Some(p);
            }
        }
        if *mode != 2 {
            let min = if order < PB_ORDER && nofrag {
                PB_ORDER
            } else {
                order
            };
            let mut cur = MAX_ORDER;
            loop {
                if cur < min {
                    break;
                }
                match self.fallback(cur, mt, true) {
                    Err(true) => break,
                    Err(false) => {}
                    Ok(f) => {
                        let p = *self.free[cur as usize][f].front()?;
                        if let Some(p) = self.try_claim(p, cur, order, mt, f, lru) {
                            self.stat[2] += 1;
                            *mode = 0;
                            return Some(p);
                        }
                    }
                }
                if cur == 0 {
                    break;
                }
                cur -= 1;
            }
        }
        if !nofrag {
            for cur in order..=MAX_ORDER {
                if let Ok(f) = self.fallback(cur, mt, false) {
                    let p = *self.free[cur as usize][f].front()?;
                    self.del(p);
                    self.expand(p, order, cur, f);
                    *mode = 2;
                    self.stat[3] += 1;
                    return Some(p);
                }
            }
        }
        None
    }

    /// `reserve_highatomic_pageblock()`
    fn reserve_ha(&mut self, pfn: Pfn, order: u32) {
        if self.managed / 100 < PB_PAGES {
            return;
        }
        let max = (self.managed / 100).div_ceil(PB_PAGES) * PB_PAGES;
        if self.nr_reserved_ha >= max {
            return;
        }
        let mt = self.pb_type(pfn);
        if mt == HIGHATOMIC {
            return;
        }
        if order < PB_ORDER {
            self.move_block(pfn, mt, HIGHATOMIC);
            self.nr_reserved_ha += PB_PAGES;
        } else {
            self.set_pb_range(pfn, order, HIGHATOMIC);
            self.nr_reserved_ha += 1 << order;
        }
        self.stat[4] += 1;
    }

    /// `unreserve_highatomic_pageblock()` for this zone.
    fn unreserve_ha(&mut self, mt: usize, force: bool) -> bool {
        if !force && self.nr_reserved_ha <= PB_PAGES {
            return false;
        }
        for o in 0..=MAX_ORDER {
            let Some(&p) = self.free[o as usize][HIGHATOMIC].front() else {
                continue;
            };
            let size = PB_PAGES.max(1 << o).min(self.nr_reserved_ha);
            self.nr_reserved_ha -= size;
            if o < PB_ORDER {
                self.move_block(p, HIGHATOMIC, mt);
            } else {
                self.del(p);
                self.add(p, o, mt, true);
                self.set_pb_range(p, o, mt);
            }
            self.stat[5] += 1;
            return true;
        }
        false
    }

    /// `__zone_watermark_ok()` against the watermark of `f`; counts failures.
    fn watermark_ok(&mut self, order: u32, f: Flags) -> bool {
        if f.wmark == 3 {
            return true;
        }
        let mark = self.wmark[f.wmark] as i64;
        let mut free = self.nr_free() as i64 - ((1i64 << order) - 1);
        if !f.reserves() {
            free -= self.nr_free_ha() as i64;
        }
        let mut min = mark;
        if f.min_reserve {
            min -= min / 2;
            if f.non_block {
                min -= min / 4;
            }
        }
        let ok = if free <= min {
            false
        } else if order == 0 {
            true
        } else {
            (order..=MAX_ORDER).any(|o| {
                let a = &self.free[o as usize];
                a[..3].iter().any(|l| !l.is_empty()) || (f.highatomic && !a[HIGHATOMIC].is_empty())
            })
        };
        if !ok {
            self.wmark_fail += 1;
        }
        ok
    }

    /// `free_pcppages_bulk()`
    fn pcp_bulk(&mut self, cpu: usize, count: u32, pindex: usize) {
        self.pcp[cpu].stat[3] += 1;
        let mut count = i64::from(count.min(self.pcp[cpu].count));
        let mut pi = pindex;
        let mut first = true;
        while count > 0 {
            if first {
                first = false;
            } else {
                pi = (pi + 1) % PCP_LISTS;
            }
            while self.pcp[cpu].lists[pi].is_empty() {
                pi = (pi + 1) % PCP_LISTS;
            }
            let order = (pi / 3) as u32;
            while count > 0 {
                let Some(p) = self.pcp[cpu].lists[pi].pop_back() else {
                    break;
                };
                count -= 1 << order;
                self.pcp[cpu].count -= 1 << order;
                let mt = self.pb_type(p);
                self.free_one(p, order, mt, false);
            }
        }
    }

    /// `drain_pages_zone()`
    fn drain(&mut self, cpu: usize) {
        let chunk = self.pcp[cpu].batch.max(1) << PCP_SCALE_MAX;
        while self.pcp[cpu].count != 0 {
            let c = self.pcp[cpu].count.min(chunk);
            self.pcp_bulk(cpu, c, 0);
        }
    }

    fn drain_all(&mut self) {
        for cpu in 0..self.pcp.len() {
            self.drain(cpu);
        }
    }
}

/// What a block handed out is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Out {
    pub order: u32,
    pub movable: bool,
    pub zone: (u8, u8),
}

/// The result of one allocation: (node, zone type, pfn, pass) or why not.
/// Passes: 0 fast, 1 slow, 2 drained, 3 forced.
pub type AllocResult = Result<(u8, u8, Pfn, u8), MFail>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MFail {
    Invalid(CoreError),
    NoMemory { warn: bool },
}

/// One allocation request, in the model's words.
#[derive(Debug, Clone, Copy)]
pub struct MReq {
    pub gfp: u32,
    pub order: u32,
    pub nid: i32,
    pub mask: Option<u64>,
    pub private: bool,
    pub alloc_flags: u32,
    pub local_nid: i32,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub zones: BTreeMap<(u8, u8), MZone>,
    pub owner: BTreeMap<u8, u32>,
    pub dist: Vec<Vec<u8>>,
    pub nr_node_ids: usize,
    pub nr_cpus: usize,
    pub cpu: usize,
    pub out: BTreeMap<Pfn, Out>,
    pub wmark: Option<(u64, u64)>,
}

impl Model {
    pub fn new(nr_cpus: usize) -> Self {
        Model {
            zones: BTreeMap::new(),
            owner: BTreeMap::new(),
            dist: (0..NODES)
                .map(|i| (0..NODES).map(|j| if i == j { 10 } else { 20 }).collect())
                .collect(),
            nr_node_ids: 0,
            nr_cpus,
            cpu: 0,
            out: BTreeMap::new(),
            wmark: None,
        }
    }

    fn populated(&self, nid: u8) -> u8 {
        let mut bits = 0;
        for zt in 0..2u8 {
            if self.zones.get(&(nid, zt)).is_some_and(|z| z.managed != 0) {
                bits |= 1 << zt;
            }
        }
        bits
    }

    fn is_private(&self, nid: usize) -> bool {
        nid < NODES && self.populated(nid as u8) != 0
    }

    pub fn set_distance(&mut self, from: usize, to: usize, d: u8) {
        self.dist[from][to] = d;
        self.nr_node_ids = self.nr_node_ids.max(from.max(to) + 1);
    }

    pub fn set_owner(&mut self, nid: u8, owner: u32) -> Result<(), CoreError> {
        if !self.is_private(usize::from(nid)) {
            return Err(CoreError::NotFound);
        }
        self.owner.insert(nid, owner);
        Ok(())
    }

    fn node_changed(&mut self, nid: u8, owner: u32) {
        self.nr_node_ids = self.nr_node_ids.max(usize::from(nid) + 1);
        if self.populated(nid) != 0 {
            self.owner.insert(nid, owner);
        } else {
            self.owner.remove(&nid);
        }
    }

    /// `__setup_per_zone_wmarks()` over every zone.
    fn setup_wmarks(&mut self) {
        let total_lowmem: u64 = self
            .zones
            .values()
            .filter(|z| !z.movable_zone)
            .map(|z| z.managed)
            .sum();
        let wmark = self.wmark;
        for z in self.zones.values_mut() {
            let (pages_min, lowmem) = match wmark {
                Some((kb, other)) => (kb / 4, other + total_lowmem),
                None => {
                    let lowmem = if z.movable_zone { 0 } else { z.managed };
                    (isqrt(lowmem * 4 * 16).clamp(128, 262_144) / 4, lowmem)
                }
            };
            let share = (pages_min * z.managed).checked_div(lowmem).unwrap_or(0);
            let min = if z.movable_zone {
                (z.managed / 1024).clamp(32, 128)
            } else {
                share
            };
            let gap = (share / 4).max(z.managed * 10 / 10_000);
            z.wmark = [min, min + gap, min + 2 * gap];
        }
    }

    pub fn set_wmark(&mut self, w: Option<(u64, u64)>) {
        self.wmark = w;
        self.setup_wmarks();
    }

    pub fn add_range(
        &mut self,
        nid: u8,
        movable_zone: bool,
        owner: u32,
        start: Pfn,
        nr: u64,
    ) -> Result<(), CoreError> {
        let end = start.saturating_add(nr);
        if self
            .zones
            .values()
            .flat_map(|z| z.ranges.iter())
            .any(|&(s, n)| start < s + n && s < end)
        {
            return Err(CoreError::Exists);
        }
        let nr_cpus = self.nr_cpus;
        let z = self
            .zones
            .entry((nid, u8::from(movable_zone)))
            .or_insert_with(|| MZone::new(movable_zone, nr_cpus));
        if nr == 0 || !start.is_multiple_of(1024) || !nr.is_multiple_of(1024) {
            return Err(CoreError::Invalid);
        }
        if z.ranges.len() == MAX_RANGES {
            return Err(CoreError::NoSpace);
        }
        z.ranges.push((start, nr));
        for pb in (start..end).step_by(PB_PAGES as usize) {
            z.pb.insert(pb, MOVABLE);
        }
        for p in (start..end).step_by(1024) {
            z.free_one(p, MAX_ORDER, MOVABLE, true);
        }
        z.managed += nr;
        self.node_changed(nid, owner);
        self.setup_wmarks();
        Ok(())
    }

    pub fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        let key = *self
            .zones
            .iter()
            .find(|(_, z)| z.ranges.iter().any(|&(s, _)| s == start))
            .ok_or(CoreError::NotFound)?
            .0;
        let z = self.zones.get_mut(&key).ok_or(CoreError::NotFound)?;
        z.drain_all();
        let i = z
            .ranges
            .iter()
            .position(|&(s, _)| s == start)
            .ok_or(CoreError::NotFound)?;
        let (s, n) = z.ranges[i];
        let mut p = s;
        while p < s + n {
            match z.heads.get(&p) {
                Some(&(o, _)) => p += 1 << o,
                None if z.poisoned.contains(&p) => p += 1,
                None => return Err(CoreError::Busy),
            }
        }
        z.poisoned.retain(|&p| p < s || p >= s + n);
        let heads: Vec<Pfn> = z.heads.range(s..s + n).map(|(&p, _)| p).collect();
        for p in heads {
            z.del(p);
        }
        for pb in (s..s + n).step_by(PB_PAGES as usize) {
            if z.pb.remove(&pb) == Some(HIGHATOMIC) {
                z.nr_reserved_ha = z.nr_reserved_ha.saturating_sub(PB_PAGES);
            }
        }
        z.ranges.remove(i);
        z.managed -= n;
        let owner = self.owner.get(&key.0).copied().unwrap_or(0);
        self.node_changed(key.0, owner);
        self.setup_wmarks();
        Ok(())
    }

    /// The fallback order of every node: `build_zonelists()` for node ids
    /// in order with a shared `node_load[]`, candidates the private nodes.
    fn node_orders(&self) -> Vec<Vec<usize>> {
        let private: Vec<bool> = (0..NODES).map(|n| self.is_private(n)).collect();
        let mut load = [0u32; NODES];
        let mut orders = Vec::with_capacity(NODES);
        for local in 0..NODES {
            let mut used = [false; NODES];
            let mut order: Vec<usize> = Vec::new();
            let mut prev = local;
            loop {
                let next = if !used[local] && private[local] {
                    Some(local)
                } else {
                    (0..NODES)
                        .filter(|&n| !used[n] && private[n])
                        .map(|n| {
                            let d = u32::from(self.dist[local][n]) + u32::from(n < local);
                            (d * NODES as u32 + load[n], n)
                        })
                        .min()
                        .map(|(_, n)| n)
                };
                let Some(n) = next else { break };
                used[n] = true;
                if local < self.nr_node_ids && self.dist[local][n] != self.dist[local][prev] {
                    load[n] += 1;
                }
                order.push(n);
                prev = n;
            }
            orders.push(order);
        }
        orders
    }

    /// The zones of the request's zonelist, in order.
    fn zonelist(
        &self,
        orders: &[Vec<usize>],
        nid: usize,
        private: bool,
        thisnode: bool,
    ) -> Vec<(u8, u8)> {
        let nodes: Vec<usize> = if private {
            let o = self.owner.get(&(nid as u8));
            orders[nid]
                .iter()
                .copied()
                .filter(|n| self.owner.get(&(*n as u8)) == o)
                .collect()
        } else if thisnode {
            vec![nid]
        } else {
            orders[nid].clone()
        };
        let mut zl = Vec::new();
        for n in nodes {
            let pop = self.populated(n as u8);
            for zt in [1u8, 0] {
                if pop & (1 << zt) != 0 {
                    zl.push((n as u8, zt));
                }
            }
        }
        zl
    }

    /// `rmqueue()`: pcp for small orders, then the buddy.
    fn rmqueue(&mut self, key: (u8, u8), order: u32, mt: usize, f: Flags) -> Option<Pfn> {
        let cpu = self.cpu;
        let out = &self.out;
        let lru = |p: Pfn| {
            out.range(..=p)
                .next_back()
                .is_some_and(|(&h, o)| o.movable && p < h + (1 << o.order))
        };
        let z = self.zones.get_mut(&key)?;
        let mut page = None;
        if order <= COSTLY {
            let pi = order as usize * 3 + mt;
            z.pcp[cpu].free_count >>= 1;
            let mut skip = false;
            let empty = z.pcp[cpu].lists[pi].is_empty();
            z.pcp[cpu].stat[if empty { 1 } else { 0 }] += 1;
            if empty && !f.highatomic {
                // nr_pcp_alloc()
                let pcp = &mut z.pcp[cpu];
                let (high, base) = (pcp.high, pcp.batch);
                let batch = if high < base {
                    1
                } else {
                    let mut b = if order != 0 {
                        base
                    } else {
                        base << pcp.alloc_factor
                    };
                    if order == 0 {
                        let max_nr = high.saturating_sub(pcp.count + base).max(base);
                        if b <= max_nr && pcp.alloc_factor < PCP_SCALE_MAX {
                            pcp.alloc_factor += 1;
                        }
                        b = b.min(max_nr);
                    }
                    if b > 1 {
                        b = (b >> order).max(2);
                    }
                    b
                };
                // rmqueue_bulk()
                let mut mode = 0u8;
                let mut n = 0;
                while n < batch {
                    let Some(p) = z.rmqueue(order, mt, false, &mut mode, &lru) else {
                        break;
                    };
                    z.stat[0] += 1;
                    if z.pcp[cpu].entries() == PCP_CAPACITY {
                        z.free_pages(p, order);
                        break;
                    }
                    z.pcp[cpu].lists[pi].push_back(p);
                    n += 1;
                }
                z.pcp[cpu].count += n << order;
                z.pcp[cpu].stat[2] += 1;
            } else if z.pcp[cpu].lists[pi].is_empty() {
                skip = true;
            }
            if !skip {
                if let Some(p) = z.pcp[cpu].lists[pi].pop_front() {
                    z.pcp[cpu].count -= 1 << order;
                    page = Some(p);
                }
            }
        }
        if page.is_none() {
            // rmqueue_buddy()
            if f.highatomic {
                page = z.smallest(order, HIGHATOMIC);
            }
            if page.is_none() {
                let mut mode = 0u8;
                page = z.rmqueue(order, mt, false, &mut mode, &lru);
                if page.is_none() && f.non_block {
                    page = z.smallest(order, HIGHATOMIC);
                }
            }
            if let Some(p) = page {
                z.stat[0] += 1;
                if f.highatomic && f.wmark == 0 {
                    z.reserve_ha(p, order);
                }
            }
        }
        let p = page?;
        self.out.insert(
            p,
            Out {
                order,
                movable: mt == MOVABLE,
                zone: key,
            },
        );
        Some(p)
    }

    fn eligible(z: (u8, u8), highest: u8, mask: Option<u64>) -> bool {
        z.1 <= highest && mask.is_none_or(|m| m & (1 << z.0) != 0)
    }

    /// `get_page_from_freelist()` (ALLOC_NOFRAGMENT is never set on a
    /// private node, so there is no retry).
    fn gpff(
        &mut self,
        zl: &[(u8, u8)],
        highest: u8,
        mask: Option<u64>,
        order: u32,
        mt: usize,
        f: Flags,
    ) -> Option<(u8, u8, Pfn)> {
        for &z in zl {
            if !Self::eligible(z, highest, mask) {
                continue;
            }
            if !self
                .zones
                .get_mut(&z)
                .is_some_and(|mz| mz.watermark_ok(order, f))
            {
                continue;
            }
            if let Some(p) = self.rmqueue(z, order, mt, f) {
                return Some((z.0, z.1, p));
            }
        }
        None
    }

    fn unreserve(
        &mut self,
        zl: &[(u8, u8)],
        highest: u8,
        mask: Option<u64>,
        mt: usize,
        force: bool,
    ) -> bool {
        for &z in zl {
            if Self::eligible(z, highest, mask)
                && self
                    .zones
                    .get_mut(&z)
                    .is_some_and(|mz| mz.unreserve_ha(mt, force))
            {
                return true;
            }
        }
        false
    }

    /// `__alloc_frozen_pages_noprof()` with pnalloc's slow path.
    pub fn alloc(&mut self, r: &MReq) -> AllocResult {
        let g = r.gfp;
        let inval = Err(MFail::Invalid(CoreError::Invalid));
        if r.order > MAX_ORDER || g & G_NOFAIL != 0 {
            return inval;
        }
        if r.alloc_flags & !(A_NOLOCK | A_NO_CODETAG) != 0 {
            return inval;
        }
        let nolock = r.alloc_flags & A_NOLOCK != 0;
        let blocking = g & G_DIRECT_RECLAIM != 0;
        if nolock && (blocking || r.order > COSTLY) {
            return inval;
        }
        let mt = match g & (G_MOVABLE | G_RECLAIMABLE) {
            0 => UNMOVABLE,
            G_MOVABLE => MOVABLE,
            G_RECLAIMABLE => RECLAIMABLE,
            _ => return inval,
        };
        if g & (G_DMA | G_DMA32) != 0 {
            return inval;
        }
        let highest = u8::from(g & (G_MOVABLE | G_HIGHMEM) == G_MOVABLE | G_HIGHMEM);
        let nomem = Err(MFail::NoMemory {
            warn: g & G_NOWARN == 0,
        });
        let orders = self.node_orders();
        let nid = if r.nid == -1 {
            match usize::try_from(r.local_nid)
                .ok()
                .and_then(|l| orders.get(l))
                .and_then(|o| o.first())
            {
                Some(&n) => n,
                None => return nomem,
            }
        } else {
            match usize::try_from(r.nid) {
                Ok(n) if self.is_private(n) => n,
                _ => return Err(MFail::Invalid(CoreError::NotFound)),
            }
        };
        if !self.is_private(nid) {
            return Err(MFail::Invalid(CoreError::NotFound));
        }
        let zl = self.zonelist(&orders, nid, r.private, g & G_THISNODE != 0);
        let mask = r.mask;
        let order = r.order;
        let nonblock = !blocking && g & G_NOMEMALLOC == 0 && !nolock;
        let fast = Flags {
            wmark: if nolock { 0 } else { 1 },
            min_reserve: false,
            non_block: false,
            highatomic: nonblock && order > 0 && g & G_HIGH != 0,
            nolock,
        };
        if let Some((n, z, p)) = self.gpff(&zl, highest, mask, order, mt, fast) {
            return Ok((n, z, p, 0));
        }
        if nolock {
            return nomem;
        }
        let mut slow = Flags {
            wmark: 0,
            min_reserve: g & G_HIGH != 0,
            non_block: nonblock,
            highatomic: nonblock && order > 0 && g & G_HIGH != 0,
            nolock,
        };
        if let Some((n, z, p)) = self.gpff(&zl, highest, mask, order, mt, slow) {
            return Ok((n, z, p, 1));
        }
        if g & G_MEMALLOC != 0 && g & G_NOMEMALLOC == 0 {
            slow = Flags {
                wmark: 3,
                min_reserve: false,
                non_block: false,
                highatomic: false,
                nolock,
            };
            if let Some((n, z, p)) = self.gpff(&zl, highest, mask, order, mt, slow) {
                return Ok((n, z, p, 1));
            }
        }
        if !blocking {
            return nomem;
        }
        self.unreserve(&zl, highest, mask, mt, false);
        for z in &zl {
            if let Some(mz) = self.zones.get_mut(z) {
                mz.drain_all();
            }
        }
        if let Some((n, z, p)) = self.gpff(&zl, highest, mask, order, mt, slow) {
            return Ok((n, z, p, 2));
        }
        if g & G_NORETRY != 0 || (order > COSTLY && !(g & G_RETRY_MAYFAIL != 0 && g & G_IO != 0)) {
            return nomem;
        }
        while self.unreserve(&zl, highest, mask, mt, true) {
            if let Some((n, z, p)) = self.gpff(&zl, highest, mask, order, mt, slow) {
                return Ok((n, z, p, 3));
            }
        }
        nomem
    }

    fn zone_of(&self, pfn: Pfn) -> Option<(u8, u8)> {
        self.zones
            .iter()
            .find(|(_, z)| z.spans(pfn))
            .map(|(k, _)| *k)
    }

    /// `__free_pages()`: this CPU's pcp list of the pageblock's type, or
    /// the buddy.
    pub fn free(&mut self, pfn: Pfn) {
        let o = self
            .out
            .remove(&pfn)
            .expect("model: free of a block not out");
        let key = self.zone_of(pfn).expect("model: pfn in a zone");
        let cpu = self.cpu;
        let z = self.zones.get_mut(&key).expect("model: zone");
        let order = o.order;
        if order > COSTLY {
            z.free_pages(pfn, order);
            return;
        }
        let mut mt = z.pb_type(pfn);
        if mt == HIGHATOMIC {
            mt = MOVABLE;
        }
        let pi = order as usize * 3 + mt;
        z.pcp[cpu].alloc_factor >>= 1;
        if z.pcp[cpu].entries() == PCP_CAPACITY {
            z.free_pages(pfn, order);
            return;
        }
        let pcp = &mut z.pcp[cpu];
        pcp.lists[pi].push_front(pfn);
        pcp.count += 1 << order;
        pcp.stat[4] += 1;
        if pcp.free_count < pcp.batch << PCP_SCALE_MAX {
            pcp.free_count += 1 << order;
        }
        if pcp.count >= pcp.high {
            // nr_pcp_free()
            let mut to_free = if pcp.high < pcp.batch {
                1
            } else {
                pcp.free_count
                    .clamp(pcp.batch, pcp.batch.max(pcp.high - pcp.batch))
            };
            while to_free > 0 && z.pcp[cpu].count > 0 {
                let b = to_free.min(z.pcp[cpu].batch.max(1));
                z.pcp_bulk(cpu, b, pi);
                to_free -= b;
            }
        }
    }

    pub fn drain_all(&mut self) {
        for z in self.zones.values_mut() {
            z.drain_all();
        }
    }

    /// Memory failure on `pfn`: `take_page_off_buddy()` in its zone.
    pub fn take_off(&mut self, pfn: Pfn) -> bool {
        let Some(key) = self.zone_of(pfn) else {
            return false;
        };
        self.zones.get_mut(&key).is_some_and(|z| z.take_off(pfn))
    }

    /// Unpoison: `put_page_back_buddy()` in the zone of `pfn`.
    pub fn put_back(&mut self, pfn: Pfn) -> bool {
        let Some(key) = self.zone_of(pfn) else {
            return false;
        };
        self.zones.get_mut(&key).is_some_and(|z| z.put_back(pfn))
    }

    /// A block handed out comes back, straight to the buddy, but for
    /// `bad`, which memory failure hit while it was out.
    pub fn free_except(&mut self, pfn: Pfn, bad: Pfn) -> Result<(), CoreError> {
        let o = *self.out.get(&pfn).expect("model: free of a block not out");
        if bad < pfn || bad >= pfn + (1 << o.order) {
            return Err(CoreError::Invalid);
        }
        self.out.remove(&pfn);
        let z = self.zones.get_mut(&o.zone).expect("model: zone");
        z.free_pages_except(pfn, o.order, bad);
        Ok(())
    }

    /// New `high` and `batch` for every pcp of every zone there is.
    pub fn set_pcp(&mut self, high: u32, batch: u32) {
        for z in self.zones.values_mut() {
            for p in z.pcp.iter_mut() {
                p.high = high;
                p.batch = batch;
            }
        }
    }
}
