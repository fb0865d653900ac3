// SPDX-License-Identifier: GPL-2.0

//! Claiming and releasing the memory of private nodes.
//!
//! A memory block of a node pnalloc registered is pnalloc's exactly while
//! it is online ([`crate::hotplug`]). So a claim is:
//!
//! 1. register the node as private (`node_private_register()`), so that
//!    onlining keeps it out of N_MEMORY, kswapd/kcompactd never start, and
//!    every page onlined there goes to pnalloc's online hook, not the buddy;
//! 2. online the offline blocks in place (`device_online()`, ZONE_NORMAL),
//!    as writing their sysfs `state` does; the memory notifier puts each
//!    block on the free lists.
//!
//! A release offlines the blocks in place, all or none; the notifier
//! refuses (`EBUSY`) while any page of a block is handed out, and then
//! nothing changes. A node left without memory is unregistered, unless the
//! `nodes` parameter named it: such a node stays pnalloc's, so that memory
//! hot-added there later is claimed as soon as it goes online (by an
//! auto-online policy or by the admin).
//!
//! The blocks never leave the ACPI memory device that added them, so an
//! eject offlines them through the same notifier: refused while pages are
//! out, otherwise the blocks leave pnalloc and the DIMM goes away.
//!
//! Each online block holds a module reference (taken by the notifier), so
//! rmmod is refused while pnalloc has memory, and unload never has to
//! release anything.

use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex, //
};

use crate::{
    core::{zonelist::NodeDesc, Pfn, MAX_ORDER_NR_PAGES},
    hotplug::Claimed,
    mm_sys,
    node::Instance,
};

/// Node ids pnalloc handles: those of a `u64` mask.
const MAX_NID: i32 = 64;

/// What the carve mutex protects.
struct Nodes {
    /// Nodes pnalloc registered as private.
    registered: u64,
    /// Nodes the `nodes` parameter named: registered for the module's life.
    configured: u64,
}

/// Claims and releases; the mutex serialises them.
#[pin_data]
pub(crate) struct Carve {
    #[pin]
    nodes: Mutex<Nodes>,
}

fn bit(nid: i32) -> Result<u64> {
    if (0..MAX_NID).contains(&nid) {
        Ok(1 << nid)
    } else {
        Err(EINVAL)
    }
}

/// Runs of contiguous memory blocks of node `nid` that are online (or
/// offline), sorted, as (start pfn, pages).
fn runs_of(nid: i32, online: bool) -> Result<KVec<(Pfn, u64)>> {
    let mut blocks: KVec<(Pfn, u64)> = KVec::new();
    mm_sys::for_each_memory_block(|b| {
        if b.nid == nid && b.online == online {
            blocks.push((b.start_pfn, b.nr_pages), GFP_KERNEL)?;
        }
        Ok(())
    })?;
    crate::core::sort_by_key(blocks.as_mut_slice(), |r| r.0);
    let mut runs: KVec<(Pfn, u64)> = KVec::new();
    for &(s, n) in blocks.iter() {
        match runs.last_mut() {
            Some(last) if last.0 + last.1 == s => last.1 += n,
            _ => runs.push((s, n), GFP_KERNEL)?,
        }
    }
    Ok(runs)
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

impl Carve {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Carve {
            nodes <- new_mutex!(Nodes {
                registered: 0,
                configured: 0,
            }),
        })
    }

    fn register(nodes: &mut Nodes, nid: i32) -> Result {
        let b = bit(nid)?;
        if nodes.registered & b == 0 {
            mm_sys::node_register(nid)?;
            nodes.registered |= b;
        }
        Ok(())
    }

    /// Unregisters `nid` if pnalloc has no memory there and the `nodes`
    /// parameter did not name it.
    fn unregister_if_empty(inst: &Instance, nodes: &mut Nodes, nid: i32) {
        let Ok(b) = bit(nid) else {
            return;
        };
        if nodes.registered & b == 0 || nodes.configured & b != 0 {
            return;
        }
        if inst.blocks.lock().online().iter().any(|c| c.nid == nid) {
            return;
        }
        match mm_sys::node_unregister(nid) {
            Ok(()) => nodes.registered &= !b,
            // Memory came online meanwhile (auto-online): it is ours.
            Err(e) => pr_info!("node {} stays private: {:?}\n", nid, e),
        }
    }

    /// Claims `nr_pages` from `start_pfn` on node `nid`: whole memory
    /// blocks, all present, offline and on `nid`, on a node the kernel has
    /// no memory on.
    pub(crate) fn claim(&self, inst: &Instance, nid: i32, start_pfn: Pfn, nr_pages: u64) -> Result {
        let mut nodes = self.nodes.lock();
        Self::claim_locked(inst, &mut nodes, nid, start_pfn, nr_pages)
    }

    fn claim_locked(
        inst: &Instance,
        nodes: &mut Nodes,
        nid: i32,
        start_pfn: Pfn,
        nr_pages: u64,
    ) -> Result {
        let block = mm_sys::block_pages();
        if nr_pages == 0 || start_pfn % block != 0 || nr_pages % block != 0 {
            return Err(EINVAL);
        }
        if block % MAX_ORDER_NR_PAGES != 0 {
            return Err(EINVAL);
        }
        let end = start_pfn.checked_add(nr_pages).ok_or(ERANGE)?;
        bit(nid)?;
        let info = mm_sys::node_info(nid)?;
        if info.possible == 0 {
            return Err(EINVAL);
        }
        let ours = mm_sys::node_registered(nid);
        if info.has_memory != 0 && !ours {
            // The kernel already uses memory on this node.
            return Err(EEXIST);
        }
        // Every block of the range exists, is offline and is on `nid`.
        let mut found = 0u64;
        mm_sys::for_each_memory_block(|b| {
            if b.start_pfn >= start_pfn && b.start_pfn < end {
                if b.nid != nid {
                    return Err(EBUSY);
                }
                if b.online {
                    // Online on a private node of ours: claimed already.
                    return Err(if ours { EEXIST } else { EBUSY });
                }
                found += b.nr_pages;
            }
            Ok(())
        })?;
        if found != nr_pages {
            return Err(ENOENT);
        }
        Self::register(nodes, nid)?;
        if let Err(e) = mm_sys::online_blocks(start_pfn, nr_pages) {
            Self::unregister_if_empty(inst, nodes, nid);
            return Err(e);
        }
        if online_pages_of(start_pfn, nr_pages)? != nr_pages {
            // Someone offlined a block between the two steps.
            let _ = mm_sys::offline_blocks(start_pfn, nr_pages, nid);
            Self::unregister_if_empty(inst, nodes, nid);
            return Err(EBUSY);
        }
        pr_info!(
            "node {} claimed pfn {:#x}-{:#x} ({} MiB)\n",
            nid,
            start_pfn,
            end - 1,
            nr_pages >> 8
        );
        Ok(())
    }

    /// Takes node `nid` from the kernel: offlines every block the kernel
    /// onlined there (the kernel migrates what it can), all or none, so
    /// that the node has no memory left. Only for nodes without CPUs.
    fn take_over(nid: i32) -> Result {
        let runs = runs_of(nid, true)?;
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            return Ok(());
        };
        let (start, end) = (first.0, last.0 + last.1);
        if let Err(e) = mm_sys::offline_blocks(start, end - start, nid) {
            pr_warn!(
                "node {}: the kernel's memory at pfn {:#x}-{:#x} cannot go offline ({:?}); \
                 online it movable (memhp_default_state=online_movable) or leave it offline\n",
                nid,
                start,
                end - 1,
                e
            );
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Claims every offline memory block of node `nid`, one range per run
    /// of contiguous blocks. A CPU-less node whose memory the kernel onlined
    /// (an auto-online policy) is taken over first. `ENOENT` if there is
    /// nothing to claim.
    pub(crate) fn claim_node(&self, inst: &Instance, nid: i32) -> Result<u64> {
        let mut nodes = self.nodes.lock();
        Self::claim_node_locked(inst, &mut nodes, nid)
    }

    fn claim_node_locked(inst: &Instance, nodes: &mut Nodes, nid: i32) -> Result<u64> {
        bit(nid)?;
        let info = mm_sys::node_info(nid)?;
        if info.possible == 0 {
            return Err(EINVAL);
        }
        if info.has_memory != 0 && !mm_sys::node_registered(nid) {
            if info.has_cpu != 0 {
                // Never a node the kernel runs on.
                return Err(EEXIST);
            }
            Self::take_over(nid)?;
        }
        let runs = runs_of(nid, false)?;
        if runs.is_empty() {
            return Err(ENOENT);
        }
        // Block by block: the kernel refuses to online a block that holds
        // a poisoned page (EHWPOISON), and that one stays offline.
        let block = mm_sys::block_pages();
        let mut pages = 0;
        for &(s, n) in runs.iter() {
            let mut b = s;
            while b < s + n {
                match Self::claim_locked(inst, nodes, nid, b, block) {
                    Ok(()) => pages += block,
                    Err(e) if e == EHWPOISON => {
                        pr_info!(
                            "node {}: pfn {:#x}: block has poisoned pages; left offline\n",
                            nid,
                            b
                        );
                    }
                    Err(e) => return Err(e),
                }
                b += block;
            }
        }
        if pages == 0 {
            return Err(EHWPOISON);
        }
        Ok(pages)
    }

    /// Checks the `nodes` module parameter before anything is set up: every
    /// node it names must be a possible node without CPUs (a private node
    /// never serves a CPU's local allocations). `EINVAL` otherwise, so a
    /// mistyped mask fails `insmod` instead of loading with fewer nodes.
    pub(crate) fn check_nodes_param(nodes_param: u64) -> Result {
        for nid in 0..MAX_NID {
            if nodes_param & (1 << nid) == 0 {
                continue;
            }
            let ok = nid < mm_sys::nr_node_ids()
                && mm_sys::node_info(nid).is_ok_and(|i| i.possible != 0 && i.has_cpu == 0);
            if !ok {
                pr_err!(
                    "nodes={:#x}: node {} is not a possible CPU-less node\n",
                    nodes_param,
                    nid
                );
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    /// At load: claims the memoryless, CPU-less nodes (`nodes` 0), or the
    /// nodes `nodes` names, taking over memory the kernel onlined there.
    /// Named nodes stay registered even without memory, so that memory
    /// hot-added there is pnalloc's as soon as it goes online. Returns the
    /// number of nodes claimed.
    pub(crate) fn claim_default(&self, inst: &Instance, nodes_param: u64) -> Result<u32> {
        let mut nodes = self.nodes.lock();
        let mut n = 0;
        for nid in 0..mm_sys::nr_node_ids().min(MAX_NID) {
            let named = nodes_param & (1 << nid) != 0;
            if nodes_param != 0 && !named {
                continue;
            }
            let Ok(info) = mm_sys::node_info(nid) else {
                continue;
            };
            if info.possible == 0 || info.has_cpu != 0 {
                if named {
                    pr_warn!("node {}: has CPUs or is not possible; not claimed\n", nid);
                }
                continue;
            }
            if !named && info.has_memory != 0 {
                continue;
            }
            match Self::claim_node_locked(inst, &mut nodes, nid) {
                Ok(_) => n += 1,
                Err(e) if e == ENOENT => {}
                // The load goes on with the other nodes; the reason of a
                // failed take-over is in the log already.
                Err(e) => pr_warn!("node {}: not claimed: {:?}\n", nid, e),
            }
            // A named node stays pnalloc's even when nothing could be
            // claimed now, unless the kernel kept memory there.
            if named {
                match Self::register(&mut nodes, nid) {
                    Ok(()) => nodes.configured |= 1 << nid,
                    Err(e) => pr_warn!("node {}: not registered: {:?}\n", nid, e),
                }
            }
        }
        Ok(n)
    }

    /// Releases the run of contiguous online blocks that starts at
    /// `start_pfn`. `ENOENT` if no block of pnalloc's starts there; `EBUSY`,
    /// with nothing changed, while any of their pages is handed out.
    pub(crate) fn release(&self, inst: &Instance, start_pfn: Pfn) -> Result {
        let mut nodes = self.nodes.lock();
        Self::release_locked(inst, &mut nodes, start_pfn)
    }

    fn release_locked(inst: &Instance, nodes: &mut Nodes, start_pfn: Pfn) -> Result {
        mm_sys::drain_deferred();
        let (nid, nr_pages) = {
            let b = inst.blocks.lock();
            let first = *b
                .online()
                .iter()
                .find(|c| c.start_pfn == start_pfn)
                .ok_or(ENOENT)?;
            let mut end = first.start_pfn + first.nr_pages;
            while let Some(next) = b
                .online()
                .iter()
                .find(|c| c.start_pfn == end && c.nid == first.nid)
            {
                end += next.nr_pages;
            }
            (first.nid, end - start_pfn)
        };
        mm_sys::offline_blocks(start_pfn, nr_pages, nid)?;
        Self::unregister_if_empty(inst, nodes, nid);
        pr_info!(
            "node {} released pfn {:#x}-{:#x}\n",
            nid,
            start_pfn,
            start_pfn + nr_pages - 1
        );
        Ok(())
    }

    /// Releases every block, the last claimed first; stops at the first
    /// run that cannot be released (its error is returned, the ones before
    /// it stay claimed).
    pub(crate) fn release_all(&self, inst: &Instance) -> Result {
        let mut nodes = self.nodes.lock();
        loop {
            let next = inst.blocks.lock().online().last().map(|c| c.start_pfn);
            let Some(start) = next else {
                return Ok(());
            };
            // The run that holds the last block, from its first block.
            let start = {
                let b = inst.blocks.lock();
                let mut s = start;
                while let Some(prev) = b.online().iter().find(|c| c.start_pfn + c.nr_pages == s) {
                    s = prev.start_pfn;
                }
                s
            };
            Self::release_locked(inst, &mut nodes, start)?;
        }
    }

    /// At unload, with nothing online (module references): unregisters
    /// every node pnalloc registered.
    pub(crate) fn unregister_all(&self) {
        let mut nodes = self.nodes.lock();
        for nid in 0..MAX_NID {
            if nodes.registered & (1 << nid) == 0 {
                continue;
            }
            match mm_sys::node_unregister(nid) {
                Ok(()) => nodes.registered &= !(1 << nid),
                Err(e) => pr_err!("node {} left registered at unload: {:?}\n", nid, e),
            }
        }
    }

    /// Gives private node `nid` to owner `owner`: `ALLOC_ZONELIST_PRIVATE`
    /// never falls back across owners. `ENOENT` if `nid` has no memory of
    /// pnalloc's.
    pub(crate) fn set_owner(&self, inst: &Instance, nid: i32, owner: u32) -> Result {
        let _nodes = self.nodes.lock();
        inst.zonelists.update(|topo| {
            let desc = topo.node(nid).ok_or(ENOENT)?;
            topo.set_node(nid, Some(NodeDesc { owner, ..desc }));
            Ok(())
        })
    }

    /// A copy of the online blocks, for debugfs.
    pub(crate) fn snapshot(&self, inst: &Instance) -> Result<KVec<Claimed>> {
        let b = inst.blocks.lock();
        let mut v = KVec::with_capacity(b.online().len(), GFP_KERNEL)?;
        for c in b.online().iter() {
            v.push(*c, GFP_KERNEL)?;
        }
        Ok(v)
    }
}
