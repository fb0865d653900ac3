// SPDX-License-Identifier: GPL-2.0

//! The allocation policy: `__alloc_frozen_pages_noprof()` and
//! `get_page_from_freelist()` over the private zonelists.
//!
//! The policy is written against [`PageAllocEnv`], which says how to reach a
//! zone and this CPU's pcp for it; the host tests implement it over plain
//! structs, the module over locked, per-CPU ones. Differences from the
//! kernel's allocator, all because private nodes have no reclaim
//! (`Documentation/pnalloc/core.rst` gives the reasons):
//! - the slow path is the `alloc_flags_slowpath()` pass, the
//!   `__GFP_MEMALLOC` pass, and, for callers that may sleep, what follows a
//!   direct reclaim that found nothing to reclaim: one pass after
//!   `unreserve_highatomic_pageblock(ac, false)` and draining the pcp lists,
//!   then, where `should_reclaim_retry()` would be reached, one pass per
//!   forced unreserve until no HIGHATOMIC block is left. There is no
//!   reclaim, compaction, OOM kill or retry loop, so `__GFP_NOFAIL` cannot be
//!   honoured and is refused;
//! - the nodemask is always honoured (7.3 drops it for reserve passes, a
//!   cpuset rule; here it is how callers pick private nodes);
//! - nolock callers get exactly one pass at WMARK_MIN, as in 7.3.

use super::{
    alloc_flags::AllocFlags,
    gfp::Gfp,
    migratetype::MigrateType,
    zone::ZoneType,
    zonelist::{AllocZonelist, NodeMask, Topology, ZoneRef},
    CoreError, Pfn, MAX_PAGE_ORDER, NUMA_NO_NODE, PAGE_ALLOC_COSTLY_ORDER,
};

/// How the policy reaches zones and per-CPU lists.
pub trait PageAllocEnv {
    /// The private nodes and their zonelists.
    fn topology(&self) -> &Topology;
    /// `zone_watermark_fast()`; `None` if the zone does not exist.
    fn watermark_ok(&mut self, z: ZoneRef, order: u32, flags: AllocFlags) -> Option<bool>;
    /// `zone_watermark_fast()` at order 0 with `nr` pages more than the
    /// watermark `flags` selects, as `alloc_pages_bulk_noprof()` asks it.
    fn watermark_ok_bulk(&mut self, z: ZoneRef, flags: AllocFlags, nr: u64) -> Option<bool>;
    /// `rmqueue()`: from this CPU's pcp list for orders up to
    /// `PAGE_ALLOC_COSTLY_ORDER`, else (or when that fails) from the buddy
    /// with [`super::zone::Zone::rmqueue_buddy`], which also reserves a
    /// HIGHATOMIC pageblock as `rmqueue_buddy()` does. `None` when empty
    /// or, for nolock, contended.
    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn>;
    /// `unreserve_highatomic_pageblock()` for one zone: gives one reserved
    /// pageblock back to `mt`, keeping the last one unless `force`.
    fn unreserve_highatomic(&mut self, z: ZoneRef, mt: MigrateType, force: bool) -> bool;
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
    /// After draining pcp lists and unreserving highatomic (what follows
    /// direct reclaim in 7.3).
    Drained,
    /// After a forced unreserve of a HIGHATOMIC pageblock (what
    /// `should_reclaim_retry()` does before OOM in 7.3).
    Forced,
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

/// `struct alloc_context`: what every pass of one allocation shares. The
/// zonelist is named rather than held, and read through the environment at
/// each step, so that the policy never copies it and never holds a borrow
/// of the topology across a call into the environment.
#[derive(Debug, Clone, Copy)]
pub struct AllocContext {
    /// The node whose zonelist this is.
    pub nid: i32,
    /// Which zonelist.
    pub sel: AllocZonelist,
    /// `__GFP_THISNODE`
    pub thisnode: bool,
    /// `ac->nodemask`
    pub nodemask: Option<NodeMask>,
    /// `ac->highest_zoneidx`
    pub highest_zoneidx: ZoneType,
    /// `ac->migratetype`
    pub migratetype: MigrateType,
}

impl AllocContext {
    /// The `i`-th zone of the zonelist, eligible or not.
    fn zoneref<E: PageAllocEnv>(&self, env: &E, i: usize) -> Option<ZoneRef> {
        env.topology()
            .zonelist(self.nid, self.sel, self.thisnode)?
            .get(i)
    }

    /// `for_next_zone_zonelist_nodemask()` filter.
    fn eligible(&self, z: ZoneRef) -> bool {
        z.zone <= self.highest_zoneidx && self.nodemask.is_none_or(|m| m.contains(i32::from(z.nid)))
    }

    /// `first_zones_zonelist()`: `ac->preferred_zoneref`.
    pub fn preferred_zoneref<E: PageAllocEnv>(&self, env: &E) -> Option<ZoneRef> {
        let mut i = 0;
        while let Some(z) = self.zoneref(env, i) {
            if self.eligible(z) {
                return Some(z);
            }
            i += 1;
        }
        None
    }
}

/// `alloc_flags_nofragment()` for a private node's preferred zone.
/// ALLOC_NOFRAGMENT needs the preferred ZONE_NORMAL to have a populated
/// ZONE_DMA32 below it when more than one node is online; a private node
/// has no DMA32 zone and there is always another online node (the one with
/// the CPUs), and `defrag_mode` is off by default. So the fast path never
/// sets it here, exactly as 7.3 does not for such a node.
pub const fn alloc_flags_nofragment(_preferred: Option<ZoneRef>) -> bool {
    false
}

/// `get_page_from_freelist()`
pub fn get_page_from_freelist<E: PageAllocEnv>(
    env: &mut E,
    ac: &AllocContext,
    order: u32,
    mut flags: AllocFlags,
) -> Option<(ZoneRef, Pfn, AllocFlags)> {
    let preferred = ac.preferred_zoneref(env)?;
    'retry: loop {
        let no_fallback = flags.nofragment;
        let mut i = 0;
        while let Some(z) = ac.zoneref(env, i) {
            i += 1;
            if !ac.eligible(z) {
                continue;
            }
            // ALLOC_NOFRAGMENT: before falling back to another node, retry
            // allowing fragmentation; locality matters more.
            if no_fallback && z != preferred && z.nid != preferred.nid {
                flags.nofragment = false;
                continue 'retry;
            }
            if !env.watermark_ok(z, order, flags).unwrap_or(false) {
                continue;
            }
            if let Some(pfn) = env.rmqueue(z, order, ac.migratetype, flags) {
                return Some((z, pfn, flags));
            }
        }
        if no_fallback {
            flags.nofragment = false;
            continue 'retry;
        }
        return None;
    }
}

/// `unreserve_highatomic_pageblock()`: one reserved pageblock of the first
/// zone that has one to give goes back to `ac->migratetype`.
pub fn unreserve_highatomic_pageblock<E: PageAllocEnv>(
    env: &mut E,
    ac: &AllocContext,
    force: bool,
) -> bool {
    let mut i = 0;
    while let Some(z) = ac.zoneref(env, i) {
        i += 1;
        if ac.eligible(z) && env.unreserve_highatomic(z, ac.migratetype, force) {
            return true;
        }
    }
    false
}

/// `drain_all_pages(NULL)`, limited to the zones this allocation can see.
fn drain_all_pages<E: PageAllocEnv>(env: &mut E, ac: &AllocContext) {
    let mut i = 0;
    while let Some(z) = ac.zoneref(env, i) {
        i += 1;
        env.drain_all_pages(z);
    }
}

/// `prepare_alloc_pages()`: the request checked and its context built.
/// Returns the context, the caller's flags and the failure to report when
/// no memory is found.
fn prepare_alloc_pages<E: PageAllocEnv>(
    env: &E,
    req: &AllocRequest,
) -> Result<(AllocContext, AllocFlags, AllocFailure), AllocFailure> {
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
    let nomem = AllocFailure::NoMemory {
        warn: !gfp.has(Gfp::NOWARN),
    };
    let nid = if req.preferred_nid == NUMA_NO_NODE {
        env.topology().nearest(req.local_nid).ok_or(nomem)?
    } else {
        req.preferred_nid
    };
    let ac = AllocContext {
        nid,
        sel: req.zonelist,
        thisnode: gfp.has(Gfp::THISNODE),
        nodemask: req.nodemask,
        highest_zoneidx: highest,
        migratetype: mt,
    };
    if env.topology().zonelist(nid, ac.sel, ac.thisnode).is_none() {
        return Err(AllocFailure::Invalid(CoreError::NotFound));
    }
    Ok((ac, flags, nomem))
}

/// `__alloc_frozen_pages_noprof()` on private nodes.
pub fn alloc_pages<E: PageAllocEnv>(
    env: &mut E,
    req: &AllocRequest,
) -> Result<Allocated, AllocFailure> {
    let gfp = req.gfp;
    let (ac, flags, nomem) = prepare_alloc_pages(env, req)?;
    let mt = ac.migratetype;

    let done = |(zone, pfn, flags): (ZoneRef, Pfn, AllocFlags), path| Allocated {
        pfn,
        order: req.order,
        zone,
        mt,
        flags,
        path,
    };

    // 7.3 asks alloc_flags_nofragment() for every caller but nolock ones;
    // on a private node it says no to all, so nolock needs no exception.
    let mut fast = flags.fast_path(gfp, req.order);
    fast.nofragment = alloc_flags_nofragment(ac.preferred_zoneref(env));
    if let Some(r) = get_page_from_freelist(env, &ac, req.order, fast) {
        return Ok(done(r, AllocPath::Fast));
    }
    if flags.nolock {
        return Err(nomem);
    }
    let mut slow = flags.slow_path(gfp, req.order);
    if let Some(r) = get_page_from_freelist(env, &ac, req.order, slow) {
        return Ok(done(r, AllocPath::Slow));
    }
    if let Some(reserve) = flags.reserve_flags(gfp) {
        slow = reserve;
        if let Some(r) = get_page_from_freelist(env, &ac, req.order, slow) {
            return Ok(done(r, AllocPath::Slow));
        }
    }
    // The caller is not willing to reclaim: 7.3 gives up here.
    if !gfp.allows_blocking() {
        return Err(nomem);
    }
    // __alloc_pages_direct_reclaim() with nothing to reclaim: give back what
    // the pcp lists and the highatomic reserve hold, and try again.
    unreserve_highatomic_pageblock(env, &ac, false);
    drain_all_pages(env, &ac);
    if let Some(r) = get_page_from_freelist(env, &ac, req.order, slow) {
        return Ok(done(r, AllocPath::Drained));
    }
    // 7.3 reaches should_reclaim_retry(), and with it the forced
    // unreserve, only without __GFP_NORETRY and, for costly orders, only
    // with __GFP_RETRY_MAYFAIL and compaction allowed (__GFP_IO).
    let costly = req.order > PAGE_ALLOC_COSTLY_ORDER;
    if gfp.has(Gfp::NORETRY) || (costly && !gfp.has(Gfp::RETRY_MAYFAIL | Gfp::IO)) {
        return Err(nomem);
    }
    // Before OOM, exhaust the highatomic reserve, one pageblock per retry.
    while unreserve_highatomic_pageblock(env, &ac, true) {
        if let Some(r) = get_page_from_freelist(env, &ac, req.order, slow) {
            return Ok(done(r, AllocPath::Forced));
        }
    }
    Err(nomem)
}

/// Where `alloc_pages_bulk_noprof()` takes its batch from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkZone {
    /// The zone whose pcp list serves the whole batch.
    pub zone: ZoneRef,
    /// `ac.migratetype`: the pcp list.
    pub mt: MigrateType,
    /// The flags of the pass (WMARK_LOW, as 7.3's bulk allocator uses).
    pub flags: AllocFlags,
}

/// The zone choice of `alloc_pages_bulk_noprof()` for `nr` more order-0
/// pages: the first eligible zone of the preferred node whose free pages
/// exceed WMARK_LOW plus `nr`. `Ok(None)` where 7.3 gives up on the batch
/// and allocates one page with `__alloc_pages()`: no such zone, or the
/// next eligible zone is on another node (the bulk allocator never falls
/// back across nodes, only the single page does).
pub fn bulk_zone<E: PageAllocEnv>(
    env: &mut E,
    req: &AllocRequest,
    nr: u64,
) -> Result<Option<BulkZone>, AllocFailure> {
    let req = AllocRequest { order: 0, ..*req };
    let (ac, flags, _) = prepare_alloc_pages(env, &req)?;
    let flags = flags.fast_path(req.gfp, 0);
    let Some(preferred) = ac.preferred_zoneref(env) else {
        return Ok(None);
    };
    let mut i = 0;
    while let Some(z) = ac.zoneref(env, i) {
        i += 1;
        if !ac.eligible(z) {
            continue;
        }
        if z != preferred && z.nid != preferred.nid {
            return Ok(None);
        }
        if env.watermark_ok_bulk(z, flags, nr).unwrap_or(false) {
            return Ok(Some(BulkZone {
                zone: z,
                mt: ac.migratetype,
                flags,
            }));
        }
    }
    Ok(None)
}
