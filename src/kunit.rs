// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run when the module is loaded (`CONFIG_KUNIT=y`); results in
//! `/sys/kernel/debug/kunit/pnalloc_*/results`, driven by
//! `selftests/pnalloc_kunit.sh`.
//!
//! - `pnalloc_core_kernel`: the core built into the module, on an isolated
//!   instance over a fake pfn range (metadata only, no memory touched), with
//!   the kernel's frame store and locks.
//! - `pnalloc_entry`: the entry points on the instance the module just
//!   carved (the test kernel boots with three DIMM nodes); every test gives
//!   back all it takes.
//! - `pnalloc_contract`: pages leave pnalloc as they leave the buddy, free
//!   frames are frozen, bad frees are refused, allocinfo stays exact.
//! - `pnalloc_policy` (`kunit_policy.rs`): 7.3's watermark, reserve and
//!   fallback rules on the carved nodes, with exact counts.

use kernel::prelude::*;

#[kunit_tests(pnalloc_core_kernel)]
mod core_kernel {
    use kernel::prelude::*;

    use crate::lock::new_irqlock;

    use crate::{
        core::{
            alloc_flags::AllocFlags,
            migratetype::MigrateType,
            pcp::{self, PerCpuPages},
            zone::{Zone, ZoneType},
        },
        frames::{KStore, RangeMirror},
    };

    /// Far above any real memory: the core never dereferences a pfn.
    const BASE: u64 = 1 << 40;

    fn zone(nr: u64) -> Result<Pin<KBox<crate::lock::IrqLock<Zone<KStore>>>>> {
        let z = KBox::pin_init(
            new_irqlock!(Zone::new(9, ZoneType::Normal, KStore::new()?)),
            GFP_KERNEL,
        )?;
        {
            let mut g = z.lock();
            g.frames
                .stage(BASE, KStore::alloc_meta(nr)?, ::core::ptr::null());
            g.add_range(BASE, nr)?;
        }
        Ok(z)
    }

    #[test]
    fn split_and_merge_under_the_zone_lock() -> Result {
        let z = zone(2048)?;
        let mut g = z.lock();
        let pfn = g.rmqueue_smallest(0, MigrateType::Movable).ok_or(ENOMEM)?;
        assert_eq!(pfn, BASE);
        assert_eq!(g.nr_free_per_order(), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
        g.free_pages(pfn, 0);
        assert_eq!(g.nr_free_per_order()[10], 2);
        assert_eq!(g.nr_free_pages, 2048);
        Ok(())
    }

    #[test]
    fn remove_range_is_busy_then_frees_metadata() -> Result {
        let z = zone(1024)?;
        let mut g = z.lock();
        let pfn = g
            .rmqueue_buddy(3, MigrateType::Unmovable, AllocFlags::DEFAULT)
            .ok_or(ENOMEM)?;
        assert!(g.remove_range(BASE) == Err(crate::core::CoreError::Busy));
        assert_eq!(g.managed_pages, 1024);
        g.free_pages(pfn, 3);
        assert!(g.remove_range(BASE).is_ok());
        assert!(g.frames.take_retired().is_some());
        assert_eq!((g.managed_pages, g.nr_free_pages), (0, 0));
        Ok(())
    }

    #[test]
    fn pcp_refill_and_drain_in_kernel_memory() -> Result {
        let z = zone(4096)?;
        // 8 KiB: built zeroed on the heap, never on the 16 KiB kernel stack.
        let p = KBox::<PerCpuPages>::new_uninit(GFP_KERNEL | __GFP_ZERO)?;
        // SAFETY: all-zero bytes are a valid empty `PerCpuPages`.
        let mut p = unsafe { p.assume_init() };
        p.set_high_batch(
            crate::core::pcp::PCP_DEFAULT_HIGH,
            crate::core::pcp::PCP_DEFAULT_BATCH,
        )?;
        let mut g = z.lock();
        let flags = AllocFlags::DEFAULT;
        let pfn =
            pcp::rmqueue_pcplist(&mut p, &mut *g, 0, MigrateType::Movable, flags).ok_or(ENOMEM)?;
        assert_eq!(pfn, BASE);
        assert_eq!((p.count, p.stat.refill), (62, 1));
        assert_eq!(g.nr_free_pages, 4096 - 63);
        assert!(pcp::free_pcp(
            &mut p,
            &mut *g,
            pfn,
            0,
            MigrateType::Movable,
            false
        ));
        p.drain(&mut g);
        assert_eq!((p.count, g.nr_free_pages), (0, 4096));
        Ok(())
    }

    #[test]
    fn pageblock_mirror_follows_the_core() -> Result {
        let z = KBox::pin_init(
            new_irqlock!(Zone::new(9, ZoneType::Normal, KStore::new()?)),
            GFP_KERNEL,
        )?;
        let index = KBox::pin_init(crate::frames::MirrorIndex::new(), GFP_KERNEL)?;
        let mirror = index.publish(RangeMirror::new(BASE, 1024)?)?;
        {
            let mut g = z.lock();
            g.frames.stage(BASE, KStore::alloc_meta(1024)?, mirror);
            g.add_range(BASE, 1024)?;
            // An unmovable allocation claims the whole order-10 block.
            g.rmqueue(
                0,
                MigrateType::Unmovable,
                AllocFlags::DEFAULT,
                &mut crate::core::zone::RmqueueMode::Normal,
            )
            .ok_or(ENOMEM)?;
        }
        assert!(index.pageblock_mt(BASE) == MigrateType::Unmovable);
        assert!(index.pageblock_mt(BASE + 512) == MigrateType::Unmovable);
        assert!(index.pageblock_mt(BASE + 1024) == MigrateType::Movable);
        index.unpublish(BASE);
        assert!(index.pageblock_mt(BASE) == MigrateType::Movable);
        Ok(())
    }

    /// The free checks' state machine, in every order the kernel may free
    /// a block's parts in (orders that only concurrency produces included).
    #[test]
    fn free_checks_accept_every_legal_order_and_nothing_else() -> Result {
        use crate::frames::{BadFree, FreedBlock};
        let index = KBox::pin_init(crate::frames::MirrorIndex::new(), GFP_KERNEL)?;
        index.publish(RangeMirror::new(BASE, 1024)?)?;
        // ___free_pages() with a second reference on a non-compound head:
        // tail pieces first (order 1, then 0), the head last.
        index.set_allocated(BASE, 2, 7, false);
        assert_eq!(
            index.take_allocated(BASE + 2, 1),
            Ok(FreedBlock::TailPiece { tag: 7, head: None })
        );
        assert_eq!(
            index.take_allocated(BASE + 1, 0),
            Ok(FreedBlock::TailPiece { tag: 7, head: None })
        );
        assert_eq!(
            index.take_allocated(BASE, 0),
            Ok(FreedBlock::Block { tag: 7 })
        );
        // The other reference drops the head between the pieces: it waits
        // for the last one, which frees it too.
        index.set_allocated(BASE, 2, 7, false);
        assert_eq!(
            index.take_allocated(BASE + 2, 1),
            Ok(FreedBlock::TailPiece { tag: 7, head: None })
        );
        assert_eq!(
            index.take_allocated(BASE, 0),
            Ok(FreedBlock::HeadFirst { tag: 7 })
        );
        assert_eq!(index.take_allocated(BASE, 0), Err(BadFree::NotAllocated));
        assert_eq!(
            index.take_allocated(BASE + 1, 0),
            Ok(FreedBlock::TailPiece {
                tag: 7,
                head: Some(BASE)
            })
        );
        assert_eq!(index.take_allocated(BASE, 0), Err(BadFree::NotAllocated));
        // A compound block goes back whole, once, with its own order.
        index.set_allocated(BASE + 4, 2, 9, true);
        assert_eq!(index.take_allocated(BASE + 4, 0), Err(BadFree::WrongOrder));
        assert_eq!(
            index.take_allocated(BASE + 6, 1),
            Err(BadFree::NotAllocated)
        );
        assert_eq!(index.take_allocated(BASE + 5, 1), Err(BadFree::Misaligned));
        assert_eq!(
            index.take_allocated(BASE + 4, 2),
            Ok(FreedBlock::Block { tag: 9 })
        );
        assert_eq!(
            index.take_allocated(BASE + 4, 2),
            Err(BadFree::NotAllocated)
        );
        // Outside the range, and a block running past its end.
        assert_eq!(index.take_allocated(BASE + 1024, 0), Err(BadFree::NotOwned));
        index.set_allocated(BASE + 512, 9, 0, true);
        assert_eq!(
            index.take_allocated(BASE + 512, 10),
            Err(BadFree::Misaligned)
        );
        assert_eq!(
            index.take_allocated(BASE + 512, 9),
            Ok(FreedBlock::Block { tag: 0 })
        );
        // split_page(): every page becomes a block of its own.
        index.set_allocated(BASE + 8, 3, 5, false);
        assert_eq!(index.split(BASE + 8, 3), Some(5));
        for i in 0..8 {
            assert_eq!(
                index.take_allocated(BASE + 8 + i, 0),
                Ok(FreedBlock::Block { tag: 5 })
            );
        }
        Ok(())
    }
}

#[kunit_tests(pnalloc_entry)]
mod entry {
    use kernel::prelude::*;

    use crate::{
        api::Pages,
        core::{
            gfp::Gfp,
            page_alloc::AllocRequest,
            zonelist::{AllocZonelist, NodeMask},
            NUMA_NO_NODE,
        },
        mm_sys::{self, tag_site},
        node,
    };

    /// The private nodes the module carved at load, lowest first.
    fn private_nodes() -> (i32, i32) {
        let mut found = (-1, -1);
        for nid in 0..mm_sys::nr_node_ids() {
            if mm_sys::node_info(nid).is_ok_and(|n| n.is_private != 0) {
                if found.0 < 0 {
                    found.0 = nid;
                } else if found.1 < 0 {
                    found.1 = nid;
                }
            }
        }
        found
    }

    fn outstanding() -> u64 {
        node::instance().map_or(u64::MAX, |i| i.outstanding())
    }

    #[test]
    fn two_private_nodes_were_carved() {
        let (a, b) = private_nodes();
        assert!(a >= 0 && b > a);
        assert_eq!(outstanding(), 0);
    }

    #[test]
    fn rust_handle_zeroes_and_frees_on_drop() -> Result {
        let (a, _) = private_nodes();
        {
            let p = Pages::alloc_node(tag_site!(), a, Gfp(Gfp::KERNEL.0 | Gfp::ZERO), 2)?;
            assert_eq!((p.nid(), p.order()), (a, 2));
            // Refcount 1 on the head, no longer PageOffline.
            assert_eq!(mm_sys::page_state(p.pfn()), (false, 1, a));
            // SAFETY: the handle holds the pages.
            assert!(unsafe { mm_sys::pattern(p.pfn(), 4, 0, true) });
            assert_eq!(outstanding(), 4);
        }
        assert_eq!(outstanding(), 0);
        Ok(())
    }

    #[test]
    fn thisnode_nodemask_and_zonelists() -> Result {
        let (a, b) = private_nodes();
        let this = Pages::alloc_node(tag_site!(), a, Gfp(Gfp::KERNEL.0 | Gfp::THISNODE), 0)?;
        assert_eq!(this.nid(), a);
        let mut mask = NodeMask(0);
        mask.set(b);
        let other = Pages::alloc(
            tag_site!(),
            &AllocRequest {
                nodemask: Some(mask),
                ..AllocRequest::new(Gfp::KERNEL, 1, a)
            },
        )?;
        assert_eq!(other.nid(), b);
        let folio = Pages::folio_zonelist(tag_site!(), b, Gfp::KERNEL, 2, AllocZonelist::Private)?;
        assert_eq!(folio.nid(), b);
        assert!(folio.is_folio());
        let (pfn, order) = folio.into_raw();
        // SAFETY: the pair came from `into_raw` and its reference is ours.
        let back = unsafe { Pages::from_raw(pfn, order, true) };
        assert_eq!((back.nid(), back.order()), (b, 2));
        Ok(())
    }

    /// The node `NUMA_NO_NODE` must mean from a CPU of node `local`: the
    /// first private node of `local`'s zonelist, the nearest by
    /// `node_distance()`. Ties go to the lowest id only before any
    /// `node_load[]` is added, that is for node 0, whose list
    /// `build_zonelists()` builds first; the test VM's CPUs are all there.
    fn nearest_private_node(local: i32) -> i32 {
        assert_eq!(local, 0);
        (0..mm_sys::nr_node_ids())
            .filter(|&n| mm_sys::node_info(n).is_ok_and(|i| i.is_private != 0))
            .min_by_key(|&n| (mm_sys::node_distance(local, n), n))
            .unwrap_or(-1)
    }

    #[test]
    fn numa_no_node_and_bad_requests() -> Result {
        let (a, _) = private_nodes();
        let want = nearest_private_node(mm_sys::numa_node_id());
        let p = Pages::alloc_node(tag_site!(), NUMA_NO_NODE, Gfp::KERNEL, 0)?;
        assert_eq!(p.nid(), want);
        assert!(Pages::alloc_node(tag_site!(), a, Gfp::KERNEL, 11).err() == Some(EINVAL));
        assert!(
            Pages::alloc_node(tag_site!(), a, Gfp(Gfp::KERNEL.0 | Gfp::NOFAIL), 0).err()
                == Some(EINVAL)
        );
        assert!(Pages::alloc_node(tag_site!(), a, Gfp(Gfp::DMA32), 0).err() == Some(EINVAL));
        // Node 0 holds the kernel's memory: not a private node.
        assert!(Pages::alloc_node(tag_site!(), 0, Gfp::KERNEL, 0).err() == Some(ENOENT));
        drop(p);
        assert_eq!(outstanding(), 0);
        Ok(())
    }

    #[test]
    fn c_entry_points_bulk_and_exact() -> Result {
        let (a, _) = private_nodes();
        let mut got: KVec<(u64, u32, mm_sys::FreeHow)> = KVec::new();
        let mut slots = [::core::ptr::null_mut(); 5];
        assert_eq!(mm_sys::bulk_raw(Gfp::KERNEL.0, a, &mut slots), 5);
        for &p in slots.iter() {
            let pfn = mm_sys::page_pfn(p).ok_or(ENOMEM)?;
            got.push((pfn, 0, mm_sys::FreeHow::Pages), GFP_KERNEL)?;
        }
        assert_eq!(outstanding(), 5);
        // 3 pages exact: order 2 split, the fourth page goes back at once.
        got.push(mm_sys::exact(Gfp::KERNEL.0, a, 3 * 4096)?, GFP_KERNEL)?;
        assert_eq!(outstanding(), 8);
        for &(pfn, order, how) in got.iter() {
            // SAFETY: each block's reference is ours and `how` pairs with it.
            unsafe { mm_sys::free_as(pfn, order, how) };
        }
        assert_eq!(outstanding(), 0);
        Ok(())
    }

    #[test]
    fn pcp_refill_then_drain() -> Result {
        let (a, _) = private_nodes();
        let inst = node::instance().ok_or(ENODEV)?;
        let nz = inst.node_zone(a)?;
        nz.drain_all_pages();
        // Earlier cases may have scaled this CPU's batch; start from one batch.
        nz.reset_pcp_tuning();
        let free0 = nz.zone.lock().nr_free_pages;
        let p = Pages::alloc_node(tag_site!(), a, Gfp::KERNEL, 0)?;
        // One batch of 63 left the buddy; 62 wait on this CPU's list.
        assert_eq!(nz.pcp_count(), 62);
        assert_eq!(nz.zone.lock().nr_free_pages, free0 - 63);
        drop(p);
        assert_eq!(nz.pcp_count(), 63);
        nz.drain_all_pages();
        assert_eq!((nz.pcp_count(), nz.zone.lock().nr_free_pages), (0, free0));
        Ok(())
    }

    #[test]
    fn tags_follow_alloc_split_and_free() -> Result {
        let (a, _) = private_nodes();
        let site = tag_site!();
        let id = mm_sys::tag_id(site);
        assert!(id != 0);
        let p = Pages::alloc_node(site, a, Gfp::KERNEL, 3)?;
        assert_eq!(mm_sys::tag_read(id), (32768, 1));
        drop(p);
        assert_eq!(mm_sys::tag_read(id), (0, 0));
        // A split block: four pages, four calls, each uncharged on its free.
        let (pfn, order) = Pages::alloc_node(site, a, Gfp::KERNEL, 2)?.into_raw();
        // SAFETY: we own the block; afterwards one reference per page.
        unsafe { mm_sys::split_page(pfn, order) };
        assert_eq!(mm_sys::tag_read(id), (16384, 4));
        for i in 0..4 {
            // SAFETY: page `pfn + i` is ours after the split.
            unsafe { mm_sys::free_as(pfn + i, 0, mm_sys::FreeHow::Pages) };
            assert_eq!(mm_sys::tag_read(id), (16384 - 4096 * (i as i64 + 1), 3 - i));
        }
        assert_eq!(outstanding(), 0);
        Ok(())
    }
}

/// The kernel's page contract on the carved nodes: pages leave pnalloc as
/// they leave the buddy and free frames are what buddy pages are. These
/// cases are meant to run on the test kernel's debug options
/// (`debug_pagealloc=on`, KASAN, `init_on_alloc=1`, page poisoning,
/// page_owner): a page handed out without `post_alloc_hook()` faults,
/// reports, or keeps its old contents there.
#[kunit_tests(pnalloc_contract)]
mod contract {
    use kernel::{alloc::KVVec, ffi::c_void, prelude::*};

    use crate::{
        api::Pages,
        core::{gfp::Gfp, Pfn, MAX_PAGE_ORDER},
        mm_sys::{self, tag_site, FreeHow},
        node,
    };

    fn first_private_node() -> i32 {
        (0..mm_sys::nr_node_ids())
            .find(|&nid| mm_sys::node_info(nid).is_ok_and(|n| n.is_private != 0))
            .unwrap_or(-1)
    }

    #[test]
    fn recycled_blocks_of_every_order_are_mapped_and_unpoisoned() -> Result {
        let nid = first_private_node();
        for order in 0..=MAX_PAGE_ORDER {
            // The second round gets blocks the first one freed: freed
            // through __free_pages_prepare() (unmapped, KASAN-poisoned,
            // page-poisoned), so a missing post_alloc_hook() faults here.
            for round in 0..2u64 {
                let p = Pages::alloc_node(tag_site!(), nid, Gfp::KERNEL, order)?;
                let seed = 0x5eed_0000 + (u64::from(order) << 8) + round + 1;
                // SAFETY: the handle owns the block.
                unsafe {
                    assert!(mm_sys::pattern(p.pfn(), 1 << order, seed, false));
                    assert!(mm_sys::pattern(p.pfn(), 1 << order, seed, true));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn init_on_alloc_zeroes_dirtied_recycled_pages() -> Result {
        let nid = first_private_node();
        // The test kernel boots with init_on_alloc=1; without it this case
        // would prove nothing, so it is a failure, not a skip.
        assert!(mm_sys::init_on_alloc());
        let mut held = KVec::new();
        for _ in 0..16 {
            let p = Pages::alloc_node(tag_site!(), nid, Gfp::KERNEL, 0)?;
            // SAFETY: the handle owns the page.
            unsafe { mm_sys::pattern(p.pfn(), 1, 0xd1d7_d1d7, false) };
            held.push(p, GFP_KERNEL)?;
        }
        drop(held);
        // This CPU's pcp list hands the same pages back (LIFO); whichever
        // pages come, none may show another user's data.
        for _ in 0..16 {
            let p = Pages::alloc_node(tag_site!(), nid, Gfp::KERNEL, 0)?;
            // SAFETY: the handle owns the page.
            assert!(unsafe { mm_sys::pattern(p.pfn(), 1, 0, true) });
        }
        Ok(())
    }

    #[test]
    fn free_frames_are_frozen() -> Result {
        let nid = first_private_node();
        let inst = node::instance().ok_or(ENODEV)?;
        // A frame just freed sits on this CPU's pcp list.
        let (pfn, _) = Pages::alloc_node(tag_site!(), nid, Gfp::KERNEL, 0)?.into_raw();
        // SAFETY: the reference is ours.
        unsafe { mm_sys::free_as(pfn, 0, FreeHow::Pages) };
        assert_eq!(mm_sys::page_state(pfn), (false, 0, nid));
        assert!(!mm_sys::try_get_page(pfn));
        // Frames on the buddy's lists: the head of every free block.
        let nz = inst.node_zone(nid)?;
        let heads: KVec<Pfn> = {
            let z = nz.zone.lock();
            let mut v = KVec::new();
            for r in z.ranges() {
                let mut pfn = r.start;
                while pfn < r.start + r.nr && v.len() < 64 {
                    if let Some(f) = z.frame(pfn) {
                        if f.buddy {
                            v.push(pfn, GFP_ATOMIC)?;
                            pfn += 1 << f.order;
                            continue;
                        }
                    }
                    pfn += 1;
                }
            }
            v
        };
        assert!(!heads.is_empty());
        for &pfn in heads.iter() {
            assert_eq!(mm_sys::page_state(pfn), (false, 0, nid));
            assert!(!mm_sys::try_get_page(pfn));
        }
        Ok(())
    }

    #[test]
    fn forged_frees_are_refused_counted_and_change_nothing() -> Result {
        let nid = first_private_node();
        let inst = node::instance().ok_or(ENODEV)?;
        let nz = inst.node_zone(nid)?;
        // Compound: a non-compound block's head may legally be freed with
        // order 0 before its tail pieces (___free_pages()).
        let p = Pages::alloc_node(tag_site!(), nid, Gfp(Gfp::KERNEL.0 | Gfp::COMP), 1)?;
        nz.drain_all_pages();
        let before = (
            inst.bad_frees(),
            nz.zone.lock().nr_free_pages,
            inst.outstanding(),
        );
        // A frame that is free (the second page of nothing handed out
        // after `p`'s block), the block with the wrong order, misaligned,
        // and a kernel page that is not pnalloc's at all.
        // What the kernel's free path would pass along with each pfn.
        let free = |pfn, order| {
            node::free_from_kernel(
                pfn,
                order,
                mm_sys::page_nid(pfn),
                mm_sys::page_hwpoison(pfn),
            )
        };
        let free_pfn = p.pfn() + 2;
        free(free_pfn, 0);
        free(p.pfn(), 0);
        free(p.pfn() + 1, 1);
        let kernel_page = KBox::new([0u8; 64], GFP_KERNEL)?;
        let kpfn = mm_sys::virt_to_pfn(::core::ptr::from_ref(&*kernel_page) as usize);
        free(kpfn, 0);
        let after = (
            inst.bad_frees(),
            nz.zone.lock().nr_free_pages,
            inst.outstanding(),
        );
        assert_eq!(after, (before.0 + 4, before.1, before.2));
        drop(p);
        assert_eq!(inst.outstanding(), before.2 - 2);
        Ok(())
    }

    #[test]
    fn bulk_returns_the_populated_prefix() -> Result {
        let nid = first_private_node();
        let filled = ::core::ptr::NonNull::<c_void>::dangling().as_ptr();
        let null = ::core::ptr::null_mut();
        // __GFP_DMA32 is refused on private nodes: every allocation fails,
        // so the answer is the index of the first NULL slot, not the count
        // of populated slots (which would be 2).
        let mut slots = [filled, null, filled];
        assert_eq!(mm_sys::bulk_raw(Gfp::DMA32, nid, &mut slots), 1);
        assert!(slots[1].is_null());
        // Pre-populated slots are skipped and counted; NULL ones filled.
        let mut slots = [null, filled, null];
        assert_eq!(mm_sys::bulk_raw(Gfp::KERNEL.0, nid, &mut slots), 3);
        for i in [0, 2] {
            let pfn = mm_sys::page_pfn(slots[i]).ok_or(ENOMEM)?;
            // SAFETY: the bulk call gave us this page's reference.
            unsafe { mm_sys::free_as(pfn, 0, FreeHow::Pages) };
        }
        Ok(())
    }

    #[test]
    fn bulk_takes_a_batch_only_above_low_plus_the_batch() -> Result {
        let nid = first_private_node();
        let inst = node::instance().ok_or(ENODEV)?;
        let nz = inst.node_zone(nid)?;
        let out0 = inst.outstanding();
        // A batch of 128: every slot, every page on the node, all distinct.
        let mut slots = [::core::ptr::null_mut(); 128];
        assert_eq!(mm_sys::bulk_raw(Gfp::KERNEL.0, nid, &mut slots), 128);
        assert_eq!(inst.outstanding(), out0 + 128);
        let mut pfns = KVec::with_capacity(slots.len(), GFP_KERNEL)?;
        for &p in slots.iter() {
            let pfn = mm_sys::page_pfn(p).ok_or(ENOMEM)?;
            assert_eq!(mm_sys::page_nid(pfn), nid);
            pfns.push(pfn, GFP_KERNEL)?;
        }
        pfns.sort_unstable();
        assert!(pfns.windows(2).all(|w| w[0] != w[1]));
        for &pfn in pfns.iter() {
            // SAFETY: the bulk call gave us this page's reference.
            unsafe { mm_sys::free_as(pfn, 0, FreeHow::Pages) };
        }
        assert_eq!(inst.outstanding(), out0);
        // As many pages as the zone has free: free <= WMARK_LOW + wanted,
        // so no batch; 7.3 then allocates exactly one page the usual way.
        // (The old loop of single allocations filled slots down to WMARK_MIN.)
        let free = nz.zone.lock().nr_free_pages;
        let want = usize::try_from(free).map_err(|_| ERANGE)?;
        let mut many = KVVec::with_capacity(want, GFP_KERNEL)?;
        for _ in 0..want {
            many.push(::core::ptr::null_mut(), GFP_KERNEL)?;
        }
        assert_eq!(mm_sys::bulk_raw(Gfp::KERNEL.0, nid, &mut many), 1);
        assert!(many[1].is_null());
        let pfn = mm_sys::page_pfn(many[0]).ok_or(ENOMEM)?;
        assert_eq!(inst.outstanding(), out0 + 1);
        // SAFETY: the bulk call gave us this page's reference.
        unsafe { mm_sys::free_as(pfn, 0, FreeHow::Pages) };
        assert_eq!(inst.outstanding(), out0);
        Ok(())
    }

    #[test]
    fn allocinfo_is_exact_after_tail_frees_and_splits() -> Result {
        let nid = first_private_node();
        let inst = node::instance().ok_or(ENODEV)?;
        let (out0, bad0) = (inst.outstanding(), inst.bad_frees());
        let site = tag_site!();
        let id = mm_sys::tag_id(site);
        // A non-compound order-2 block with a second reference on its head:
        // __free_pages() frees the tail pieces (order 1, then order 0) at
        // once and the head when the other reference goes.
        let (pfn, order) = Pages::alloc_node(site, nid, Gfp::KERNEL, 2)?.into_raw();
        assert_eq!(mm_sys::tag_read(id), (16384, 1));
        // SAFETY: we hold the block's reference; then we own two.
        unsafe { mm_sys::get_page(pfn) };
        // SAFETY: gives up one of our two references.
        unsafe { mm_sys::free_as(pfn, order, FreeHow::Pages) };
        assert_eq!(mm_sys::tag_read(id), (4096, 1));
        assert_eq!(inst.outstanding(), out0 + 1);
        // SAFETY: the last reference, on the head page.
        unsafe { mm_sys::put_page(pfn) };
        assert_eq!(mm_sys::tag_read(id), (0, 0));
        assert_eq!((inst.outstanding(), inst.bad_frees()), (out0, bad0));
        Ok(())
    }
}
