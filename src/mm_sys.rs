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
    fn pnalloc_for_each_block(arg: *mut c_void, f: BlockFn) -> c_int;
    fn pnalloc_block_pages() -> u64;
    fn pnalloc_hotplug_init() -> c_int;
    fn pnalloc_hotplug_exit();
    fn pnalloc_set_window(start_pfn: u64, nr_pages: u64, releasing: bool);
    fn pnalloc_remove_memory(start_pfn: u64, nr_pages: u64) -> c_int;
    fn pnalloc_add_private_memory(nid: c_int, start_pfn: u64, nr_pages: u64) -> c_int;
    fn pnalloc_add_memory_back(nid: c_int, start_pfn: u64, nr_pages: u64) -> c_int;
    fn pnalloc_node_register(nid: c_int) -> c_int;
    fn pnalloc_node_unregister(nid: c_int) -> c_int;
    fn pnalloc_prep_alloc(pfn: u64, order: u32, gfp: u32);
    fn pnalloc_prep_owned(pfn: u64, order: u32);
    fn pnalloc_free_pages(pfn: u64, order: u32);
    fn pnalloc_folio_put(pfn: u64);
    fn pnalloc_page_is_offline(pfn: u64) -> bool;
    fn pnalloc_page_count(pfn: u64) -> c_int;
    fn pnalloc_page_nid(pfn: u64) -> c_int;
    fn pnalloc_drain_deferred();
    fn pnalloc_module_get();
    fn pnalloc_module_put();
    fn pnalloc_percpu_alloc(size: usize, align: usize) -> *mut c_void;
    fn pnalloc_percpu_free(p: *mut c_void);
    fn pnalloc_per_cpu_ptr(p: *mut c_void, cpu: c_int) -> *mut c_void;
    fn pnalloc_get_cpu() -> c_int;
    fn pnalloc_put_cpu();
    fn pnalloc_nr_cpu_ids() -> c_int;
    fn pnalloc_cpu_possible(cpu: c_int) -> bool;
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
    to_result(unsafe { pnalloc_for_each_block(arg, trampoline::<F>) })
}

/// Installs the online page callback and the memory notifier. `EBUSY` if
/// another driver (virtio-mem, a balloon) owns the one callback slot.
pub(crate) fn hotplug_init() -> Result {
    // SAFETY: no preconditions; undone by `hotplug_exit`.
    to_result(unsafe { pnalloc_hotplug_init() })
}

/// Undoes [`hotplug_init`].
pub(crate) fn hotplug_exit() {
    // SAFETY: called once, after a successful `hotplug_init`.
    unsafe { pnalloc_hotplug_exit() }
}

/// Sets the pfn window being onlined into pnalloc or released by it.
pub(crate) fn set_window(start_pfn: Pfn, nr_pages: u64, releasing: bool) {
    // SAFETY: plain stores; callers serialise on the carve mutex.
    unsafe { pnalloc_set_window(start_pfn, nr_pages, releasing) }
}

/// `offline_and_remove_memory()` of a block-aligned range.
pub(crate) fn remove_memory(start_pfn: Pfn, nr_pages: u64) -> Result {
    // SAFETY: the callee validates alignment and takes the hotplug locks.
    to_result(unsafe { pnalloc_remove_memory(start_pfn, nr_pages) })
}

/// `__add_memory_driver_managed(..., MMOP_ONLINE_KERNEL)` into node `nid`.
pub(crate) fn add_private_memory(nid: i32, start_pfn: Pfn, nr_pages: u64) -> Result {
    // SAFETY: the callee validates the range and takes the hotplug locks.
    to_result(unsafe { pnalloc_add_private_memory(nid, start_pfn, nr_pages) })
}

/// `add_memory()`: gives a range back as ordinary (offline) System RAM.
pub(crate) fn add_memory_back(nid: i32, start_pfn: Pfn, nr_pages: u64) -> Result {
    // SAFETY: as above.
    to_result(unsafe { pnalloc_add_memory_back(nid, start_pfn, nr_pages) })
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

/// Turns a block the core just handed out into pages a caller can use
/// (refcount 1 on the head, compound with `__GFP_COMP`, zeroed with
/// `__GFP_ZERO`).
///
/// # Safety
///
/// `pfn..pfn + (1 << order)` is a block of a claimed range that the core has
/// just handed out and nobody else references.
pub(crate) unsafe fn prep_alloc(pfn: Pfn, order: u32, gfp: u32) {
    // SAFETY: the caller guarantees the block is ours and unreferenced.
    unsafe { pnalloc_prep_alloc(pfn, order, gfp) }
}

/// Turns a freed block back into "free and owned" pages (PageOffline,
/// refcount 1), the state onlining left them in.
///
/// # Safety
///
/// The block's last reference was dropped and the free path gave it to us.
pub(crate) unsafe fn prep_owned(pfn: Pfn, order: u32) {
    // SAFETY: the caller guarantees the block is ours and unreferenced.
    unsafe { pnalloc_prep_owned(pfn, order) }
}

/// `__free_pages()` of a block this module handed out.
///
/// # Safety
///
/// The caller owns the reference it drops.
pub(crate) unsafe fn free_pages(pfn: Pfn, order: u32) {
    // SAFETY: the caller owns the reference.
    unsafe { pnalloc_free_pages(pfn, order) }
}

/// `folio_put()` of a compound block this module handed out.
///
/// # Safety
///
/// The caller owns the reference it drops and the block is a folio.
pub(crate) unsafe fn folio_put(pfn: Pfn) {
    // SAFETY: the caller owns the reference to a folio.
    unsafe { pnalloc_folio_put(pfn) }
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

    /// Runs `f` on this CPU's `T` with preemption disabled (`get_cpu()`).
    pub(crate) fn with_this_cpu<R>(&self, f: impl FnOnce(i32, &T) -> R) -> R {
        // SAFETY: paired with `pnalloc_put_cpu` below.
        let cpu = unsafe { pnalloc_get_cpu() };
        let r = f(cpu, self.get(cpu));
        // SAFETY: paired with `pnalloc_get_cpu` above.
        unsafe { pnalloc_put_cpu() };
        r
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

/// Takes a reference on this module for a block handed out.
pub(crate) fn module_get() {
    // SAFETY: the module is live while its code runs.
    unsafe { pnalloc_module_get() }
}

/// Drops the reference [`module_get`] took.
pub(crate) fn module_put() {
    // SAFETY: paired with an earlier `module_get`.
    unsafe { pnalloc_module_put() }
}

/// The free path of the patched kernel lands here for every page of a
/// private node whose last reference was dropped.
#[no_mangle]
extern "C" fn pnalloc_rust_free(pfn: u64, order: u32) {
    crate::node::free_from_kernel(pfn, order);
}
