// SPDX-License-Identifier: GPL-2.0

//! Migrate types and the fallback table (`enum migratetype`, `fallbacks[]`).

/// `enum migratetype`, in the kernel's order (CMA and ISOLATE do not exist on
/// private nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MigrateType {
    /// `MIGRATE_UNMOVABLE`
    Unmovable = 0,
    /// `MIGRATE_MOVABLE`
    Movable = 1,
    /// `MIGRATE_RECLAIMABLE`
    Reclaimable = 2,
    /// `MIGRATE_HIGHATOMIC` (`== MIGRATE_PCPTYPES`)
    HighAtomic = 3,
}

/// `MIGRATE_PCPTYPES`: the types with per-CPU lists and fallbacks.
pub const MIGRATE_PCPTYPES: usize = 3;
/// `MIGRATE_TYPES`.
pub const MIGRATE_TYPES: usize = 4;

impl MigrateType {
    /// All types, in index order.
    pub const ALL: [MigrateType; MIGRATE_TYPES] = [
        MigrateType::Unmovable,
        MigrateType::Movable,
        MigrateType::Reclaimable,
        MigrateType::HighAtomic,
    ];

    /// The index into `free_area[order].free_list[]`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The type with index `i`, if there is one.
    pub const fn from_index(i: usize) -> Option<Self> {
        match i {
            0 => Some(MigrateType::Unmovable),
            1 => Some(MigrateType::Movable),
            2 => Some(MigrateType::Reclaimable),
            3 => Some(MigrateType::HighAtomic),
            _ => None,
        }
    }

    /// `migratetype_is_mergeable()`: only pcp types merge across pageblocks.
    pub const fn is_mergeable(self) -> bool {
        (self as usize) < MIGRATE_PCPTYPES
    }

    /// `fallbacks[migratetype]`: where to look when this type's lists are empty.
    /// HIGHATOMIC has no fallbacks.
    pub const fn fallbacks(self) -> &'static [MigrateType] {
        match self {
            MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
            MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
            MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
            MigrateType::HighAtomic => &[],
        }
    }

    /// The name `/proc/pagetypeinfo` prints.
    pub const fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_table_matches_mm_page_alloc() {
        assert_eq!(
            MigrateType::Unmovable.fallbacks(),
            &[MigrateType::Reclaimable, MigrateType::Movable]
        );
        assert_eq!(
            MigrateType::Movable.fallbacks(),
            &[MigrateType::Reclaimable, MigrateType::Unmovable]
        );
        assert_eq!(
            MigrateType::Reclaimable.fallbacks(),
            &[MigrateType::Unmovable, MigrateType::Movable]
        );
        assert!(MigrateType::HighAtomic.fallbacks().is_empty());
        for (i, mt) in MigrateType::ALL.iter().enumerate() {
            assert_eq!(MigrateType::from_index(i), Some(*mt));
            assert_eq!(mt.index(), i);
        }
        assert_eq!(MigrateType::from_index(MIGRATE_TYPES), None);
        assert!(!MigrateType::HighAtomic.is_mergeable());
        assert!(MigrateType::Reclaimable.is_mergeable());
    }
}
