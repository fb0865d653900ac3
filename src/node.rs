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
//! Per-CPU lists are not used yet: every allocation goes to the buddy under
//! the zone lock.

use ::core::sync::atomic::{
    AtomicPtr,
    AtomicU64,
    Ordering, //
};

use kernel::{
    new_spinlock_irq,
    prelude::*,
    sync::SpinLockIrq, //
};

use crate::{
    core::{
        alloc_flags::AllocFlags,
        migratetype::MigrateType,
        page_alloc::{self, AllocFailure, AllocRequest, Allocated, PageAllocEnv},
        zone::{Zone, ZoneType},
        zonelist::{Topology, ZoneRef},
        CoreError, Pfn, MAX_NUMNODES,
    },
    frames::KStore,
    mm_sys,
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

/// A private node's ZONE_NORMAL.
pub(crate) type KZone = SpinLockIrq<Zone<KStore>>;

/// The instance. Created at module load, pinned for its whole life.
#[pin_data]
pub(crate) struct Instance {
    #[pin]
    pub(crate) topo: SpinLockIrq<Topology>,
    /// ZONE_NORMAL of node `nid` at index `nid`, for every possible node id.
    pub(crate) zones: KVec<Pin<KBox<KZone>>>,
    /// Blocks handed out and not yet freed.
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
            let store = KStore::new()?;
            zones.push(
                KBox::pin_init(
                    new_spinlock_irq!(Zone::new(nid as i32, ZoneType::Normal, store)),
                    GFP_KERNEL,
                )?,
                GFP_KERNEL,
            )?;
        }
        KBox::pin_init(
            try_pin_init!(Instance {
                topo <- new_spinlock_irq!(Topology::new()),
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

    /// Node `nid`'s zone.
    pub(crate) fn zone(&self, nid: i32) -> Result<&KZone> {
        let i = usize::try_from(nid).map_err(|_| EINVAL)?;
        Ok(self.zones.get(i).ok_or(EINVAL)?.as_ref().get_ref())
    }

    /// Allocates through the core's policy and prepares the pages for the
    /// caller: refcount 1 on the head, `__GFP_COMP`, `__GFP_ZERO`.
    pub(crate) fn alloc(&self, req: &AllocRequest) -> Result<Allocated> {
        mm_sys::drain_deferred();
        let a = {
            let topo = self.topo.lock();
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
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        mm_sys::module_get();
        Ok(a)
    }

    /// A block whose last reference was dropped comes back.
    fn free(&self, pfn: Pfn, order: u32) {
        let (_, _, nid) = mm_sys::page_state(pfn);
        // SAFETY: the kernel's free path gave us the block with its last
        // reference dropped.
        unsafe { mm_sys::prep_owned(pfn, order) };
        match self.zone(nid) {
            Ok(z) => z.lock().free_pages(pfn, order),
            Err(_) => pr_err!("freed pfn {:#x} on unknown node {}\n", pfn, nid),
        }
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        mm_sys::module_put();
    }
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
    fn zone(&self, z: ZoneRef) -> Option<&KZone> {
        if z.zone != ZoneType::Normal {
            return None;
        }
        self.inst.zone(i32::from(z.nid)).ok()
    }
}

impl PageAllocEnv for KEnv<'_> {
    fn topology(&self) -> &Topology {
        self.topo
    }

    fn watermark_ok(&mut self, z: ZoneRef, order: u32, flags: AllocFlags) -> Option<bool> {
        let zone = self.zone(z)?;
        let zone = if flags.nolock {
            zone.try_lock()?
        } else {
            zone.lock()
        };
        Some(match zone.wmark_pages(flags.wmark) {
            None => true,
            Some(mark) => zone.watermark_ok(order, mark, flags),
        })
    }

    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn> {
        let zone = self.zone(z)?;
        let mut zone = if flags.nolock {
            zone.try_lock()?
        } else {
            zone.lock()
        };
        zone.rmqueue_buddy(order, mt, flags)
    }

    fn reserve_highatomic(&mut self, z: ZoneRef, pfn: Pfn, order: u32) {
        if let Some(zone) = self.zone(z) {
            zone.lock().reserve_highatomic_pageblock(pfn, order);
        }
    }

    fn unreserve_highatomic(&mut self, z: ZoneRef, mt: MigrateType) -> bool {
        self.zone(z)
            .is_some_and(|zone| zone.lock().unreserve_highatomic_pageblock(mt, false))
    }

    fn drain_all_pages(&mut self, _z: ZoneRef) {}
}
