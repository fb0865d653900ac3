// SPDX-License-Identifier: GPL-2.0

//! The private nodes' topology and zonelists, published with RCU.
//!
//! Every allocation reads the zonelist of its preferred node; claims,
//! releases and owner changes rewrite it, a few times per boot. So, as the
//! kernel does with `build_all_zonelists()`, readers take no lock at all:
//! they read the current [`Topology`] under `rcu_read_lock()`, which is
//! allowed in every context `alloc_pages_nolock()` runs in, NMI included.
//! A writer copies the current one, changes the copy, publishes it and
//! frees the old one after `synchronize_rcu()`. Writers are serialised by
//! a mutex and run in process context only (claim, release, `owner`).

use ::core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

use kernel::{
    alloc::KVBox,
    bindings, new_mutex,
    prelude::*,
    sync::{rcu, Mutex},
};

use crate::core::zonelist::Topology;

/// The published topology and its writers' lock.
///
/// # Invariants
///
/// `current` always points to a valid `Topology` owned by this struct,
/// allocated as a `KVBox`; a pointer that was replaced is freed only after
/// an RCU grace period, so a reader inside `rcu_read_lock()` never sees
/// freed memory.
#[pin_data(PinnedDrop)]
pub(crate) struct Zonelists {
    current: AtomicPtr<Topology>,
    #[pin]
    writer: Mutex<()>,
}

/// A copy of `src` on the heap, without a stack temporary (a topology with
/// precomputed zonelists is larger than a kernel stack).
fn copy_topology(src: &Topology) -> Result<KVBox<Topology>>
where
    Topology: Copy,
{
    let mut b = KVBox::<Topology>::new_uninit(GFP_KERNEL)?;
    // SAFETY: `Topology` is `Copy` (plain data, no drop glue), so a bitwise
    // copy is a valid value; source and destination are distinct objects.
    unsafe { ptr::copy_nonoverlapping(ptr::from_ref(src), b.as_mut_ptr(), 1) };
    // SAFETY: initialised by the copy above.
    Ok(unsafe { b.assume_init() })
}

impl Zonelists {
    /// Publishes `topo`, the initial topology.
    pub(crate) fn new(topo: KVBox<Topology>) -> impl PinInit<Self> {
        // INVARIANT: `topo` is a valid heap topology we now own.
        pin_init!(Zonelists {
            current: AtomicPtr::new(KVBox::into_raw(topo)),
            writer <- new_mutex!(()),
        })
    }

    /// Runs `f` on the current topology inside an RCU read-side section.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Topology) -> R) -> R {
        let _rcu = rcu::read_lock();
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: by the invariant `p` is valid until a grace period after
        // it is replaced, and we are inside a read-side critical section.
        f(unsafe { &*p })
    }

    /// Changes the topology: `f` edits a copy, which then replaces the
    /// current one for every later reader. Process context only (sleeps).
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut Topology) -> Result<R>) -> Result<R> {
        let _writer = self.writer.lock();
        let old = self.current.load(Ordering::Acquire);
        // SAFETY: writers are serialised, so `old` cannot be freed under us.
        let mut new = copy_topology(unsafe { &*old })?;
        let r = f(&mut new)?;
        // INVARIANT: `new` is a valid heap topology; `old` is freed only
        // after the grace period below.
        self.current.store(KVBox::into_raw(new), Ordering::Release);
        // SAFETY: no lock is held that an RCU reader could wait for.
        unsafe { bindings::synchronize_rcu() };
        // SAFETY: `old` came from `KVBox::into_raw` and no reader can still
        // see it after the grace period.
        drop(unsafe { KVBox::from_raw(old) });
        Ok(r)
    }

    /// A heap topology with no private nodes and the given distances.
    pub(crate) fn initial(
        distance: impl Fn(i32, i32) -> u8,
        nr_nodes: i32,
    ) -> Result<KVBox<Topology>> {
        // Built at compile time: far too large for a kernel stack.
        static EMPTY: Topology = Topology::new();
        let mut t = copy_topology(&EMPTY)?;
        for from in 0..nr_nodes {
            for to in 0..nr_nodes {
                t.set_distance(from, to, distance(from, to));
            }
        }
        Ok(t)
    }
}

#[pinned_drop]
impl PinnedDrop for Zonelists {
    fn drop(self: Pin<&mut Self>) {
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: no reader remains when the instance is dropped (the nodes
        // are unregistered and the module's entry points are gone), and `p`
        // came from `KVBox::into_raw`.
        drop(unsafe { KVBox::from_raw(p) });
    }
}
