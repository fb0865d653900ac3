// SPDX-License-Identifier: GPL-2.0

//! The allocator instance in the kernel: one zone per private node behind
//! its `zone->lock`, the node topology, and the glue that runs the core's
//! allocation policy ([`crate::core::page_alloc`]) over them.
//!
//! To avoid deadlocks, locks are taken in the order: carve mutex
//! (`crate::carve`), the device and memory hotplug locks, the blocks mutex
//! (`crate::hotplug`), the zonelists' writer mutex (`crate::zonelists`), a
//! pcp lock, one zone lock. Zone locks are never nested.
//!
//! The allocation fast path takes no lock shared by all CPUs, as in 7.3:
//! - the zonelists are read under `rcu_read_lock()`;
//! - the order-0 watermark check reads the zone's free count without
//!   `zone->lock` (`zone_watermark_fast()`);
//! - orders up to `PAGE_ALLOC_COSTLY_ORDER` go through this CPU's pcp lists,
//!   locked the way `pcp_spin_trylock()` does: preemption disabled and a
//!   plain `spin_trylock()`, never waiting and never disabling interrupts.
//!   When the trylock fails (an interrupt or NMI on this CPU while the task
//!   holds the lock, or a drain from another CPU), allocation goes to the
//!   buddy and a free goes straight to the zone, as 7.3's do;
//! - `zone->lock` (irqsave, since pages are freed from any context) only
//!   to refill or drain a batch, for orders above the pcp ones, and for
//!   watermark checks of orders above 0.
//!
//! `alloc_pages_nolock()` callers only ever trylock, so they fail only when
//! this CPU's pcp lock or the zone lock is contended. Frees from
//! `free_pages_nolock()` (maybe NMI) take no lock at all and wait on a
//! lock-free list (see `mm_shim.c`).
//!
//! # Invariants
//!
//! Every frame of a claimed range is in exactly one of: a `free_area`
//! list, a pcp list, or handed out (its block's head recorded as allocated
//! in the range's [`crate::frames::RangeMirror`]). Free frames are frozen:
//! refcount 0, no page type, as on the buddy's free lists.

use ::core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
    sync::atomic::{
        AtomicI64,
        AtomicPtr,
        AtomicU32,
        AtomicU64,
        Ordering, //
    },
};

use kernel::{
    bindings,
    ffi::c_void,
    new_mutex,
    prelude::*,
    sync::{lock::Guard, Mutex},
    types::Opaque,
};

use crate::{
    core::{
        alloc_flags::Watermark,
        alloc_flags::{AllocFlags, ALLOC_NOLOCK, ALLOC_NO_CODETAG},
        migratetype::MigrateType,
        page_alloc::{self, AllocFailure, AllocRequest, Allocated, PageAllocEnv},
        pcp::{self, PerCpuPages, ZoneLock, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH},
        zone::{Zone, ZoneType},
        zonelist::{Topology, ZoneRef},
        CoreError, Pfn, MAX_NUMNODES, NUMA_NO_NODE,
    },
    frames::{FreedBlock, KStore, MirrorIndex},
    hotplug::Blocks,
    lock::{new_irqlock, IrqLock, IrqSaveBackend},
    mm_sys::{self, CpuLocal, TagEvent, TagSite},
    zonelists::Zonelists,
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

/// A private node's ZONE_NORMAL behind `zone->lock`, with the counters
/// that the watermark check reads without the lock (`zone_page_state()`).
///
/// # Invariants
///
/// `nr_free`, `nr_free_highatomic` and `watermark` are copies of the zone's
/// fields as of the last release of `lock` ([`ZoneGuard`] copies them).
#[pin_data]
pub(crate) struct KZone {
    #[pin]
    lock: IrqLock<Zone<KStore>>,
    /// `lock()` calls that had to wait, and `try_lock()` calls that failed:
    /// how often CPUs met on this zone.
    pub(crate) contended: AtomicU64,
    pub(crate) trylock_failed: AtomicU64,
    nr_free: AtomicU64,
    nr_free_highatomic: AtomicU64,
    watermark: [AtomicU64; 3],
}

/// `zone->lock` held; publishes the lockless counters when dropped.
pub(crate) struct ZoneGuard<'a> {
    guard: Guard<'a, Zone<KStore>, IrqSaveBackend>,
    zone: &'a KZone,
}

impl Deref for ZoneGuard<'_> {
    type Target = Zone<KStore>;
    fn deref(&self) -> &Zone<KStore> {
        &self.guard
    }
}

impl DerefMut for ZoneGuard<'_> {
    fn deref_mut(&mut self) -> &mut Zone<KStore> {
        &mut self.guard
    }
}

impl Drop for ZoneGuard<'_> {
    fn drop(&mut self) {
        // INVARIANT: copied while the lock is still held (the guard field
        // is dropped after this).
        let z = &self.zone;
        z.nr_free.store(self.guard.nr_free_pages, Ordering::Relaxed);
        z.nr_free_highatomic
            .store(self.guard.nr_free_highatomic, Ordering::Relaxed);
        for (w, v) in z.watermark.iter().zip(self.guard.watermark) {
            w.store(v, Ordering::Relaxed);
        }
    }
}

impl KZone {
    fn new(zone: Zone<KStore>) -> impl PinInit<Self> {
        pin_init!(KZone {
            lock <- new_irqlock!(zone),
            contended: AtomicU64::new(0),
            trylock_failed: AtomicU64::new(0),
            nr_free: AtomicU64::new(0),
            nr_free_highatomic: AtomicU64::new(0),
            watermark: [const { AtomicU64::new(0) }; 3],
        })
    }

    /// `spin_lock_irqsave(&zone->lock)`.
    pub(crate) fn lock(&self) -> ZoneGuard<'_> {
        if let Some(guard) = self.lock.try_lock() {
            return ZoneGuard { guard, zone: self };
        }
        self.contended.fetch_add(1, Ordering::Relaxed);
        ZoneGuard {
            guard: self.lock.lock(),
            zone: self,
        }
    }

    /// `spin_trylock_irqsave(&zone->lock)`, for nolock callers.
    pub(crate) fn try_lock(&self) -> Option<ZoneGuard<'_>> {
        let Some(guard) = self.lock.try_lock() else {
            self.trylock_failed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        Some(ZoneGuard { guard, zone: self })
    }

    /// The order-0 test at the top of `zone_watermark_fast()`, without the
    /// zone lock: true if the usable free pages clearly exceed the mark.
    /// False means "take the lock and look properly".
    /// `extra` pages are added to the mark (the bulk allocator's batch).
    fn watermark_fast_lockless(&self, flags: AllocFlags, extra: u64) -> bool {
        let idx = match flags.wmark {
            Watermark::Min => 0,
            Watermark::Low => 1,
            Watermark::High => 2,
            Watermark::None => return true,
        };
        let free = self.nr_free.load(Ordering::Relaxed);
        // The reserve may be overestimated, as in 7.3: a miss only means
        // the locked check runs.
        let reserved = if flags.reserves() {
            0
        } else {
            self.nr_free_highatomic.load(Ordering::Relaxed)
        };
        free - free.min(reserved)
            > self.watermark[idx]
                .load(Ordering::Relaxed)
                .saturating_add(extra)
    }
}

/// One CPU's `per_cpu_pages` for one zone, with its lock.
///
/// # Invariants
///
/// `lock` is an initialised `spinlock_t`, taken only with `spin_lock()` from
/// process context or `spin_trylock()`; `pcp` is only accessed while it is
/// held.
#[repr(C)]
pub(crate) struct PcpSlot {
    /// First, so that `pnalloc_pcp_trylock()` finds it at the slot's
    /// address ([`CpuLocal::trylock_this_cpu`]).
    lock: Opaque<bindings::spinlock_t>,
    pcp: UnsafeCell<PerCpuPages>,
    /// Trylocks that found the lock taken (an interrupt or NMI on this CPU
    /// while its task held it, or a remote drain): evidence of contention.
    trylock_failed: AtomicU64,
}

// SAFETY: `pcp` is only reached under `lock` (see the invariant).
unsafe impl Sync for PcpSlot {}
// SAFETY: plain data.
unsafe impl Send for PcpSlot {}

impl PcpSlot {
    /// Initialises the lock of a zeroed slot and sets its marks.
    ///
    /// # Safety
    ///
    /// `slot` is valid, zeroed and not yet shared.
    unsafe fn init(slot: *mut PcpSlot) -> Result {
        let key = kernel::static_lock_class!();
        // SAFETY: `slot` is valid and unshared (the caller's contract); the
        // name and the lock class key are statics. One class for every
        // slot, as one `new_spinlock!()` site would give.
        unsafe {
            bindings::__spin_lock_init(
                (*slot).lock.get(),
                kernel::c_str!("pnalloc_pcp").as_char_ptr(),
                key.as_ptr(),
            );
            (*(*slot).pcp.get())
                .set_high_batch(PCP_DEFAULT_HIGH, PCP_DEFAULT_BATCH)
                .map_err(Error::from)
        }
    }

    /// `pcp_spin_lock_nopin()`: any CPU's slot, from process context
    /// (drains, statistics). Waiting is safe: holders never wait for
    /// anything but the zone lock, and interrupts only trylock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut PerCpuPages) -> R) -> R {
        // SAFETY: `lock` is initialised (the invariant); process context.
        unsafe { bindings::spin_lock(self.lock.get()) };
        // SAFETY: the lock is held until the unlock below, and the
        // reference does not outlive `f`.
        let r = f(unsafe { &mut *self.pcp.get() });
        // SAFETY: taken above.
        unsafe { bindings::spin_unlock(self.lock.get()) };
        r
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
    /// Poisoned pages that were handed out when the failure hit: they stay
    /// out of the free lists when their block comes back.
    poisoned: PoisonedHeld,
}

/// Slots for [`NodeZone::poisoned`]. Written by `memory_failure()`, which
/// the kernel serialises (`mf_mutex`); read lock-free on every free, which
/// costs one load while no slot is used.
struct PoisonedHeld {
    nr: AtomicU32,
    pfns: [AtomicU64; POISONED_HELD_MAX],
}

/// More poisoned pages in use at once than this are reported but caught
/// only by the kernel's new-page checks when they come back.
const POISONED_HELD_MAX: usize = 16;
const NO_PFN: u64 = u64::MAX;

impl PoisonedHeld {
    const fn new() -> Self {
        PoisonedHeld {
            nr: AtomicU32::new(0),
            pfns: [const { AtomicU64::new(NO_PFN) }; POISONED_HELD_MAX],
        }
    }

    fn add(&self, pfn: Pfn) -> bool {
        for slot in self.pfns.iter() {
            if slot
                .compare_exchange(NO_PFN, pfn, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.nr.fetch_add(1, Ordering::Release);
                return true;
            }
        }
        false
    }

    /// Forgets `pfn` (withdrawn while free after all).
    fn remove(&self, pfn: Pfn) {
        for slot in self.pfns.iter() {
            if slot
                .compare_exchange(pfn, NO_PFN, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.nr.fetch_sub(1, Ordering::Release);
                return;
            }
        }
    }

    /// Takes the first poisoned pfn inside the block, if any.
    fn take_in(&self, pfn: Pfn, order: u32) -> Option<Pfn> {
        if self.nr.load(Ordering::Acquire) == 0 {
            return None;
        }
        let end = pfn + (1u64 << order);
        for slot in self.pfns.iter() {
            let p = slot.load(Ordering::Acquire);
            if p != NO_PFN
                && p >= pfn
                && p < end
                && slot
                    .compare_exchange(p, NO_PFN, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                self.nr.fetch_sub(1, Ordering::Release);
                return Some(p);
            }
        }
        None
    }
}

impl NodeZone {
    fn new(nid: i32) -> Result<impl PinInit<Self, Error>> {
        let store = KStore::new()?;
        // SAFETY: `CpuLocal::new` passes each zeroed slot before sharing it.
        let init_slot = |slot: *mut PcpSlot| unsafe { PcpSlot::init(slot) };
        // SAFETY: an all-zero `PcpSlot` is an unused lock, zero counters and an empty
        // `PerCpuPages`; `init_slot` initialises the lock in place and sets
        // the marks before anyone can reach the slot.
        let pcp = unsafe { CpuLocal::new(init_slot) }?;
        Ok(try_pin_init!(NodeZone {
            zone <- KZone::new(Zone::new(nid, ZoneType::Normal, store)),
            pcp,
            mirror <- MirrorIndex::new(),
            poisoned: PoisonedHeld::new(),
        }? Error))
    }

    /// `pcp_spin_trylock()` on this CPU's lists: runs `f` on them with the
    /// task pinned and the lock held, or returns `None` when the lock is
    /// contended (the caller then goes to the zone, as 7.3 does).
    fn pcp_try_with<R>(&self, f: impl FnOnce(&mut PerCpuPages) -> R) -> Option<R> {
        // SAFETY: `PcpSlot` is `#[repr(C)]` with its initialised lock first,
        // taken only as `trylock_this_cpu` requires (its invariant).
        match unsafe { self.pcp.trylock_this_cpu() } {
            // SAFETY: the guard holds the slot's lock while `f` runs.
            Ok(slot) => Some(f(unsafe { &mut *slot.pcp.get() })),
            Err(slot) => {
                slot.trylock_failed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// `drain_all_pages(zone)`: every CPU's lists back to the buddy.
    pub(crate) fn drain_all_pages(&self) {
        for cpu in self.pcp.cpus() {
            self.pcp.get(cpu).with(|p| p.drain(&mut self.zone.lock()));
        }
    }

    /// `drain_pages_zone(cpu, zone)`: one CPU's lists back to the buddy.
    pub(crate) fn drain_cpu(&self, cpu: i32) {
        if self.pcp.cpus().any(|c| c == cpu) {
            self.pcp.get(cpu).with(|p| p.drain(&mut self.zone.lock()));
        }
    }

    /// Forgets every CPU's batch scaling (`alloc_factor`, `free_count`), so
    /// that the next refill is exactly one `batch`: for tests that count.
    pub(crate) fn reset_pcp_tuning(&self) {
        for cpu in self.pcp.cpus() {
            self.pcp.get(cpu).with(|p| {
                p.alloc_factor = 0;
                p.free_count = 0;
            });
        }
    }

    /// Pages on all CPUs' lists.
    pub(crate) fn pcp_count(&self) -> u64 {
        self.pcp
            .cpus()
            .map(|cpu| self.pcp.get(cpu).with(|p| u64::from(p.count)))
            .sum()
    }

    /// Trylocks of any CPU's pcp lock that failed.
    pub(crate) fn pcp_trylock_failed(&self) -> u64 {
        self.pcp
            .cpus()
            .map(|cpu| self.pcp.get(cpu).trylock_failed.load(Ordering::Relaxed))
            .sum()
    }

    /// Sums of every CPU's pcp counters: hit, miss, refill, drain, free.
    pub(crate) fn pcp_stat(&self) -> [u64; 5] {
        let mut s = [0; 5];
        for cpu in self.pcp.cpus() {
            self.pcp.get(cpu).with(|p| {
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

/// Per-CPU counters of the instance, summed when read, so that the fast
/// path never writes a cache line shared by all CPUs. All-zero is valid.
#[repr(C)]
pub(crate) struct Counters {
    /// Pages handed out minus pages freed on this CPU (may be negative).
    outstanding: AtomicI64,
    /// Allocations that failed for lack of memory.
    failures: AtomicU64,
    /// Frees refused: not pnalloc's, misaligned, or not handed out.
    bad_frees: AtomicU64,
    /// Blocks withheld because the kernel's new-page checks failed.
    bad_pages: AtomicU64,
}

/// The instance. Created at module load, pinned for its whole life.
#[pin_data]
pub(crate) struct Instance {
    /// The private nodes and their zonelists, read under RCU.
    #[pin]
    pub(crate) zonelists: Zonelists,
    /// ZONE_NORMAL of node `nid` at index `nid`, for every possible node id.
    pub(crate) zones: KVec<Pin<KBox<NodeZone>>>,
    counters: CpuLocal<Counters>,
    /// The online blocks of pnalloc's nodes (`crate::hotplug`); taken
    /// inside the memory hotplug lock, before any zone or pcp lock.
    #[pin]
    pub(crate) blocks: Mutex<Blocks>,
}

/// The instance the kernel's free path reaches; set while the module is
/// loaded and private nodes may exist.
static INSTANCE: AtomicPtr<Instance> = AtomicPtr::new(::core::ptr::null_mut());

/// Refused frees reported in the kernel log; later ones are only counted.
static BAD_FREE_REPORTS: AtomicU32 = AtomicU32::new(0);

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
        let n = (nr.min(MAX_NUMNODES)) as i32;
        let topo = Zonelists::initial(mm_sys::node_distance, n)?;
        // SAFETY: all-zero `Counters` are zeroed atomics; nothing to finish.
        let counters = unsafe { CpuLocal::new(|_| Ok(())) }?;
        KBox::pin_init(
            try_pin_init!(Instance {
                zonelists <- Zonelists::new(topo),
                zones,
                counters,
                blocks <- new_mutex!(Blocks::new()),
            }),
            GFP_KERNEL,
        )
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

    /// Sum of one per-CPU counter over all CPUs.
    fn sum(&self, f: impl Fn(&Counters) -> i64) -> i64 {
        self.counters
            .cpus()
            .map(|cpu| f(self.counters.get(cpu)))
            .sum()
    }

    /// Pages handed out and not yet freed.
    pub(crate) fn outstanding(&self) -> u64 {
        u64::try_from(self.sum(|c| c.outstanding.load(Ordering::Relaxed))).unwrap_or(0)
    }

    /// Allocations that failed for lack of memory.
    pub(crate) fn failures(&self) -> u64 {
        self.sum(|c| c.failures.load(Ordering::Relaxed) as i64) as u64
    }

    /// Frees that were refused (and leaked rather than corrupt a list).
    pub(crate) fn bad_frees(&self) -> u64 {
        self.sum(|c| c.bad_frees.load(Ordering::Relaxed) as i64) as u64
    }

    /// Blocks the kernel's new-page checks rejected.
    pub(crate) fn bad_pages(&self) -> u64 {
        self.sum(|c| c.bad_pages.load(Ordering::Relaxed) as i64) as u64
    }

    fn count(&self, f: impl FnOnce(&Counters)) {
        f(self.counters.this_cpu_racy());
    }

    /// Allocates through the core's policy and hands the block out as the
    /// buddy would (`prep_new_page()`). The allocation is charged to `site`
    /// in allocinfo unless the caller asked for `ALLOC_NO_CODETAG`.
    pub(crate) fn alloc(
        &self,
        req: &AllocRequest,
        site: Option<&'static TagSite>,
    ) -> Result<Allocated> {
        let site_tag = site.map_or(0, mm_sys::tag_id);
        let notag = req.alloc_flags & ALLOC_NO_CODETAG != 0;
        let r = self.alloc_untagged(req, if notag { 0 } else { site_tag });
        let tag = site_tag;
        match &r {
            Err(_) => mm_sys::tag_event(tag, TagEvent::Fail, 0),
            Ok(a) => {
                if notag {
                    mm_sys::tag_event(tag, TagEvent::Notag, 0);
                } else {
                    mm_sys::tag_event(tag, TagEvent::Alloc, PAGE_SIZE << a.order);
                }
                if req.alloc_flags & ALLOC_NOLOCK != 0 {
                    mm_sys::tag_event(tag, TagEvent::Nolock, 0);
                }
                if req.preferred_nid != NUMA_NO_NODE && i32::from(a.zone.nid) != req.preferred_nid {
                    mm_sys::tag_event(tag, TagEvent::Fallback, 0);
                }
            }
        }
        r
    }

    fn alloc_untagged(&self, req: &AllocRequest, tag: u32) -> Result<Allocated> {
        let nolock = req.alloc_flags & ALLOC_NOLOCK != 0;
        if !nolock {
            mm_sys::drain_deferred();
        }
        let a = self.zonelists.read(|topo| {
            let mut env = KEnv { inst: self, topo };
            page_alloc::alloc_pages(&mut env, req)
        });
        let a = match a {
            Ok(a) => a,
            Err(e) => {
                if matches!(e, AllocFailure::NoMemory { .. }) {
                    self.count(|c| {
                        c.failures.fetch_add(1, Ordering::Relaxed);
                    });
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
        let nz = self.node_zone(i32::from(a.zone.nid))?;
        let no_watermarks = a.flags.wmark == Watermark::None;
        // SAFETY: the core just took this block of a claimed range off its
        // lists; its frames are frozen and nobody else references them.
        if !unsafe { Self::hand_out(nz, a.pfn, a.order, req, no_watermarks, tag) } {
            self.count(|c| {
                c.bad_pages.fetch_add(1, Ordering::Relaxed);
            });
            return Err(ENOMEM);
        }
        self.count(|c| {
            c.outstanding.fetch_add(1 << a.order, Ordering::Relaxed);
        });
        Ok(a)
    }

    /// Hands a block taken off `nz`'s lists out as the buddy would
    /// (`prep_new_page()`) and records it as allocated. False if the
    /// new-page checks found a bad page: `bad_page()` reported and reset
    /// it and, as `rmqueue()` does, it is never handed out; it stays out
    /// of the free lists for good.
    ///
    /// # Safety
    ///
    /// The caller just took the block of a claimed range of `nz` off its
    /// lists: its frames are frozen and nobody else references them.
    unsafe fn hand_out(
        nz: &NodeZone,
        pfn: Pfn,
        order: u32,
        req: &AllocRequest,
        no_watermarks: bool,
        tag: u32,
    ) -> bool {
        // SAFETY: see the function's safety section.
        if !unsafe { mm_sys::prep_alloc(pfn, order, req.gfp.0, no_watermarks) } {
            return false;
        }
        // INVARIANT: the block is handed out from here on.
        nz.mirror
            .set_allocated(pfn, order, tag, req.gfp.has(crate::core::gfp::Gfp::COMP));
        true
    }

    /// `alloc_pages_bulk()`: fills the NULL slots of `slots`, in order,
    /// with order-0 pages and returns the index of the first slot left
    /// NULL (`slots.len()` when none is), as 7.3's does.
    ///
    /// As in `alloc_pages_bulk_noprof()`: one page is allocated the usual
    /// way when only one is wanted, when no zone of the preferred node is
    /// above WMARK_LOW plus the pages wanted ([`page_alloc::bulk_zone`]),
    /// or when the batch got none; otherwise the pages come from this
    /// CPU's pcp list of that zone, taken [`BULK_CHUNK`] at a time under
    /// one `pcp_spin_trylock()`, and the batch stops short at the first
    /// page the list cannot give. Unlike 7.3, `prep_new_page()` runs after
    /// the pcp lock is dropped, so the batch also works with page_owner
    /// (which may allocate) and needs no exception for it.
    pub(crate) fn alloc_bulk(
        &self,
        req: &AllocRequest,
        site: Option<&'static TagSite>,
        slots: &mut [*mut c_void],
    ) -> usize {
        let nr_pages = slots.len();
        let mut nr_populated = slots.iter().take_while(|s| !s.is_null()).count();
        if nr_populated == nr_pages {
            return nr_populated;
        }
        let req = AllocRequest { order: 0, ..*req };
        // 7.3 sizes the batch as nr_pages - nr_populated, populated slots
        // further on included.
        let wanted = nr_pages - nr_populated;
        let batch = if wanted > 1 {
            mm_sys::drain_deferred();
            self.zonelists.read(|topo| {
                let mut env = KEnv { inst: self, topo };
                page_alloc::bulk_zone(&mut env, &req, wanted as u64)
            })
        } else {
            Ok(None)
        };
        let taken = match batch {
            Ok(Some(bz)) => self.alloc_bulk_batch(&req, site, &bz, slots, &mut nr_populated),
            _ => 0,
        };
        if taken > 0 {
            // The batch stopped at a NULL slot or filled every one.
            while nr_populated < nr_pages && !slots[nr_populated].is_null() {
                nr_populated += 1;
            }
            return nr_populated;
        }
        // 7.3's `failed:` label: one page from the single-page allocator,
        // which reports the failure, if any; populated slots after it are
        // not counted.
        if let Ok(a) = self.alloc(&req, site) {
            slots[nr_populated] = mm_sys::pfn_to_page(a.pfn);
            nr_populated += 1;
        }
        nr_populated
    }

    /// The batch of [`Instance::alloc_bulk`]; returns the pages placed.
    fn alloc_bulk_batch(
        &self,
        req: &AllocRequest,
        site: Option<&'static TagSite>,
        bz: &page_alloc::BulkZone,
        slots: &mut [*mut c_void],
        nr_populated: &mut usize,
    ) -> usize {
        let nid = i32::from(bz.zone.nid);
        let Ok(nz) = self.node_zone(nid) else {
            return 0;
        };
        let tag = site.map_or(0, mm_sys::tag_id);
        let fallback = req.preferred_nid != NUMA_NO_NODE && nid != req.preferred_nid;
        let nr_pages = slots.len();
        let mut remaining = slots[*nr_populated..]
            .iter()
            .filter(|s| s.is_null())
            .count();
        let mut taken = 0;
        let mut buf = [0 as Pfn; BULK_CHUNK];
        loop {
            // Injected failures (fail_node<N>), asked page by page as the
            // single path asks them, outside the pcp lock (a verbose
            // attribute prints): the batch ends where one hits.
            let chunk = remaining.min(BULK_CHUNK);
            let mut want = 0;
            while want < chunk && !mm_sys::should_fail_alloc(nid, 0) {
                want += 1;
            }
            let got = nz
                .pcp_try_with(|p| {
                    let mut n = 0;
                    while n < want {
                        let Some(pfn) =
                            pcp::rmqueue_pcplist(p, &mut ZoneLocker(&nz.zone), 0, bz.mt, bz.flags)
                        else {
                            break;
                        };
                        buf[n] = pfn;
                        n += 1;
                    }
                    n
                })
                .unwrap_or(0);
            let mut placed = 0usize;
            for &pfn in &buf[..got] {
                // SAFETY: just taken off this CPU's pcp list of `nz`.
                if !unsafe { Self::hand_out(nz, pfn, 0, req, false, tag) } {
                    self.count(|c| {
                        c.bad_pages.fetch_add(1, Ordering::Relaxed);
                    });
                    continue;
                }
                while *nr_populated < nr_pages && !slots[*nr_populated].is_null() {
                    *nr_populated += 1;
                }
                // `got` <= the slots still empty, so one is left here.
                slots[*nr_populated] = mm_sys::pfn_to_page(pfn);
                *nr_populated += 1;
                placed += 1;
                mm_sys::tag_event(tag, TagEvent::Alloc, PAGE_SIZE);
                if fallback {
                    mm_sys::tag_event(tag, TagEvent::Fallback, 0);
                }
            }
            self.count(|c| {
                c.outstanding.fetch_add(placed as i64, Ordering::Relaxed);
            });
            taken += placed;
            // A bad page (kept out by hand_out) leaves its slot for the
            // next page, as __rmqueue_pcplist() moves on to the next one.
            remaining -= placed;
            if got < want || want < chunk || remaining == 0 {
                return taken;
            }
        }
    }

    /// A free the kernel handed us that pnalloc cannot take: leak it rather
    /// than corrupt a free list, count it, and say so (a few times).
    fn refuse_free(&self, pfn: Pfn, order: u32, why: &str) {
        self.count(|c| {
            c.bad_frees.fetch_add(1, Ordering::Relaxed);
        });
        if BAD_FREE_REPORTS.fetch_add(1, Ordering::Relaxed) < 10 {
            pr_err!(
                "refused free of pfn {:#x} order {}: {}; leaked\n",
                pfn,
                order,
                why
            );
        }
    }

    /// A block whose last reference was dropped comes back. Its frames are
    /// already frozen (`__free_pages_prepare()` left refcount 0 and no
    /// page type): pnalloc writes nothing to its struct pages.
    /// `nid` and `hwpoison` are the page's node and `PageHWPoison()`, read
    /// by the C caller, which holds the `struct page`.
    fn free(&self, pfn: Pfn, order: u32, nid: i32, hwpoison: bool) {
        let Ok(nz) = self.node_zone(nid) else {
            return self.refuse_free(pfn, order, "not on a private node");
        };
        if order > crate::core::MAX_PAGE_ORDER {
            return self.refuse_free(pfn, order, "bad order");
        }
        match nz.mirror.take_allocated(pfn, order) {
            Ok(FreedBlock::Block { tag }) => {
                mm_sys::tag_event(tag, TagEvent::Free, PAGE_SIZE << order);
                self.free_to_lists(nz, pfn, order, hwpoison);
            }
            Ok(FreedBlock::TailPiece { tag, head }) => {
                // A tail piece of ___free_pages(): the head keeps the call.
                mm_sys::tag_event(tag, TagEvent::SubBytes, PAGE_SIZE << order);
                self.free_to_lists(nz, pfn, order, hwpoison);
                if let Some(head) = head {
                    self.free_to_lists(nz, head, 0, mm_sys::page_hwpoison(head));
                }
            }
            Ok(FreedBlock::HeadFirst { tag }) => {
                // Charged as the kernel charges it; the frame waits for
                // the last tail piece before it goes back.
                mm_sys::tag_event(tag, TagEvent::Free, PAGE_SIZE);
            }
            Err(why) => self.refuse_free(pfn, order, why.as_str()),
        }
    }

    /// Puts a checked block back: this CPU's pcp list when it can (and
    /// the order is one pcp lists hold), else the buddy. A block holding a
    /// page that was poisoned while handed out goes back without it.
    /// `hwpoison` is `PageHWPoison()` of the block's first page.
    fn free_to_lists(&self, nz: &NodeZone, pfn: Pfn, order: u32, hwpoison: bool) {
        // An order-0 page poisoned while memory_failure() had not yet
        // recorded it: the flag says so (read by the C caller, which has
        // the struct page at hand).
        let bad = nz
            .poisoned
            .take_in(pfn, order)
            .or_else(|| (order == 0 && hwpoison).then_some(pfn));
        if let Some(bad) = bad {
            let mut z = nz.zone.lock();
            if z.free_pages_except(pfn, order, bad).is_err() {
                drop(z);
                self.refuse_free(pfn, order, "holds a poisoned page");
                return;
            }
            // More poisoned pages in the block: now free, withdraw them
            // before the lock drops.
            while let Some(more) = nz.poisoned.take_in(pfn, order) {
                if !z.take_page_off_buddy(more) {
                    pr_err!("pfn {:#x}: poisoned page not withdrawn\n", more);
                }
            }
            drop(z);
            self.count(|c| {
                c.outstanding.fetch_sub(1 << order, Ordering::Relaxed);
            });
            return;
        }
        let on_pcp = pcp::pcp_allowed_order(order) && {
            // The list is chosen by the pageblock's type, read without the
            // zone lock, as free_frozen_page_commit() does.
            let mt = nz.mirror.pageblock_mt(pfn);
            nz.pcp_try_with(|p| pcp::free_pcp(p, &mut ZoneLocker(&nz.zone), pfn, order, mt, false))
                == Some(true)
        };
        if !on_pcp {
            nz.zone.lock().free_pages(pfn, order);
        }
        self.count(|c| {
            c.outstanding.fetch_sub(1 << order, Ordering::Relaxed);
        });
    }
}

const PAGE_SIZE: u64 = 4096;

/// Pages [`Instance::alloc_bulk`] takes under one pcp lock hold; the
/// buffer lives on the stack (512 bytes).
const BULK_CHUNK: usize = 64;

/// The instance, while published.
pub(crate) fn instance() -> Option<&'static Instance> {
    let p = INSTANCE.load(Ordering::Acquire);
    // SAFETY: `INSTANCE` points to the pinned instance between `publish` and
    // `unpublish`; callers are entry points or frees, which cannot run after
    // unload starts (module references) or after the nodes are unregistered.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// `split_page()` of a block pnalloc handed out: every page becomes an
/// order-0 block of its own, charged to the head's tag, which counts one
/// call per page, as `pgalloc_tag_split()` does.
pub(crate) fn tag_split(pfn: Pfn, order: u32) {
    let Some(inst) = instance() else {
        return;
    };
    let Ok(nz) = inst.node_zone(mm_sys::page_nid(pfn)) else {
        return;
    };
    if let Some(tag) = nz.mirror.split(pfn, order) {
        mm_sys::tag_event(tag, TagEvent::Split, (1 << order) - 1);
    }
}

/// `memory_failure()` on a page of a private node (`PageHWPoison` is set),
/// under the kernel's `mf_mutex` and `rcu_read_lock()`. A free frame is
/// withdrawn for good, as `take_page_off_buddy()` does (pcp lists and the
/// nolock free list are drained first, as `shake_page()` drains the
/// kernel's): 0. A page in use is reported with the allocation site that
/// holds it and remembered, so that its block comes back without it:
/// `EBUSY`.
pub(crate) fn memory_failure(pfn: Pfn) -> Result {
    let inst = instance().ok_or(ENXIO)?;
    let nz = inst.node_zone(mm_sys::page_nid(pfn))?;
    // Recorded first: a free of its block from now on keeps it out, however
    // the steps below interleave with that free.
    let tracked = nz.poisoned.add(pfn);
    let withdrawn = |nz: &NodeZone| {
        let mut z = nz.zone.lock();
        let done = z.take_page_off_buddy(pfn);
        if done {
            nz.poisoned.remove(pfn);
        }
        done
    };
    if withdrawn(nz) {
        return Ok(());
    }
    mm_sys::drain_deferred();
    nz.drain_all_pages();
    if withdrawn(nz) {
        return Ok(());
    }
    if !tracked {
        pr_err!(
            "pfn {:#x}: too many poisoned pages in use; not tracked\n",
            pfn
        );
    }
    // Handed out (or being handed out right now: then the new-page checks
    // withhold it, or its free withdraws it).
    match nz.mirror.holder(pfn) {
        Some((head, tag)) => {
            mm_sys::tag_event(tag, TagEvent::HwPoison, 0);
            mm_sys::tag_report_hwpoison(tag, pfn, head);
        }
        None => mm_sys::tag_report_hwpoison(0, pfn, pfn),
    }
    Err(EBUSY)
}

/// `page_alloc_cpu_dead()`: a dead CPU's pcp lists go back to the buddy.
pub(crate) fn cpu_dead(cpu: u32) {
    let (Some(inst), Ok(cpu)) = (instance(), i32::try_from(cpu)) else {
        return;
    };
    for nz in inst.zones.iter() {
        nz.drain_cpu(cpu);
    }
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

/// Entry from the exported `alloc_pages_bulk()` (`pnalloc.h`).
pub(crate) fn alloc_bulk_from_c(
    site: Option<&'static TagSite>,
    gfp: u32,
    nid: i32,
    nodemask: Option<u64>,
    slots: &mut [*mut c_void],
) -> usize {
    let nr_populated = slots.iter().take_while(|s| !s.is_null()).count();
    let Some(inst) = instance() else {
        return nr_populated;
    };
    let req = AllocRequest {
        nodemask: nodemask.map(crate::core::zonelist::NodeMask),
        local_nid: mm_sys::numa_node_id(),
        ..AllocRequest::new(crate::core::gfp::Gfp(gfp), 0, nid)
    };
    inst.alloc_bulk(&req, site, slots)
}

/// Entry from `mm_shim.c` for every freed page of a private node.
pub(crate) fn free_from_kernel(pfn: Pfn, order: u32, nid: i32, hwpoison: bool) {
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
    inst.free(pfn, order, nid, hwpoison);
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
        if order == 0 && zone.watermark_fast_lockless(flags, 0) {
            return Some(true);
        }
        let mut zone = if flags.nolock {
            zone.try_lock()?
        } else {
            zone.lock()
        };
        Some(zone.zone_watermark_fast(order, flags))
    }

    fn watermark_ok_bulk(&mut self, z: ZoneRef, flags: AllocFlags, nr: u64) -> Option<bool> {
        let zone = self.zone(z)?;
        if zone.watermark_fast_lockless(flags, nr) {
            return Some(true);
        }
        Some(zone.lock().zone_watermark_bulk(flags, nr))
    }

    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn> {
        let nz = self.node_zone(z)?;
        // Injected failures: the zone looks empty, or a nolock caller's
        // trylock fails (debugfs fail_node<N>, fail_nolock).
        if mm_sys::should_fail_alloc(i32::from(z.nid), order)
            || (flags.nolock && mm_sys::should_fail_nolock())
        {
            return None;
        }
        if pcp::pcp_allowed_order(order) {
            let page = nz.pcp_try_with(|p| {
                pcp::rmqueue_pcplist(p, &mut ZoneLocker(&nz.zone), order, mt, flags)
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
