// SPDX-License-Identifier: GPL-2.0

//! Memory blocks of pnalloc's nodes going online and offline.
//!
//! A memory block of a private node that pnalloc registered is pnalloc's
//! exactly while it is online, as a block of an ordinary node is the
//! buddy's, whoever onlines or offlines it: a claim or a release
//! ([`crate::carve`]), an auto-online policy, the admin writing the block's
//! sysfs `state`, or an ACPI eject. The memory notifier in `mm_shim.c` calls
//! [`block_event`] for each step, under the memory hotplug lock, so at most
//! one block is between two steps at any time:
//!
//! - `GOING_ONLINE` allocates the block's metadata (a failure refuses the
//!   online cleanly) and publishes its free-check mirror;
//! - `ONLINE` puts the frames, already prepared by the node's online hook,
//!   on the free lists;
//! - `GOING_OFFLINE` takes the block off the free lists in one step under
//!   the zone lock, or refuses with `EBUSY` while any page of it is handed
//!   out; nothing is lost or doubled either way;
//! - `CANCEL_OFFLINE` puts it back, `OFFLINE` drops the metadata.

use kernel::{ffi::c_int, prelude::*};

use crate::{
    core::{frame::FrameMeta, zonelist::NodeDesc, Pfn, MAX_ORDER_NR_PAGES},
    frames::RangeMirror,
    mm_sys,
    node::{instance, Instance},
};

// `enum pnalloc_block_event` in mm_shim.h.
const GOING_ONLINE: c_int = 0;
const ONLINE: c_int = 1;
const CANCEL_ONLINE: c_int = 2;
const GOING_OFFLINE: c_int = 3;
const CANCEL_OFFLINE: c_int = 4;
const OFFLINE: c_int = 5;

/// An online memory block of one of pnalloc's nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub(crate) nid: i32,
    pub(crate) start_pfn: Pfn,
    pub(crate) nr_pages: u64,
}

/// A block between `GOING_ONLINE` and `ONLINE`: its metadata, ready.
struct GoingOnline {
    block: Claimed,
    meta: KVVec<FrameMeta>,
    mirror: *const RangeMirror,
}

/// A block between `GOING_OFFLINE` and `OFFLINE`: off the free lists, its
/// metadata kept in case the offline is cancelled.
struct GoingOffline {
    block: Claimed,
    retired: Option<(KVVec<FrameMeta>, *const RangeMirror)>,
}

/// The blocks pnalloc has, and the one in transition.
pub(crate) struct Blocks {
    /// Online blocks, in the order they came online.
    online: KVec<Claimed>,
    going_online: Option<GoingOnline>,
    going_offline: Option<GoingOffline>,
}

// SAFETY: the raw mirror pointers refer to mirrors owned by the node's
// `MirrorIndex`, which outlives the instance's `Blocks`; they are only
// handed back to the zone's store under the blocks mutex.
unsafe impl Send for Blocks {}

impl Blocks {
    pub(crate) const fn new() -> Self {
        Blocks {
            online: KVec::new(),
            going_online: None,
            going_offline: None,
        }
    }

    /// The online blocks, in the order they came online.
    pub(crate) fn online(&self) -> &[Claimed] {
        &self.online
    }
}

/// Entry from the memory notifier; see the module documentation.
pub(crate) fn block_event(event: c_int, nid: c_int, start_pfn: Pfn, nr_pages: u64) -> c_int {
    let Some(inst) = instance() else {
        // Cannot happen: the notifier is registered after the instance is
        // published and removed before it is withdrawn.
        return if event == GOING_ONLINE || event == GOING_OFFLINE {
            ENODEV.to_errno()
        } else {
            0
        };
    };
    let block = Claimed {
        nid,
        start_pfn,
        nr_pages,
    };
    let r = match event {
        GOING_ONLINE => going_online(inst, block).map(|()| 0),
        ONLINE => online(inst, block).map(|()| 1),
        CANCEL_ONLINE => Ok(c_int::from(cancel_online(inst, block))),
        GOING_OFFLINE => going_offline(inst, block).map(|()| 0),
        CANCEL_OFFLINE => Ok(c_int::from(cancel_offline(inst, block))),
        OFFLINE => Ok(c_int::from(offline(inst, block))),
        _ => Err(EINVAL),
    };
    r.unwrap_or_else(|e| e.to_errno())
}

fn going_online(inst: &Instance, block: Claimed) -> Result {
    // memmap_on_memory puts the memmap at the start of the block: what is
    // onlined is then not MAX_ORDER aligned, and the core (whose blocks
    // never straddle a range) cannot take it. Refuse it up front.
    if block.start_pfn % MAX_ORDER_NR_PAGES != 0 || block.nr_pages % MAX_ORDER_NR_PAGES != 0 {
        pr_warn!(
            "pfn {:#x}: {} pages not MAX_ORDER aligned (memmap_on_memory?); not onlined\n",
            block.start_pfn,
            block.nr_pages
        );
        return Err(EINVAL);
    }
    let nz = inst.node_zone(block.nid)?;
    let mut b = inst.blocks.lock();
    if b.going_online.is_some() || b.online.iter().any(|c| c.start_pfn == block.start_pfn) {
        return Err(EBUSY);
    }
    b.online.reserve(1, GFP_KERNEL)?;
    let meta = crate::frames::KStore::alloc_meta(block.nr_pages)?;
    let mirror = nz
        .mirror
        .publish(RangeMirror::new(block.start_pfn, block.nr_pages)?)?;
    b.going_online = Some(GoingOnline {
        block,
        meta,
        mirror,
    });
    Ok(())
}

fn online(inst: &Instance, block: Claimed) -> Result {
    let nz = inst.node_zone(block.nid)?;
    let mut b = inst.blocks.lock();
    let Some(g) = b.going_online.take_if(|g| g.block == block) else {
        return Err(ENOENT);
    };
    let (r, retired) = {
        let mut z = nz.zone.lock();
        z.frames.stage(block.start_pfn, g.meta, g.mirror);
        let r = z.add_range(block.start_pfn, block.nr_pages);
        (r, z.frames.take_retired())
    };
    drop(retired);
    if let Err(e) = r {
        // Cannot happen after `GOING_ONLINE` (the ranges are disjoint and
        // there are slots): the frames stay frozen off every list, leaked
        // rather than corrupt, and the block cannot go offline again.
        nz.mirror.unpublish(block.start_pfn);
        pr_err!(
            "node {}: pfn {:#x}: block not added: {:?}\n",
            block.nid,
            block.start_pfn,
            e
        );
        return Err(EIO);
    }
    // Capacity was reserved in `GOING_ONLINE`.
    let _ = b.online.push_within_capacity(block);
    // Publishing a node cannot fail for want of memory in a way that
    // matters: a node missing from the zonelists is only never chosen.
    let _ = inst.zonelists.update(|topo| {
        if topo.node(block.nid).is_none() {
            topo.set_node(
                block.nid,
                Some(NodeDesc {
                    owner: 0,
                    populated: 1,
                }),
            );
        }
        Ok(())
    });
    Ok(())
}

fn cancel_online(inst: &Instance, block: Claimed) -> bool {
    let mut b = inst.blocks.lock();
    if b.going_online.take_if(|g| g.block == block).is_none() {
        return false;
    }
    if let Ok(nz) = inst.node_zone(block.nid) {
        nz.mirror.unpublish(block.start_pfn);
    }
    true
}

fn going_offline(inst: &Instance, block: Claimed) -> Result {
    let nz = inst.node_zone(block.nid)?;
    let mut b = inst.blocks.lock();
    if b.going_offline.is_some() {
        return Err(EBUSY);
    }
    if !b.online.contains(&block) {
        // Online on our node but never added (see `online`): its frames
        // are not free pages and must not go offline as if they were.
        return Err(EBUSY);
    }
    // Pages cached on per-CPU lists are free too: give them back first.
    nz.drain_all_pages();
    // The core checks that every frame is free and takes the range off
    // its lists in one step.
    let (r, retired) = {
        let mut z = nz.zone.lock();
        let r = z.remove_range(block.start_pfn);
        (r, z.frames.take_retired())
    };
    r?;
    b.going_offline = Some(GoingOffline { block, retired });
    Ok(())
}

fn cancel_offline(inst: &Instance, block: Claimed) -> bool {
    let mut b = inst.blocks.lock();
    let Some(g) = b.going_offline.take_if(|g| g.block == block) else {
        return false;
    };
    let Ok(nz) = inst.node_zone(block.nid) else {
        return false;
    };
    if let Some((mut meta, mirror)) = g.retired {
        // The frames start over, as on a fresh online; withdrawn frames
        // are withdrawn again before the zone lock is dropped, so no
        // allocation can see them free.
        for m in meta.iter_mut() {
            *m = FrameMeta::new();
        }
        let mut z = nz.zone.lock();
        z.frames.stage(block.start_pfn, meta, mirror);
        if z.add_range(block.start_pfn, block.nr_pages).is_err() {
            // Cannot happen: it was there a moment ago. The frames stay
            // off every list; the block stays online and claimed.
            pr_err!(
                "pfn {:#x}: block lost from the free lists\n",
                block.start_pfn
            );
            return true;
        }
        for pfn in block.start_pfn..block.start_pfn + block.nr_pages {
            if mm_sys::page_hwpoison(pfn) && !z.take_page_off_buddy(pfn) {
                pr_err!("pfn {:#x}: poisoned frame not withdrawn\n", pfn);
            }
        }
    }
    true
}

fn offline(inst: &Instance, block: Claimed) -> bool {
    let mut b = inst.blocks.lock();
    let Some(g) = b.going_offline.take_if(|g| g.block == block) else {
        return false;
    };
    drop(g.retired);
    if let Ok(nz) = inst.node_zone(block.nid) {
        nz.mirror.unpublish(block.start_pfn);
    }
    b.online.retain(|c| *c != block);
    if !b.online.iter().any(|c| c.nid == block.nid) {
        let _ = inst.zonelists.update(|topo| {
            topo.set_node(block.nid, None);
            Ok(())
        });
    }
    true
}
