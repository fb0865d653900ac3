// SPDX-License-Identifier: GPL-2.0

//! Tests of the allocation policy through `alloc_pages()`: zonelists,
//! THISNODE, nodemask, owner isolation, reserves, pcp refill and drain.

use super::super::{
    gfp::Gfp,
    page_alloc::{alloc_pages, AllocFailure, AllocPath, AllocRequest},
    zonelist::{AllocZonelist, NodeMask},
    NUMA_NO_NODE,
};
use super::*;

const N1: Pfn = 0x100000;
const N2: Pfn = 0x200000;
const N3: Pfn = 0x300000;

/// Nodes 1 and 2 (owner 7) and 3 (owner 9), 4096 pages each; node 0 has the
/// CPUs and is nearest to node 2.
fn three_nodes() -> Instance {
    let mut inst = Instance::new(2);
    inst.add_range(1, ZoneType::Normal, 7, N1, 4096).unwrap();
    inst.add_range(2, ZoneType::Normal, 7, N2, 4096).unwrap();
    inst.add_range(3, ZoneType::Normal, 9, N3, 4096).unwrap();
    inst.topo.set_distance(1, 2, 30);
    inst.topo.set_distance(1, 3, 25);
    inst.topo.set_distance(0, 1, 21);
    inst.topo.set_distance(0, 2, 17);
    inst.topo.set_distance(0, 3, 40);
    inst
}

fn alloc(inst: &mut Instance, req: AllocRequest) -> Result<(u8, Pfn, AllocPath), AllocFailure> {
    alloc_pages(inst, &req).map(|a| (a.zone.nid, a.pfn, a.path))
}

/// Takes node `nid` down to its min watermark with order-0 GFP_KERNEL
/// THISNODE allocations; the last, failing one drained every pcp list.
fn exhaust(inst: &mut Instance, nid: u8) -> Vec<Pfn> {
    let mut out = Vec::new();
    let gfp = Gfp(Gfp::KERNEL.0 | Gfp::THISNODE | Gfp::NOWARN);
    while let Ok((n, pfn, _)) = alloc(inst, AllocRequest::new(gfp, 0, i32::from(nid))) {
        assert_eq!(n, nid);
        out.push(pfn);
    }
    out
}

#[test]
fn first_order0_allocation_refills_one_batch() {
    let mut inst = three_nodes();
    let (nid, pfn, path) = alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 1)).unwrap();
    assert_eq!((nid, pfn, path), (1, N1, AllocPath::Fast));
    let tz = &inst.zones[&(1, 0)];
    // nr_pcp_alloc(): batch 63, one refill, one page handed out.
    assert_eq!(tz.pcp[0].count, 62);
    assert_eq!(tz.pcp[0].stat.refill, 1);
    assert_eq!(tz.zone.nr_free_pages, 4096 - 63);
    // The second comes from the list, in physical order.
    let (_, pfn2, _) = alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 1)).unwrap();
    assert_eq!(pfn2, N1 + 1);
    assert_eq!(inst.zones[&(1, 0)].pcp[0].stat.hit, 1);
    check_invariants(&inst);
}

#[test]
fn frees_drain_a_batch_at_high() {
    let mut inst = three_nodes();
    let mut out = Vec::new();
    for _ in 0..400 {
        out.push(
            alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 1))
                .unwrap()
                .1,
        );
    }
    let before = inst.zones[&(1, 0)].pcp[0].count;
    inst.cpu = 1;
    for &p in &out[..377] {
        inst.free(p, 0);
    }
    let p1 = &inst.zones[&(1, 0)].pcp[1];
    assert_eq!((p1.count, p1.stat.drain), (377, 0));
    // The 378th free reaches high (378) and drains nr_pcp_free() pages:
    // free_count 378 clamped to [batch 63, high - batch 315], in five
    // free_pcppages_bulk() calls of one batch each.
    inst.free(out[377], 0);
    let p1 = &inst.zones[&(1, 0)].pcp[1];
    assert_eq!((p1.count, p1.stat.drain), (378 - 315, 5));
    assert_eq!(
        inst.zones[&(1, 0)].pcp[0].count,
        before,
        "CPU 0's list untouched"
    );
    check_invariants(&inst);
}

#[test]
fn thisnode_and_nodemask_and_fallback_order() {
    let mut inst = three_nodes();
    let held = exhaust(&mut inst, 1);
    // Everything above the min watermark (128 pages) went out, and the
    // drain before the last attempt left nothing on the pcp lists.
    assert_eq!(held.len(), 4096 - 128);
    assert_eq!(inst.zone(1, ZoneType::Normal).nr_free_pages, 128);
    let thisnode = Gfp(Gfp::KERNEL.0 | Gfp::THISNODE | Gfp::NOWARN);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(thisnode, 0, 1)),
        Err(AllocFailure::NoMemory { warn: false })
    );
    // Default zonelist: node 3 (distance 25) before node 2 (30).
    let (nid, _, _) = alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 1)).unwrap();
    assert_eq!(nid, 3);
    // A nodemask without 3 leads to 2.
    let mut req = AllocRequest::new(Gfp::KERNEL, 0, 1);
    req.nodemask = Some(NodeMask(0b0110));
    assert_eq!(alloc(&mut inst, req).unwrap().0, 2);
    // An empty nodemask finds nothing and says so.
    req.nodemask = Some(NodeMask(0));
    assert_eq!(
        alloc(&mut inst, req),
        Err(AllocFailure::NoMemory { warn: true })
    );
    check_invariants(&inst);
}

#[test]
fn private_zonelist_never_crosses_owners() {
    let mut inst = three_nodes();
    let _held = exhaust(&mut inst, 1);
    let _held2 = exhaust(&mut inst, 2);
    let mut req = AllocRequest::new(Gfp(Gfp::KERNEL.0 | Gfp::NOWARN), 0, 1);
    req.zonelist = AllocZonelist::Private;
    // Node 3 has free memory but belongs to owner 9.
    assert_eq!(
        alloc(&mut inst, req),
        Err(AllocFailure::NoMemory { warn: false })
    );
    req.zonelist = AllocZonelist::Default;
    assert_eq!(alloc(&mut inst, req).unwrap().0, 3);
}

#[test]
fn numa_no_node_uses_nearest_private_node() {
    let mut inst = three_nodes();
    let mut req = AllocRequest::new(Gfp::KERNEL, 2, NUMA_NO_NODE);
    req.local_nid = 0;
    assert_eq!(alloc(&mut inst, req).unwrap().0, 2);
}

#[test]
fn gfp_high_reaches_below_min_and_kernel_does_not() {
    let mut inst = three_nodes();
    let mut held = Vec::new();
    let nowarn = Gfp(Gfp::KERNEL.0 | Gfp::THISNODE | Gfp::NOWARN);
    while let Ok((_, pfn, _)) = alloc(&mut inst, AllocRequest::new(nowarn, 0, 2)) {
        held.push(pfn);
    }
    let z = inst.zone(2, ZoneType::Normal);
    // GFP_KERNEL stops at the min watermark (128): free <= 128 fails.
    assert_eq!(z.nr_free_pages + inst.pcp_pages(), 128);
    // One more attempt fails the check in exactly three passes (fast, slow,
    // after draining) on node 2, the only node THISNODE allows; with no
    // highatomic reserve there is no forced pass.
    let before = z.stat.watermark_fail;
    assert!(alloc(&mut inst, AllocRequest::new(nowarn, 0, 2)).is_err());
    let z = inst.zone(2, ZoneType::Normal);
    assert_eq!(z.stat.watermark_fail - before, 3);
    let atomic = Gfp(Gfp::ATOMIC.0 | Gfp::THISNODE);
    let (nid, _, path) = alloc(&mut inst, AllocRequest::new(atomic, 0, 2)).unwrap();
    assert_eq!((nid, path), (2, AllocPath::Slow));
    check_invariants(&inst);
}

#[test]
fn bad_requests_are_refused() {
    let mut inst = three_nodes();
    let invalid = Err(AllocFailure::Invalid(CoreError::Invalid));
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 11, 1)),
        invalid
    );
    assert_eq!(
        alloc(
            &mut inst,
            AllocRequest::new(Gfp(Gfp::KERNEL.0 | Gfp::NOFAIL), 0, 1)
        ),
        invalid
    );
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(Gfp(Gfp::DMA32), 0, 1)),
        invalid
    );
    let mut nolock = AllocRequest::new(Gfp(0), 4, 1);
    nolock.alloc_flags = super::super::alloc_flags::ALLOC_NOLOCK;
    assert_eq!(alloc(&mut inst, nolock), invalid);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 0)),
        Err(AllocFailure::Invalid(CoreError::NotFound))
    );
    assert_eq!(inst.allocated.len(), 0);
    check_invariants(&inst);
}

#[test]
fn every_page_returns() {
    let mut inst = three_nodes();
    let mut held = Vec::new();
    for order in [0, 1, 2, 3, 4, 9, 10, 0, 3] {
        let (_, pfn, _) = alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, order, 2)).unwrap();
        held.push((pfn, order));
    }
    for (pfn, order) in held {
        inst.free(pfn, order);
    }
    for tz in inst.zones.values_mut() {
        for p in tz.pcp.iter_mut() {
            p.drain(&mut tz.zone);
        }
    }
    let z = inst.zone(2, ZoneType::Normal);
    assert_eq!(z.nr_free_pages, 4096);
    assert_eq!(z.nr_free_per_order()[10], 4);
    check_invariants(&inst);
}

#[test]
fn numa_no_node_without_private_nodes_fails() {
    let mut inst = Instance::new(1);
    let mut req = AllocRequest::new(Gfp::KERNEL, 0, NUMA_NO_NODE);
    req.local_nid = 0;
    assert_eq!(
        alloc(&mut inst, req),
        Err(AllocFailure::NoMemory { warn: true })
    );
}

#[test]
fn numa_no_node_from_a_private_node_stays_there() {
    let mut inst = three_nodes();
    let mut req = AllocRequest::new(Gfp::KERNEL, 0, NUMA_NO_NODE);
    req.local_nid = 3;
    assert_eq!(alloc(&mut inst, req).unwrap().0, 3);
    req.local_nid = 1;
    assert_eq!(alloc(&mut inst, req).unwrap().0, 1);
}

/// Node 1's min and low watermarks set by hand.
fn set_wmarks(inst: &mut Instance, nid: u8, w: [u64; 3]) {
    inst.zones.get_mut(&(nid, 0)).unwrap().zone.watermark = w;
}

#[test]
fn only_callers_that_may_sleep_drain_the_pcp_lists() {
    let mut inst = three_nodes();
    alloc(&mut inst, AllocRequest::new(Gfp::KERNEL, 0, 1)).unwrap();
    assert_eq!(inst.zones[&(1, 0)].pcp[0].count, 62);
    // The buddy (4033) is below every mark, the buddy and pcp (4095) above.
    set_wmarks(&mut inst, 1, [4040, 4040, 4040]);
    let nowait = Gfp(Gfp::NOWAIT.0 | Gfp::THISNODE);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(nowait, 0, 1)),
        Err(AllocFailure::NoMemory { warn: false })
    );
    assert_eq!(
        inst.zones[&(1, 0)].pcp[0].count,
        62,
        "GFP_NOWAIT never drains"
    );
    let kernel = Gfp(Gfp::KERNEL.0 | Gfp::THISNODE);
    let (nid, _, path) = alloc(&mut inst, AllocRequest::new(kernel, 0, 1)).unwrap();
    assert_eq!((nid, path), (1, AllocPath::Drained));
    check_invariants(&inst);
}

/// Node 2 of 65536 pages whose fast path fails and whose min watermark
/// only reserves can meet: one GFP_ATOMIC order-2 allocation reserves a
/// highatomic pageblock (508 pages stay free in it).
fn with_highatomic_reserve() -> Instance {
    let mut inst = Instance::new(1);
    inst.add_range(2, ZoneType::Normal, 0, N2, 65536).unwrap();
    set_wmarks(&mut inst, 2, [65100, 70000, 70000]);
    let atomic = Gfp(Gfp::ATOMIC.0 | Gfp::THISNODE);
    let a = alloc_pages(&mut inst, &AllocRequest::new(atomic, 2, 2)).unwrap();
    assert_eq!((a.pfn, a.path), (N2, AllocPath::Slow));
    assert!(a.flags.highatomic && a.flags.non_block && a.flags.min_reserve);
    let z = inst.zone(2, ZoneType::Normal);
    assert_eq!((z.nr_reserved_highatomic, z.nr_free_highatomic), (512, 508));
    inst
}

#[test]
fn the_last_highatomic_block_goes_back_before_failing() {
    let mut inst = with_highatomic_reserve();
    // 65532 free, 508 of them reserved: GFP_KERNEL sees 65024 <= 65100.
    // Unreserving without force keeps the last pageblock; the forced
    // unreserve of should_reclaim_retry() gives it back.
    let kernel = Gfp(Gfp::KERNEL.0 | Gfp::THISNODE);
    let (nid, _, path) = alloc(&mut inst, AllocRequest::new(kernel, 0, 2)).unwrap();
    assert_eq!((nid, path), (2, AllocPath::Forced));
    let z = inst.zone(2, ZoneType::Normal);
    assert_eq!((z.nr_reserved_highatomic, z.nr_free_highatomic), (0, 0));
    assert_eq!(z.stat.highatomic_unreserved, 1);
    // The pageblock went to the caller's type, unmovable.
    assert_eq!(z.pageblock_counts(), [2, 126, 0, 0]);
    check_invariants(&inst);
}

#[test]
fn no_forced_unreserve_where_7_3_does_not_retry() {
    let mut inst = with_highatomic_reserve();
    let fails = Err(AllocFailure::NoMemory { warn: true });
    let thisnode = Gfp::KERNEL.0 | Gfp::THISNODE;
    // __GFP_NORETRY, and costly orders without __GFP_RETRY_MAYFAIL, give up
    // after the drained pass.
    let noretry = Gfp(thisnode | Gfp::NORETRY);
    assert_eq!(alloc(&mut inst, AllocRequest::new(noretry, 0, 2)), fails);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(Gfp(thisnode), 4, 2)),
        fails
    );
    // Compaction needs __GFP_IO: without it even RETRY_MAYFAIL gives up.
    let noio = Gfp((thisnode | Gfp::RETRY_MAYFAIL) & !Gfp::IO);
    assert_eq!(alloc(&mut inst, AllocRequest::new(noio, 4, 2)), fails);
    assert_eq!(inst.zone(2, ZoneType::Normal).nr_reserved_highatomic, 512);
    let mayfail = Gfp(thisnode | Gfp::RETRY_MAYFAIL);
    let (_, _, path) = alloc(&mut inst, AllocRequest::new(mayfail, 4, 2)).unwrap();
    assert_eq!(path, AllocPath::Forced);
    assert_eq!(inst.zone(2, ZoneType::Normal).nr_reserved_highatomic, 0);
    check_invariants(&inst);
}

#[test]
fn highatomic_only_with_gfp_high_and_only_reserved_in_the_slow_path() {
    let mut inst = with_highatomic_reserve();
    // GFP_NOWAIT has no __GFP_HIGH: ALLOC_NON_BLOCK lets it count the
    // reserved pages against the watermark, but without ALLOC_HIGHATOMIC it
    // takes its own type (the unmovable half of the claimed order-10 block)
    // rather than the reserve.
    let nowait = Gfp(Gfp::NOWAIT.0 | Gfp::THISNODE);
    let a = alloc_pages(&mut inst, &AllocRequest::new(nowait, 2, 2)).unwrap();
    assert_eq!((a.pfn, a.path), (N2 + 512, AllocPath::Slow));
    assert!(a.flags.non_block && !a.flags.highatomic);
    // Without ALLOC_RESERVES the reserved pages do not count: 65024 free.
    let nomemalloc = Gfp(nowait.0 | Gfp::NOMEMALLOC);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(nomemalloc, 2, 2)),
        Err(AllocFailure::NoMemory { warn: false })
    );
    // That refilled the order-2 pcp list (15 blocks from N2 + 512). A
    // GFP_ATOMIC order-2 request takes from a non-empty list as 7.3 does;
    // ALLOC_HIGHATOMIC only stops a refill.
    assert_eq!(inst.zones[&(2, 0)].pcp[0].count, 14 * 4);
    let atomic = Gfp(Gfp::ATOMIC.0 | Gfp::THISNODE);
    let a = alloc_pages(&mut inst, &AllocRequest::new(atomic, 2, 2)).unwrap();
    assert_eq!((a.pfn, a.path), (N2 + 516, AllocPath::Slow));
    let z = inst.zone(2, ZoneType::Normal);
    assert_eq!(
        (z.nr_reserved_highatomic, z.stat.highatomic_reserved),
        (512, 1)
    );
    // With the marks low again, the fast path has ALLOC_HIGHATOMIC: with
    // the order-1 list empty it skips the refill and splits the reserve's
    // order-2 block, without reserving (not WMARK_MIN).
    set_wmarks(&mut inst, 2, [0, 0, 0]);
    let a = alloc_pages(&mut inst, &AllocRequest::new(atomic, 1, 2)).unwrap();
    assert_eq!((a.pfn, a.path), (N2 + 4, AllocPath::Fast));
    assert!(a.flags.highatomic && !a.flags.non_block);
    assert_eq!(inst.zones[&(2, 0)].pcp[0].count, 13 * 4);
    assert_eq!(inst.zone(2, ZoneType::Normal).stat.highatomic_reserved, 1);
    check_invariants(&inst);
}

#[test]
fn memalloc_is_a_pass_without_watermarks() {
    let mut inst = three_nodes();
    set_wmarks(&mut inst, 1, [5000, 5000, 5000]);
    let thisnode = Gfp::KERNEL.0 | Gfp::THISNODE | Gfp::NOWARN;
    let memalloc = Gfp(thisnode | Gfp::MEMALLOC);
    let a = alloc_pages(&mut inst, &AllocRequest::new(memalloc, 0, 1)).unwrap();
    assert_eq!((a.zone.nid, a.path), (1, AllocPath::Slow));
    assert_eq!(a.flags.bits(), 0x4, "ALLOC_NO_WATERMARKS and nothing else");
    let refused = Gfp(thisnode | Gfp::MEMALLOC | Gfp::NOMEMALLOC);
    assert_eq!(
        alloc(&mut inst, AllocRequest::new(refused, 0, 1)),
        Err(AllocFailure::NoMemory { warn: false })
    );
    // Without THISNODE, the fallback node comes before ignoring watermarks.
    let a = alloc_pages(
        &mut inst,
        &AllocRequest::new(Gfp(Gfp::KERNEL.0 | Gfp::MEMALLOC), 0, 1),
    )
    .unwrap();
    assert_eq!((a.zone.nid, a.path), (3, AllocPath::Fast));
}

#[test]
fn nofragment_retries_the_local_node_before_a_remote_one() {
    use super::super::{
        alloc_flags::{AllocFlags, Watermark},
        migratetype::MigrateType,
        page_alloc::{get_page_from_freelist, AllocContext},
    };
    let mut inst = three_nodes();
    // Node 1's free memory: one movable order-3 block.
    let mut out = Vec::new();
    {
        let z = &mut inst.zones.get_mut(&(1, 0)).unwrap().zone;
        while let Some(p) = z.rmqueue_buddy(3, MigrateType::Movable, AllocFlags::DEFAULT) {
            out.push(p);
        }
        let p = out.pop().unwrap();
        z.free_pages(p, 3);
    }
    for &p in &out {
        inst.allocated.insert(p, 3);
    }
    let ac = AllocContext {
        nid: 1,
        sel: AllocZonelist::Default,
        thisnode: false,
        nodemask: None,
        highest_zoneidx: ZoneType::Normal,
        migratetype: MigrateType::Unmovable,
    };
    assert_eq!(ac.preferred_zoneref(&inst).map(|z| z.nid), Some(1));
    let flags = AllocFlags {
        wmark: Watermark::None,
        nofragment: true,
        ..AllocFlags::DEFAULT
    };
    // ALLOC_NOFRAGMENT forbids the small claim on node 1; node 3 is remote,
    // so the list is walked again without it, and node 1 serves.
    let (z, pfn, f) = get_page_from_freelist(&mut inst, &ac, 0, flags).unwrap();
    assert_eq!((z.nid, pfn, f.nofragment), (1, N1 + 4088, false));
    inst.allocated.insert(pfn, 0);
    check_invariants(&inst);
    // A nodemask without node 1 makes node 3 the preferred zone.
    let ac3 = AllocContext {
        nodemask: Some(NodeMask(0b1100)),
        ..ac
    };
    assert_eq!(ac3.preferred_zoneref(&inst).map(|z| z.nid), Some(3));
    let (z, _, f) = get_page_from_freelist(&mut inst, &ac3, 0, flags).unwrap();
    assert_eq!((z.nid, f.nofragment), (3, true));
}

// ---- zonelists and nodemasks at their edges ------------------------------

#[test]
fn nodemask_sets_and_tests_only_node_ids_it_can_hold() {
    let mut m = NodeMask::default();
    for nid in [0, 5, 63] {
        m.set(nid);
    }
    let want = 1 | 1 << 5 | 1 << 63;
    assert_eq!(m.0, want);
    assert!(m.contains(0) && m.contains(5) && m.contains(63));
    assert!(!m.contains(1) && !m.contains(62));
    // node_set() ignores, node_isset() denies ids out of range.
    for nid in [64, 65, -1, i32::MAX, i32::MIN] {
        m.set(nid);
        assert!(!m.contains(nid), "{nid}");
        assert!(!NodeMask(u64::MAX).contains(nid), "{nid}");
    }
    assert_eq!(m.0, want);
}

#[test]
fn every_node_with_both_zones_fits_one_zonelist() {
    use crate::zonelist::{Zonelist, MAX_ZONEREFS};
    use crate::MAX_NUMNODES;
    assert_eq!(MAX_ZONEREFS, 128);
    assert!(Zonelist::new().is_empty() && Zonelist::default().is_empty());
    let mut t = Topology::new();
    for nid in 0..MAX_NUMNODES as i32 {
        t.set_node(
            nid,
            Some(NodeDesc {
                owner: 0,
                populated: 0b11,
            }),
        );
    }
    for sel in [AllocZonelist::Default, AllocZonelist::Private] {
        let l = t.zonelist(9, sel, false).unwrap();
        assert_eq!((l.len(), l.is_empty()), (MAX_ZONEREFS, false));
        // Each node's two zones, Movable first, each node once.
        let mut seen = [0u8; MAX_NUMNODES];
        for (i, z) in l.iter().enumerate() {
            let want = [ZoneType::Movable, ZoneType::Normal][i % 2];
            assert_eq!(z.zone, want);
            seen[usize::from(z.nid)] += 1;
        }
        assert_eq!(seen, [2; MAX_NUMNODES]);
        assert_eq!(l.get(0).map(|z| z.nid), Some(9));
        assert_eq!(l.get(MAX_ZONEREFS), None);
    }
    // A private node with nothing populated (yet) has empty lists.
    t.set_node(
        9,
        Some(NodeDesc {
            owner: 0,
            populated: 0,
        }),
    );
    assert!(t
        .zonelist(9, AllocZonelist::Default, true)
        .unwrap()
        .is_empty());
}

#[test]
fn node_distance_reads_the_table() {
    let mut t = Topology::new();
    // LOCAL_DISTANCE and REMOTE_DISTANCE until told otherwise.
    assert_eq!((t.distance(0, 0), t.distance(63, 63)), (10, 10));
    assert_eq!((t.distance(0, 63), t.distance(3, 5)), (20, 20));
    t.set_distance(3, 5, 42);
    assert_eq!((t.distance(3, 5), t.distance(5, 3)), (42, 20));
    assert_eq!((t.distance(64, 0), t.distance(0, -1)), (u8::MAX, u8::MAX));
}

#[test]
fn bulk_takes_the_preferred_zone_only_above_low_plus_the_batch() {
    use super::super::{alloc_flags::Watermark, migratetype::MigrateType, page_alloc::bulk_zone};
    let mut inst = three_nodes();
    set_wmarks(&mut inst, 1, [100, 200, 300]);
    let req = AllocRequest::new(Gfp::KERNEL, 0, 1);
    let b = bulk_zone(&mut inst, &req, 4096 - 201).unwrap().unwrap();
    assert_eq!((b.zone.nid, b.zone.zone), (1, ZoneType::Normal));
    assert_eq!(
        (b.mt, b.flags.wmark),
        (MigrateType::Unmovable, Watermark::Low)
    );
    // free 4096 <= low 200 + 3896: no batch, and no fallback to node 2
    // (which has room): 7.3 allocates one page the usual way instead.
    let fails = inst.zone(1, ZoneType::Normal).stat.watermark_fail;
    assert_eq!(bulk_zone(&mut inst, &req, 4096 - 200), Ok(None));
    assert_eq!(
        inst.zone(1, ZoneType::Normal).stat.watermark_fail,
        fails + 1
    );
    // The request is checked as the single-page one is.
    let dma32 = AllocRequest::new(Gfp(Gfp::KERNEL.0 | Gfp::DMA32), 0, 1);
    assert!(matches!(
        bulk_zone(&mut inst, &dma32, 8),
        Err(AllocFailure::Invalid(_))
    ));
    // NUMA_NO_NODE from CPU node 0: the nearest private node, 2.
    let mut any = AllocRequest::new(Gfp::KERNEL, 0, NUMA_NO_NODE);
    any.local_nid = 0;
    assert_eq!(bulk_zone(&mut inst, &any, 8).unwrap().unwrap().zone.nid, 2);
    // Order is ignored: the bulk allocator hands out order-0 pages.
    let order3 = AllocRequest::new(Gfp::KERNEL, 3, 1);
    assert_eq!(
        bulk_zone(&mut inst, &order3, 8).unwrap().unwrap().zone.nid,
        1
    );
}
