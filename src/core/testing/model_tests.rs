// SPDX-License-Identifier: GPL-2.0

//! The differential test: the core (through the host [`Instance`]) and the
//! reference [`model`](super::model) run the same random operations, and
//! after every step everything observable must agree: the outcome of each
//! allocation (node, zone, pfn, which pass, or why it failed), every free
//! list in list order, the free counts, the pageblock types, the
//! highatomic reserve, the watermarks and how many checks failed, every
//! CPU's pcp lists and tuning state, and the pages memory failure withdrew.

use super::super::{
    alloc_flags::{ALLOC_NOLOCK, ALLOC_NO_CODETAG},
    gfp::Gfp,
    page_alloc::{alloc_pages, AllocFailure, AllocPath, AllocRequest},
    pcp::NR_PCP_LISTS,
    zonelist::{AllocZonelist, NodeMask},
    PAGEBLOCK_NR_PAGES,
};
use super::model::{self, MFail, MReq, Model};
use super::*;
use proptest::prelude::*;
use std::string::String;

/// One step of a workload.
#[derive(Debug, Clone)]
pub enum Op {
    Alloc {
        gfp: u32,
        order: u32,
        nid: i32,
        local: i32,
        mask: Option<u8>,
        private: bool,
        alloc_flags: u32,
    },
    Free(usize),
    AddRange {
        nid: u8,
        movable: bool,
        slot: u8,
        blocks: u64,
    },
    RemoveRange(usize),
    Cpu(usize),
    Drain,
    Owner {
        nid: u8,
        owner: u32,
    },
    Distance {
        from: u8,
        to: u8,
        d: u8,
    },
    /// `min_free_kbytes` and the other lowmem pages, or each zone alone.
    Wmark(Option<(u64, u64)>),
    /// `high` and `batch` of every pcp of every zone there is.
    PcpTune(u32, u32),
    /// Memory failure: `take_page_off_buddy()` of a pfn that `pick` says
    /// where to find (see [`poison_target`]).
    Poison {
        pick: u8,
        i: usize,
        off: u16,
    },
    /// A block handed out comes back without the page at `off`.
    FreeExcept {
        i: usize,
        off: u16,
    },
    /// Unpoison, `put_page_back_buddy()`: a withdrawn pfn, or (`withdrawn`
    /// false) any pfn of a range.
    Unpoison {
        withdrawn: bool,
        i: usize,
        off: u16,
    },
}

const BASES: [u32; 7] = [
    Gfp::KERNEL.0,
    Gfp::ATOMIC.0,
    Gfp::HIGHUSER_MOVABLE.0,
    Gfp::KERNEL.0 | Gfp::RECLAIMABLE,
    Gfp::NOWAIT.0,
    Gfp::NOWAIT.0 | Gfp::HIGH,
    Gfp::ATOMIC.0 | Gfp::MOVABLE,
];

/// Extra bits, each added with probability 1/4 (or less).
const EXTRAS: [u32; 11] = [
    Gfp::HIGH,
    Gfp::NOMEMALLOC,
    Gfp::MEMALLOC,
    Gfp::NORETRY,
    Gfp::RETRY_MAYFAIL,
    Gfp::THISNODE,
    Gfp::NOWARN,
    Gfp::IO,
    Gfp::NOFAIL,
    Gfp::DMA32,
    Gfp::MOVABLE,
];

fn gfp() -> impl Strategy<Value = u32> {
    (0..BASES.len(), any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(b, x, y, z)| {
        let mut g = BASES[b];
        let bits = x & y & (z | 0x00ff);
        for (i, e) in EXTRAS.iter().enumerate() {
            if bits & (1 << i) != 0 {
                g |= e;
            }
        }
        g
    })
}

fn op() -> impl Strategy<Value = Op> {
    let alloc = (
        gfp(),
        prop_oneof![6 => 0u32..=3, 2 => 4u32..=10, 1 => Just(11u32)],
        prop_oneof![4 => 1i32..=3, 1 => Just(-1i32), 1 => Just(0i32), 1 => Just(4i32)],
        0i32..=4,
        prop_oneof![3 => Just(None), 1 => any::<u8>().prop_map(Some)],
        prop::bool::weighted(0.25),
        prop_oneof![
            12 => Just(0u32),
            2 => Just(ALLOC_NOLOCK),
            2 => Just(ALLOC_NO_CODETAG),
            1 => Just(0x200u32)
        ],
    )
        .prop_map(
            |(gfp, order, nid, local, mask, private, alloc_flags)| Op::Alloc {
                gfp,
                order,
                nid,
                local,
                mask,
                private,
                alloc_flags,
            },
        );
    prop_oneof![
        12 => alloc,
        6 => any::<usize>().prop_map(Op::Free),
        2 => (1u8..=3, prop::bool::weighted(0.2), 0u8..4, prop_oneof![4 => Just(1u64), 2 => Just(2u64), 1 => Just(4u64), 1 => Just(64u64)])
            .prop_map(|(nid, movable, slot, blocks)| Op::AddRange { nid, movable, slot, blocks }),
        1 => any::<usize>().prop_map(Op::RemoveRange),
        1 => (0usize..2).prop_map(Op::Cpu),
        1 => Just(Op::Drain),
        1 => (1u8..=3, 0u32..3).prop_map(|(nid, owner)| Op::Owner { nid, owner }),
        1 => (0u8..=4, 0u8..=4, 10u8..=40).prop_map(|(from, to, d)| Op::Distance { from, to, d }),
        2 => prop_oneof![
            Just(None),
            Just(Some((512, 0))),
            Just(Some((4 * 4096, 1 << 20))),
            Just(Some((4 * 60_000, 0))),
            Just(Some((4 * 200_000, 0)))
        ].prop_map(Op::Wmark),
        1 => prop_oneof![
            Just((378u32, 63u32)),
            Just((0, 1)),
            Just((4, 8)),
            Just((6, 2)),
            Just((500, 12)),
            Just((511, 1)),
        ].prop_map(|(h, b)| Op::PcpTune(h, b)),
        3 => (prop::sample::select(&[0u8, 0, 0, 0, 1, 1, 2, 2, 3, 4][..]), any::<usize>(), any::<u16>())
            .prop_map(|(pick, i, off)| Op::Poison { pick, i, off }),
        2 => (any::<usize>(), any::<u16>()).prop_map(|(i, off)| Op::FreeExcept { i, off }),
        1 => (prop::bool::weighted(0.8), any::<usize>(), any::<u16>())
            .prop_map(|(withdrawn, i, off)| Op::Unpoison { withdrawn, i, off }),
    ]
}

/// Where a poisoned pfn lies, by `pick`: 0 any page of a range (mostly
/// free), 1 a page of a block handed out, 2 a page on a pcp list, 3 a page
/// already withdrawn, 4 no zone's.
fn poison_target(m: &Model, pick: u8, i: usize, off: u16) -> Option<Pfn> {
    let off = u64::from(off);
    let nth = |v: Vec<Pfn>| (!v.is_empty()).then(|| v[i % v.len()]);
    match pick {
        0 => {
            let ranges: Vec<(Pfn, u64)> = m
                .zones
                .values()
                .flat_map(|z| z.ranges.iter().copied())
                .collect();
            let (s, n) = *ranges.get(i % ranges.len().max(1))?;
            Some(s + off % n)
        }
        1 => {
            let (&pfn, o) = m.out.iter().nth(i % m.out.len().max(1))?;
            Some(pfn + off % (1 << o.order))
        }
        2 => nth(m
            .zones
            .values()
            .flat_map(|z| z.pcp.iter())
            .flat_map(|p| p.lists.iter().flatten().copied())
            .collect()),
        3 => nth(withdrawn(m)),
        _ => Some(range_start(4, 0) + off),
    }
}

fn withdrawn(m: &Model) -> Vec<Pfn> {
    m.zones
        .values()
        .flat_map(|z| z.poisoned.iter().copied())
        .collect()
}

fn range_start(nid: u8, slot: u8) -> Pfn {
    0x100_0000 * u64::from(nid) + 0x2_0000 * u64::from(slot)
}

fn core_list(z: &Zone<VecStore>, order: usize, mt: MigrateType) -> Vec<Pfn> {
    let list = &z.free_area[order].free_list[mt.index()];
    let mut v = Vec::new();
    let mut p = list.head;
    for _ in 0..list.nr {
        v.push(p);
        p = z.frame(p).map_or(super::super::frame::NO_PFN, |m| m.next);
    }
    v
}

fn core_result(
    r: &Result<super::super::page_alloc::Allocated, AllocFailure>,
) -> model::AllocResult {
    match r {
        Ok(a) => Ok((
            a.zone.nid,
            a.zone.zone as u8,
            a.pfn,
            match a.path {
                AllocPath::Fast => 0,
                AllocPath::Slow => 1,
                AllocPath::Drained => 2,
                AllocPath::Forced => 3,
            },
        )),
        Err(AllocFailure::Invalid(e)) => Err(MFail::Invalid(*e)),
        Err(AllocFailure::NoMemory { warn }) => Err(MFail::NoMemory { warn: *warn }),
    }
}

/// Everything observable, or the first difference.
fn compare(inst: &Instance, m: &Model) -> Result<(), String> {
    let keys: std::collections::BTreeSet<(u8, u8)> =
        inst.zones.keys().chain(m.zones.keys()).copied().collect();
    for key in keys {
        let (tz, mz) = match (inst.zones.get(&key), m.zones.get(&key)) {
            (Some(t), Some(z)) => (t, z),
            (t, z) => {
                let empty =
                    t.is_none_or(|t| t.zone.managed_pages == 0) && z.is_none_or(|z| z.managed == 0);
                if empty {
                    continue;
                }
                return Err(format!("zone {key:?}: exists in only one"));
            }
        };
        let z = &tz.zone;
        let ctx = |what: &str| format!("zone {key:?}: {what}");
        if z.managed_pages != mz.managed {
            return Err(ctx(&format!(
                "managed {} vs {}",
                z.managed_pages, mz.managed
            )));
        }
        for order in 0..=MAX_PAGE_ORDER as usize {
            for mt in MigrateType::ALL {
                let c = core_list(z, order, mt);
                let w: Vec<Pfn> = mz.free[order][mt.index()].iter().copied().collect();
                if c != w {
                    return Err(ctx(&format!(
                        "free list order {order} {}: core {c:x?} model {w:x?}",
                        mt.name()
                    )));
                }
            }
        }
        if (z.nr_free_pages, z.nr_free_highatomic) != (mz.nr_free(), mz.nr_free_ha()) {
            return Err(ctx(&format!(
                "free {}/{} vs {}/{}",
                z.nr_free_pages,
                z.nr_free_highatomic,
                mz.nr_free(),
                mz.nr_free_ha()
            )));
        }
        if z.nr_hwpoison != mz.poisoned.len() as u64 {
            return Err(ctx(&format!(
                "nr_hwpoison {} vs {}",
                z.nr_hwpoison,
                mz.poisoned.len()
            )));
        }
        if let Some(p) = mz
            .poisoned
            .iter()
            .find(|&&p| !z.frame(p).is_some_and(|f| f.hwpoison))
        {
            return Err(ctx(&format!("{p:#x} withdrawn in the model only")));
        }
        if z.nr_reserved_highatomic != mz.nr_reserved_ha {
            return Err(ctx(&format!(
                "nr_reserved_highatomic {} vs {}",
                z.nr_reserved_highatomic, mz.nr_reserved_ha
            )));
        }
        if z.watermark != mz.wmark {
            return Err(ctx(&format!(
                "watermarks {:?} vs {:?}",
                z.watermark, mz.wmark
            )));
        }
        if z.stat.watermark_fail != mz.wmark_fail {
            return Err(ctx(&format!(
                "failed watermark checks {} vs {}",
                z.stat.watermark_fail, mz.wmark_fail
            )));
        }
        let st = &z.stat;
        let core_stat = [
            st.rmqueue_blocks,
            st.freed_blocks,
            st.fallback_claim,
            st.fallback_steal,
            st.highatomic_reserved,
            st.highatomic_unreserved,
        ];
        if core_stat != mz.stat {
            return Err(ctx(&format!(
                "stat (out, in, claim, steal, reserve, unreserve) {core_stat:?} vs {:?}",
                mz.stat
            )));
        }
        for r in z.ranges() {
            let mut pb = r.start;
            while pb < r.end() {
                if z.pageblock_mt(pb).index() != mz.pb_type(pb) {
                    return Err(ctx(&format!(
                        "pageblock {pb:#x}: {} vs {}",
                        z.pageblock_mt(pb).index(),
                        mz.pb_type(pb)
                    )));
                }
                pb += PAGEBLOCK_NR_PAGES;
            }
        }
        for (cpu, (p, mp)) in tz.pcp.iter().zip(mz.pcp.iter()).enumerate() {
            for pindex in 0..NR_PCP_LISTS {
                let c: Vec<Pfn> = p.list_pfns(pindex).collect();
                let w: Vec<Pfn> = mp.lists[pindex].iter().copied().collect();
                if c != w {
                    return Err(ctx(&format!(
                        "cpu {cpu} pcp list {pindex}: {c:x?} vs {w:x?}"
                    )));
                }
            }
            let s = &p.stat;
            let core = (
                p.count,
                p.free_count,
                p.alloc_factor,
                [s.hit, s.miss, s.refill, s.drain, s.free],
            );
            let model = (mp.count, mp.free_count, mp.alloc_factor, mp.stat);
            if core != model {
                return Err(ctx(&format!(
                    "cpu {cpu} pcp count/free_count/alloc_factor/stat {core:?} vs {model:?}"
                )));
            }
        }
    }
    let out: Vec<(Pfn, u32)> = m.out.iter().map(|(&p, o)| (p, o.order)).collect();
    let core_out: Vec<(Pfn, u32)> = inst.allocated.iter().map(|(&p, &o)| (p, o)).collect();
    if out != core_out {
        return Err(format!("handed out: core {core_out:x?} model {out:x?}"));
    }
    Ok(())
}

/// Runs `ops` on both, starting from node 1 with `pages` pages; the first
/// divergence, with the step, is the error.
pub fn run(pages: u64, ops: &[Op]) -> Result<(), String> {
    let mut inst = Instance::new(2);
    let mut m = Model::new(2);
    inst.add_range(1, ZoneType::Normal, 0, range_start(1, 0), pages)
        .map_err(|e| format!("{e:?}"))?;
    m.add_range(1, false, 0, range_start(1, 0), pages)
        .map_err(|e| format!("{e:?}"))?;
    for (step, op) in ops.iter().enumerate() {
        let at = |e: String| format!("step {step} ({op:?}): {e}");
        match *op {
            Op::Alloc {
                gfp,
                order,
                nid,
                local,
                mask,
                private,
                alloc_flags,
            } => {
                let req = AllocRequest {
                    nodemask: mask.map(|b| NodeMask(u64::from(b))),
                    zonelist: if private {
                        AllocZonelist::Private
                    } else {
                        AllocZonelist::Default
                    },
                    alloc_flags,
                    local_nid: local,
                    ..AllocRequest::new(Gfp(gfp), order, nid)
                };
                let c = core_result(&alloc_pages(&mut inst, &req));
                let w = m.alloc(&MReq {
                    gfp,
                    order,
                    nid,
                    mask: mask.map(u64::from),
                    private,
                    alloc_flags,
                    local_nid: local,
                });
                if c != w {
                    return Err(at(format!("allocation: core {c:x?} model {w:x?}")));
                }
            }
            Op::Free(i) => {
                if !m.out.is_empty() {
                    let pfn = *m.out.keys().nth(i % m.out.len()).unwrap_or(&0);
                    let order = m.out[&pfn].order;
                    inst.free(pfn, order);
                    m.free(pfn);
                }
            }
            Op::AddRange {
                nid,
                movable,
                slot,
                blocks,
            } => {
                let start = range_start(nid, slot);
                let zt = if movable {
                    ZoneType::Movable
                } else {
                    ZoneType::Normal
                };
                let c = inst.add_range(nid, zt, 0, start, 1024 * blocks);
                let w = m.add_range(nid, movable, 0, start, 1024 * blocks);
                if c != w {
                    return Err(at(format!("add_range: core {c:?} model {w:?}")));
                }
            }
            Op::RemoveRange(i) => {
                let starts: Vec<Pfn> = m
                    .zones
                    .values()
                    .flat_map(|z| z.ranges.iter().map(|r| r.0))
                    .collect();
                if !starts.is_empty() {
                    let start = starts[i % starts.len()];
                    let c = inst.remove_range(start);
                    let w = m.remove_range(start);
                    if c != w {
                        return Err(at(format!("remove_range: core {c:?} model {w:?}")));
                    }
                }
            }
            Op::Cpu(c) => {
                inst.cpu = c;
                m.cpu = c;
            }
            Op::Drain => {
                inst.drain_all();
                m.drain_all();
            }
            Op::Owner { nid, owner } => {
                let c = inst.set_owner(nid, owner);
                let w = m.set_owner(nid, owner);
                if c != w {
                    return Err(at(format!("owner: core {c:?} model {w:?}")));
                }
            }
            Op::Distance { from, to, d } => {
                inst.topo.set_distance(i32::from(from), i32::from(to), d);
                m.set_distance(usize::from(from), usize::from(to), d);
            }
            Op::PcpTune(high, batch) => {
                for tz in inst.zones.values_mut() {
                    for p in tz.pcp.iter_mut() {
                        p.set_high_batch(high, batch)
                            .map_err(|e| at(format!("{e:?}")))?;
                    }
                }
                m.set_pcp(high, batch);
            }
            Op::Wmark(w) => {
                inst.wmark = w;
                inst.setup_per_zone_wmarks();
                m.set_wmark(w);
            }
            Op::Poison { pick, i, off } => {
                if let Some(pfn) = poison_target(&m, pick, i, off) {
                    let c = inst.take_page_off_buddy(pfn);
                    let w = m.take_off(pfn);
                    if c != w {
                        return Err(at(format!(
                            "take_page_off_buddy({pfn:#x}): core {c} model {w}"
                        )));
                    }
                }
            }
            Op::FreeExcept { i, off } => {
                if !m.out.is_empty() {
                    let pfn = *m.out.keys().nth(i % m.out.len()).unwrap_or(&0);
                    let order = m.out[&pfn].order;
                    // Now and then a pfn past the block: refused by both.
                    let bad = pfn + u64::from(off) % ((1 << order) + 1);
                    let c = inst.free_pages_except(pfn, order, bad);
                    let w = m.free_except(pfn, bad);
                    if c != w {
                        return Err(at(format!(
                            "free_pages_except({pfn:#x}, {order}, {bad:#x}): core {c:?} model {w:?}"
                        )));
                    }
                }
            }
            Op::Unpoison {
                withdrawn: true, i, ..
            } => {
                let v = withdrawn(&m);
                if !v.is_empty() {
                    let pfn = v[i % v.len()];
                    let c = inst.put_page_back_buddy(pfn);
                    let w = m.put_back(pfn);
                    if c != w {
                        return Err(at(format!(
                            "put_page_back_buddy({pfn:#x}): core {c} model {w}"
                        )));
                    }
                }
            }
            Op::Unpoison {
                withdrawn: false,
                i,
                off,
            } => {
                if let Some(pfn) = poison_target(&m, 0, i, off) {
                    let c = inst.put_page_back_buddy(pfn);
                    let w = m.put_back(pfn);
                    if c != w {
                        return Err(at(format!(
                            "put_page_back_buddy({pfn:#x}): core {c} model {w}"
                        )));
                    }
                }
            }
        }
        compare(&inst, &m).map_err(at)?;
    }
    check_invariants(&inst);
    Ok(())
}

/// Cases per run: at least 10^4 in every `cargo test`. `make mutants`
/// lowers it with `PNALLOC_MODEL_CASES`, since it runs the suite once per
/// mutant.
fn cases() -> u32 {
    std::env::var("PNALLOC_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 100_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn core_matches_reference_model(
        pages in prop_oneof![3 => Just(1024u64), 3 => Just(2048u64), 2 => Just(65536u64)],
        ops in proptest::collection::vec(op(), 1..100),
    ) {
        if let Err(e) = run(pages, &ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// A workload that reaches the highatomic reserve: a zone large enough for
/// one (1% of 65536 pages is over a pageblock), watermarks above most of
/// it, and high-order GFP_ATOMIC requests.
#[test]
fn model_agrees_on_highatomic_reserve_and_forced_unreserve() {
    let mut ops = std::vec![
        Op::AddRange {
            nid: 2,
            movable: false,
            slot: 0,
            blocks: 64,
        },
        Op::Wmark(Some((4 * 200_000, 0))),
    ];
    for _ in 0..4 {
        ops.push(Op::Alloc {
            gfp: Gfp::ATOMIC.0,
            order: 2,
            nid: 2,
            local: 0,
            mask: None,
            private: false,
            alloc_flags: 0,
        });
    }
    ops.push(Op::Wmark(Some((4 * 4096, 1 << 20))));
    for i in 0..4 {
        ops.push(Op::Free(i));
    }
    ops.push(Op::Drain);
    ops.push(Op::Wmark(Some((4 * 200_000, 0))));
    ops.push(Op::Alloc {
        gfp: Gfp::KERNEL.0,
        order: 0,
        nid: 2,
        local: 0,
        mask: None,
        private: false,
        alloc_flags: 0,
    });
    run(2048, &ops).unwrap();
}
