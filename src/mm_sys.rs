// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer between pnalloc and mm/.
//!
//! C header: [`src/mm_shim.h`](../src/mm_shim.h)
//!
//! Leaf modules never touch `bindings::` or the shim directly; they call the
//! typed, safe functions here. Frames cross the boundary as pfns: a pfn is
//! only ever passed for memory pnalloc owns (a claimed range), which is what
//! makes the `pfn_to_page()` inside the shim valid.

use kernel::{
    error::to_result,
    ffi::{c_int, c_void},
    prelude::*, //
};

use crate::core::Pfn;

/// Mirror of `struct pnalloc_node_info` in `mm_shim.h`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct NodeInfo {
    pub(crate) possible: u8,
    pub(crate) online: u8,
    pub(crate) has_normal_memory: u8,
    pub(crate) has_memory: u8,
    pub(crate) has_cpu: u8,
    pub(crate) is_private: u8,
    pub(crate) present_pages: u64,
    pub(crate) spanned_pages: u64,
    pub(crate) node_start_pfn: u64,
}

type BlockFn = unsafe extern "C" fn(*mut c_void, u64, u64, c_int, bool) -> c_int;

extern "C" {
    fn pnalloc_nr_node_ids() -> c_int;
    fn pnalloc_node_info(nid: c_int, info: *mut NodeInfo) -> c_int;
    fn pnalloc_node_distance(from: c_int, to: c_int) -> c_int;
    fn pnalloc_numa_node_id() -> c_int;
    fn pnalloc_walk_memory_blocks(arg: *mut c_void, f: BlockFn) -> c_int;
    fn pnalloc_block_pages() -> u64;
    fn pnalloc_hotplug_init() -> c_int;
    fn pnalloc_hotplug_exit();
    fn pnalloc_fault_init() -> c_int;
    fn pnalloc_fault_exit();
    fn pnalloc_should_fail_alloc(nid: c_int, order: u32) -> bool;
    fn pnalloc_should_fail_nolock() -> bool;
    fn pnalloc_online_blocks(start_pfn: u64, nr_pages: u64) -> c_int;
    fn pnalloc_offline_blocks(start_pfn: u64, nr_pages: u64, nid: c_int) -> c_int;
    fn pnalloc_node_register(nid: c_int) -> c_int;
    fn pnalloc_node_unregister(nid: c_int) -> c_int;
    fn pnalloc_node_registered(nid: c_int) -> bool;
    fn pnalloc_tag_report_hwpoison(id: u32, pfn: u64, head: u64);
    fn pnalloc_page_hwpoison(pfn: u64) -> bool;
    fn pnalloc_prep_alloc(pfn: u64, order: u32, gfp: u32, no_watermarks: bool) -> bool;
    fn pnalloc_try_get_page(pfn: u64) -> bool;
    fn pnalloc_get_page(pfn: u64);
    fn pnalloc_put_page(pfn: u64);
    fn pnalloc_init_on_alloc() -> bool;
    fn pnalloc_free_pages(pfn: u64, order: u32);
    fn pnalloc_folio_put(pfn: u64);
    fn pnalloc_page_is_offline(pfn: u64) -> bool;
    fn pnalloc_page_count(pfn: u64) -> c_int;
    fn pnalloc_page_nid(pfn: u64) -> c_int;
    fn pnalloc_drain_deferred();
    fn pnalloc_deferred_sync();
    fn pnalloc_percpu_alloc(size: usize, align: usize) -> *mut c_void;
    fn pnalloc_percpu_free(p: *mut c_void);
    fn pnalloc_per_cpu_ptr(p: *mut c_void, cpu: c_int) -> *mut c_void;
    fn pnalloc_raw_cpu_ptr(p: *mut c_void) -> *mut c_void;
    fn pnalloc_pcp_trylock(slots: *mut c_void, slot: *mut *mut c_void) -> bool;
    fn pnalloc_pcp_unlock(slot: *mut c_void);
    fn pnalloc_nr_cpu_ids() -> c_int;
    fn pnalloc_cpu_possible(cpu: c_int) -> bool;
    fn pnalloc_virt_to_pfn(addr: usize) -> u64;
    fn pnalloc_pfn_to_virt(pfn: u64) -> usize;
    fn pnalloc_pattern(pfn: u64, nr: usize, seed: u64, check: bool) -> bool;
    fn pnalloc_page_to_pfn(page: *mut c_void) -> u64;
    fn pnalloc_pfn_to_page(pfn: u64) -> *mut c_void;
    fn pnalloc_free_pages_exact(virt: *mut c_void, size: usize);
    // The exported entry points (src/pnalloc.h) KUnit calls as a module would.
    fn pnalloc_alloc_pages_bulk_site(
        site: *const TagSite,
        gfp: u32,
        nid: c_int,
        mask: *mut u64,
        nr: usize,
        pages: *mut *mut c_void,
    ) -> usize;
    fn pnalloc_alloc_pages_exact_nid_site(
        site: *const TagSite,
        nid: c_int,
        size: usize,
        gfp: u32,
    ) -> *mut c_void;
    fn pnalloc_tag_id(site: *const TagSite) -> u32;
    fn pnalloc_tag_event(id: u32, event: c_int, bytes: u64);
    fn pnalloc_alloc_tag_init() -> c_int;
    fn pnalloc_tag_read(id: u32, bytes: *mut i64, calls: *mut u64);
    fn pnalloc_split_page(pfn: u64, order: u32);
    fn pnalloc_alloc_tag_exit();
}

/// Number of possible node ids (`nr_node_ids`): valid ids are `0..nr_node_ids()`.
pub(crate) fn nr_node_ids() -> i32 {
    // SAFETY: only reads `nr_node_ids`, set at boot and never changed.
    unsafe { pnalloc_nr_node_ids() }
}

/// A snapshot of node `nid`'s state; `EINVAL` for an id outside `0..nr_node_ids()`.
pub(crate) fn node_info(nid: i32) -> Result<NodeInfo> {
    let mut info = NodeInfo::default();
    // SAFETY: `info` is a valid, writable `NodeInfo`, whose layout matches
    // `struct pnalloc_node_info`; the callee checks `nid`.
    to_result(unsafe { pnalloc_node_info(nid, &mut info) })?;
    Ok(info)
}

/// `node_distance()`; both ids must be below `nr_node_ids()`.
pub(crate) fn node_distance(from: i32, to: i32) -> u8 {
    if !(0..nr_node_ids()).contains(&from) || !(0..nr_node_ids()).contains(&to) {
        return u8::MAX;
    }
    // SAFETY: both ids are valid node ids, checked above.
    let d = unsafe { pnalloc_node_distance(from, to) };
    u8::try_from(d).unwrap_or(u8::MAX)
}

/// `numa_node_id()` of the calling CPU.
pub(crate) fn numa_node_id() -> i32 {
    // SAFETY: reads this CPU's node id; no preconditions.
    unsafe { pnalloc_numa_node_id() }
}

/// One memory block as `/sys/devices/system/memory/memoryN` describes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemoryBlock {
    pub(crate) start_pfn: Pfn,
    pub(crate) nr_pages: u64,
    pub(crate) nid: i32,
    pub(crate) online: bool,
}

/// Pages per memory block (`memory_block_size_bytes() >> PAGE_SHIFT`).
pub(crate) fn block_pages() -> u64 {
    // SAFETY: no preconditions.
    unsafe { pnalloc_block_pages() }
}

/// Calls `f` for every memory block, in the kernel's order; stops at the
/// first error `f` returns.
pub(crate) fn for_each_memory_block<F: FnMut(MemoryBlock) -> Result>(mut f: F) -> Result {
    /// # Safety
    ///
    /// `arg` points to a live `F`.
    unsafe extern "C" fn trampoline<F: FnMut(MemoryBlock) -> Result>(
        arg: *mut c_void,
        start_pfn: u64,
        nr_pages: u64,
        nid: c_int,
        online: bool,
    ) -> c_int {
        // SAFETY: `arg` is the `&mut F` passed below, alive for the whole walk.
        let f = unsafe { &mut *arg.cast::<F>() };
        match f(MemoryBlock {
            start_pfn,
            nr_pages,
            nid,
            online,
        }) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
    let arg = (&raw mut f).cast::<c_void>();
    // SAFETY: `arg` points to `f` for the duration of the call and the
    // trampoline is instantiated for its exact type.
    to_result(unsafe { pnalloc_walk_memory_blocks(arg, trampoline::<F>) })
}

/// Installs the memory notifier and the CPU hotplug callback.
pub(crate) fn hotplug_init() -> Result {
    // SAFETY: no preconditions; undone by `hotplug_exit`.
    to_result(unsafe { pnalloc_hotplug_init() })
}

/// Undoes [`hotplug_init`].
pub(crate) fn hotplug_exit() {
    // SAFETY: called once, after a successful `hotplug_init`.
    unsafe { pnalloc_hotplug_exit() }
}

/// Creates `fail_offline` (fault injection) in pnalloc's debugfs directory.
pub(crate) fn fault_init() -> Result {
    // SAFETY: no preconditions; undone by `fault_exit`.
    to_result(unsafe { pnalloc_fault_init() })
}

/// `should_fail()` of node `nid`'s `fail_node<N>` attribute.
pub(crate) fn should_fail_alloc(nid: i32, order: u32) -> bool {
    // SAFETY: the callee checks `nid` and skips NMI context.
    unsafe { pnalloc_should_fail_alloc(nid, order) }
}

/// `should_fail()` of the `fail_nolock` attribute.
pub(crate) fn should_fail_nolock() -> bool {
    // SAFETY: no preconditions; skipped in NMI context.
    unsafe { pnalloc_should_fail_nolock() }
}

/// Undoes [`fault_init`]; harmless if it failed.
pub(crate) fn fault_exit() {
    // SAFETY: removes what `fault_init` created, if anything.
    unsafe { pnalloc_fault_exit() }
}

/// Onlines the offline memory blocks of a block-aligned range in place
/// (`device_online()`, ZONE_NORMAL), all or none.
pub(crate) fn online_blocks(start_pfn: Pfn, nr_pages: u64) -> Result {
    // SAFETY: the callee takes the device hotplug lock and skips blocks
    // outside the range.
    to_result(unsafe { pnalloc_online_blocks(start_pfn, nr_pages) })
}

/// Offlines the online memory blocks of node `nid` (-1: any) in a
/// block-aligned range in place (`device_offline()`), all or none: on
/// failure the ones offlined go back online in the zone they were in.
pub(crate) fn offline_blocks(start_pfn: Pfn, nr_pages: u64, nid: i32) -> Result {
    // SAFETY: as above.
    to_result(unsafe { pnalloc_offline_blocks(start_pfn, nr_pages, nid) })
}

/// `node_private_register()` with pnalloc's ops.
pub(crate) fn node_register(nid: i32) -> Result {
    // SAFETY: the callee validates `nid`; the ops are static.
    to_result(unsafe { pnalloc_node_register(nid) })
}

/// `node_private_unregister()`.
pub(crate) fn node_unregister(nid: i32) -> Result {
    // SAFETY: the callee validates `nid` and waits for in-flight frees.
    to_result(unsafe { pnalloc_node_unregister(nid) })
}

/// Whether pnalloc registered node `nid` as private.
pub(crate) fn node_registered(nid: i32) -> bool {
    // SAFETY: the callee validates `nid`.
    unsafe { pnalloc_node_registered(nid) }
}

/// Hands out a block the core just took off its lists the way the buddy
/// does (`prep_new_page()`: KASAN, debug_pagealloc, poisoning,
/// init_on_alloc and `__GFP_ZERO`, page_owner, compound setup, refcount 1
/// on the head, pfmemalloc if it came from below the min watermark).
/// `false` if the kernel's new-page checks found the block bad: it must
/// not be handed out.
///
/// # Safety
///
/// `pfn..pfn + (1 << order)` is a block of a claimed range that the core has
/// just handed out; its frames are frozen (refcount 0) and nobody else
/// references them.
pub(crate) unsafe fn prep_alloc(pfn: Pfn, order: u32, gfp: u32, no_watermarks: bool) -> bool {
    // SAFETY: the caller guarantees the block is ours and unreferenced.
    unsafe { pnalloc_prep_alloc(pfn, order, gfp, no_watermarks) }
}

#[cfg(CONFIG_KUNIT)]
extern "C" {
    fn pnalloc_page_is_pfmemalloc(pfn: u64) -> bool;
}

/// `page_is_pfmemalloc()`: `prep_new_page()` marked the page as taken with
/// ALLOC_NO_WATERMARKS (from below the min watermark). For the KUnit suites
/// (`src/kunit_shim.c`).
#[cfg(CONFIG_KUNIT)]
pub(crate) fn page_is_pfmemalloc(pfn: Pfn) -> bool {
    // SAFETY: callers only pass pfns of claimed ranges, which have a memmap;
    // the flag is read, nothing is written.
    unsafe { pnalloc_page_is_pfmemalloc(pfn) }
}

/// `get_page_unless_zero()` on a frame, undone if it succeeded: what a
/// speculative pfn walker would get. `false` for a free (frozen) frame.
pub(crate) fn try_get_page(pfn: Pfn) -> bool {
    // SAFETY: callers only pass pfns of claimed ranges, which have a memmap.
    unsafe { pnalloc_try_get_page(pfn) }
}

/// `get_page()`: one more reference on a block someone holds.
///
/// # Safety
///
/// The caller holds a reference on the block at `pfn`.
pub(crate) unsafe fn get_page(pfn: Pfn) {
    // SAFETY: the block is referenced, so its refcount is not zero.
    unsafe { pnalloc_get_page(pfn) }
}

/// `put_page()`: drops a reference; the last one frees the block.
///
/// # Safety
///
/// The caller owns one reference on the page at `pfn`.
pub(crate) unsafe fn put_page(pfn: Pfn) {
    // SAFETY: the caller gives up a reference it owns.
    unsafe { pnalloc_put_page(pfn) }
}

/// Whether the kernel zeroes every page it hands out (`init_on_alloc=1`).
pub(crate) fn init_on_alloc() -> bool {
    // SAFETY: reads a static key.
    unsafe { pnalloc_init_on_alloc() }
}

/// The pfn of a kernel virtual address in the direct map.
pub(crate) fn virt_to_pfn(addr: usize) -> Pfn {
    // SAFETY: `virt_to_page()` of a direct-map address is arithmetic.
    unsafe { pnalloc_virt_to_pfn(addr) }
}

/// The node of a page of a claimed range (`page_to_nid()`).
pub(crate) fn page_nid(pfn: Pfn) -> i32 {
    // SAFETY: callers only pass pfns of claimed ranges, which have a memmap.
    unsafe { pnalloc_page_nid(pfn) }
}

/// State of one page of a claimed range: (PageOffline, refcount, node).
pub(crate) fn page_state(pfn: Pfn) -> (bool, i32, i32) {
    // SAFETY: callers only pass pfns of claimed ranges, which have a memmap.
    unsafe {
        (
            pnalloc_page_is_offline(pfn),
            pnalloc_page_count(pfn),
            pnalloc_page_nid(pfn),
        )
    }
}

/// Waits for the deferred-free irq_work and drains what is left (unload).
pub(crate) fn deferred_sync() {
    // SAFETY: process context, no pnalloc lock held.
    unsafe { pnalloc_deferred_sync() }
}

/// Frees that arrived through `free_pages_nolock()` are applied now.
pub(crate) fn drain_deferred() {
    // SAFETY: process or irq context, no pnalloc lock held by the caller.
    unsafe { pnalloc_drain_deferred() }
}

/// Per-CPU memory holding one `T` per possible CPU, zeroed at allocation.
///
/// # Invariants
///
/// `ptr` is a live `alloc_percpu()` allocation of `size_of::<T>()` bytes
/// with `T`'s alignment, and every possible CPU's slot holds a valid `T`
/// (all-zero bytes must be a valid `T`, see [`CpuLocal::new`]).
pub(crate) struct CpuLocal<T> {
    ptr: *mut c_void,
    _t: ::core::marker::PhantomData<T>,
}

// SAFETY: each slot is a `T`; sharing `CpuLocal` shares the `T`s, which is
// sound when `T` is `Sync` (they are reached from any CPU for drains).
unsafe impl<T: Sync> Sync for CpuLocal<T> {}
// SAFETY: the allocation is not tied to the creating thread.
unsafe impl<T: Send> Send for CpuLocal<T> {}

impl<T> CpuLocal<T> {
    /// Allocates zeroed slots, then lets `init` finish each in place.
    ///
    /// # Safety
    ///
    /// All-zero bytes must be a valid `T`, and `init` must leave it valid.
    pub(crate) unsafe fn new(mut init: impl FnMut(*mut T) -> Result) -> Result<Self> {
        // SAFETY: size and alignment of a real type.
        let ptr = unsafe {
            pnalloc_percpu_alloc(::core::mem::size_of::<T>(), ::core::mem::align_of::<T>())
        };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: zeroed slots are valid `T`s by the caller's promise.
        let this = CpuLocal {
            ptr,
            _t: ::core::marker::PhantomData,
        };
        for cpu in this.cpus() {
            init(this.slot(cpu))?;
        }
        Ok(this)
    }

    /// Possible CPU ids.
    pub(crate) fn cpus(&self) -> impl Iterator<Item = i32> {
        // SAFETY: reads boot-time constants.
        let n = unsafe { pnalloc_nr_cpu_ids() };
        // SAFETY: `cpu` is below `nr_cpu_ids`.
        (0..n).filter(|&cpu| unsafe { pnalloc_cpu_possible(cpu) })
    }

    fn slot(&self, cpu: i32) -> *mut T {
        // SAFETY: `ptr` is a live per-CPU allocation and `cpu` a possible CPU.
        unsafe { pnalloc_per_cpu_ptr(self.ptr, cpu) }.cast::<T>()
    }

    /// CPU `cpu`'s `T`.
    pub(crate) fn get(&self, cpu: i32) -> &T {
        // SAFETY: by the invariant the slot holds a valid `T` for as long as
        // `self` lives.
        unsafe { &*self.slot(cpu) }
    }

    /// The `T` of the CPU the caller was on at the call (`raw_cpu_ptr()`),
    /// without pinning: the caller may run elsewhere by the time it uses
    /// it. For per-CPU atomics summed when read, where that is harmless.
    pub(crate) fn this_cpu_racy(&self) -> &T {
        // SAFETY: `ptr` is a live per-CPU allocation.
        let p = unsafe { pnalloc_raw_cpu_ptr(self.ptr) }.cast::<T>();
        // SAFETY: by the invariant every slot holds a valid `T` for as long
        // as `self` lives, and `get()` already shares any CPU's `T`.
        unsafe { &*p }
    }

    /// `pcp_spin_trylock()`: pins the task to this CPU and trylocks the
    /// lock at the start of its `T`, in one call into C. `Ok` holds both
    /// until dropped; `Err` is the slot whose lock was taken, unpinned.
    ///
    /// # Safety
    ///
    /// `T` is `#[repr(C)]`, its first field an initialised `spinlock_t`
    /// taken only with `spin_lock()`/`spin_trylock()` (never from hardirq
    /// or NMI with a waiting `spin_lock()`), in every slot.
    pub(crate) unsafe fn trylock_this_cpu(&self) -> Result<CpuSlotGuard<'_, T>, &T> {
        let mut slot = ::core::ptr::null_mut();
        // SAFETY: `ptr` is a live per-CPU allocation whose slots start with
        // an initialised `spinlock_t` (the caller's contract).
        let locked = unsafe { pnalloc_pcp_trylock(self.ptr, &mut slot) };
        // SAFETY: the callee set `slot` to this CPU's slot, which holds a
        // valid `T` for as long as `self` lives (the invariant).
        let slot = unsafe { &*slot.cast::<T>() };
        if locked {
            // INVARIANT: the lock is held and the task pinned.
            Ok(CpuSlotGuard { slot })
        } else {
            Err(slot)
        }
    }
}

/// This CPU's slot of a [`CpuLocal`], locked and with the task pinned.
///
/// # Invariants
///
/// `slot`'s leading `spinlock_t` is held by us and the task is pinned,
/// both by one `pnalloc_pcp_trylock()` that this guard undoes when dropped.
pub(crate) struct CpuSlotGuard<'a, T> {
    slot: &'a T,
}

impl<T> ::core::ops::Deref for CpuSlotGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.slot
    }
}

impl<T> Drop for CpuSlotGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: by the invariant we hold the lock and the pin taken by
        // `pnalloc_pcp_trylock()`, and give both back once.
        unsafe { pnalloc_pcp_unlock(::core::ptr::from_ref(self.slot).cast_mut().cast()) };
    }
}

impl<T> Drop for CpuLocal<T> {
    fn drop(&mut self) {
        for cpu in self.cpus() {
            // SAFETY: each slot holds a valid `T` that is dropped once.
            unsafe { ::core::ptr::drop_in_place(self.slot(cpu)) };
        }
        // SAFETY: `ptr` came from `pnalloc_percpu_alloc`.
        unsafe { pnalloc_percpu_free(self.ptr) };
    }
}

/// `struct pnalloc_tag_site`: one static per call site (see [`tag_site!`]).
#[repr(C)]
pub(crate) struct TagSite {
    pub(crate) modname: *const u8,
    pub(crate) function: *const u8,
    pub(crate) filename: *const u8,
    pub(crate) lineno: u32,
    /// Set by the C side (`cmpxchg`) on first use.
    pub(crate) id: ::core::sync::atomic::AtomicU32,
}

// SAFETY: the pointers are to `'static` NUL-terminated strings; `id` is atomic.
unsafe impl Sync for TagSite {}

/// A `&'static TagSite` for the line it is written on; the function column
/// of allocinfo shows the Rust module path.
macro_rules! tag_site {
    () => {{
        static SITE: $crate::mm_sys::TagSite = $crate::mm_sys::TagSite {
            modname: "pnalloc\0".as_ptr(),
            function: concat!(module_path!(), "\0").as_ptr(),
            filename: concat!(file!(), "\0").as_ptr(),
            lineno: line!(),
            id: ::core::sync::atomic::AtomicU32::new(0),
        };
        &SITE
    }};
}
pub(crate) use tag_site;

/// Per-site events (`PNALLOC_TAG_*` in `pnalloc.h`).
#[derive(Clone, Copy)]
#[repr(i32)]
pub(crate) enum TagEvent {
    Alloc = 0,
    Free = 1,
    Fail = 2,
    Fallback = 3,
    Nolock = 4,
    Notag = 5,
    Split = 7,
    SubBytes = 8,
    HwPoison = 9,
}

/// `PageHWPoison()` of the frame at `pfn`.
pub(crate) fn page_hwpoison(pfn: Pfn) -> bool {
    // SAFETY: callers pass pfns of online blocks of pnalloc's.
    unsafe { pnalloc_page_hwpoison(pfn) }
}

/// Logs a memory failure at `pfn` in the block at `head` that tag `id`
/// (0: none) holds, naming its allocation site.
pub(crate) fn tag_report_hwpoison(id: u32, pfn: Pfn, head: Pfn) {
    // SAFETY: the callee ignores unknown ids; it only reads the tag table.
    unsafe { pnalloc_tag_report_hwpoison(id, pfn, head) }
}

/// The tag id of `site`, registering it on first use; 0 if the table is full.
pub(crate) fn tag_id(site: &'static TagSite) -> u32 {
    // SAFETY: `site` is a valid static; registration is lock-free.
    unsafe { pnalloc_tag_id(site) }
}

/// Counts `event` on tag `id` (0: nothing); `bytes` for Alloc/Free, calls
/// for Split.
pub(crate) fn tag_event(id: u32, event: TagEvent, bytes: u64) {
    // SAFETY: the callee ignores unknown ids; NMI-safe atomics only.
    unsafe { pnalloc_tag_event(id, event as c_int, bytes) }
}

/// Bytes and calls charged to tag `id` now.
pub(crate) fn tag_read(id: u32) -> (i64, u64) {
    let (mut bytes, mut calls) = (0, 0);
    // SAFETY: both pointers are valid for writes.
    unsafe { pnalloc_tag_read(id, &mut bytes, &mut calls) };
    (bytes, calls)
}

/// `split_page()` of a non-compound block, keeping its tag on every page.
///
/// # Safety
///
/// The caller owns the block's one reference; afterwards it owns one per page.
pub(crate) unsafe fn split_page(pfn: Pfn, order: u32) {
    // SAFETY: the caller owns the block.
    unsafe { pnalloc_split_page(pfn, order) }
}

/// Creates `allocinfo` and `allocinfo_ext` in pnalloc's debugfs directory.
pub(crate) fn alloc_tag_init() -> Result {
    // SAFETY: called once, after the directory exists.
    to_result(unsafe { pnalloc_alloc_tag_init() })
}

/// Undoes [`alloc_tag_init`].
pub(crate) fn alloc_tag_exit() {
    // SAFETY: called once, before the directory is removed.
    unsafe { pnalloc_alloc_tag_exit() }
}

/// How a test block goes back: the free function its entry point pairs with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FreeHow {
    /// `__free_pages(page, order)`
    Pages,
    /// `folio_put(folio)`
    Folio,
    /// `free_pages_exact(virt, size)`
    Exact(usize),
}

/// `pfn_to_page()` of a frame of a claimed range.
pub(crate) fn pfn_to_page(pfn: Pfn) -> *mut c_void {
    // SAFETY: plain arithmetic on the memmap; claimed ranges are online.
    unsafe { pnalloc_pfn_to_page(pfn) }
}

pub(crate) fn page_pfn(page: *mut c_void) -> Option<Pfn> {
    if page.is_null() {
        return None;
    }
    // SAFETY: `page` is a non-null `struct page *` an entry point returned.
    Some(unsafe { pnalloc_page_to_pfn(page) })
}

/// `alloc_pages_exact_nid()` through the exported entry point, as a C
/// caller would: the block's first pfn and order (`size` rounded up to a
/// power of two pages, the tail beyond `size` already given back).
pub(crate) fn exact(gfp: u32, nid: i32, size: usize) -> Result<(Pfn, u32, FreeHow)> {
    if size == 0 || size > (4096 << crate::core::MAX_PAGE_ORDER) {
        return Err(EINVAL);
    }
    // SAFETY: our own exported entry point, called with plain values; it
    // returns NULL on failure.
    let v = unsafe { pnalloc_alloc_pages_exact_nid_site(tag_site!(), nid, size, gfp) };
    if v.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `v` is a direct-map address the entry point returned.
    let pfn = unsafe { pnalloc_virt_to_pfn(v as usize) };
    let order = (size.div_ceil(4096) as u64)
        .next_power_of_two()
        .trailing_zeros();
    Ok((pfn, order, FreeHow::Exact(size)))
}

/// Frees a block the way its entry point pairs with.
///
/// # Safety
///
/// The caller owns the block's one reference.
pub(crate) unsafe fn free_as(pfn: Pfn, order: u32, how: FreeHow) {
    // SAFETY: the caller owns the reference; each free matches its allocator.
    unsafe {
        match how {
            FreeHow::Pages => pnalloc_free_pages(pfn, order),
            FreeHow::Folio => pnalloc_folio_put(pfn),
            FreeHow::Exact(size) => {
                pnalloc_free_pages_exact(pnalloc_pfn_to_virt(pfn) as *mut c_void, size)
            }
        }
    }
}

/// Fills `nr` pages from `pfn` with the pattern of `seed` (0: zeroes), or
/// checks they hold it.
///
/// # Safety
///
/// The caller holds the pages (they are allocated and not shared).
pub(crate) unsafe fn pattern(pfn: Pfn, nr: u64, seed: u64, check: bool) -> bool {
    let Ok(nr) = usize::try_from(nr) else {
        return false;
    };
    // SAFETY: the caller holds the pages; they are in the direct map.
    unsafe { pnalloc_pattern(pfn, nr, seed, check) }
}

/// The exported C entry points land here. Returns the pfn of the block or
/// `u64::MAX`.
#[no_mangle]
extern "C" fn pnalloc_rust_alloc(
    site: *const TagSite,
    gfp: u32,
    order: u32,
    nid: c_int,
    nodemask: u64,
    has_nodemask: bool,
    alloc_flags: u32,
    zlsel: c_int,
) -> u64 {
    // SAFETY: the C entry points pass `PNALLOC_TAG_SITE()`, a static, or NULL.
    let site = unsafe { site.cast::<TagSite>().as_ref() };
    crate::node::alloc_from_c(
        site,
        gfp,
        order,
        nid,
        has_nodemask.then_some(nodemask),
        alloc_flags,
        zlsel,
    )
    .unwrap_or(u64::MAX)
}

/// `alloc_pages_bulk()` from the exported entry point: fills the NULL slots
/// of `page_array` and returns the index of the first one left NULL.
#[no_mangle]
extern "C" fn pnalloc_rust_alloc_bulk(
    site: *const TagSite,
    gfp: u32,
    nid: c_int,
    nodemask: u64,
    has_nodemask: bool,
    nr_pages: usize,
    page_array: *mut *mut c_void,
) -> usize {
    if nr_pages == 0 || page_array.is_null() {
        return 0;
    }
    // SAFETY: the C entry point passes `PNALLOC_TAG_SITE()`, a static, or NULL.
    let site = unsafe { site.cast::<TagSite>().as_ref() };
    // SAFETY: alloc_pages_bulk()'s caller gives an array of `nr_pages`
    // slots that nobody else touches during the call.
    let slots = unsafe { ::core::slice::from_raw_parts_mut(page_array, nr_pages) };
    crate::node::alloc_bulk_from_c(site, gfp, nid, has_nodemask.then_some(nodemask), slots)
}

/// `alloc_pages_exact()` split a tagged block: every page now carries it.
#[no_mangle]
extern "C" fn pnalloc_rust_tag_split(pfn: u64, order: u32) {
    crate::node::tag_split(pfn, order);
}

/// A memory block of one of pnalloc's nodes going online or offline
/// (`enum pnalloc_block_event`), from the memory notifier under the memory
/// hotplug lock. Returns 0 or a negative errno for the `GOING_` events, and
/// for the others 1 if the block was pending, 0 if not.
#[no_mangle]
extern "C" fn pnalloc_rust_block_event(
    event: c_int,
    nid: c_int,
    start_pfn: u64,
    nr_pages: u64,
) -> c_int {
    crate::hotplug::block_event(event, nid, start_pfn, nr_pages)
}

/// `memory_failure()` on a page of a private node: 0 if it was free and is
/// withdrawn, `-EBUSY` if it is in use.
#[no_mangle]
extern "C" fn pnalloc_rust_memory_failure(pfn: u64) -> c_int {
    match crate::node::memory_failure(pfn) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// CPU hotplug: `cpu` is dead; its pcp lists go back to the zones.
#[no_mangle]
extern "C" fn pnalloc_rust_cpu_dead(cpu: u32) {
    crate::node::cpu_dead(cpu);
}

/// The free path of the patched kernel lands here for every page of a
/// private node whose last reference was dropped.
#[no_mangle]
extern "C" fn pnalloc_rust_free(pfn: u64, order: u32, nid: c_int, hwpoison: bool) {
    crate::node::free_from_kernel(pfn, order, nid, hwpoison);
}

/// `alloc_pages_bulk()` through the exported entry point on `slots`,
/// which may hold pre-populated entries (never dereferenced by the call).
/// Returns what the entry point returns.
pub(crate) fn bulk_raw(gfp: u32, nid: i32, slots: &mut [*mut c_void]) -> usize {
    // SAFETY: our own entry point; `slots` has room for its length, and
    // pre-populated slots are only tested against NULL.
    unsafe {
        pnalloc_alloc_pages_bulk_site(
            tag_site!(),
            gfp,
            nid,
            ::core::ptr::null_mut(),
            slots.len(),
            slots.as_mut_ptr(),
        )
    }
}
