// SPDX-License-Identifier: GPL-2.0

//! The allocation policy: `__alloc_frozen_pages_noprof()` and
//! `get_page_from_freelist()` over the private zonelists.
//!
//! The policy is written against [`PageAllocEnv`], which says how to reach a
//! zone and this CPU's pcp for it; the host tests implement it over plain
//! structs, the module over locked, per-CPU ones. Differences from the
//! kernel's allocator, all because private nodes have no reclaim:
//! - the slow path is one more pass with `gfp_to_alloc_flags()` reserves,
//!   then one pass after draining the per-CPU lists and unreserving a
//!   HIGHATOMIC pageblock; then the allocation fails. There is no reclaim,
//!   compaction, OOM kill or retry loop, so `__GFP_NOFAIL` cannot be honoured
//!   and is refused.
//! - nolock callers get exactly one pass at WMARK_MIN, as in 7.3.

use super::{
    alloc_flags::AllocFlags,
    gfp::Gfp,
    migratetype::MigrateType,
    zone::ZoneType,
    zonelist::{AllocZonelist, NodeMask, Topology, ZoneRef, Zonelist},
    CoreError, Pfn, MAX_PAGE_ORDER, NUMA_NO_NODE, PAGE_ALLOC_COSTLY_ORDER,
};

/// How the policy reaches zones and per-CPU lists.
pub trait PageAllocEnv {
    /// The private nodes and their zonelists.
    fn topology(&self) -> &Topology;
    /// `zone_watermark_fast()`; `None` if the zone does not exist.
    fn watermark_ok(&mut self, z: ZoneRef, order: u32, flags: AllocFlags) -> Option<bool>;
    /// `rmqueue()`: from this CPU's pcp list for orders up to
    /// `PAGE_ALLOC_COSTLY_ORDER`, else from the buddy. `None` when empty or,
    /// for nolock, contended.
    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn>;
    /// `reserve_highatomic_pageblock()`
    fn reserve_highatomic(&mut self, z: ZoneRef, pfn: Pfn, order: u32);
    /// `unreserve_highatomic_pageblock()` for one zone.
    fn unreserve_highatomic(&mut self, z: ZoneRef, mt: MigrateType) -> bool;
    /// `drain_all_pages(zone)`: every CPU's pcp lists of the zone to the buddy.
    fn drain_all_pages(&mut self, z: ZoneRef);
}

/// One allocation request, as the entry points pass it down.
#[derive(Debug, Clone, Copy)]
pub struct AllocRequest {
    /// The gfp mask.
    pub gfp: Gfp,
    /// Order of the block.
    pub order: u32,
    /// Preferred node, or `NUMA_NO_NODE`.
    pub preferred_nid: i32,
    /// Allowed nodes, or `None` for all.
    pub nodemask: Option<NodeMask>,
    /// Which zonelist.
    pub zonelist: AllocZonelist,
    /// Public alloc_flags bits from the caller (`ALLOC_NOLOCK`, `ALLOC_NO_CODETAG`).
    pub alloc_flags: u32,
    /// The calling CPU's node, to resolve `NUMA_NO_NODE`.
    pub local_nid: i32,
}

impl AllocRequest {
    /// `alloc_pages_node(nid, gfp, order)` with the default zonelist.
    pub const fn new(gfp: Gfp, order: u32, preferred_nid: i32) -> Self {
        AllocRequest {
            gfp,
            order,
            preferred_nid,
            nodemask: None,
            zonelist: AllocZonelist::Default,
            alloc_flags: 0,
            local_nid: NUMA_NO_NODE,
        }
    }
}

/// Which pass found the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocPath {
    /// First `get_page_from_freelist()` (WMARK_LOW, NOFRAGMENT).
    Fast,
    /// With `gfp_to_alloc_flags()` (WMARK_MIN, reserves).
    Slow,
    /// After draining pcp lists and unreserving highatomic.
    Drained,
}

/// A block handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocated {
    /// First pfn.
    pub pfn: Pfn,
    /// Order.
    pub order: u32,
    /// The zone it came from.
    pub zone: ZoneRef,
    /// The migratetype it was allocated as.
    pub mt: MigrateType,
    /// The flags of the pass that succeeded.
    pub flags: AllocFlags,
    /// Which pass.
    pub path: AllocPath,
}

/// Why an allocation returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocFailure {
    /// The request itself is wrong (bad order, node, flags).
    Invalid(CoreError),
    /// No memory within the allowed nodes and watermarks; `warn` unless
    /// `__GFP_NOWARN` (the kernel layer prints the warning).
    NoMemory {
        /// Print an allocation-failure warning.
        warn: bool,
    },
}

/// The order limit of `alloc_pages_nolock()` without THP.
pub const NOLOCK_MAX_ORDER: u32 = PAGE_ALLOC_COSTLY_ORDER;

/// `get_page_from_freelist()`
pub fn get_page_from_freelist<E: PageAllocEnv>(
    env: &mut E,
    zonelist: &Zonelist,
    nodemask: Option<NodeMask>,
    highest: ZoneType,
    order: u32,
    mt: MigrateType,
    mut flags: AllocFlags,
) -> Option<(ZoneRef, Pfn, AllocFlags)> {
    'retry: loop {
        let preferred_nid = zonelist.iter().next().map(|z| z.nid);
        for z in zonelist.iter() {
            if z.zone > highest || nodemask.is_some_and(|m| !m.contains(i32::from(z.nid))) {
                continue;
            }
            // ALLOC_NOFRAGMENT: before falling back to another node, retry
            // the local node allowing fragmentation.
            if flags.nofragment && Some(z.nid) != preferred_nid {
                flags.nofragment = false;
                continue 'retry;
            }
            if !env.watermark_ok(z, order, flags).unwrap_or(false) {
                continue;
            }
            if let Some(pfn) = env.rmqueue(z, order, mt, flags) {
                if flags.highatomic && order > 0 {
                    env.reserve_highatomic(z, pfn, order);
                }
                return Some((z, pfn, flags));
            }
        }
        if flags.nofragment {
            flags.nofragment = false;
            continue 'retry;
        }
        return None;
    }
}

/// `__alloc_frozen_pages_noprof()` on private nodes.
pub fn alloc_pages<E: PageAllocEnv>(
    env: &mut E,
    req: &AllocRequest,
) -> Result<Allocated, AllocFailure> {
    let gfp = req.gfp;
    if req.order > MAX_PAGE_ORDER {
        return Err(AllocFailure::Invalid(CoreError::Invalid));
    }
    if gfp.has(Gfp::NOFAIL) {
        return Err(AllocFailure::Invalid(CoreError::Invalid));
    }
    let flags = AllocFlags::from_caller(req.alloc_flags, gfp).map_err(AllocFailure::Invalid)?;
    if flags.nolock && req.order > NOLOCK_MAX_ORDER {
        return Err(AllocFailure::Invalid(CoreError::Invalid));
    }
    let mt = gfp.migratetype().map_err(AllocFailure::Invalid)?;
    let highest = gfp.highest_zone().map_err(AllocFailure::Invalid)?;
    let nid = if req.preferred_nid == NUMA_NO_NODE {
        env.topology()
            .nearest(req.local_nid)
            .ok_or(AllocFailure::NoMemory {
                warn: !gfp.has(Gfp::NOWARN),
            })?
    } else {
        req.preferred_nid
    };
    let zonelist = env
        .topology()
        .zonelist(nid, req.zonelist, gfp.has(Gfp::THISNODE))
        .ok_or(AllocFailure::Invalid(CoreError::NotFound))?;

    let done = |(zone, pfn, flags): (ZoneRef, Pfn, AllocFlags), path| Allocated {
        pfn,
        order: req.order,
        zone,
        mt,
        flags,
        path,
    };

    let fast = flags.fast_path();
    if let Some(r) =
        get_page_from_freelist(env, &zonelist, req.nodemask, highest, req.order, mt, fast)
    {
        return Ok(done(r, AllocPath::Fast));
    }
    if !flags.nolock {
        let slow = flags.slow_path(gfp, req.order);
        if let Some(r) =
            get_page_from_freelist(env, &zonelist, req.nodemask, highest, req.order, mt, slow)
        {
            return Ok(done(r, AllocPath::Slow));
        }
        // No reclaim here: give back what pcp lists and highatomic reserves
        // hold, once, and try again.
        for z in zonelist.iter() {
            if req.nodemask.is_none_or(|m| m.contains(i32::from(z.nid))) {
                env.drain_all_pages(z);
                env.unreserve_highatomic(z, mt);
            }
        }
        if let Some(r) =
            get_page_from_freelist(env, &zonelist, req.nodemask, highest, req.order, mt, slow)
        {
            return Ok(done(r, AllocPath::Drained));
        }
    }
    Err(AllocFailure::NoMemory {
        warn: !gfp.has(Gfp::NOWARN),
    })
}
