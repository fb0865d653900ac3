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

    /// The first attempt (`get_page_from_freelist()` from `__alloc_pages()`):
    /// WMARK_LOW with ALLOC_NOFRAGMENT, or WMARK_MIN for nolock callers.
    pub fn fast_path(self) -> AllocFlags {
        // INVARIANT: nolock only ever gets the Min watermark and no reserves.
        AllocFlags {
            wmark: if self.nolock {
                Watermark::Min
            } else {
                Watermark::Low
            },
            nofragment: !self.nolock,
            ..self
        }
    }

    /// `gfp_to_alloc_flags()`: the second attempt for callers that may use
    /// reserves. `__GFP_HIGH` gives ALLOC_MIN_RESERVE; a non-blocking caller
    /// without `__GFP_NOMEMALLOC` gets ALLOC_NON_BLOCK and, for order > 0,
    /// ALLOC_HIGHATOMIC.
    pub fn slow_path(self, gfp: Gfp, order: u32) -> AllocFlags {
        let mut f = AllocFlags {
            wmark: Watermark::Min,
            nofragment: false,
            ..self
        };
        if self.nolock {
            // INVARIANT: alloc_pages_nolock() has no slow path and no reserves.
            return f;
        }
        f.min_reserve = gfp.has(Gfp::HIGH);
        if !gfp.allows_blocking() && !gfp.has(Gfp::NOMEMALLOC) {
            f.non_block = true;
            f.highatomic = order > 0;
        }
        if gfp.has(Gfp::MEMALLOC) && !gfp.has(Gfp::NOMEMALLOC) {
            f.wmark = Watermark::None;
        }
        f
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
        assert_eq!(f.fast_path().bits(), 0x1400);
    }

    #[test]
    fn gfp_to_alloc_flags_rules() {
        let base = AllocFlags::DEFAULT;
        assert_eq!(base.fast_path().bits(), 0x101);
        // GFP_KERNEL: WMARK_MIN, no reserves.
        assert_eq!(base.slow_path(Gfp::KERNEL, 0).bits(), 0x0);
        // GFP_ATOMIC order 0: MIN_RESERVE | NON_BLOCK.
        assert_eq!(base.slow_path(Gfp::ATOMIC, 0).bits(), 0x30);
        // GFP_ATOMIC order 2: ... | HIGHATOMIC.
        assert_eq!(base.slow_path(Gfp::ATOMIC, 2).bits(), 0x230);
        // GFP_NOWAIT | __GFP_NOMEMALLOC: no reserves at all.
        assert_eq!(
            base.slow_path(Gfp(Gfp::NOWAIT.0 | Gfp::NOMEMALLOC), 1)
                .bits(),
            0x0
        );
        // nolock never reaches reserves.
        let nl = AllocFlags::from_caller(ALLOC_NOLOCK, Gfp(0)).unwrap();
        assert_eq!(nl.slow_path(Gfp::ATOMIC, 2).bits(), ALLOC_NOLOCK);
    }
}
