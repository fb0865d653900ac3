// SPDX-License-Identifier: GPL-2.0

//! Carving private nodes out of hot-plugged memory.
//!
//! A claim takes offline memory blocks of a memoryless node and makes them
//! pnalloc's, the virtio-mem way:
//!
//! 1. register the node as private (`node_private_register()`), so onlining
//!    keeps it out of N_MEMORY and kswapd/kcompactd never start;
//! 2. remove the blocks as ACPI added them (`offline_and_remove_memory()`);
//! 3. add them back driver-managed and online into ZONE_NORMAL
//!    (`__add_memory_driver_managed(.., MMOP_ONLINE_KERNEL)`) while the online
//!    page callback keeps every page of the window, frozen (refcount 0, no
//!    page type) as a free buddy page is, instead of freeing it to the buddy;
//!    every block must have come online;
//! 4. give the range to the core, which puts it on its free lists, publish
//!    the node in the zonelists, and take one module reference for the
//!    range: rmmod is refused while anything is claimed, so unload never
//!    has to release memory and can never fail half-way.
//!
//! A release runs it backwards, and only when the core says every page of
//! the range is free: the memory notifier marks the frames PageOffline so
//! offlining succeeds. If offlining fails, the range goes back to the core
//! (blocks that were offlined already come back online frozen, through the
//! same callback). Once the memory is removed it is no longer pnalloc's: the
//! node is unregistered when it has no range left, and only then does
//! `add_memory()` give the blocks back offline, as they were before the
//! claim, so no auto-online policy can online them into a private node.

use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex, //
};

use crate::{
    core::{zonelist::NodeDesc, Pfn, MAX_ORDER_NR_PAGES},
    frames::{KStore, RangeMirror},
    mm_sys,
    node::Instance,
};

/// One claimed range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claimed {
    pub(crate) nid: i32,
    pub(crate) start_pfn: Pfn,
    pub(crate) nr_pages: u64,
}

/// Claimed ranges; the mutex serialises every claim and release.
#[pin_data]
pub(crate) struct Carve {
    #[pin]
    pub(crate) claimed: Mutex<KVec<Claimed>>,
}

impl Carve {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Carve {
            claimed <- new_mutex!(KVec::new()),
        })
    }

    /// Claims `nr_pages` from `start_pfn` on node `nid`. The range must be
    /// whole memory blocks, all present, offline and on `nid`, on a node
    /// the kernel has no memory on.
    pub(crate) fn claim(&self, inst: &Instance, nid: i32, start_pfn: Pfn, nr_pages: u64) -> Result {
        let block = mm_sys::block_pages();
        if nr_pages == 0 || start_pfn % block != 0 || nr_pages % block != 0 {
            return Err(EINVAL);
        }
        if block % MAX_ORDER_NR_PAGES != 0 {
            return Err(EINVAL);
        }
        let end = start_pfn.checked_add(nr_pages).ok_or(ERANGE)?;
        let info = mm_sys::node_info(nid)?;
        if info.possible == 0 {
            return Err(EINVAL);
        }
        if info.has_memory != 0 {
            // The kernel already uses memory on this node.
            return Err(EEXIST);
        }
        let mut claimed = self.claimed.lock();
        if claimed
            .iter()
            .any(|c| start_pfn < c.start_pfn + c.nr_pages && c.start_pfn < end)
        {
            return Err(EEXIST);
        }
        // Every block of the range exists, is offline and is on `nid`.
        let mut found = 0u64;
        mm_sys::for_each_memory_block(|b| {
            if b.start_pfn >= start_pfn && b.start_pfn < end {
                if b.online || b.nid != nid {
                    return Err(EBUSY);
                }
                found += b.nr_pages;
            }
            Ok(())
        })?;
        if found != nr_pages {
            return Err(ENOENT);
        }
        claimed.reserve(1, GFP_KERNEL)?;
        let meta = KStore::alloc_meta(nr_pages)?;
        let nz = inst.node_zone(nid)?;
        let mirror = RangeMirror::new(start_pfn, nr_pages)?;

        let new_node = info.is_private == 0;
        if new_node {
            mm_sys::node_register(nid)?;
        }
        let undo_node = |e: Error| {
            if new_node {
                let _ = mm_sys::node_unregister(nid);
            }
            e
        };
        mm_sys::remove_memory(start_pfn, nr_pages).map_err(undo_node)?;
        mm_sys::set_window(start_pfn, nr_pages, false);
        let added = mm_sys::add_private_memory(nid, start_pfn, nr_pages);
        mm_sys::set_window(0, 0, false);
        if let Err(e) = added {
            let e = undo_node(e);
            let _ = mm_sys::add_memory_back(nid, start_pfn, nr_pages);
            return Err(e);
        }
        // A block that did not come online has no initialised memmap: it
        // must never reach the free lists.
        if Self::online_pages_of(start_pfn, nr_pages)? != nr_pages {
            let _ = self.unplug(nid, start_pfn, nr_pages, new_node);
            return Err(EIO);
        }

        let mirror = match nz.mirror.publish(mirror) {
            Ok(m) => m,
            Err(e) => {
                let _ = self.unplug(nid, start_pfn, nr_pages, new_node);
                return Err(e);
            }
        };
        let retired = {
            let mut z = nz.zone.lock();
            z.frames.stage(start_pfn, meta, mirror);
            let r = z.add_range(start_pfn, nr_pages);
            (r, z.frames.take_retired())
        };
        drop(retired.1);
        if let Err(e) = retired.0 {
            nz.mirror.unpublish(start_pfn);
            // The core refused (cannot happen after the checks above): give
            // the memory back rather than leave it online and unowned.
            let _ = self.unplug(nid, start_pfn, nr_pages, new_node);
            return Err(e.into());
        }
        // A node claimed again keeps the owner it was given.
        let published = inst.zonelists.update(|topo| {
            let owner = topo.node(nid).map_or(0, |d| d.owner);
            topo.set_node(
                nid,
                Some(NodeDesc {
                    owner,
                    populated: 1,
                }),
            );
            Ok(())
        });
        if let Err(e) = published {
            let (_, meta) = {
                let mut z = nz.zone.lock();
                let r = z.remove_range(start_pfn);
                (r, z.frames.take_retired())
            };
            drop(meta);
            nz.mirror.unpublish(start_pfn);
            let _ = self.unplug(nid, start_pfn, nr_pages, new_node);
            return Err(e);
        }
        // Capacity was reserved above: this push cannot fail.
        let _ = claimed.push_within_capacity(Claimed {
            nid,
            start_pfn,
            nr_pages,
        });
        mm_sys::module_get();
        pr_info!(
            "node {} claimed pfn {:#x}-{:#x} ({} MiB)\n",
            nid,
            start_pfn,
            end - 1,
            nr_pages >> 8
        );
        Ok(())
    }

    /// Claims every offline memory block of node `nid`, one range per run of
    /// contiguous blocks. `ENOENT` if there is none.
    pub(crate) fn claim_node(&self, inst: &Instance, nid: i32) -> Result<u64> {
        let info = mm_sys::node_info(nid)?;
        if info.possible == 0 {
            return Err(EINVAL);
        }
        if info.has_memory != 0 {
            return Err(EEXIST);
        }
        let mut runs: KVec<(Pfn, u64)> = KVec::new();
        mm_sys::for_each_memory_block(|b| {
            if b.nid != nid || b.online {
                return Ok(());
            }
            if let Some(last) = runs.last_mut() {
                if last.0 + last.1 == b.start_pfn {
                    last.1 += b.nr_pages;
                    return Ok(());
                }
            }
            runs.push((b.start_pfn, b.nr_pages), GFP_KERNEL)?;
            Ok(())
        })?;
        crate::core::sort_by_key(runs.as_mut_slice(), |r| r.0);
        // Merge runs the walk saw out of order.
        let mut merged: KVec<(Pfn, u64)> = KVec::new();
        for &(s, n) in runs.iter() {
            match merged.last_mut() {
                Some(last) if last.0 + last.1 == s => last.1 += n,
                _ => merged.push((s, n), GFP_KERNEL)?,
            }
        }
        if merged.is_empty() {
            return Err(ENOENT);
        }
        let mut pages = 0;
        for &(s, n) in merged.iter() {
            self.claim(inst, nid, s, n)?;
            pages += n;
        }
        Ok(pages)
    }

    /// Claims the offline blocks of every memoryless, CPU-less node in
    /// `nodes` (a bitmask; 0 means all). Returns the number of nodes claimed.
    pub(crate) fn claim_default(&self, inst: &Instance, nodes: u64) -> Result<u32> {
        let mut n = 0;
        for nid in 0..mm_sys::nr_node_ids().min(64) {
            if nodes != 0 && nodes & (1 << nid) == 0 {
                continue;
            }
            let Ok(info) = mm_sys::node_info(nid) else {
                continue;
            };
            if info.possible == 0 || info.has_memory != 0 || info.has_cpu != 0 {
                continue;
            }
            match self.claim_node(inst, nid) {
                Ok(_) => n += 1,
                Err(e) if e == ENOENT => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Pages of `start_pfn..+nr_pages` in memory blocks that are online.
    fn online_pages_of(start_pfn: Pfn, nr_pages: u64) -> Result<u64> {
        let end = start_pfn.checked_add(nr_pages).ok_or(ERANGE)?;
        let mut online = 0u64;
        mm_sys::for_each_memory_block(|b| {
            if b.start_pfn >= start_pfn && b.start_pfn < end && b.online {
                online += b.nr_pages;
            }
            Ok(())
        })?;
        Ok(online)
    }

    /// Offlines and removes a range whose frames are all free and off the
    /// core's lists. On failure the range is still online and pnalloc's
    /// (every frame frozen, as the online callback keeps re-onlined ones).
    fn offline_and_remove(start_pfn: Pfn, nr_pages: u64) -> Result {
        mm_sys::set_window(start_pfn, nr_pages, true);
        let r = mm_sys::remove_memory(start_pfn, nr_pages);
        mm_sys::set_window(0, 0, false);
        r
    }

    /// Gives removed memory back to the kernel as ordinary offline memory,
    /// after unregistering the node if pnalloc has nothing else there.
    fn give_back(nid: i32, start_pfn: Pfn, nr_pages: u64, unregister: bool) {
        if unregister {
            if let Err(e) = mm_sys::node_unregister(nid) {
                pr_warn!("node {} stays private: {:?}\n", nid, e);
            }
        }
        if let Err(e) = mm_sys::add_memory_back(nid, start_pfn, nr_pages) {
            pr_warn!(
                "pfn {:#x}-{:#x} stays removed: {:?}\n",
                start_pfn,
                start_pfn + nr_pages - 1,
                e
            );
        }
    }

    /// Undoes a claim that failed after its memory was onlined.
    fn unplug(&self, nid: i32, start_pfn: Pfn, nr_pages: u64, unregister: bool) -> Result {
        Self::offline_and_remove(start_pfn, nr_pages)?;
        Self::give_back(nid, start_pfn, nr_pages, unregister);
        Ok(())
    }

    /// Releases the claimed range that starts at `start_pfn`. `ENOENT` if
    /// pnalloc did not claim a range there; `EBUSY`, with nothing changed,
    /// while any of its pages is handed out.
    pub(crate) fn release(&self, inst: &Instance, start_pfn: Pfn) -> Result {
        mm_sys::drain_deferred();
        let mut claimed = self.claimed.lock();
        let i = claimed
            .iter()
            .position(|c| c.start_pfn == start_pfn)
            .ok_or(ENOENT)?;
        let c = claimed[i];
        let nz = inst.node_zone(c.nid)?;
        // Pages cached on per-CPU lists are free too: give them back first.
        nz.drain_all_pages();
        // The core checks that every frame is free and takes the range off
        // its lists in one step under the zone lock.
        let (r, meta) = {
            let mut z = nz.zone.lock();
            let r = z.remove_range(c.start_pfn);
            (r, z.frames.take_retired())
        };
        r?;
        if let Err(e) = Self::offline_and_remove(c.start_pfn, c.nr_pages) {
            // Could not offline. offline_and_remove_memory() onlines again
            // what it offlined, but a block whose onlining failed has no
            // memmap any more: only a range that is wholly online may go
            // back on the lists. Otherwise it stays claimed and off every
            // list (leaked, never corrupt), and says so.
            if Self::online_pages_of(c.start_pfn, c.nr_pages) != Ok(c.nr_pages) {
                pr_err!(
                    "pfn {:#x}-{:#x}: release failed ({:?}) with blocks offline; range withheld\n",
                    c.start_pfn,
                    c.start_pfn + c.nr_pages - 1,
                    e
                );
                return Err(e);
            }
            // The range stays ours, back on the lists.
            if let Some((meta, mirror)) = meta {
                let mut z = nz.zone.lock();
                z.frames.stage(c.start_pfn, meta, mirror);
                if z.add_range(c.start_pfn, c.nr_pages).is_err() {
                    // Cannot happen (it was there a moment ago); the
                    // range stays claimed, its frames off every list.
                    pr_err!("pfn {:#x}: range lost from the free lists\n", c.start_pfn);
                }
            }
            return Err(e);
        }
        // The memory is gone: from here on the range is no longer ours.
        drop(meta);
        nz.mirror.unpublish(c.start_pfn);
        let _ = claimed.remove(i);
        let node_empty = !claimed.iter().any(|x| x.nid == c.nid);
        if node_empty {
            // Cannot fail for lack of memory in a way that matters: a stale
            // zonelist entry only leads to an empty zone.
            let _ = inst.zonelists.update(|topo| {
                topo.set_node(c.nid, None);
                Ok(())
            });
        }
        Self::give_back(c.nid, c.start_pfn, c.nr_pages, node_empty);
        mm_sys::module_put();
        pr_info!(
            "node {} released pfn {:#x}-{:#x}\n",
            c.nid,
            c.start_pfn,
            c.start_pfn + c.nr_pages - 1
        );
        Ok(())
    }

    /// Releases every claimed range, the last claimed first; stops at the
    /// first that cannot be released (its error is returned, the ranges
    /// before it stay claimed).
    pub(crate) fn release_all(&self, inst: &Instance) -> Result {
        loop {
            let next = self.claimed.lock().last().map(|c| c.start_pfn);
            let Some(start) = next else {
                return Ok(());
            };
            self.release(inst, start)?;
        }
    }

    /// Gives private node `nid` to owner `owner`: `ALLOC_ZONELIST_PRIVATE`
    /// never falls back across owners. `ENOENT` if `nid` is not claimed.
    pub(crate) fn set_owner(&self, inst: &Instance, nid: i32, owner: u32) -> Result {
        let _claimed = self.claimed.lock();
        inst.zonelists.update(|topo| {
            let desc = topo.node(nid).ok_or(ENOENT)?;
            topo.set_node(nid, Some(NodeDesc { owner, ..desc }));
            Ok(())
        })
    }

    /// A copy of the claimed ranges, for debugfs.
    pub(crate) fn snapshot(&self) -> Result<KVec<Claimed>> {
        let claimed = self.claimed.lock();
        let mut v = KVec::with_capacity(claimed.len(), GFP_KERNEL)?;
        for c in claimed.iter() {
            v.push(*c, GFP_KERNEL)?;
        }
        Ok(v)
    }
}
