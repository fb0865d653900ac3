// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `pnalloc_policy`: 7.3's allocation policy on the DIMM nodes
//! the module carved at load, through the kernel layer (every request goes
//! through [`crate::api::Pages`] to [`crate::node::Instance::alloc`], the
//! path of every entry point), on real struct pages and under the test
//! kernel's KASAN, lockdep, DEBUG_VM and debug_pagealloc.
//!
//! The host tests check the core against a reference model; these cases
//! check that the kernel layer (lockless order-0 watermark check, pcp
//! lists, zone locks, RCU zonelists, `prep_new_page()`) gives the same
//! answers on hot-plugged memory. Each number is computed from the zone's
//! own watermarks and counts:
//!
//! - orders 9 and 10 take exactly one buddy block and split at most one,
//!   and the blocks merge back;
//! - a node runs down to exactly the mark `__zone_watermark_ok()` sets for
//!   each kind of caller: `min` for `GFP_KERNEL`, `min - min/2` for
//!   `__GFP_HIGH`, a quarter of that less for `GFP_ATOMIC`, nothing for
//!   `__GFP_MEMALLOC`, whose pages are marked pfmemalloc;
//! - a high-order atomic request below the watermark reserves its
//!   pageblock, and the retries of a caller that may sleep give it back;
//! - a request falls back through the nodes nearest first, by the SLIT;
//! - a nolock request fails on a held zone lock and only because of it.
//!
//! Every case gives everything back, and the zone is fully merged again.

use kernel::prelude::*;

/// Collects failed expectations, with their values (KUnit's Rust asserts
/// print only the expression), so that a case gives back everything it
/// holds before it reports: a failed KUnit assertion ends the test thread
/// without running destructors, which would leave the node full for the
/// cases after it.
#[derive(Default)]
struct Check {
    failed: u32,
}

impl Check {
    fn eq<T: PartialEq + ::core::fmt::Debug>(&mut self, what: &str, got: T, want: T) -> bool {
        if got == want {
            return true;
        }
        pr_err!("pnalloc_policy: {}: {:?}, want {:?}\n", what, got, want);
        self.failed += 1;
        false
    }

    fn ok(&self) -> bool {
        self.failed == 0
    }
}

#[kunit_tests(pnalloc_policy)]
mod policy {
    use kernel::prelude::*;

    use super::Check;
    use crate::{
        api::Pages,
        core::{
            alloc_flags::ALLOC_NOLOCK,
            gfp::Gfp,
            migratetype::{MigrateType, MIGRATE_TYPES},
            page_alloc::AllocRequest,
            zone::{calculate_min_free_kbytes, WATERMARK_SCALE_FACTOR},
            zonelist::{AllocZonelist, NodeMask},
            Pfn, MAX_PAGE_ORDER, NR_PAGE_ORDERS, PAGEBLOCK_NR_PAGES,
        },
        mm_sys::{self, tag_site},
        node::{self, NodeZone},
    };

    /// The private nodes the module carved at load, lowest id first.
    fn private_nodes() -> Result<KVec<i32>> {
        let mut v = KVec::new();
        for nid in 0..mm_sys::nr_node_ids() {
            if mm_sys::node_info(nid).is_ok_and(|n| n.is_private != 0) {
                v.push(nid, GFP_KERNEL)?;
            }
        }
        Ok(v)
    }

    fn node_zone(nid: i32) -> Result<&'static NodeZone> {
        node::instance().ok_or(ENODEV)?.node_zone(nid)
    }

    /// The zone's counts with every CPU's pcp lists drained into the buddy.
    struct Snapshot {
        free: u64,
        managed: u64,
        per_order: [u64; NR_PAGE_ORDERS],
        wmark: [u64; 3],
        reserved_highatomic: u64,
        free_highatomic: u64,
        pageblocks: [u64; MIGRATE_TYPES],
    }

    fn settle(nz: &NodeZone) -> Snapshot {
        nz.drain_all_pages();
        nz.reset_pcp_tuning();
        let z = nz.zone.lock();
        Snapshot {
            free: z.nr_free_pages,
            managed: z.managed_pages,
            per_order: z.nr_free_per_order(),
            wmark: z.watermark,
            reserved_highatomic: z.nr_reserved_highatomic,
            free_highatomic: z.nr_free_highatomic,
            pageblocks: z.pageblock_counts(),
        }
    }

    /// `/proc/buddyinfo` of a zone whose pages are all free and merged:
    /// `managed / 1024` blocks of MAX_PAGE_ORDER and nothing else.
    fn merged(managed: u64) -> [u64; NR_PAGE_ORDERS] {
        let mut b = [0; NR_PAGE_ORDERS];
        b[MAX_PAGE_ORDER as usize] = managed >> MAX_PAGE_ORDER;
        b
    }

    /// Every page free, merged into MAX_PAGE_ORDER blocks, no reserve: how
    /// a node is between cases.
    fn check_whole(c: &mut Check, what: &str, s: &Snapshot) {
        c.eq(what, s.free, s.managed);
        c.eq(what, s.per_order, merged(s.managed));
        c.eq(what, (s.reserved_highatomic, s.free_highatomic), (0, 0));
        c.eq(what, s.pageblocks[MigrateType::HighAtomic.index()], 0);
    }

    /// Free pages of the zone wherever they wait: the buddy and every
    /// CPU's pcp lists.
    fn free_pages(nz: &NodeZone) -> u64 {
        let buddy = nz.zone.lock().nr_free_pages;
        buddy + nz.pcp_count()
    }

    fn request(gfp: u32, order: u32, nid: i32) -> AllocRequest {
        AllocRequest::new(Gfp(gfp | Gfp::NOWARN), order, nid)
    }

    /// Takes blocks of `gfp | __GFP_THISNODE` from node `nid`, from order
    /// `max_order` down to 0, each order until the node refuses it, and
    /// checks that it refuses exactly where `__zone_watermark_ok()` draws
    /// the line for a caller whose mark is `mark`: order `o` passes while
    /// `free - (2^o - 1) > mark`, so it gets `(free - mark) >> o` blocks,
    /// and the node ends with exactly `mark` pages free.
    ///
    /// A caller that may sleep drains the pcp lists itself before its last
    /// pass, so the free pages it is measured against include them. One
    /// that cannot (7.3 neither) only sees the buddy: the test drains
    /// before each of its requests.
    fn fill(
        c: &mut Check,
        nid: i32,
        gfp: u32,
        mark: u64,
        max_order: u32,
        held: &mut KVec<Pages>,
    ) -> Result {
        let nz = node_zone(nid)?;
        let blocking = Gfp(gfp).allows_blocking();
        for order in (0..=max_order).rev() {
            let left = free_pages(nz);
            let want = left.saturating_sub(mark) >> order;
            let mut got = 0;
            let refused = loop {
                if !blocking {
                    nz.drain_all_pages();
                }
                match Pages::alloc(tag_site!(), &request(gfp | Gfp::THISNODE, order, nid)) {
                    Ok(p) => {
                        c.eq("THISNODE block's node", p.nid(), nid);
                        held.push(p, GFP_KERNEL)?;
                        got += 1;
                        // More than the mark allows: stop, it is wrong already.
                        if got > want {
                            break None;
                        }
                    }
                    Err(e) => break Some(e),
                }
            };
            pr_info!(
                "pnalloc_policy: node {} gfp {:#x} order {}: {} blocks, refused at {} free (mark {})\n",
                nid,
                gfp,
                order,
                got,
                free_pages(nz),
                mark
            );
            c.eq("refusal", refused, Some(ENOMEM));
            c.eq("blocks before the refusal", got, want);
            c.eq(
                "free after the order",
                free_pages(nz),
                left - (want << order),
            );
        }
        c.eq("free pages at the end", free_pages(nz), mark);
        Ok(())
    }

    /// Orders 9 and 10 on a real DIMM: buddyinfo moves by exactly one
    /// block per allocation and free, every page of each block can be
    /// written and read back (debug_pagealloc maps it, KASAN unpoisons
    /// it), and the halves merge back.
    #[test]
    fn orders_9_and_10_split_and_merge_exactly() -> Result {
        let mut c = Check::default();
        let a = *private_nodes()?.first().ok_or(ENODEV)?;
        let nz = node_zone(a)?;
        let s0 = settle(nz);
        check_whole(&mut c, "start", &s0);
        let n = s0.managed >> MAX_PAGE_ORDER;
        let buddy = |o9: u64, o10: u64| {
            let mut b = [0; NR_PAGE_ORDERS];
            b[9] = o9;
            b[10] = o10;
            b
        };
        let counts = || {
            let z = nz.zone.lock();
            (z.nr_free_per_order(), z.nr_free_pages)
        };
        let gfp = Gfp::KERNEL.0 | Gfp::THISNODE;
        // Order 10: one MAX_PAGE_ORDER block leaves whole.
        let big = Pages::alloc(tag_site!(), &request(gfp, 10, a))?;
        c.eq("order-10 node", big.nid(), a);
        c.eq("order 10", counts(), (buddy(0, n - 1), s0.managed - 1024));
        // Order 9: the next order-10 block is split; its upper half stays
        // free as order 9.
        let lo = Pages::alloc(tag_site!(), &request(gfp, 9, a))?;
        c.eq("order 9", counts(), (buddy(1, n - 2), s0.managed - 1536));
        // The next order 9 is that half: the buddy of the first.
        let hi = Pages::alloc(tag_site!(), &request(gfp, 9, a))?;
        c.eq("second order 9 is the buddy", hi.pfn(), lo.pfn() ^ 512);
        c.eq(
            "order 9 again",
            counts(),
            (buddy(0, n - 2), s0.managed - 2048),
        );
        for (p, seed) in [(&big, 0x9a10_u64), (&lo, 0x9a09), (&hi, 0x9b09)] {
            c.eq("head page", mm_sys::page_state(p.pfn()), (false, 1, a));
            let nr = 1u64 << p.order();
            // SAFETY: the handle owns the block.
            let ok = unsafe {
                mm_sys::pattern(p.pfn(), nr, seed, false)
                    && mm_sys::pattern(p.pfn(), nr, seed, true)
            };
            c.eq("every page written and read back", ok, true);
        }
        // Orders above PAGE_ALLOC_COSTLY_ORDER go straight to the buddy.
        drop(lo);
        c.eq(
            "free one half",
            counts(),
            (buddy(1, n - 2), s0.managed - 1536),
        );
        drop(hi);
        c.eq(
            "halves merge",
            counts(),
            (buddy(0, n - 1), s0.managed - 1024),
        );
        drop(big);
        c.eq("all back", counts(), (buddy(0, n), s0.managed));
        c.eq("pcp untouched", nz.pcp_count(), 0);
        check_whole(&mut c, "end", &settle(nz));
        assert!(c.ok());
        Ok(())
    }

    /// `__zone_watermark_ok()` on a node running out, for each kind of
    /// caller in turn (`mm/page_alloc.c`: ALLOC_MIN_RESERVE takes half of
    /// `min`, ALLOC_NON_BLOCK a quarter of the rest, ALLOC_NO_WATERMARKS
    /// everything), with `__GFP_THISNODE` so nothing falls back.
    #[test]
    fn each_caller_stops_at_its_watermark() -> Result {
        let mut c = Check::default();
        let a = *private_nodes()?.first().ok_or(ENODEV)?;
        let nz = node_zone(a)?;
        let s0 = settle(nz);
        check_whole(&mut c, "start", &s0);
        // __setup_per_zone_wmarks() for a zone that is the only lowmem
        // zone pnalloc knows of: min_free_kbytes = sqrt(16 * its KiB); for
        // a 512 MiB DIMM min 724, low 905, high 1086.
        let min = calculate_min_free_kbytes(s0.managed * 4) / 4;
        let gap = ::core::cmp::max(min / 4, s0.managed * WATERMARK_SCALE_FACTOR / 10_000);
        c.eq("watermarks", s0.wmark, [min, min + gap, min + 2 * gap]);
        let mut held = KVec::new();

        // GFP_KERNEL: WMARK_MIN, no reserves.
        fill(&mut c, a, Gfp::KERNEL.0, min, MAX_PAGE_ORDER, &mut held)?;
        let normal = held.len();
        // GFP_NOWAIT cannot sleep but has no __GFP_HIGH: ALLOC_NON_BLOCK
        // alone lowers no mark.
        let r = Pages::alloc(tag_site!(), &request(Gfp::NOWAIT.0 | Gfp::THISNODE, 0, a));
        c.eq("GFP_NOWAIT at min", r.err(), Some(ENOMEM));

        // __GFP_HIGH from a caller that may sleep: ALLOC_MIN_RESERVE.
        let high = min - min / 2;
        fill(
            &mut c,
            a,
            Gfp::KERNEL.0 | Gfp::HIGH,
            high,
            MAX_PAGE_ORDER,
            &mut held,
        )?;

        // GFP_ATOMIC: ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK. Order 0 only:
        // above it, ALLOC_HIGHATOMIC would reserve a pageblock (the next
        // case).
        let atomic = high - high / 4;
        fill(&mut c, a, Gfp::ATOMIC.0, atomic, 0, &mut held)?;
        let watermarked = held.len();

        // __GFP_MEMALLOC: a pass with ALLOC_NO_WATERMARKS takes the rest.
        fill(&mut c, a, Gfp::KERNEL.0 | Gfp::MEMALLOC, 0, 0, &mut held)?;
        c.eq(
            "pages below the atomic mark",
            (held.len() - watermarked) as u64,
            atomic,
        );
        {
            let z = nz.zone.lock();
            c.eq("buddy empty", z.nr_free_per_order(), [0; NR_PAGE_ORDERS]);
        }
        let r = Pages::alloc(
            tag_site!(),
            &request(Gfp::ATOMIC.0 | Gfp::MEMALLOC | Gfp::THISNODE, 0, a),
        );
        c.eq("nothing left even for MEMALLOC", r.err(), Some(ENOMEM));
        // prep_new_page() marks exactly the ALLOC_NO_WATERMARKS pages.
        let pfmemalloc = |range: &[Pages]| {
            range
                .iter()
                .filter(|p| mm_sys::page_is_pfmemalloc(p.pfn()))
                .count()
        };
        c.eq("pfmemalloc above min", pfmemalloc(&held[..normal]), 0);
        c.eq(
            "pfmemalloc between min and the atomic mark",
            pfmemalloc(&held[normal..watermarked]),
            0,
        );
        c.eq(
            "pfmemalloc below the atomic mark",
            pfmemalloc(&held[watermarked..]),
            held.len() - watermarked,
        );

        drop(held);
        check_whole(&mut c, "end", &settle(nz));
        assert!(c.ok());
        Ok(())
    }

    /// Free pages of the pageblock holding `pfn`, by walking its frames.
    fn free_in_pageblock(nz: &NodeZone, pfn: Pfn) -> u64 {
        let z = nz.zone.lock();
        let start = pfn & !(PAGEBLOCK_NR_PAGES - 1);
        let (mut p, mut free) = (start, 0);
        while p < start + PAGEBLOCK_NR_PAGES {
            match z.frame(p) {
                Some(f) if f.buddy => {
                    free += 1 << f.order;
                    p += 1 << f.order;
                }
                _ => p += 1,
            }
        }
        free
    }

    /// Free pages on the MIGRATE_HIGHATOMIC lists, by order.
    fn on_highatomic_lists(nz: &NodeZone) -> u64 {
        let z = nz.zone.lock();
        let per_order = z.nr_free_per_order_mt(MigrateType::HighAtomic);
        (0..NR_PAGE_ORDERS).map(|o| per_order[o] << o).sum()
    }

    /// `rmqueue_buddy()` reserves the pageblock of an order > 0
    /// `__GFP_HIGH` allocation that cannot sleep when it passes only the
    /// min watermark (`reserve_highatomic_pageblock()`); a caller that may
    /// sleep gives it back when it is about to fail
    /// (`unreserve_highatomic_pageblock()`), the last pageblock only when
    /// forced (the `should_reclaim_retry()` path, not with
    /// `__GFP_NORETRY`).
    #[test]
    fn highatomic_reserve_and_unreserve() -> Result {
        let mut c = Check::default();
        let a = *private_nodes()?.first().ok_or(ENODEV)?;
        let nz = node_zone(a)?;
        let s0 = settle(nz);
        check_whole(&mut c, "start", &s0);
        // Not a tiny zone: 1% of it is at least a pageblock.
        c.eq(
            "1% of the zone",
            s0.managed / 100 >= PAGEBLOCK_NR_PAGES,
            true,
        );
        let min = s0.wmark[0];
        let mut held = KVec::new();
        fill(&mut c, a, Gfp::KERNEL.0, min, MAX_PAGE_ORDER, &mut held)?;
        nz.drain_all_pages();
        let stat0 = nz.zone.lock().stat;
        let ha = MigrateType::HighAtomic;

        // Below low, GFP_ATOMIC order 1 fails the fast pass and is served
        // by the slow one: its pageblock becomes MIGRATE_HIGHATOMIC.
        let gfp = Gfp::ATOMIC.0 | Gfp::THISNODE;
        let first = Pages::alloc(tag_site!(), &request(gfp, 1, a))?;
        let pb_free = free_in_pageblock(nz, first.pfn());
        pr_info!(
            "pnalloc_policy: node {} reserved the pageblock of pfn {:#x}: {} free pages moved\n",
            a,
            first.pfn(),
            pb_free
        );
        {
            let z = nz.zone.lock();
            c.eq("reserved", z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
            c.eq("its pageblock", z.pageblock_mt(first.pfn()), ha);
            c.eq("highatomic pageblocks", z.pageblock_counts()[ha.index()], 1);
            c.eq(
                "reserve events",
                z.stat.highatomic_reserved,
                stat0.highatomic_reserved + 1,
            );
            c.eq("free after order 1", z.nr_free_pages, min - 2);
            // The pageblock's free pages moved to the HIGHATOMIC lists.
            c.eq("free highatomic", z.nr_free_highatomic, pb_free);
        }
        c.eq("on the highatomic lists", on_highatomic_lists(nz), pb_free);
        c.eq("some free pages moved", pb_free > 0, true);

        // The next one is served from the reserve, reserving nothing more.
        let second = Pages::alloc(tag_site!(), &request(gfp, 1, a))?;
        {
            let z = nz.zone.lock();
            let pb = |p: Pfn| p & !(PAGEBLOCK_NR_PAGES - 1);
            c.eq("from the reserve", pb(second.pfn()), pb(first.pfn()));
            c.eq(
                "still one pageblock",
                z.nr_reserved_highatomic,
                PAGEBLOCK_NR_PAGES,
            );
            c.eq("free highatomic", z.nr_free_highatomic, pb_free - 2);
        }

        // GFP_KERNEL | __GFP_NORETRY: the unforced unreserve keeps the
        // last pageblock, and the request fails.
        let r = Pages::alloc(
            tag_site!(),
            &request(Gfp::KERNEL.0 | Gfp::NORETRY | Gfp::THISNODE, 0, a),
        );
        c.eq("NORETRY refused", r.err(), Some(ENOMEM));
        {
            let z = nz.zone.lock();
            c.eq("kept", z.nr_reserved_highatomic, PAGEBLOCK_NR_PAGES);
            c.eq("kept free", z.nr_free_highatomic, pb_free - 2);
            c.eq("free", z.nr_free_pages, min - 4);
        }

        // GFP_KERNEL: the forced unreserve gives the pageblock back to
        // MIGRATE_UNMOVABLE; the request still fails, below min.
        let r = Pages::alloc(tag_site!(), &request(Gfp::KERNEL.0 | Gfp::THISNODE, 0, a));
        c.eq("GFP_KERNEL refused", r.err(), Some(ENOMEM));
        {
            let z = nz.zone.lock();
            c.eq("given back", z.nr_reserved_highatomic, 0);
            c.eq("no free highatomic", z.nr_free_highatomic, 0);
            c.eq("highatomic pageblocks", z.pageblock_counts()[ha.index()], 0);
            c.eq(
                "its pageblock",
                z.pageblock_mt(first.pfn()),
                MigrateType::Unmovable,
            );
            c.eq(
                "unreserve events",
                z.stat.highatomic_unreserved,
                stat0.highatomic_unreserved + 1,
            );
            c.eq("free", z.nr_free_pages, min - 4);
        }
        c.eq("highatomic lists empty", on_highatomic_lists(nz), 0);

        drop((first, second, held));
        check_whole(&mut c, "end", &settle(nz));
        assert!(c.ok());
        Ok(())
    }

    /// The zonelist order `build_zonelists()` makes from `node_distance()`:
    /// `nid` itself, then the others nearest first. `None` unless the
    /// distances alone decide it (no two others at the same distance,
    /// where `node_load[]` would break the tie).
    fn by_distance(nid: i32, nodes: &[i32]) -> Result<Option<KVec<i32>>> {
        let mut others = KVec::new();
        for &n in nodes.iter().filter(|&&n| n != nid) {
            others.push((mm_sys::node_distance(nid, n), n), GFP_KERNEL)?;
        }
        others.sort_unstable();
        if others.windows(2).any(|w| w[0].0 == w[1].0) {
            return Ok(None);
        }
        let mut order = KVec::new();
        order.push(nid, GFP_KERNEL)?;
        for &(_, n) in others.iter() {
            order.push(n, GFP_KERNEL)?;
        }
        Ok(Some(order))
    }

    /// Requests that the preferred node cannot serve fall back through the
    /// other private nodes nearest first, as the ACPI SLIT of the test VM
    /// says (node 1: 2 at 15, 3 at 25; node 3: 2 at 20, 1 at 25), not in
    /// node id order: first with nodemasks that leave nodes out, then with
    /// nodes run down to their min watermark.
    #[test]
    fn fallback_follows_node_distance() -> Result {
        let mut c = Check::default();
        let nodes = private_nodes()?;
        // Three nodes at distinct distances, and for some node an order
        // other than by id: otherwise this case could not tell.
        c.eq("private nodes", nodes.len() >= 3, true);
        let mut orders = KVec::new();
        let mut not_by_id = false;
        for &p in nodes.iter() {
            match by_distance(p, &nodes)? {
                Some(order) => {
                    not_by_id |= order[1..].windows(2).any(|w| w[0] > w[1]);
                    orders.push(order, GFP_KERNEL)?;
                }
                None => {
                    c.eq("node with two others at one distance", p, -1);
                }
            }
        }
        c.eq("some fallback order differs from id order", not_by_id, true);
        // Without the topology this case is about, it cannot go on.
        if !c.ok() {
            assert!(c.ok());
            return Ok(());
        }

        // Every preferred node, every set of allowed nodes, both
        // zonelists (one owner: the same order): the first allowed node of
        // the preferred node's order.
        for (p, order) in nodes.iter().zip(orders.iter()) {
            for set in 1u32..(1 << nodes.len()) {
                let mut mask = NodeMask(0);
                for (i, &n) in nodes.iter().enumerate() {
                    if set & (1 << i) != 0 {
                        mask.set(n);
                    }
                }
                let want = order.iter().copied().find(|&n| mask.contains(n));
                for zl in [AllocZonelist::Default, AllocZonelist::Private] {
                    let req = AllocRequest {
                        nodemask: Some(mask),
                        zonelist: zl,
                        ..request(Gfp::KERNEL.0, 0, *p)
                    };
                    let got = Pages::alloc(tag_site!(), &req)?;
                    if !c.eq("node", Some(got.nid()), want) {
                        pr_err!("pnalloc_policy: preferred {}, nodemask {:#x}\n", p, mask.0);
                    }
                }
            }
        }

        // The first node's own order: run each node down to min in turn;
        // the next request preferring the first node lands on the next
        // node of the order (the fast pass's WMARK_LOW fails on the full
        // ones).
        let order = &orders[0];
        let mut held = KVec::new();
        for (i, &n) in order.iter().enumerate().take(order.len() - 1) {
            let min = node_zone(n)?.zone.lock().watermark[0];
            fill(&mut c, n, Gfp::KERNEL.0, min, MAX_PAGE_ORDER, &mut held)?;
            let p = Pages::alloc(tag_site!(), &request(Gfp::KERNEL.0, 0, order[0]))?;
            c.eq("fell back to", p.nid(), order[i + 1]);
            held.push(p, GFP_KERNEL)?;
        }
        drop(held);
        for &n in nodes.iter() {
            check_whole(&mut c, "end", &settle(node_zone(n)?));
        }
        assert!(c.ok());
        Ok(())
    }

    /// `alloc_pages_nolock()` only ever trylocks: with this CPU holding
    /// the zone lock, an order-0 request (lockless watermark check, then a
    /// pcp refill) and an order-2 one (a locked watermark check) fail at
    /// once, having changed nothing but the failure count; the same
    /// requests succeed once the lock is free.
    #[test]
    fn nolock_fails_on_the_zone_trylock_only() -> Result {
        let mut c = Check::default();
        let a = *private_nodes()?.first().ok_or(ENODEV)?;
        let inst = node::instance().ok_or(ENODEV)?;
        let nz = node_zone(a)?;
        // Empty pcp lists: order 0 needs a refill from the buddy.
        settle(nz);
        let req = |order| AllocRequest {
            alloc_flags: ALLOC_NOLOCK,
            ..request(Gfp::NOMEMALLOC | Gfp::THISNODE, order, a)
        };
        // Pcp locks come before the zone lock: read the refills first.
        let state = || {
            let refills = nz.pcp_stat()[2];
            let z = nz.zone.lock();
            (
                z.nr_free_pages,
                z.stat.rmqueue_blocks,
                z.stat.watermark_fail,
                refills,
            )
        };
        let before = (state(), inst.failures());
        let (r0, r2) = {
            let _zone = nz.zone.lock();
            (
                Pages::alloc(tag_site!(), &req(0)),
                Pages::alloc(tag_site!(), &req(2)),
            )
        };
        c.eq("order 0 with the zone locked", r0.err(), Some(ENOMEM));
        c.eq("order 2 with the zone locked", r2.err(), Some(ENOMEM));
        // No free page, block, watermark failure or refill moved.
        c.eq(
            "untouched",
            (state(), inst.failures()),
            (before.0, before.1 + 2),
        );
        c.eq("pcp empty", nz.pcp_count(), 0);
        for order in [0, 2] {
            let p = Pages::alloc(tag_site!(), &req(order));
            c.eq("unlocked", p.map(|p| p.nid()), Ok(a));
        }
        check_whole(&mut c, "end", &settle(nz));
        assert!(c.ok());
        Ok(())
    }
}
