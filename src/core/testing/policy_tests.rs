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
    // The last attempt failed the check in all three passes (fast, slow,
    // after draining) on node 2, the only node THISNODE allows.
    assert!(z.stat.watermark_fail >= 3, "{}", z.stat.watermark_fail);
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
