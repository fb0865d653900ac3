// SPDX-License-Identifier: GPL-2.0

//! `spin_lock_irqsave()` as a `kernel::sync` lock backend.
//!
//! The kernel crate's `SpinLockIrq` goes through `local_interrupt_disable()`,
//! which warns in NMI context. `alloc_pages_nolock()` callers may be in NMI,
//! where only `spin_trylock_irqsave()` is allowed, exactly as
//! `mm/page_alloc.c` does for `zone->lock` and the pcp lock. So pnalloc's
//! zone, pcp and topology locks use this backend: `lock()` for ordinary
//! callers, `try_lock()` for nolock ones.

use kernel::{
    bindings,
    ffi::{c_char, c_ulong},
    sync::lock::{Backend, Lock},
};

extern "C" {
    fn pnalloc_spin_lock_irqsave(lock: *mut bindings::spinlock_t) -> c_ulong;
    fn pnalloc_spin_trylock_irqsave(lock: *mut bindings::spinlock_t, flags: *mut c_ulong) -> bool;
    fn pnalloc_spin_unlock_irqrestore(lock: *mut bindings::spinlock_t, flags: c_ulong);
}

/// The backend; see the module documentation.
pub(crate) struct IrqSaveBackend;

/// A spinlock taken with interrupts saved and disabled, usable with
/// `try_lock()` from any context including NMI.
pub(crate) type IrqLock<T> = Lock<T, IrqSaveBackend>;

// SAFETY: `lock`/`try_lock` acquire the spinlock and `unlock` releases it with
// the flags the acquisition saved; `init` initialises it exactly once.
unsafe impl Backend for IrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: the caller passes valid pointers for a lock being created.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is an initialised spinlock (caller's contract).
        unsafe { pnalloc_spin_lock_irqsave(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: `ptr` is an initialised spinlock; `flags` is writable.
        unsafe { pnalloc_spin_trylock_irqsave(ptr, &mut flags) }.then_some(flags)
    }

    unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
        // SAFETY: the lock is held with `flags` saved by `lock`/`try_lock`.
        unsafe { pnalloc_spin_unlock_irqrestore(ptr, *flags) }
    }

    unsafe fn assert_is_held(_ptr: *mut Self::State) {}
}

/// Creates an [`IrqLock`] initialiser with a lock class for this call site.
macro_rules! new_irqlock {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::lock::IrqLock::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_irqlock;
