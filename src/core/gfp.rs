// SPDX-License-Identifier: GPL-2.0

//! GFP flags with the bit values of Linux 7.3 (`include/linux/gfp_types.h`,
//! x86-64, no `CONFIG_KASAN_HW_TAGS`), and what the allocator reads from them.
//!
//! The kernel layer checks these values against the generated bindings at
//! build time, so a drift in a later kernel fails the build, not a test.

use super::{migratetype::MigrateType, zone::ZoneType, CoreError};

/// A `gfp_t` value. Plain bits: callers from C pass a `gfp_t` straight through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gfp(pub u32);

impl Gfp {
    /// `__GFP_DMA`
    pub const DMA: u32 = 0x01;
    /// `__GFP_HIGHMEM`
    pub const HIGHMEM: u32 = 0x02;
    /// `__GFP_DMA32`
    pub const DMA32: u32 = 0x04;
    /// `__GFP_MOVABLE`
    pub const MOVABLE: u32 = 0x08;
    /// `__GFP_RECLAIMABLE`
    pub const RECLAIMABLE: u32 = 0x10;
    /// `__GFP_HIGH`
    pub const HIGH: u32 = 0x20;
    /// `__GFP_IO`
    pub const IO: u32 = 0x40;
    /// `__GFP_FS`
    pub const FS: u32 = 0x80;
    /// `__GFP_ZERO`
    pub const ZERO: u32 = 0x100;
    /// `__GFP_DIRECT_RECLAIM`
    pub const DIRECT_RECLAIM: u32 = 0x400;
    /// `__GFP_KSWAPD_RECLAIM`
    pub const KSWAPD_RECLAIM: u32 = 0x800;
    /// `__GFP_WRITE`
    pub const WRITE: u32 = 0x1000;
    /// `__GFP_NOWARN`
    pub const NOWARN: u32 = 0x2000;
    /// `__GFP_RETRY_MAYFAIL`
    pub const RETRY_MAYFAIL: u32 = 0x4000;
    /// `__GFP_NOFAIL`
    pub const NOFAIL: u32 = 0x8000;
    /// `__GFP_NORETRY`
    pub const NORETRY: u32 = 0x10000;
    /// `__GFP_MEMALLOC`
    pub const MEMALLOC: u32 = 0x20000;
    /// `__GFP_COMP`
    pub const COMP: u32 = 0x40000;
    /// `__GFP_NOMEMALLOC`
    pub const NOMEMALLOC: u32 = 0x80000;
    /// `__GFP_HARDWALL`
    pub const HARDWALL: u32 = 0x100000;
    /// `__GFP_THISNODE`
    pub const THISNODE: u32 = 0x200000;
    /// `__GFP_ACCOUNT`
    pub const ACCOUNT: u32 = 0x400000;
    /// `__GFP_ZEROTAGS`
    pub const ZEROTAGS: u32 = 0x800000;

    /// `__GFP_RECLAIM`
    pub const RECLAIM: u32 = Self::DIRECT_RECLAIM | Self::KSWAPD_RECLAIM;
    /// `GFP_KERNEL`
    pub const KERNEL: Gfp = Gfp(Self::RECLAIM | Self::IO | Self::FS);
    /// `GFP_ATOMIC`
    pub const ATOMIC: Gfp = Gfp(Self::HIGH | Self::KSWAPD_RECLAIM);
    /// `GFP_NOWAIT`
    pub const NOWAIT: Gfp = Gfp(Self::KSWAPD_RECLAIM | Self::NOWARN);
    /// `GFP_HIGHUSER_MOVABLE` (without `__GFP_SKIP_KASAN`, which is 0 here)
    pub const HIGHUSER_MOVABLE: Gfp =
        Gfp(Self::RECLAIM | Self::IO | Self::FS | Self::HARDWALL | Self::HIGHMEM | Self::MOVABLE);

    /// `GFP_MOVABLE_MASK`
    const MOVABLE_MASK: u32 = Self::RECLAIMABLE | Self::MOVABLE;
    /// `GFP_MOVABLE_SHIFT`
    const MOVABLE_SHIFT: u32 = 3;

    /// True if every bit of `bits` is set.
    pub const fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// `gfpflags_allow_blocking()`: may the allocation sleep?
    pub const fn allows_blocking(self) -> bool {
        self.has(Self::DIRECT_RECLAIM)
    }

    /// `gfp_migratetype()`. Both mobility bits at once is a caller bug the
    /// kernel only warns about; here it is refused.
    pub fn migratetype(self) -> Result<MigrateType, CoreError> {
        match (self.0 & Self::MOVABLE_MASK) >> Self::MOVABLE_SHIFT {
            0 => Ok(MigrateType::Unmovable),
            1 => Ok(MigrateType::Movable),
            2 => Ok(MigrateType::Reclaimable),
            _ => Err(CoreError::Invalid),
        }
    }

    /// `gfp_zone()`: the highest zone the allocation may use. Private nodes
    /// only have ZONE_NORMAL and ZONE_MOVABLE; asking for DMA/DMA32 memory,
    /// which hot-plugged high physical ranges cannot provide, is refused.
    pub fn highest_zone(self) -> Result<ZoneType, CoreError> {
        if self.0 & (Self::DMA | Self::DMA32) != 0 {
            return Err(CoreError::Invalid);
        }
        if self.has(Self::MOVABLE | Self::HIGHMEM) {
            Ok(ZoneType::Movable)
        } else {
            Ok(ZoneType::Normal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_values_match_7_3() {
        assert_eq!(Gfp::KERNEL.0, 0xcc0);
        assert_eq!(Gfp::ATOMIC.0, 0x820);
        assert_eq!(Gfp::NOWAIT.0, 0x2800);
        assert_eq!(Gfp::HIGHUSER_MOVABLE.0, 0x100cca);
    }

    #[test]
    fn migratetype_and_zone() {
        assert_eq!(Gfp::KERNEL.migratetype(), Ok(MigrateType::Unmovable));
        assert_eq!(
            Gfp::HIGHUSER_MOVABLE.migratetype(),
            Ok(MigrateType::Movable)
        );
        assert_eq!(
            Gfp(Gfp::RECLAIMABLE).migratetype(),
            Ok(MigrateType::Reclaimable)
        );
        assert_eq!(
            Gfp(Gfp::RECLAIMABLE | Gfp::MOVABLE).migratetype(),
            Err(CoreError::Invalid)
        );
        assert_eq!(Gfp::HIGHUSER_MOVABLE.highest_zone(), Ok(ZoneType::Movable));
        assert_eq!(Gfp(Gfp::MOVABLE).highest_zone(), Ok(ZoneType::Normal));
        assert_eq!(Gfp(Gfp::DMA32).highest_zone(), Err(CoreError::Invalid));
    }
}
