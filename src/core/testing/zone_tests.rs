// SPDX-License-Identifier: GPL-2.0

//! Unit tests of one zone: split, merge, fallback, watermarks, reserves,
//! ranges. Expected values are computed by hand from `mm/page_alloc.c`.

use super::super::{
    alloc_flags::{AllocFlags, Watermark},
    zone::{FallbackResult, RmqueueMode},
    PAGEBLOCK_NR_PAGES,
};
use super::*;

const BASE: Pfn = 0x100000;

fn zone(nr: u64) -> Zone<VecStore> {
    let mut z = Zone::new(1, ZoneType::Normal, VecStore::default());
    z.add_range(BASE, nr).unwrap();
    z
}

fn check(z: Zone<VecStore>, allocated: &[(Pfn, u32)]) -> Zone<VecStore> {
    let mut inst = Instance::new(1);
    inst.allocated = allocated.iter().copied().collect();
    inst.zones.insert(
        (1, 0),
        TestZone {
            zone: z,
            pcp: vec![PerCpuPages::new()],
        },
    );
    check_invariants(&inst);
    inst.zones.remove(&(1, 0)).unwrap().zone
}

#[test]
fn add_range_frees_max_order_blocks_and_sets_watermarks() {
    let z = zone(4096);
    assert_eq!(z.nr_free_pages, 4096);
    assert_eq!(z.nr_free_per_order()[10], 4);
    assert_eq!(z.nr_free_per_order_mt(MigrateType::Movable)[10], 4);
    assert_eq!(z.pageblock_counts(), [0, 8, 0, 0]);
    // 16384 KiB -> min_free_kbytes 4*sqrt = 512 KiB = 128 pages; gap max(32, 4).
    assert_eq!(z.watermark, [128, 160, 192]);
    check(z, &[]);
}

#[test]
fn bad_ranges_are_refused_and_change_nothing() {
    let mut z = zone(4096);
    assert_eq!(z.add_range(BASE + 512, 1024), Err(CoreError::Invalid));
    assert_eq!(z.add_range(BASE + 4096, 100), Err(CoreError::Invalid));
    assert_eq!(z.add_range(BASE + 1024, 1024), Err(CoreError::Exists));
    assert_eq!(z.add_range(u64::MAX - 1023, 1024), Err(CoreError::Range));
    assert_eq!(z.remove_range(BASE + 1024), Err(CoreError::NotFound));
    assert_eq!(z.managed_pages, 4096);
    check(z, &[]);
}

#[test]
fn pageblock_state_finds_only_the_free_block_that_covers_it() {
    let mut z = zone(4096);
    let a = z.rmqueue_smallest(9, MigrateType::Movable).unwrap();
    let b = z.rmqueue_smallest(9, MigrateType::Movable).unwrap();
    assert_eq!((a, b), (BASE, BASE + 512));
    let mut z = check(z, &[(a, 9), (b, 9)]);
    z.free_pages(a, 9);
    // A free order-9 block just below does not cover the allocated one.
    assert_eq!(z.pageblock_state(a), (MigrateType::Movable, 512));
    assert_eq!(z.pageblock_state(b), (MigrateType::Movable, 0));
    let mut z = check(z, &[(b, 9)]);
    z.free_pages(b, 9);
    check(z, &[]);
}

#[test]
fn split_then_merge_restores_max_order() {
    let mut z = zone(4096);
    let pfn = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    assert_eq!(pfn, BASE);
    assert_eq!(z.nr_free_pages, 4095);
    // expand() left one block of each order 0..=9 and three order-10 blocks.
    assert_eq!(z.nr_free_per_order(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    // The order-0 remainder is the buddy of the allocated page.
    assert_eq!(
        z.free_area[0].free_list[MigrateType::Movable.index()].first(),
        Some(BASE + 1)
    );
    // What debugfs pageblocks shows: the first pageblock lacks one page.
    assert_eq!(z.pageblock_state(BASE + 511), (MigrateType::Movable, 511));
    assert_eq!(z.pageblock_state(BASE + 512), (MigrateType::Movable, 512));
    let mut z = check(z, &[(pfn, 0)]);
    z.free_pages(pfn, 0);
    assert_eq!(z.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    assert_eq!(z.pageblock_state(BASE), (MigrateType::Movable, 512));
    // The second pageblock of a free order-10 block: its head is in the first.
    assert_eq!(
        z.pageblock_state(BASE + 3 * 512),
        (MigrateType::Movable, 512)
    );
    check(z, &[]);
}

#[test]
fn remove_range_refuses_busy_and_then_succeeds() {
    let mut z = zone(2048);
    z.add_range(BASE + 4096, 1024).unwrap();
    let pfn = z.rmqueue_smallest(3, MigrateType::Movable).unwrap();
    assert_eq!(pfn, BASE);
    assert_eq!(z.remove_range(BASE), Err(CoreError::Busy));
    assert_eq!(z.managed_pages, 3072);
    assert_eq!(z.nr_free_pages, 3064);
    let mut z = check(z, &[(pfn, 3)]);
    // The other range goes even while this one is busy.
    z.remove_range(BASE + 4096).unwrap();
    assert_eq!((z.managed_pages, z.nr_free_pages), (2048, 2040));
    z.free_pages(pfn, 3);
    z.remove_range(BASE).unwrap();
    assert_eq!((z.managed_pages, z.nr_free_pages), (0, 0));
    assert_eq!(z.watermark, [0, 0, 0]);
    check(z, &[]);
}

#[test]
fn unmovable_claims_the_largest_movable_block() {
    let mut z = zone(4096);
    let mut mode = RmqueueMode::Normal;
    let flags = AllocFlags {
        nofragment: true,
        ..AllocFlags::DEFAULT
    };
    let pfn = z
        .rmqueue(0, MigrateType::Unmovable, flags, &mut mode)
        .unwrap();
    assert_eq!(pfn, BASE);
    assert_eq!(z.stat.fallback_claim, 1);
    // The whole order-10 block (two pageblocks) became unmovable.
    assert_eq!(z.pageblock_counts(), [2, 6, 0, 0]);
    assert_eq!(
        z.nr_free_per_order_mt(MigrateType::Unmovable),
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    );
    // The next one is a plain hit on the unmovable lists.
    let next = z
        .rmqueue(0, MigrateType::Unmovable, flags, &mut mode)
        .unwrap();
    assert_eq!(next, BASE + 1);
    assert_eq!(z.stat.fallback_claim, 1);
    check(z, &[(pfn, 0), (next, 0)]);
}

#[test]
fn small_movable_allocation_steals_without_claiming() {
    let mut z = zone(1024);
    // Make both pageblocks unmovable, all in order-3 blocks handed out.
    let mut out = Vec::new();
    while let Some(p) = z.rmqueue_buddy(3, MigrateType::Unmovable, AllocFlags::DEFAULT) {
        out.push(p);
    }
    assert_eq!(out.len(), 128);
    assert_eq!(z.pageblock_counts(), [2, 0, 0, 0]);
    let freed = out.pop().unwrap();
    z.free_pages(freed, 3);
    assert_eq!(
        z.find_suitable_fallback(3, MigrateType::Movable, true),
        FallbackResult::NoClaim
    );
    assert_eq!(
        z.find_suitable_fallback(3, MigrateType::Movable, false),
        FallbackResult::Found(MigrateType::Unmovable)
    );
    let mut mode = RmqueueMode::Normal;
    let pfn = z
        .rmqueue(0, MigrateType::Movable, AllocFlags::DEFAULT, &mut mode)
        .unwrap();
    assert_eq!(pfn, freed);
    assert_eq!(mode, RmqueueMode::Steal);
    // One claim made the pageblocks unmovable in the first place; this
    // allocation only stole.
    assert_eq!((z.stat.fallback_steal, z.stat.fallback_claim), (1, 1));
    // The pageblock stays unmovable; the split remainder is on its lists.
    assert_eq!(z.pageblock_counts(), [2, 0, 0, 0]);
    assert_eq!(
        z.nr_free_per_order_mt(MigrateType::Unmovable)[..3],
        [1, 1, 1]
    );
    // ALLOC_NOFRAGMENT forbids the steal.
    let nf = AllocFlags {
        nofragment: true,
        ..AllocFlags::DEFAULT
    };
    let mut mode = RmqueueMode::Normal;
    assert_eq!(z.rmqueue(3, MigrateType::Movable, nf, &mut mode), None);
    let mut allocated: Vec<(Pfn, u32)> = out.iter().map(|&p| (p, 3)).collect();
    allocated.push((pfn, 0));
    check(z, &allocated);
}

#[test]
fn watermark_rules() {
    let mut z = zone(4096);
    let mut out = Vec::new();
    // Leave exactly 129 pages free, all order 0 on the movable lists.
    while z.nr_free_pages > 129 {
        out.push((z.rmqueue_smallest(0, MigrateType::Movable).unwrap(), 0));
    }
    let min = z.wmark_pages(Watermark::Min).unwrap();
    assert_eq!(min, 128);
    let base = AllocFlags {
        wmark: Watermark::Min,
        ..AllocFlags::DEFAULT
    };
    assert!(z.watermark_ok(0, min, base));
    out.push((z.rmqueue_smallest(0, MigrateType::Movable).unwrap(), 0));
    assert!(!z.watermark_ok(0, min, base));
    // __GFP_HIGH: half the min reserve (64); non-blocking: a further quarter (48).
    let high = AllocFlags {
        min_reserve: true,
        ..base
    };
    assert!(z.watermark_ok(0, min, high));
    while z.nr_free_pages > 65 {
        out.push((z.rmqueue_smallest(0, MigrateType::Movable).unwrap(), 0));
    }
    assert!(z.watermark_ok(0, min, high));
    out.push((z.rmqueue_smallest(0, MigrateType::Movable).unwrap(), 0));
    assert!(!z.watermark_ok(0, min, high));
    let atomic = AllocFlags {
        non_block: true,
        ..high
    };
    assert!(z.watermark_ok(0, min, atomic));
    check(z, &out);
}

#[test]
fn highatomic_reserve_needs_a_zone_of_a_hundred_pageblocks() {
    // 1% of 4096 pages is 40, less than a pageblock: 7.3 reserves nothing.
    let mut z = zone(4096);
    let pfn = z
        .rmqueue_buddy(2, MigrateType::Movable, AllocFlags::DEFAULT)
        .unwrap();
    z.reserve_highatomic_pageblock(pfn, 2);
    assert_eq!(z.nr_reserved_highatomic, 0);
    assert_eq!(z.pageblock_counts(), [0, 8, 0, 0]);
    // 51200 pages is the smallest zone whose 1% is a pageblock; 50176 is not.
    let mut z = zone(50176);
    z.reserve_highatomic_pageblock(BASE, 2);
    assert_eq!(z.nr_reserved_highatomic, 0);
    let mut z = zone(51200);
    z.reserve_highatomic_pageblock(BASE, 2);
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    check(z, &[]);
}

#[test]
fn highatomic_reserve_is_capped_and_given_back() {
    // 65536 pages: 1% is 655, rounded up to two pageblocks.
    let mut z = zone(65536);
    let flags = AllocFlags {
        wmark: Watermark::Min,
        highatomic: true,
        non_block: true,
        min_reserve: true,
        ..AllocFlags::DEFAULT
    };
    // rmqueue_buddy() reserves the pageblock of a slow-path atomic block.
    // The unmovable request first claimed a whole order-10 block (two
    // pageblocks); the first of them becomes the reserve.
    let a = z.rmqueue_buddy(2, MigrateType::Unmovable, flags).unwrap();
    assert_eq!(a, BASE);
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    assert_eq!(z.pageblock_counts(), [1, 126, 0, 1]);
    assert_eq!(z.nr_free_highatomic, 508);
    assert_eq!(z.stat.highatomic_reserved, 1);
    // The next one comes out of the reserve and reserves nothing more.
    let b = z.rmqueue_buddy(2, MigrateType::Unmovable, flags).unwrap();
    assert_eq!(b, BASE + 4);
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    // Not at WMARK_MIN (the fast path): served from the reserve, no new one.
    let low = AllocFlags {
        wmark: Watermark::Low,
        ..flags
    };
    let c = z.rmqueue_buddy(2, MigrateType::Unmovable, low).unwrap();
    assert_eq!(c, BASE + 8);
    // Without ALLOC_HIGHATOMIC: the request's own type, no reserve.
    let plain_min = AllocFlags {
        highatomic: false,
        ..flags
    };
    let d = z.rmqueue_buddy(1, MigrateType::Movable, plain_min).unwrap();
    assert_eq!(d, BASE + 1024);
    assert_eq!(z.stat.highatomic_reserved, 1);
    // A block of a pageblock or more reserves every pageblock it covers.
    let e = z.rmqueue_buddy(9, MigrateType::Movable, flags).unwrap();
    assert_eq!(e, BASE + 1536);
    assert_eq!(z.nr_reserved_highatomic, 2 * PAGEBLOCK_NR_PAGES);
    assert_eq!(z.pageblock_counts(), [1, 125, 0, 2]);
    // 1% of 65536, rounded up to pageblocks, is two: the cap is reached.
    let f = z.rmqueue_buddy(2, MigrateType::Movable, plain_min).unwrap();
    z.reserve_highatomic_pageblock(f, 2);
    assert_eq!(
        z.nr_reserved_highatomic,
        2 * PAGEBLOCK_NR_PAGES,
        "cap reached"
    );
    assert_eq!(z.stat.highatomic_reserved, 2);
    // Without ALLOC_RESERVES the free highatomic pages do not count.
    let plain = AllocFlags {
        wmark: Watermark::Min,
        ..AllocFlags::DEFAULT
    };
    assert_eq!(z.nr_free_highatomic, 512 - 4 - 4 - 4);
    let usable = z.nr_free_pages - z.nr_free_highatomic;
    assert!(z.watermark_ok(0, usable - 1, plain));
    assert!(!z.watermark_ok(0, usable, plain));
    assert!(z.watermark_ok(0, usable, flags));
    // Unreserve gives one pageblock back; the last one only when forced.
    assert!(z.unreserve_highatomic_pageblock(MigrateType::Movable, false));
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    assert_eq!(z.stat.highatomic_unreserved, 1);
    assert_eq!(z.pageblock_counts(), [1, 126, 0, 1]);
    assert_eq!(z.nr_free_highatomic, 0);
    // The order-9 reserve is all handed out: nothing to give back, even forced.
    assert!(!z.unreserve_highatomic_pageblock(MigrateType::Movable, false));
    assert!(!z.unreserve_highatomic_pageblock(MigrateType::Movable, true));
    let out = [(a, 2), (b, 2), (c, 2), (d, 1), (e, 9), (f, 2)];
    let mut z = check(z, &out);
    z.free_pages(e, 9);
    assert_eq!(z.nr_free_highatomic, 512);
    assert!(
        !z.unreserve_highatomic_pageblock(MigrateType::Unmovable, false),
        "last block kept"
    );
    assert!(z.unreserve_highatomic_pageblock(MigrateType::Unmovable, true));
    assert_eq!((z.nr_reserved_highatomic, z.nr_free_highatomic), (0, 0));
    assert_eq!(z.pageblock_counts(), [2, 126, 0, 0]);
    check(z, &[(a, 2), (b, 2), (c, 2), (d, 1), (f, 2)]);
}

#[test]
fn zeroed_pcp_is_valid_and_empty() {
    // SAFETY: PerCpuPages documents all-zero bytes as a valid empty value.
    let mut p: PerCpuPages = unsafe { ::core::mem::zeroed() };
    assert_eq!((p.count, p.high, p.batch), (0, 0, 0));
    p.set_high_batch(6, 2).unwrap();
    assert_eq!(p.set_high_batch(600, 0), Err(CoreError::Range));
    let mut z = zone(1024);
    // high 6: the sixth free drains nr_pcp_free() = clamp(6, 2, 4) = 4 pages.
    let pfns: Vec<Pfn> = (0..6)
        .map(|_| z.rmqueue_smallest(0, MigrateType::Movable).unwrap())
        .collect();
    for (i, &pfn) in pfns.iter().enumerate() {
        assert!(crate::pcp::free_pcp(
            &mut p,
            &mut z,
            pfn,
            0,
            MigrateType::Movable,
            false
        ));
        assert_eq!(p.count, if i < 5 { i as u32 + 1 } else { 2 });
    }
    // Two free_pcppages_bulk() calls of one batch (2) each.
    assert_eq!(p.stat.drain, 2);
    p.drain(&mut z);
    assert_eq!((p.count, z.nr_free_pages), (0, 1024));
    check(z, &[]);
}

#[test]
fn watermarks_are_each_zones_share_of_min_free_kbytes() {
    let params = crate::zone::WmarkParams {
        pages_min: 1000,
        lowmem_pages: 8192,
    };
    // ZONE_NORMAL of 4096 pages: half the lowmem, so half of pages_min;
    // the gap is a quarter of that share (more than 0.1% of the zone).
    let mut z = zone(4096);
    z.setup_per_zone_wmarks(params);
    assert_eq!(z.watermark, [500, 625, 750]);
    // ZONE_MOVABLE: min is 1/1024 of the zone clamped to 32..=128, the gap
    // still comes from the share (250 / 4).
    let mut m = Zone::new(1, ZoneType::Movable, VecStore::default());
    m.add_range(BASE + 0x10000, 2048).unwrap();
    m.setup_per_zone_wmarks(params);
    assert_eq!(m.watermark, [32, 94, 156]);
    m.add_range(BASE + 0x20000, 262144).unwrap();
    assert_eq!(m.wmark_params, Some(params), "kept across a resize");
    assert_eq!(m.watermark[0], 128);
    // A large zone's gap is 0.1% of it when that is more than the quarter.
    let mut big = zone(4096);
    big.setup_per_zone_wmarks(crate::zone::WmarkParams {
        pages_min: 4,
        lowmem_pages: 4096,
    });
    assert_eq!(big.watermark, [4, 8, 12]);
    // No lowmem at all (a lone ZONE_MOVABLE): no share, no division by
    // zero; the gap is 0.1% of 1024 pages.
    let mut lone = Zone::new(1, ZoneType::Movable, VecStore::default());
    lone.add_range(BASE, 1024).unwrap();
    assert_eq!(lone.watermark, [32, 33, 34]);
    assert_eq!(crate::zone::calculate_min_free_kbytes(16384), 512);
    assert_eq!(crate::zone::calculate_min_free_kbytes(0), 128);
    assert_eq!(crate::zone::calculate_min_free_kbytes(1 << 40), 262_144);
}

/// Pageblock 0 of a 1024-page zone with an order-8 block and one page
/// handed out and 255 pages free; pageblock 1 handed out whole.
fn half_used_pageblock() -> (Zone<VecStore>, [Pfn; 3]) {
    let mut z = zone(1024);
    let a = z.rmqueue_smallest(8, MigrateType::Movable).unwrap();
    let b = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    let c = z.rmqueue_smallest(9, MigrateType::Movable).unwrap();
    assert_eq!([a, b, c], [BASE, BASE + 256, BASE + 512]);
    assert_eq!(z.nr_free_pages, 255);
    (z, [a, b, c])
}

#[test]
fn claims_count_movable_pages_one_by_one() {
    // 257 movable pages (every page of the order-8 block, and the single
    // page): an unmovable request may not claim the pageblock
    // (512 - 257 < 256) and steals instead.
    let (mut z, [a, b, c]) = half_used_pageblock();
    z.frames.lru.insert(a, 8);
    z.frames.lru.insert(b, 0);
    let mut mode = RmqueueMode::Normal;
    let p = z
        .rmqueue(0, MigrateType::Unmovable, AllocFlags::DEFAULT, &mut mode)
        .unwrap();
    assert_eq!((p, mode), (BASE + 257, RmqueueMode::Steal));
    assert_eq!((z.stat.fallback_claim, z.stat.fallback_steal), (0, 1));
    assert_eq!(z.pageblock_counts(), [0, 2, 0, 0]);
    check(z, &[(a, 8), (b, 0), (c, 9), (p, 0)]);
    // The single page is on a pcp list, not an LRU: 256 movable pages, and
    // the claim goes ahead.
    let (mut z, [a, b, c]) = half_used_pageblock();
    z.frames.lru.insert(a, 8);
    let mut mode = RmqueueMode::Normal;
    let p = z
        .rmqueue(0, MigrateType::Unmovable, AllocFlags::DEFAULT, &mut mode)
        .unwrap();
    assert_eq!((p, mode), (BASE + 257, RmqueueMode::Normal));
    assert_eq!((z.stat.fallback_claim, z.stat.fallback_steal), (1, 0));
    assert_eq!(z.pageblock_counts(), [1, 1, 0, 0]);
    check(z, &[(a, 8), (b, 0), (c, 9), (p, 0)]);
}

#[test]
fn names_and_small_accessors() {
    let names: Vec<&str> = MigrateType::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(names, ["Unmovable", "Movable", "Reclaimable", "HighAtomic"]);
    assert_eq!(MigrateType::from_index(4), None);
    assert_eq!(ZoneType::Normal.name(), "Normal");
    assert_eq!(ZoneType::Movable.name(), "Movable");
    let mut z = zone(1024);
    assert_eq!(z.wmark_pages(Watermark::High), Some(z.watermark[2]));
    assert_eq!(z.watermark, [64, 80, 96]);
    assert_eq!(z.wmark_pages(Watermark::None), None);
    assert!(z.spans(BASE + 1023) && !z.spans(BASE + 1024) && !z.spans(BASE - 1));
    let movable = &z.free_area[10].free_list[MigrateType::Movable.index()];
    assert_eq!((movable.first(), movable.last()), (Some(BASE), Some(BASE)));
    let a = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    let movable = &z.free_area[9].free_list[MigrateType::Movable.index()];
    assert_eq!(movable.last(), Some(BASE + 512));
    assert!(z.free_area[10].free_list[0].last().is_none());
    let mut p = PerCpuPages::new();
    assert!(crate::pcp::free_pcp(
        &mut p,
        &mut z,
        a,
        0,
        MigrateType::Movable,
        false
    ));
    assert_eq!(
        (
            p.list_len(0, MigrateType::Movable),
            p.list_len(0, MigrateType::Unmovable)
        ),
        (1, 0)
    );
    p.drain(&mut z);
    check(z, &[]);
}

/// A store with only the required methods: the default answers.
struct Bare;

impl FrameStore for Bare {
    fn get(&self, _pfn: Pfn) -> Option<&FrameMeta> {
        None
    }
    fn get_mut(&mut self, _pfn: Pfn) -> Option<&mut FrameMeta> {
        None
    }
    fn add_range(&mut self, _start: Pfn, _nr: u64) -> Result<(), CoreError> {
        Ok(())
    }
    fn remove_range(&mut self, _start: Pfn) -> Result<(), CoreError> {
        Ok(())
    }
}

#[test]
fn a_store_that_cannot_see_users_has_no_movable_pages() {
    assert!(!Bare.page_is_movable(BASE));
}

#[test]
fn pcp_high_and_batch_must_fit_the_table() {
    let mut p = PerCpuPages::new();
    assert_eq!((p.high, p.batch), (378, 63));
    // high + batch may fill the 512 slots exactly, never more.
    assert_eq!(p.set_high_batch(500, 12), Ok(()));
    assert_eq!(p.set_high_batch(501, 12), Err(CoreError::Range));
    assert_eq!(p.set_high_batch(12, 501), Err(CoreError::Range));
    assert_eq!(p.set_high_batch(0, 1), Ok(()));
    assert_eq!(p.set_high_batch(0, 0), Err(CoreError::Range));
    assert_eq!(p.set_high_batch(u32::MAX, 1), Err(CoreError::Range));
    assert_eq!(
        (p.high, p.batch),
        (0, 1),
        "a refused setting changes nothing"
    );
}

#[test]
fn a_zeroed_pcp_is_the_boot_pageset() {
    // SAFETY: PerCpuPages documents all-zero bytes as a valid empty value.
    let mut p: PerCpuPages = unsafe { ::core::mem::zeroed() };
    let mut z = zone(1024);
    let a = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    // high 0, batch treated as 1: the free is drained at once.
    assert!(crate::pcp::free_pcp(
        &mut p,
        &mut z,
        a,
        0,
        MigrateType::Movable,
        false
    ));
    assert_eq!((p.count, p.stat.drain, z.nr_free_pages), (0, 1, 1024));
    // A refill takes one block.
    assert_eq!(p.nr_pcp_alloc(0), 1);
    check(z, &[]);
}

/// The edges of `nr_pcp_alloc()` and `nr_pcp_free()` in 7.3: `high ==
/// batch` is a working pageset (only `high < batch` is the boot one), and
/// `alloc_factor` grows only while the scaled batch fits and it is below
/// `CONFIG_PCP_BATCH_SCALE_MAX`.
#[test]
fn pcp_batch_edges_match_the_kernel() {
    use crate::pcp::PCP_BATCH_SCALE_MAX;

    let mut p = PerCpuPages::new();
    p.set_high_batch(8, 8).unwrap();
    // max_nr_alloc = max(8 - 0 - 8, 8) = 8: 8 fits, the factor grows.
    assert_eq!((p.nr_pcp_alloc(0), p.alloc_factor), (8, 1));
    // batch 16 > max_nr_alloc 8: clamped, and the factor stays.
    assert_eq!((p.nr_pcp_alloc(0), p.alloc_factor), (8, 1));
    // free_count 0 clamps up to batch: 8 pages, not the boot pageset's 1.
    assert_eq!(p.nr_pcp_free(), 8);

    let mut p = PerCpuPages::new();
    p.set_high_batch(400, 2).unwrap();
    p.alloc_factor = PCP_BATCH_SCALE_MAX;
    // 2 << 5 = 64 fits in max(400 - 2, 2), but the factor is at its cap.
    assert_eq!(
        (p.nr_pcp_alloc(0), p.alloc_factor),
        (64, PCP_BATCH_SCALE_MAX)
    );
}

// ---- memory failure ----------------------------------------------------

/// Free blocks per order as a vector of (order, pfn - BASE) on each list.
fn free_heads(z: &Zone<VecStore>, mt: MigrateType) -> Vec<(u32, Pfn)> {
    let mut v = Vec::new();
    for order in 0..=MAX_PAGE_ORDER {
        let list = &z.free_area[order as usize].free_list[mt.index()];
        let mut p = list.head;
        for _ in 0..list.nr {
            v.push((order, p - BASE));
            p = z.frame(p).unwrap().next;
        }
    }
    v
}

#[test]
fn take_page_off_buddy_breaks_down_the_free_block() {
    let mut z = zone(2048);
    let bad = BASE + 341;
    assert!(z.is_free_buddy_page(bad));
    assert!(z.take_page_off_buddy(bad));
    assert!(!z.is_free_buddy_page(bad));
    // break_down_buddy_pages() of the first order-10 block around 341 =
    // 0b01_0101_0101: at each order the half without it goes back.
    assert_eq!(
        free_heads(&z, MigrateType::Movable),
        [
            (0, 340),
            (1, 342),
            (2, 336),
            (3, 344),
            (4, 320),
            (5, 352),
            (6, 256),
            (7, 384),
            (8, 0),
            (9, 512),
            (10, 1024)
        ]
    );
    assert_eq!(z.nr_free_per_order(), [1; 11]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2047, 1));
    assert_eq!(z.managed_pages, 2048);
    assert!(z.frame(bad).unwrap().hwpoison);
    let mut z = check(z, &[]);
    // Already withdrawn, or not in the zone: nothing changes.
    assert!(!z.take_page_off_buddy(bad));
    assert!(!z.take_page_off_buddy(BASE + 2048));
    assert!(!z.take_page_off_buddy(BASE - 1));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2047, 1));
    // Its order-0 buddy, itself a whole free block.
    assert!(z.take_page_off_buddy(BASE + 340));
    assert_eq!(z.nr_free_per_order(), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2046, 2));
    let mut z = check(z, &[]);
    // put_page_back_buddy(): 341 cannot merge with the withdrawn 340 ...
    assert!(z.put_page_back_buddy(bad));
    assert!(!z.put_page_back_buddy(bad));
    assert_eq!(free_heads(&z, MigrateType::Movable)[0], (0, 341));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2047, 1));
    // ... and with 340 back, everything merges into the order-10 block.
    assert!(z.put_page_back_buddy(BASE + 340));
    assert_eq!(z.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2048, 0));
    check(z, &[]);
}

#[test]
fn take_page_off_buddy_keeps_the_list_type() {
    let mut z = zone(1024);
    let pfn = z
        .rmqueue_buddy(0, MigrateType::Unmovable, AllocFlags::DEFAULT)
        .unwrap();
    // The claim made both pageblocks unmovable; the pieces stay unmovable.
    assert_eq!(z.pageblock_counts(), [2, 0, 0, 0]);
    assert!(z.take_page_off_buddy(BASE + 600));
    assert_eq!(z.nr_free_per_order_mt(MigrateType::Movable), [0; 11]);
    // The order-9 block at 512 broken down around 600 = 512 + 0b101_1000;
    // each piece goes to the head of its list, before the pieces of the
    // claim's expand().
    assert_eq!(
        free_heads(&z, MigrateType::Unmovable),
        [
            (0, 601),
            (0, 1),
            (1, 602),
            (1, 2),
            (2, 604),
            (2, 4),
            (3, 592),
            (3, 8),
            (4, 576),
            (4, 16),
            (5, 608),
            (5, 32),
            (6, 512),
            (6, 64),
            (7, 640),
            (7, 128),
            (8, 768),
            (8, 256)
        ]
    );
    assert_eq!(z.nr_free_pages, 1022);
    check(z, &[(pfn, 0)]);
}

#[test]
fn allocated_and_pcp_pages_cannot_be_taken_off() {
    let mut z = zone(1024);
    let mut p = PerCpuPages::new();
    // The refill takes nr_pcp_alloc() = 63 pages, BASE..BASE+63 in
    // physical order, and hands out the first.
    let pfn =
        crate::pcp::rmqueue_pcplist(&mut p, &mut z, 0, MigrateType::Movable, AllocFlags::DEFAULT)
            .unwrap();
    assert_eq!((pfn, p.count, z.nr_free_pages), (BASE, 62, 961));
    assert!(!z.take_page_off_buddy(BASE), "handed out");
    assert!(!z.take_page_off_buddy(BASE + 1), "on the pcp list");
    assert!(!z.take_page_off_buddy(BASE + 62), "on the pcp list");
    assert!(!z.is_free_buddy_page(BASE + 1));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (961, 0));
    // The first free page, an order-0 block of its own.
    assert!(z.take_page_off_buddy(BASE + 63));
    assert_eq!(z.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (960, 1));
    // Drained, pages 1..=62 merge up to the handed-out page 0 and the
    // withdrawn page 63, no further: 1, 2-3, 4-7, 8-15, 16-31 and 32-47,
    // 48-55, 56-59, 60-61, 62.
    p.drain(&mut z);
    assert_eq!(z.nr_free_per_order(), [2, 2, 2, 2, 2, 0, 1, 1, 1, 1, 0]);
    assert_eq!(z.nr_free_pages, 1022);
    // What the kernel layer does after draining: try again.
    assert!(z.take_page_off_buddy(BASE + 1));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1021, 2));
    check(z, &[(pfn, 0)]);
}

#[test]
fn free_pages_except_withdraws_the_bad_page() {
    let mut z = zone(1024);
    let pfn = z.rmqueue_smallest(3, MigrateType::Movable).unwrap();
    assert_eq!(pfn, BASE);
    let freed = z.stat.freed_blocks;
    // Refused, and nothing changes: bad pfn outside the block, a
    // misaligned block, an order too large.
    assert_eq!(
        z.free_pages_except(pfn, 3, BASE + 8),
        Err(CoreError::Invalid)
    );
    assert_eq!(
        z.free_pages_except(pfn + 1, 3, BASE + 5),
        Err(CoreError::Invalid)
    );
    assert_eq!(
        z.free_pages_except(pfn, 11, BASE + 5),
        Err(CoreError::Invalid)
    );
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1016, 0));
    z.free_pages_except(pfn, 3, BASE + 5).unwrap();
    // [0, 8) broken down around 5: 0-3, 6-7, 4, to the list heads, next
    // to the free 8-15 without merging.
    assert_eq!(
        &free_heads(&z, MigrateType::Movable)[..4],
        [(0, 4), (1, 6), (2, 0), (3, 8)]
    );
    assert_eq!(z.nr_free_per_order(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1023, 1));
    assert_eq!(z.stat.freed_blocks, freed, "no __free_one_page()");
    // Neither a block with the withdrawn page nor a free block can be
    // freed again: their pages would be counted twice.
    assert_eq!(
        z.free_pages_except(BASE + 4, 2, BASE + 5),
        Err(CoreError::Invalid)
    );
    assert_eq!(
        z.free_pages_except(BASE + 8, 3, BASE + 9),
        Err(CoreError::Invalid)
    );
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1023, 1));
    check(z, &[]);
}

#[test]
fn free_pages_except_frees_other_pageblocks_whole() {
    let mut z = zone(2048);
    let pfn = z.rmqueue_smallest(10, MigrateType::Movable).unwrap();
    assert_eq!(pfn, BASE);
    let freed = z.stat.freed_blocks;
    z.free_pages_except(pfn, 10, BASE + 1023).unwrap();
    // The first pageblock goes back whole (one __free_one_page(), whose
    // buddy is the second); the second is broken down around 1023.
    assert_eq!(
        free_heads(&z, MigrateType::Movable),
        [
            (0, 1022),
            (1, 1020),
            (2, 1016),
            (3, 1008),
            (4, 992),
            (5, 960),
            (6, 896),
            (7, 768),
            (8, 512),
            (9, 0),
            (10, 1024)
        ]
    );
    assert_eq!(z.stat.freed_blocks, freed + 1);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2047, 1));
    let mut z = check(z, &[]);
    assert!(z.put_page_back_buddy(BASE + 1023));
    assert_eq!(z.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2048, 0));
    check(z, &[]);
}

#[test]
fn neighbours_do_not_merge_across_a_withdrawn_page() {
    let mut z = zone(1024);
    let a = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    assert_eq!(a, BASE);
    // BASE + 1 is the order-0 remainder of the split; it is withdrawn ...
    assert!(z.take_page_off_buddy(BASE + 1));
    assert_eq!(z.nr_free_per_order(), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    // ... so its buddy, freed later, stays an order-0 block.
    z.free_pages(a, 0);
    assert_eq!(z.nr_free_per_order(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!(free_heads(&z, MigrateType::Movable)[0], (0, 0));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1023, 1));
    let mut z = check(z, &[]);
    // The same from the other side: an order-0 block whose buddy is kept
    // back by free_pages_except().
    let b = z.rmqueue_smallest(1, MigrateType::Movable).unwrap();
    assert_eq!(b, BASE + 2);
    z.free_pages_except(b, 1, BASE + 2).unwrap();
    assert_eq!(z.nr_free_per_order(), [2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1022, 2));
    check(z, &[]);
}

#[test]
fn remove_range_takes_withdrawn_pages() {
    let mut z = zone(2048);
    z.add_range(BASE + 4096, 1024).unwrap();
    assert!(z.take_page_off_buddy(BASE + 7));
    assert!(z.take_page_off_buddy(BASE + 1500));
    assert!(z.take_page_off_buddy(BASE + 4096 + 3));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (3069, 3));
    z.remove_range(BASE + 4096).unwrap();
    assert_eq!(
        (z.managed_pages, z.nr_free_pages, z.nr_hwpoison),
        (2048, 2046, 2)
    );
    // A page handed out still makes the range busy, withdrawn pages or not.
    let pfn = z.rmqueue_smallest(0, MigrateType::Movable).unwrap();
    assert_eq!(z.remove_range(BASE), Err(CoreError::Busy));
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (2045, 2));
    let mut z = check(z, &[(pfn, 0)]);
    z.free_pages(pfn, 0);
    z.remove_range(BASE).unwrap();
    assert_eq!((z.managed_pages, z.nr_free_pages, z.nr_hwpoison), (0, 0, 0));
    // The same pfns added again start clean.
    z.add_range(BASE, 1024).unwrap();
    assert!(!z.frame(BASE + 7).unwrap().hwpoison);
    assert_eq!(z.nr_free_per_order(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!((z.nr_free_pages, z.nr_hwpoison), (1024, 0));
    check(z, &[]);
}

// ---- edges the mutation run found untested -----------------------------

/// The flags of a high-order GFP_ATOMIC request in the slow path:
/// ALLOC_HIGHATOMIC at WMARK_MIN, which may reserve its pageblock.
const SLOW_ATOMIC: AllocFlags = AllocFlags {
    wmark: Watermark::Min,
    highatomic: true,
    non_block: true,
    min_reserve: true,
    ..AllocFlags::DEFAULT
};

/// A `VecStore` that records the pageblock type changes it is told of, as
/// the module's store keeps a copy of them for lockless readers.
#[derive(Default)]
struct Recording {
    inner: VecStore,
    changes: Vec<(Pfn, MigrateType)>,
}

impl FrameStore for Recording {
    fn get(&self, pfn: Pfn) -> Option<&FrameMeta> {
        self.inner.get(pfn)
    }
    fn get_mut(&mut self, pfn: Pfn) -> Option<&mut FrameMeta> {
        self.inner.get_mut(pfn)
    }
    fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError> {
        self.inner.add_range(start, nr)
    }
    fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        self.inner.remove_range(start)
    }
    fn pageblock_changed(&mut self, pfn: Pfn, mt: MigrateType) {
        self.changes.push((pfn, mt));
    }
}

#[test]
fn add_range_tells_the_store_of_every_pageblock() {
    let mut z = Zone::new(1, ZoneType::Normal, Recording::default());
    z.add_range(BASE, 2048).unwrap();
    let m = MigrateType::Movable;
    assert_eq!(
        z.frames.changes,
        [
            (BASE, m),
            (BASE + 512, m),
            (BASE + 1024, m),
            (BASE + 1536, m)
        ]
    );
}

#[test]
fn ranges_may_touch_and_stay_apart() {
    // Ranges are half-open: one may end where the next starts.
    let mut z = zone(1024);
    z.add_range(BASE + 1024, 1024).unwrap();
    z.add_range(BASE - 1024, 1024).unwrap();
    assert_eq!((z.managed_pages, z.nr_free_pages), (3072, 3072));
    let mut z = check(z, &[]);
    // The middle one goes without touching the blocks on either side.
    z.remove_range(BASE).unwrap();
    assert_eq!((z.managed_pages, z.nr_free_pages), (2048, 2048));
    assert_eq!(z.nr_free_per_order()[10], 2);
    assert!(z.is_free_buddy_page(BASE + 1024) && z.is_free_buddy_page(BASE - 1));
    check(z, &[]);
}

#[test]
fn remove_range_gives_back_only_its_own_highatomic_pageblocks() {
    // A one-block range before a large one: 52224 pages, 1% is a pageblock.
    let mut z = zone(1024);
    z.add_range(BASE + 1024, 51200).unwrap();
    // An order-9 block takes the first pageblock of the small range; the
    // atomic request splits the second, which becomes the reserve.
    let x = z.rmqueue_smallest(9, MigrateType::Movable).unwrap();
    let y = z
        .rmqueue_buddy(2, MigrateType::Movable, SLOW_ATOMIC)
        .unwrap();
    assert_eq!((x, y), (BASE, BASE + 512));
    assert_eq!(z.pageblock_mt(BASE + 512), MigrateType::HighAtomic);
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    z.free_pages(y, 2);
    z.free_pages(x, 9);
    assert_eq!(z.nr_free_highatomic, PAGEBLOCK_NR_PAGES);
    // Its second pageblock was the reserve: gone with the range.
    z.remove_range(BASE).unwrap();
    assert_eq!((z.nr_reserved_highatomic, z.nr_free_highatomic), (0, 0));
    let mut z = check(z, &[]);
    // Added again, at the tail of the lists: the next reserve is the first
    // pageblock of the large range, right after the small one's end.
    z.add_range(BASE, 1024).unwrap();
    let y = z
        .rmqueue_buddy(2, MigrateType::Movable, SLOW_ATOMIC)
        .unwrap();
    assert_eq!(y, BASE + 1024);
    assert_eq!(z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
    z.remove_range(BASE).unwrap();
    assert_eq!(
        z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES,
        "a reserve outside the range stays"
    );
    assert_eq!(z.nr_free_highatomic, 508);
    check(z, &[(y, 2)]);
}

#[test]
fn pcp_free_count_stops_at_the_scaled_batch() {
    // batch 2 << CONFIG_PCP_BATCH_SCALE_MAX = 64: free_count counts the
    // pages freed up to 64 and no further (high 500 keeps them all listed).
    let mut z = zone(1024);
    let mut p = PerCpuPages::new();
    p.set_high_batch(500, 2).unwrap();
    let pfns: Vec<Pfn> = (0..66)
        .map(|_| z.rmqueue_smallest(0, MigrateType::Movable).unwrap())
        .collect();
    for (i, &pfn) in pfns.iter().enumerate() {
        assert!(crate::pcp::free_pcp(
            &mut p,
            &mut z,
            pfn,
            0,
            MigrateType::Movable,
            false
        ));
        assert_eq!(p.free_count, (i as u32 + 1).min(64));
    }
    assert_eq!((p.count, p.stat.drain), (66, 0));
    // nr_pcp_free() = clamp(free_count, batch, high - batch).
    assert_eq!(p.nr_pcp_free(), 64);
    p.drain(&mut z);
    check(z, &[]);
}

#[test]
fn claims_are_tried_from_half_a_pageblock_or_for_unmovable_and_reclaimable() {
    use MigrateType::{HighAtomic, Movable, Reclaimable, Unmovable};
    let claim = Zone::<VecStore>::should_try_claim_block;
    // order >= pageblock_order / 2, whatever the type.
    for mt in [Movable, Unmovable, Reclaimable] {
        assert!(claim(4, mt) && claim(9, mt) && claim(10, mt), "{mt:?}");
    }
    // Below it only unmovable and reclaimable requests claim.
    for order in 0..4 {
        assert!(claim(order, Unmovable) && claim(order, Reclaimable));
        assert!(!claim(order, Movable) && !claim(order, HighAtomic));
    }
}

/// A 51200-page zone whose only free pages are its HIGHATOMIC reserve:
/// the pageblock of an order-2 atomic block, 508 pages in one block of
/// each order 2..=8. Returns it with the blocks handed out.
fn only_highatomic_left() -> (Zone<VecStore>, Vec<(Pfn, u32)>) {
    let mut z = zone(51200);
    let a = z
        .rmqueue_buddy(2, MigrateType::Movable, SLOW_ATOMIC)
        .unwrap();
    assert_eq!(a, BASE);
    let mut out = vec![(a, 2)];
    while let Some(p) = z.rmqueue_smallest(9, MigrateType::Movable) {
        out.push((p, 9));
    }
    assert_eq!(out.len(), 100);
    assert_eq!((z.nr_free_pages, z.nr_free_highatomic), (508, 508));
    assert_eq!(
        z.nr_free_per_order_mt(MigrateType::HighAtomic),
        [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    );
    (z, out)
}

#[test]
fn failing_oom_and_non_blocking_requests_take_the_highatomic_reserve() {
    let (mut z, mut out) = only_highatomic_left();
    // Neither ALLOC_OOM nor ALLOC_NON_BLOCK: __GFP_HIGH alone gets nothing.
    let high = AllocFlags {
        wmark: Watermark::Min,
        min_reserve: true,
        ..AllocFlags::DEFAULT
    };
    assert_eq!(z.rmqueue_buddy(0, MigrateType::Movable, high), None);
    assert_eq!(z.rmqueue_buddy(0, MigrateType::Unmovable, high), None);
    // ALLOC_NON_BLOCK alone: the smallest reserve block, split.
    let non_block = AllocFlags {
        non_block: true,
        ..high
    };
    let p = z.rmqueue_buddy(0, MigrateType::Movable, non_block).unwrap();
    assert_eq!(p, BASE + 4);
    // ALLOC_OOM alone: the next one.
    let oom = AllocFlags {
        oom: true,
        ..AllocFlags::DEFAULT
    };
    let q = z.rmqueue_buddy(0, MigrateType::Unmovable, oom).unwrap();
    assert_eq!(q, BASE + 5);
    assert_eq!(z.nr_free_highatomic, 506);
    assert_eq!(z.stat.highatomic_reserved, 1, "no new reserve");
    out.extend([(p, 0), (q, 0)]);
    check(z, &out);
}

#[test]
fn high_order_watermark_counts_highatomic_blocks_only_for_highatomic_and_oom() {
    let (mut z, mut out) = only_highatomic_left();
    // Two order-0 movable pages free beside the reserve: an order-9
    // block taken back page by page, and pages 0 and 2 of it freed.
    let (q, _) = out.pop().unwrap();
    z.free_pages(q, 9);
    for i in 0..512 {
        assert_eq!(z.rmqueue_smallest(0, MigrateType::Movable), Some(q + i));
        if i != 0 && i != 2 {
            out.push((q + i, 0));
        }
    }
    z.free_pages(q, 0);
    z.free_pages(q + 2, 0);
    assert_eq!((z.nr_free_pages, z.nr_free_highatomic), (510, 508));
    assert_eq!(z.nr_free_per_order(), [2, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    // Mark 0. Without reserves: free 510 - (1 + 508) = 1 > 0, so the
    // order-0 test passes, but no order >= 1 block is free on a pcp type.
    let none = AllocFlags {
        wmark: Watermark::Min,
        ..AllocFlags::DEFAULT
    };
    assert!(z.watermark_ok(0, 0, none));
    assert!(!z.watermark_ok(1, 0, none));
    // GFP_ATOMIC without ALLOC_HIGHATOMIC may count the reserve's pages,
    // not use its blocks.
    let atomic = AllocFlags {
        highatomic: false,
        ..SLOW_ATOMIC
    };
    assert!(!z.watermark_ok(1, 0, atomic));
    // ALLOC_HIGHATOMIC or ALLOC_OOM: the HIGHATOMIC blocks of order 2..=8.
    assert!(z.watermark_ok(1, 0, SLOW_ATOMIC));
    assert!(z.watermark_ok(8, 0, SLOW_ATOMIC));
    assert!(!z.watermark_ok(9, 0, SLOW_ATOMIC));
    let oom = AllocFlags { oom: true, ..none };
    assert!(z.watermark_ok(1, 0, oom));
    let highatomic = AllocFlags {
        highatomic: true,
        ..none
    };
    assert!(z.watermark_ok(1, 0, highatomic));
    check(z, &out);
}

#[test]
fn oom_victims_get_half_of_what_is_left_of_min() {
    let mut z = zone(4096);
    let min = z.wmark_pages(Watermark::Min).unwrap();
    assert_eq!(min, 128);
    let mut out = Vec::new();
    let mut take = |z: &mut Zone<VecStore>, free: u64| {
        while z.nr_free_pages > free {
            out.push((z.rmqueue_smallest(0, MigrateType::Movable).unwrap(), 0));
        }
    };
    let oom = AllocFlags {
        wmark: Watermark::Min,
        oom: true,
        ..AllocFlags::DEFAULT
    };
    // ALLOC_OOM alone: 128 - 128 / 2 = 64.
    take(&mut z, 65);
    assert!(z.watermark_ok(0, min, oom));
    take(&mut z, 64);
    assert!(!z.watermark_ok(0, min, oom));
    // With __GFP_HIGH: 128 - 64 = 64, then 64 - 32 = 32.
    let high = AllocFlags {
        min_reserve: true,
        ..oom
    };
    take(&mut z, 33);
    assert!(z.watermark_ok(0, min, high));
    take(&mut z, 32);
    assert!(!z.watermark_ok(0, min, high));
    // And non-blocking: 64 - 64 / 4 = 48, then 48 - 24 = 24.
    let atomic = AllocFlags {
        non_block: true,
        ..high
    };
    take(&mut z, 25);
    assert!(z.watermark_ok(0, min, atomic));
    take(&mut z, 24);
    assert!(!z.watermark_ok(0, min, atomic));
    check(z, &out);
}

#[test]
fn unreserving_a_max_order_block_gives_back_both_pageblocks() {
    let mut z = zone(51200);
    // An order-10 atomic block reserves both its pageblocks (1 << 10
    // pages), over the one-pageblock cap, which is checked before.
    let a = z
        .rmqueue_buddy(10, MigrateType::Movable, SLOW_ATOMIC)
        .unwrap();
    assert_eq!(a, BASE);
    assert_eq!(z.nr_reserved_highatomic, 2 * PAGEBLOCK_NR_PAGES);
    assert_eq!(z.pageblock_counts(), [0, 98, 0, 2]);
    // Freed per pageblock, the two halves merge back on the HIGHATOMIC list.
    z.free_pages(a, 10);
    assert_eq!(z.nr_free_per_order_mt(MigrateType::HighAtomic)[10], 1);
    assert_eq!(z.nr_free_highatomic, 1024);
    // size = max(pageblock_nr_pages, 1 << 10): all of it in one go.
    assert!(z.unreserve_highatomic_pageblock(MigrateType::Movable, false));
    assert_eq!((z.nr_reserved_highatomic, z.nr_free_highatomic), (0, 0));
    assert_eq!(z.pageblock_counts(), [0, 100, 0, 0]);
    check(z, &[]);
}
