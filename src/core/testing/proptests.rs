// SPDX-License-Identifier: GPL-2.0

//! Property tests of the invariants (`check_invariants()` plus a shadow
//! count of what is handed out) after every step, and the recorded
//! fragmentation scenario. The comparison with a reference model is
//! `model_tests.rs`.

use super::super::{
    gfp::Gfp,
    page_alloc::{alloc_pages, AllocRequest},
    zone::PfnRange,
    zonelist::{AllocZonelist, NodeMask},
};
use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        gfp: u8,
        order: u32,
        nid: u8,
        thisnode: bool,
        private: bool,
        mask: u8,
    },
    Free(usize),
    AddRange {
        nid: u8,
        movable: bool,
        slot: u8,
        blocks: u8,
    },
    RemoveRange(usize),
    Cpu(usize),
    Drain,
    /// Memory failure on page `off` of range `i`.
    Poison(usize, u16),
    /// A held block comes back without page `off`.
    FreeExcept(usize, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..5, prop_oneof![4 => 0u32..=3, 1 => 4u32..=10], 1u8..4, any::<bool>(), any::<bool>(), any::<u8>())
            .prop_map(|(gfp, order, nid, thisnode, private, mask)| Op::Alloc { gfp, order, nid, thisnode, private, mask }),
        5 => any::<usize>().prop_map(Op::Free),
        1 => (1u8..4, any::<bool>(), 0u8..8, 1u8..4).prop_map(|(nid, movable, slot, blocks)| Op::AddRange { nid, movable, slot, blocks }),
        1 => any::<usize>().prop_map(Op::RemoveRange),
        1 => (0usize..2).prop_map(Op::Cpu),
        1 => Just(Op::Drain),
        1 => (any::<usize>(), any::<u16>()).prop_map(|(i, off)| Op::Poison(i, off)),
        1 => (any::<usize>(), any::<u16>()).prop_map(|(i, off)| Op::FreeExcept(i, off)),
    ]
}

/// Free pages and withdrawn pages of every zone.
fn free_and_withdrawn(inst: &Instance) -> (u64, u64) {
    inst.zones.values().fold((0, 0), |(f, w), tz| {
        (f + tz.zone.nr_free_pages, w + tz.zone.nr_hwpoison)
    })
}

const GFPS: [Gfp; 5] = [
    Gfp::KERNEL,
    Gfp::ATOMIC,
    Gfp::HIGHUSER_MOVABLE,
    Gfp(Gfp::KERNEL.0 | Gfp::RECLAIMABLE),
    Gfp::NOWAIT,
];

fn run(ops: &[Op]) {
    let mut inst = Instance::new(2);
    inst.add_range(1, ZoneType::Normal, 0, 0x10000, 2048)
        .unwrap();
    let mut held: Vec<(Pfn, u32)> = Vec::new();
    let mut withdrawn: Vec<Pfn> = Vec::new();
    for op in ops {
        match *op {
            Op::Alloc {
                gfp,
                order,
                nid,
                thisnode,
                private,
                mask,
            } => {
                let mut g = GFPS[gfp as usize % GFPS.len()];
                if thisnode {
                    g.0 |= Gfp::THISNODE;
                }
                let mut req = AllocRequest::new(g, order, i32::from(nid));
                req.zonelist = if private {
                    AllocZonelist::Private
                } else {
                    AllocZonelist::Default
                };
                if mask & 1 != 0 {
                    req.nodemask = Some(NodeMask(u64::from(mask)));
                }
                if let Ok(a) = alloc_pages(&mut inst, &req) {
                    assert_eq!(a.order, order);
                    assert!(req
                        .nodemask
                        .is_none_or(|m| m.contains(i32::from(a.zone.nid))));
                    if thisnode && !private {
                        assert_eq!(a.zone.nid, nid);
                    }
                    assert!(a.zone.zone as u8 <= g.highest_zone().unwrap() as u8);
                    held.push((a.pfn, order));
                }
            }
            Op::Free(i) if !held.is_empty() => {
                let (pfn, order) = held.swap_remove(i % held.len());
                inst.free(pfn, order);
            }
            Op::Free(_) => {}
            Op::AddRange {
                nid,
                movable,
                slot,
                blocks,
            } => {
                let start = 0x100000 * u64::from(nid) + 0x4000 * u64::from(slot);
                let zt = if movable {
                    ZoneType::Movable
                } else {
                    ZoneType::Normal
                };
                let before = inst
                    .zones
                    .get(&(nid, zt as u8))
                    .map(|tz| tz.zone.managed_pages);
                match inst.add_range(nid, zt, 0, start, 1024 * u64::from(blocks)) {
                    Ok(()) => {}
                    Err(e) => {
                        assert!(matches!(e, CoreError::Exists), "{e:?}");
                        let after = inst
                            .zones
                            .get(&(nid, zt as u8))
                            .map(|tz| tz.zone.managed_pages);
                        assert_eq!(before, after, "a refused add changed the zone");
                    }
                }
            }
            Op::RemoveRange(i) => {
                let ranges: Vec<Pfn> = inst
                    .zones
                    .values()
                    .flat_map(|tz| tz.zone.ranges().map(|r| r.start))
                    .collect();
                if ranges.is_empty() {
                    continue;
                }
                let start = ranges[i % ranges.len()];
                let busy = held.iter().any(|&(p, _)| {
                    inst.zones
                        .values()
                        .any(|tz| tz.zone.ranges().any(|r| r.start == start && r.contains(p)))
                });
                let free_before: u64 = inst
                    .zones
                    .values()
                    .map(|tz| tz.zone.nr_free_pages)
                    .sum::<u64>()
                    + inst.pcp_pages();
                match inst.remove_range(start) {
                    Ok(()) => assert!(!busy, "removed a range with pages out"),
                    Err(CoreError::Busy) => {
                        assert!(busy, "Busy without pages out");
                        let free_after: u64 = inst
                            .zones
                            .values()
                            .map(|tz| tz.zone.nr_free_pages)
                            .sum::<u64>()
                            + inst.pcp_pages();
                        assert_eq!(free_before, free_after, "Busy must change nothing");
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            Op::Cpu(c) => inst.cpu = c,
            Op::Drain => {
                for tz in inst.zones.values_mut() {
                    for p in tz.pcp.iter_mut() {
                        p.drain(&mut tz.zone);
                    }
                }
            }
            Op::Poison(i, off) => {
                let ranges: Vec<PfnRange> = inst
                    .zones
                    .values()
                    .flat_map(|tz| tz.zone.ranges())
                    .collect();
                if ranges.is_empty() {
                    continue;
                }
                let r = ranges[i % ranges.len()];
                let pfn = r.start + u64::from(off) % r.nr;
                let (free, hw) = free_and_withdrawn(&inst);
                if inst.take_page_off_buddy(pfn) {
                    assert_eq!(free_and_withdrawn(&inst), (free - 1, hw + 1));
                    withdrawn.push(pfn);
                } else {
                    assert_eq!(
                        free_and_withdrawn(&inst),
                        (free, hw),
                        "a refusal changed nothing"
                    );
                }
            }
            Op::FreeExcept(i, off) if !held.is_empty() => {
                let (pfn, order) = held.swap_remove(i % held.len());
                let bad = pfn + u64::from(off) % (1 << order);
                let (free, hw) = free_and_withdrawn(&inst);
                inst.free_pages_except(pfn, order, bad).unwrap();
                assert_eq!(free_and_withdrawn(&inst), (free + (1 << order) - 1, hw + 1));
                withdrawn.push(bad);
            }
            Op::FreeExcept(..) => {}
        }
        // Withdrawn pages go with their range.
        withdrawn.retain(|&p| inst.zones.values().any(|tz| tz.zone.spans(p)));
        check_invariants(&inst);
    }
    // Everything returns: free all, unpoison, drain, and every zone is
    // whole again.
    for (pfn, order) in held.drain(..) {
        inst.free(pfn, order);
    }
    for pfn in withdrawn.drain(..) {
        assert!(inst.put_page_back_buddy(pfn));
    }
    for tz in inst.zones.values_mut() {
        for p in tz.pcp.iter_mut() {
            p.drain(&mut tz.zone);
        }
        assert_eq!(tz.zone.nr_free_pages, tz.zone.managed_pages);
    }
    check_invariants(&inst);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_workloads_keep_every_invariant(ops in proptest::collection::vec(op(), 1..120)) {
        run(&ops);
    }
}

/// A fixed-seed workload on one 128 MiB zone: fill to ~90% with mixed orders
/// and types, free a random half, drain. The number of fully free pageblocks
/// left (order >= 9 free blocks, counted in pageblocks) is recorded here so a
/// change to the fallback or merge logic shows up as a different number.
#[test]
fn fragmentation_scenario_is_recorded() {
    let mut inst = Instance::new(1);
    inst.add_range(1, ZoneType::Normal, 0, 0x100000, 32768)
        .unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut held = Vec::new();
    let gfps = [
        Gfp::KERNEL,
        Gfp::HIGHUSER_MOVABLE,
        Gfp(Gfp::KERNEL.0 | Gfp::RECLAIMABLE),
    ];
    while inst.zone(1, ZoneType::Normal).nr_free_pages > 32768 / 10 {
        let r = rand();
        let order = [0, 0, 0, 0, 1, 2, 3, 4][(r % 8) as usize];
        // Movable dominates, as on real systems.
        let gfp = gfps[[1, 1, 1, 1, 1, 0, 0, 2][((r >> 8) % 8) as usize]];
        match alloc_pages(&mut inst, &AllocRequest::new(gfp, order, 1)) {
            Ok(a) => held.push((a.pfn, order)),
            Err(_) => break,
        }
    }
    let mut i = 0;
    while i < held.len() {
        if rand() % 2 == 0 {
            let (pfn, order) = held.swap_remove(i);
            inst.free(pfn, order);
        } else {
            i += 1;
        }
    }
    let tz = inst.zones.get_mut(&(1, 0)).unwrap();
    tz.pcp[0].drain(&mut tz.zone);
    check_invariants(&inst);
    let z = inst.zone(1, ZoneType::Normal);
    let free_pageblocks = z.nr_free_per_order()[9] + 2 * z.nr_free_per_order()[10];
    let claims = z.stat.fallback_claim;
    let steals = z.stat.fallback_steal;
    std::println!(
        "fragmentation: free pageblocks {free_pageblocks}/64, claims {claims}, steals {steals}"
    );
    assert_eq!((free_pageblocks, claims, steals), RECORDED);
}

/// Recorded by `fragmentation_scenario_is_recorded` (free pageblocks, claims, steals).
const RECORDED: (u64, u64, u64) = (5, 12, 0);
