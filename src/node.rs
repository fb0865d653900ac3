// SPDX-License-Identifier: GPL-2.0

//! The allocator instance in the kernel: one zone per private node behind
//! its `zone->lock`, the node topology, and the glue that runs the core's
//! allocation policy ([`crate::core::page_alloc`]) over them.
//!
//! To avoid deadlocks, locks are taken in the order: carve mutex
//! (`crate::carve`), topology spinlock, one zone spinlock. Zone locks are
//! never nested. All spinlocks disable interrupts, since pages are freed
//! from any context; frees from `free_pages_nolock()` (maybe NMI) take no
//! lock at all and wait on a lock-free list (see `mm_shim.c`).
//!
//! Orders up to `PAGE_ALLOC_COSTLY_ORDER` go through this CPU's pcp lists,
//! as in 7.3: the pcp lock of this CPU (taken with preemption disabled),
//! then the zone lock only to refill or drain a batch. Lock order: carve
//! mutex, topology, pcp lock, zone lock.

use ::core::{
    cell::UnsafeCell,
    sync::atomic::{
        AtomicPtr,
        AtomicU64,
        Ordering, //
    },
};

use kernel::prelude::*;

use crate::{
    core::{
        alloc_flags::{AllocFlags, ALLOC_NOLOCK, ALLOC_NO_CODETAG},
        migratetype::MigrateType,
        page_alloc::{self, AllocFailure, AllocRequest, Allocated, PageAllocEnv},
        pcp::{self, PerCpuPages, ZoneLock, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH},
        zone::{Zone, ZoneType},
        zonelist::{Topology, ZoneRef},
        CoreError, Pfn, MAX_NUMNODES, NUMA_NO_NODE,
    },
    frames::{KStore, MirrorIndex},
    lock::{new_irqlock, IrqLock},
    mm_sys::{self, CpuLocal, TagEvent, TagSite},
};

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Error {
        match e {
            CoreError::Invalid => EINVAL,
            CoreError::Exists => EEXIST,
            CoreError::NotFound => ENOENT,
            CoreError::Busy => EBUSY,
            CoreError::NoSpace => ENOSPC,
            CoreError::Range => ERANGE,
            CoreError::NoMemory => ENOMEM,
        }
    }
}

impl From<AllocFailure> for Error {
    fn from(e: AllocFailure) -> Error {
        match e {
            AllocFailure::Invalid(e) => e.into(),
            AllocFailure::NoMemory { .. } => ENOMEM,
        }
    }
}

/// A private node's ZONE_NORMAL behind `zone->lock`.
pub(crate) type KZone = IrqLock<Zone<KStore>>;

/// One CPU's `per_cpu_pages` for one zone, with its lock.
///
/// # Invariants
///
/// `pcp` is only accessed while `lock` is held.
#[repr(C)]
pub(crate) struct PcpSlot {
    lock: IrqLock<()>,
    pcp: UnsafeCell<PerCpuPages>,
}

// SAFETY: `pcp` is only reached under `lock` (see the invariant).
unsafe impl Sync for PcpSlot {}
// SAFETY: plain data.
unsafe impl Send for PcpSlot {}

impl PcpSlot {
    /// Runs `f` on the lists with the lock held; `None` if `nolock` and the
    /// lock is contended (`pcp_spin_trylock()` failing).
    pub(crate) fn with<R>(&self, nolock: bool, f: impl FnOnce(&mut PerCpuPages) -> R) -> Option<R> {
        let _guard = if nolock {
            self.lock.try_lock()?
        } else {
            self.lock.lock()
        };
        // SAFETY: the lock is held for the lifetime of this reference.
        Some(f(unsafe { &mut *self.pcp.get() }))
    }
}

/// The zone as the core's per-CPU code reaches it.
struct ZoneLocker<'a>(&'a KZone);

impl ZoneLock<KStore> for ZoneLocker<'_> {
    fn with_zone<R>(&mut self, nolock: bool, f: impl FnOnce(&mut Zone<KStore>) -> R) -> Option<R> {
        let mut guard = if nolock {
            self.0.try_lock()?
        } else {
            self.0.lock()
        };
        Some(f(&mut guard))
    }
}

/// Everything pnalloc keeps for one private node's zone.
#[pin_data]
pub(crate) struct NodeZone {
    #[pin]
    pub(crate) zone: KZone,
    pub(crate) pcp: CpuLocal<PcpSlot>,
    #[pin]
    pub(crate) mirror: MirrorIndex,
}

impl NodeZone {
    fn new(nid: i32) -> Result<impl PinInit<Self, Error>> {
        let store = KStore::new()?;
        let init_slot = |slot: *mut PcpSlot| -> Result {
            // SAFETY: `slot` is valid, zeroed and not yet shared.
            unsafe {
                pin_init::raw_init(&raw mut (*slot).lock, new_irqlock!(()));
                (*(*slot).pcp.get())
                    .set_high_batch(PCP_DEFAULT_HIGH, PCP_DEFAULT_BATCH)
                    .map_err(Error::from)
            }
        };
        // SAFETY: an all-zero `PcpSlot` is an unused lock and an empty
        // `PerCpuPages`; `init_slot` initialises the lock in place and sets
        // the marks before anyone can reach the slot.
        let pcp = unsafe { CpuLocal::new(init_slot) }?;
        Ok(try_pin_init!(NodeZone {
            zone <- new_irqlock!(Zone::new(nid, ZoneType::Normal, store)),
            pcp,
            mirror <- MirrorIndex::new(),
        }? Error))
    }

    /// `drain_all_pages(zone)`: every CPU's lists back to the buddy.
    pub(crate) fn drain_all_pages(&self) {
        for cpu in self.pcp.cpus() {
            self.pcp
                .get(cpu)
                .with(false, |p| p.drain(&mut self.zone.lock()));
        }
    }

    /// Forgets every CPU's batch scaling (`alloc_factor`, `free_count`), so
    /// that the next refill is exactly one `batch`: for tests that count.
    pub(crate) fn reset_pcp_tuning(&self) {
        for cpu in self.pcp.cpus() {
            self.pcp.get(cpu).with(false, |p| {
                p.alloc_factor = 0;
                p.free_count = 0;
            });
        }
    }

    /// Pages on all CPUs' lists.
    pub(crate) fn pcp_count(&self) -> u64 {
        self.pcp
            .cpus()
            .map(|cpu| {
                self.pcp
                    .get(cpu)
                    .with(false, |p| u64::from(p.count))
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Sums of every CPU's pcp counters: hit, miss, refill, drain, free.
    pub(crate) fn pcp_stat(&self) -> [u64; 5] {
        let mut s = [0; 5];
        for cpu in self.pcp.cpus() {
            self.pcp.get(cpu).with(false, |p| {
                s[0] += p.stat.hit;
                s[1] += p.stat.miss;
                s[2] += p.stat.refill;
                s[3] += p.stat.drain;
                s[4] += p.stat.free;
            });
        }
        s
    }
}

/// The instance. Created at module load, pinned for its whole life.
#[pin_data]
pub(crate) struct Instance {
    #[pin]
    pub(crate) topo: IrqLock<Topology>,
    /// ZONE_NORMAL of node `nid` at index `nid`, for every possible node id.
    pub(crate) zones: KVec<Pin<KBox<NodeZone>>>,
    /// Pages handed out and not yet freed.
    pub(crate) outstanding: AtomicU64,
    /// Allocations that failed for lack of memory.
    pub(crate) failures: AtomicU64,
}

/// The instance the kernel's free path reaches; set while the module is
/// loaded and private nodes may exist.
static INSTANCE: AtomicPtr<Instance> = AtomicPtr::new(::core::ptr::null_mut());

impl Instance {
    pub(crate) fn new() -> Result<Pin<KBox<Self>>> {
        let nr = usize::try_from(mm_sys::nr_node_ids()).map_err(|_| EINVAL)?;
        let mut zones = KVec::with_capacity(nr, GFP_KERNEL)?;
        for nid in 0..nr {
            zones.push(
                KBox::pin_init(NodeZone::new(nid as i32)?, GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        KBox::pin_init(
            try_pin_init!(Instance {
                topo <- new_irqlock!(Topology::new()),
                zones,
                outstanding: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
        .inspect(|inst| {
            let mut topo = inst.topo.lock();
            let n = (nr.min(MAX_NUMNODES)) as i32;
            for from in 0..n {
                for to in 0..n {
                    topo.set_distance(from, to, mm_sys::node_distance(from, to));
                }
            }
        })
    }

    /// Publishes `self` to the free path. Call before any node is registered.
    pub(crate) fn publish(self: Pin<&Self>) {
        let p = (&raw const *self).cast_mut();
        INSTANCE.store(p, Ordering::Release);
    }

    /// Withdraws [`Instance::publish`]; call after every node is unregistered
    /// (`node_private_unregister()` waits for in-flight frees).
    pub(crate) fn unpublish(&self) {
        INSTANCE.store(::core::ptr::null_mut(), Ordering::Release);
    }

    /// Node `nid`'s zone state.
    pub(crate) fn node_zone(&self, nid: i32) -> Result<&NodeZone> {
        let i = usize::try_from(nid).map_err(|_| EINVAL)?;
        Ok(self.zones.get(i).ok_or(EINVAL)?.as_ref().get_ref())
    }

    /// Node `nid`'s zone.
    pub(crate) fn zone(&self, nid: i32) -> Result<&KZone> {
        Ok(&self.node_zone(nid)?.zone)
    }

    /// Allocates through the core's policy and prepares the pages for the
    /// caller: refcount 1 on the head, `__GFP_COMP`, `__GFP_ZERO`. The
    /// allocation is charged to `site` in allocinfo unless the caller asked
    /// for `ALLOC_NO_CODETAG`.
    pub(crate) fn alloc(
        &self,
        req: &AllocRequest,
        site: Option<&'static TagSite>,
    ) -> Result<Allocated> {
        let tag = site.map_or(0, mm_sys::tag_id);
        let r = self.alloc_untagged(req);
        let nolock = req.alloc_flags & ALLOC_NOLOCK != 0;
        match &r {
            Err(_) => mm_sys::tag_event(tag, TagEvent::Fail, 0),
            Ok(a) => {
                if req.alloc_flags & ALLOC_NO_CODETAG != 0 {
                    mm_sys::tag_event(tag, TagEvent::Notag, 0);
                } else {
                    if let Ok(nz) = self.node_zone(i32::from(a.zone.nid)) {
                        nz.mirror.set_tag(a.pfn, tag);
                    }
                    mm_sys::tag_event(tag, TagEvent::Alloc, PAGE_SIZE << a.order);
                }
                if nolock {
                    mm_sys::tag_event(tag, TagEvent::Nolock, 0);
                }
                if req.preferred_nid != NUMA_NO_NODE && i32::from(a.zone.nid) != req.preferred_nid {
                    mm_sys::tag_event(tag, TagEvent::Fallback, 0);
                }
            }
        }
        r
    }

    fn alloc_untagged(&self, req: &AllocRequest) -> Result<Allocated> {
        let nolock = req.alloc_flags & ALLOC_NOLOCK != 0;
        if !nolock {
            mm_sys::drain_deferred();
        }
        let a = {
            // A nolock caller (maybe in NMI) must not wait for the topology.
            let topo = if nolock {
                self.topo.try_lock().ok_or(ENOMEM)?
            } else {
                self.topo.lock()
            };
            let mut env = KEnv {
                inst: self,
                topo: &topo,
            };
            page_alloc::alloc_pages(&mut env, req)
        };
        let a = match a {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, AllocFailure::NoMemory { .. }) {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                }
                if let AllocFailure::NoMemory { warn: true } = e {
                    pr_warn!(
                        "page allocation failure: order:{}, mode:{:#x}, nid:{}\n",
                        req.order,
                        req.gfp.0,
                        req.preferred_nid
                    );
                }
                return Err(e.into());
            }
        };
        // SAFETY: the core just handed out this block of a claimed range;
        // nobody else references it.
        unsafe { mm_sys::prep_alloc(a.pfn, a.order, req.gfp.0) };
        self.outstanding.fetch_add(1 << a.order, Ordering::Relaxed);
        mm_sys::module_get(1 << a.order);
        Ok(a)
    }

    /// A block whose last reference was dropped comes back.
    fn free(&self, pfn: Pfn, order: u32) {
        let nid = mm_sys::page_nid(pfn);
        // SAFETY: the kernel's free path gave us the block with its last
        // reference dropped.
        unsafe { mm_sys::prep_owned(pfn, order) };
        let nz = self.node_zone(nid);
        if let Ok(nz) = nz {
            let tag = nz.mirror.take_tag(pfn);
            mm_sys::tag_event(tag, TagEvent::Free, PAGE_SIZE << order);
        }
        match nz {
            Ok(nz) if pcp::pcp_allowed_order(order) => {
                // The list is chosen by the pageblock's type, read without
                // the zone lock, as free_frozen_page_commit() does.
                let mt = nz.mirror.pageblock_mt(pfn);
                let freed = nz.pcp.with_this_cpu(|_, slot| {
                    slot.with(false, |p| {
                        pcp::free_pcp(p, &mut ZoneLocker(&nz.zone), pfn, order, mt, false)
                    })
                });
                if freed != Some(true) {
                    nz.zone.lock().free_pages(pfn, order);
                }
            }
            Ok(nz) => nz.zone.lock().free_pages(pfn, order),
            Err(_) => pr_err!("freed pfn {:#x} on unknown node {}\n", pfn, nid),
        }
        self.outstanding.fetch_sub(1 << order, Ordering::Relaxed);
        mm_sys::module_put(1 << order);
    }
}

const PAGE_SIZE: u64 = 4096;

/// The instance, while published.
pub(crate) fn instance() -> Option<&'static Instance> {
    let p = INSTANCE.load(Ordering::Acquire);
    // SAFETY: `INSTANCE` points to the pinned instance between `publish` and
    // `unpublish`; callers are entry points or frees, which cannot run after
    // unload starts (module references) or after the nodes are unregistered.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// `alloc_pages_exact()` split a block: every page takes the head's tag,
/// and the tag counts one call per page, as `pgalloc_tag_split()` does.
pub(crate) fn tag_split(pfn: Pfn, order: u32) {
    let Some(inst) = instance() else {
        return;
    };
    let Ok(nz) = inst.node_zone(mm_sys::page_nid(pfn)) else {
        return;
    };
    let tag = nz.mirror.tag(pfn);
    if tag == 0 {
        return;
    }
    for i in 1..(1u64 << order) {
        nz.mirror.set_tag(pfn + i, tag);
    }
    mm_sys::tag_event(tag, TagEvent::Split, (1 << order) - 1);
}

/// Entry from the exported C entry points (`pnalloc.h`).
pub(crate) fn alloc_from_c(
    site: Option<&'static TagSite>,
    gfp: u32,
    order: u32,
    nid: i32,
    nodemask: Option<u64>,
    alloc_flags: u32,
    zlsel: i32,
) -> Option<Pfn> {
    let inst = instance()?;
    let req = AllocRequest {
        nodemask: nodemask.map(crate::core::zonelist::NodeMask),
        zonelist: match zlsel {
            0 => crate::core::zonelist::AllocZonelist::Default,
            1 => crate::core::zonelist::AllocZonelist::Private,
            _ => return None,
        },
        alloc_flags,
        local_nid: mm_sys::numa_node_id(),
        ..AllocRequest::new(crate::core::gfp::Gfp(gfp), order, nid)
    };
    inst.alloc(&req, site).ok().map(|a| a.pfn)
}

/// Entry from `mm_shim.c` for every freed page of a private node.
pub(crate) fn free_from_kernel(pfn: Pfn, order: u32) {
    let p = INSTANCE.load(Ordering::Acquire);
    if p.is_null() {
        // Cannot happen while nodes are registered; never give it away.
        pr_err!("free of pfn {:#x} with no instance; leaked\n", pfn);
        return;
    }
    // SAFETY: `INSTANCE` points to the pinned instance between `publish`
    // and `unpublish`, and the latter happens only after every private node
    // is unregistered, which waits for frees in flight.
    let inst = unsafe { &*p };
    inst.free(pfn, order);
}

/// The core's view of the kernel instance: zones behind their locks, the
/// topology held for the duration of one allocation.
struct KEnv<'a> {
    inst: &'a Instance,
    topo: &'a Topology,
}

impl KEnv<'_> {
    fn node_zone(&self, z: ZoneRef) -> Option<&NodeZone> {
        if z.zone != ZoneType::Normal {
            return None;
        }
        self.inst.node_zone(i32::from(z.nid)).ok()
    }

    fn zone(&self, z: ZoneRef) -> Option<&KZone> {
        self.node_zone(z).map(|nz| &nz.zone)
    }
}

impl PageAllocEnv for KEnv<'_> {
    fn topology(&self) -> &Topology {
        self.topo
    }

    fn watermark_ok(&mut self, z: ZoneRef, order: u32, flags: AllocFlags) -> Option<bool> {
        let zone = self.zone(z)?;
        let mut zone = if flags.nolock {
            zone.try_lock()?
        } else {
            zone.lock()
        };
        Some(zone.zone_watermark_fast(order, flags))
    }

    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn> {
        let nz = self.node_zone(z)?;
        if pcp::pcp_allowed_order(order) {
            let page = nz.pcp.with_this_cpu(|_, slot| {
                slot.with(flags.nolock, |p| {
                    pcp::rmqueue_pcplist(p, &mut ZoneLocker(&nz.zone), order, mt, flags)
                })
            });
            if let Some(Some(pfn)) = page {
                return Some(pfn);
            }
        }
        let mut zone = if flags.nolock {
            nz.zone.try_lock()?
        } else {
            nz.zone.lock()
        };
        zone.rmqueue_buddy(order, mt, flags)
    }

    fn unreserve_highatomic(&mut self, z: ZoneRef, mt: MigrateType, force: bool) -> bool {
        self.zone(z)
            .is_some_and(|zone| zone.lock().unreserve_highatomic_pageblock(mt, force))
    }

    fn drain_all_pages(&mut self, z: ZoneRef) {
        if let Some(nz) = self.node_zone(z) {
            nz.drain_all_pages();
        }
    }
}
