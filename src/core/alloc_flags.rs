// SPDX-License-Identifier: GPL-2.0

//! Allocation flags as a typed struct rather than `unsigned int alloc_flags`.
//!
//! The bits and their meaning are those of `mm/page_alloc.h` in 7.3. Callers
//! may only ask for the public ones, `ALLOC_NOLOCK` and `ALLOC_NO_CODETAG`
//! (exactly what `__alloc_frozen_pages_noprof()` accepts); the watermark and
//! reserve bits are derived from the gfp mask by the allocator itself, as
//! linux-mm proposed when splitting alloc_flags into public and private parts.

use super::{gfp::Gfp, CoreError};

/// `ALLOC_WMARK_*` / `ALLOC_NO_WATERMARKS`: which watermark gates the allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    /// `ALLOC_WMARK_MIN`
    Min = 0,
    /// `ALLOC_WMARK_LOW`
    Low = 1,
    /// `ALLOC_WMARK_HIGH`
    High = 2,
    /// `ALLOC_NO_WATERMARKS`
    None = 3,
}

/// The public alloc_flags bits with their 7.3 values.
pub const ALLOC_NOLOCK: u32 = 0x400;
/// See [`ALLOC_NOLOCK`].
pub const ALLOC_NO_CODETAG: u32 = 0x1000;

/// Allocation flags. Build with [`AllocFlags::from_caller`] (public bits) and
/// [`AllocFlags::fast_path`] / [`AllocFlags::slow_path`] (policy).
///
/// # Invariants
///
/// `nolock` implies a watermark of `Min` or stricter and no reserve bits,
/// as `alloc_pages_nolock()` never dips into reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocFlags {
    /// Which watermark to check.
    pub wmark: Watermark,
    /// `ALLOC_OOM`
    pub oom: bool,
    /// `ALLOC_NON_BLOCK`
    pub non_block: bool,
    /// `ALLOC_MIN_RESERVE`
    pub min_reserve: bool,
    /// `ALLOC_NOFRAGMENT`
    pub nofragment: bool,
    /// `ALLOC_HIGHATOMIC`
    pub highatomic: bool,
    /// `ALLOC_NOLOCK`
    pub nolock: bool,
    /// `ALLOC_NO_CODETAG`
    pub no_codetag: bool,
}

impl AllocFlags {
    /// `ALLOC_WMARK_LOW` and nothing else: the fast path's starting point.
    pub const DEFAULT: AllocFlags = AllocFlags {
        wmark: Watermark::Low,
        oom: false,
        non_block: false,
        min_reserve: false,
        nofragment: false,
        highatomic: false,
        nolock: false,
        no_codetag: false,
    };

    /// Validates the alloc_flags a caller passed in: only `ALLOC_NOLOCK` and
    /// `ALLOC_NO_CODETAG` are accepted, and NOLOCK needs a gfp mask that
    /// cannot sleep. Anything else is `Invalid`, never silently dropped.
    pub fn from_caller(raw: u32, gfp: Gfp) -> Result<AllocFlags, CoreError> {
        if raw & !(ALLOC_NOLOCK | ALLOC_NO_CODETAG) != 0 {
            return Err(CoreError::Invalid);
        }
        let nolock = raw & ALLOC_NOLOCK != 0;
        if nolock && gfp.allows_blocking() {
            return Err(CoreError::Invalid);
        }
        Ok(AllocFlags {
            nolock,
            no_codetag: raw & ALLOC_NO_CODETAG != 0,
            ..Self::DEFAULT
        })
    }

    /// The first attempt (`fastpath_alloc_flags` of
    /// `__alloc_frozen_pages_noprof()`): WMARK_LOW, or WMARK_MIN for nolock
    /// callers, plus ALLOC_HIGHATOMIC when [`alloc_flags_nonblocking`] grants
    /// it, so that a high-order atomic request goes to the reserve first.
    /// ALLOC_NOFRAGMENT is the caller's to add (`alloc_flags_nofragment()`
    /// needs the preferred zone).
    pub fn fast_path(self, gfp: Gfp, order: u32) -> AllocFlags {
        // INVARIANT: nolock only ever gets the Min watermark and no reserves:
        // alloc_pages_nolock() adds __GFP_NOMEMALLOC (gfp_nolock), which
        // makes alloc_flags_nonblocking() return nothing.
        let (wmark, highatomic) = if self.nolock {
            (Watermark::Min, false)
        } else {
            (
                Watermark::Low,
                alloc_flags_nonblocking(gfp, order).highatomic,
            )
        };
        AllocFlags {
            wmark,
            highatomic,
            ..self
        }
    }

    /// The caller's public bits alone (`ac->alloc_flags`), on which each
    /// pass builds its own policy bits.
    const fn public(self) -> AllocFlags {
        AllocFlags {
            nolock: self.nolock,
            no_codetag: self.no_codetag,
            ..Self::DEFAULT
        }
    }

    /// `alloc_flags_slowpath()`: WMARK_MIN, `__GFP_HIGH` gives
    /// ALLOC_MIN_RESERVE, and [`alloc_flags_nonblocking`] adds
    /// ALLOC_NON_BLOCK and ALLOC_HIGHATOMIC. `__GFP_MEMALLOC` is not here:
    /// it is [`AllocFlags::reserve_flags`], a later pass.
    pub fn slow_path(self, gfp: Gfp, order: u32) -> AllocFlags {
        let public = self.public();
        if self.nolock {
            // INVARIANT: alloc_pages_nolock() has no slow path and no reserves.
            return AllocFlags {
                wmark: Watermark::Min,
                ..public
            };
        }
        let nb = alloc_flags_nonblocking(gfp, order);
        AllocFlags {
            wmark: Watermark::Min,
            min_reserve: gfp.has(Gfp::HIGH),
            non_block: nb.non_block,
            highatomic: nb.highatomic,
            ..public
        }
    }

    /// `__gfp_pfmemalloc_flags()` folded into `__alloc_pages_slowpath()`:
    /// `__GFP_MEMALLOC` without `__GFP_NOMEMALLOC` retries with
    /// ALLOC_NO_WATERMARKS and the caller's public bits only (the reserve
    /// bits of the slow path are dropped, as 7.3 rebuilds `alloc_flags`).
    /// `PF_MEMALLOC` and OOM victims are task state the core cannot see.
    pub fn reserve_flags(self, gfp: Gfp) -> Option<AllocFlags> {
        if self.nolock || gfp.has(Gfp::NOMEMALLOC) || !gfp.has(Gfp::MEMALLOC) {
            return None;
        }
        Some(AllocFlags {
            wmark: Watermark::None,
            ..self.public()
        })
    }

    /// `alloc_flags & ALLOC_RESERVES`
    pub const fn reserves(&self) -> bool {
        self.non_block || self.min_reserve || self.highatomic || self.oom
    }

    /// The raw value `mm/page_alloc.h` would use, for printing and tracing.
    pub const fn bits(&self) -> u32 {
        let mut b = match self.wmark {
            Watermark::Min => 0,
            Watermark::Low => 1,
            Watermark::High => 2,
            Watermark::None => 4,
        };
        if self.oom {
            b |= 0x08;
        }
        if self.non_block {
            b |= 0x10;
        }
        if self.min_reserve {
            b |= 0x20;
        }
        if self.nofragment {
            b |= 0x100;
        }
        if self.highatomic {
            b |= 0x200;
        }
        if self.nolock {
            b |= ALLOC_NOLOCK;
        }
        if self.no_codetag {
            b |= ALLOC_NO_CODETAG;
        }
        b
    }
}

/// `alloc_flags_nonblocking()`: what a caller that cannot sleep may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonBlocking {
    /// `ALLOC_NON_BLOCK`
    pub non_block: bool,
    /// `ALLOC_HIGHATOMIC`: only for order > 0 with `__GFP_HIGH`.
    pub highatomic: bool,
}

/// `alloc_flags_nonblocking()`: nothing for callers that may reclaim or set
/// `__GFP_NOMEMALLOC`; ALLOC_NON_BLOCK otherwise, and ALLOC_HIGHATOMIC on
/// top for a high-order `__GFP_HIGH` request.
pub const fn alloc_flags_nonblocking(gfp: Gfp, order: u32) -> NonBlocking {
    if gfp.allows_blocking() || gfp.has(Gfp::NOMEMALLOC) {
        return NonBlocking {
            non_block: false,
            highatomic: false,
        };
    }
    NonBlocking {
        non_block: true,
        highatomic: order > 0 && gfp.has(Gfp::HIGH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_get_only_public_bits() {
        assert_eq!(
            AllocFlags::from_caller(0x200, Gfp::ATOMIC),
            Err(CoreError::Invalid)
        );
        assert_eq!(
            AllocFlags::from_caller(0x01, Gfp::KERNEL),
            Err(CoreError::Invalid)
        );
        // NOLOCK with a gfp that may sleep is nonsense.
        assert_eq!(
            AllocFlags::from_caller(ALLOC_NOLOCK, Gfp::KERNEL),
            Err(CoreError::Invalid)
        );
        let f = AllocFlags::from_caller(ALLOC_NOLOCK | ALLOC_NO_CODETAG, Gfp(0)).unwrap();
        assert!(f.nolock && f.no_codetag);
        assert_eq!(f.fast_path(Gfp::ATOMIC, 2).bits(), 0x1400);
    }

    #[test]
    fn gfp_to_alloc_flags_rules() {
        let base = AllocFlags::DEFAULT;
        // The fast path: WMARK_LOW; ALLOC_HIGHATOMIC only for order > 0
        // with __GFP_HIGH and no way to sleep.
        assert_eq!(base.fast_path(Gfp::KERNEL, 2).bits(), 0x1);
        assert_eq!(base.fast_path(Gfp::ATOMIC, 0).bits(), 0x1);
        assert_eq!(base.fast_path(Gfp::ATOMIC, 2).bits(), 0x201);
        assert_eq!(base.fast_path(Gfp::NOWAIT, 2).bits(), 0x1);
        // GFP_KERNEL: WMARK_MIN, no reserves.
        assert_eq!(base.slow_path(Gfp::KERNEL, 0).bits(), 0x0);
        // GFP_KERNEL | __GFP_HIGH may sleep: MIN_RESERVE only.
        assert_eq!(
            base.slow_path(Gfp(Gfp::KERNEL.0 | Gfp::HIGH), 3).bits(),
            0x20
        );
        // GFP_ATOMIC order 0: MIN_RESERVE | NON_BLOCK.
        assert_eq!(base.slow_path(Gfp::ATOMIC, 0).bits(), 0x30);
        // GFP_ATOMIC order 2: ... | HIGHATOMIC.
        assert_eq!(base.slow_path(Gfp::ATOMIC, 2).bits(), 0x230);
        // GFP_NOWAIT order 2: NON_BLOCK but no HIGHATOMIC without __GFP_HIGH.
        assert_eq!(base.slow_path(Gfp::NOWAIT, 2).bits(), 0x10);
        // GFP_NOWAIT | __GFP_NOMEMALLOC: no reserves at all.
        assert_eq!(
            base.slow_path(Gfp(Gfp::NOWAIT.0 | Gfp::NOMEMALLOC), 1)
                .bits(),
            0x0
        );
        // __GFP_MEMALLOC: a later pass with no watermarks and no other reserve bit.
        let memalloc = Gfp(Gfp::ATOMIC.0 | Gfp::MEMALLOC);
        assert_eq!(base.slow_path(memalloc, 2).bits(), 0x230);
        assert_eq!(base.reserve_flags(memalloc).map(|f| f.bits()), Some(0x4));
        assert_eq!(base.reserve_flags(Gfp(memalloc.0 | Gfp::NOMEMALLOC)), None);
        assert_eq!(base.reserve_flags(Gfp::ATOMIC), None);
        // nolock never reaches reserves.
        let nl = AllocFlags::from_caller(ALLOC_NOLOCK, Gfp(0)).unwrap();
        assert_eq!(nl.slow_path(Gfp::ATOMIC, 2).bits(), ALLOC_NOLOCK);
        assert_eq!(nl.reserve_flags(memalloc), None);
        // Public bits survive every pass.
        let nt = AllocFlags::from_caller(ALLOC_NO_CODETAG, Gfp::KERNEL).unwrap();
        assert_eq!(nt.fast_path(Gfp::KERNEL, 0).bits(), 0x1001);
        assert_eq!(nt.slow_path(Gfp::KERNEL, 0).bits(), 0x1000);
        assert_eq!(
            nt.reserve_flags(Gfp(Gfp::KERNEL.0 | Gfp::MEMALLOC))
                .map(|f| f.bits()),
            Some(0x1004)
        );
    }

    #[test]
    fn reserves_and_bits() {
        let mut f = AllocFlags::DEFAULT;
        assert!(!f.reserves());
        for set in [
            |f: &mut AllocFlags| f.oom = true,
            |f: &mut AllocFlags| f.non_block = true,
            |f: &mut AllocFlags| f.min_reserve = true,
            |f: &mut AllocFlags| f.highatomic = true,
        ] {
            let mut g = AllocFlags::DEFAULT;
            set(&mut g);
            assert!(g.reserves());
        }
        f.nofragment = true;
        f.oom = true;
        f.wmark = Watermark::High;
        assert_eq!(f.bits(), 0x10a);
    }
}
