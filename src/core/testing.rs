// SPDX-License-Identifier: GPL-2.0

//! Host-side test harness: a `Vec`-backed frame store, an allocator instance
//! over plain structs, and the invariant checker every test runs.
//!
//! Every frame is in exactly one place: a free block, a pcp list, a block
//! handed out, or withdrawn by memory failure.
//!
//! The instance frees the way the module's `Instance::free` does: onto the
//! pcp list of the block's pageblock type, read at free time. Blocks handed
//! out as MOVABLE stand for pages on an LRU list (what a claim counts as
//! movable); pages on pcp lists and blocks of other types do not.

use std::{collections::BTreeMap, format, vec, vec::Vec};

use super::{
    alloc_flags::AllocFlags,
    frame::{FrameMeta, FrameStore},
    migratetype::MigrateType,
    page_alloc::PageAllocEnv,
    pcp::{self, PerCpuPages, NR_PCP_LISTS},
    zone::{WmarkParams, Zone, ZoneType, MAX_NR_ZONES},
    zonelist::{NodeDesc, Topology, ZoneRef},
    CoreError, Pfn, MAX_PAGE_ORDER, PAGEBLOCK_ORDER,
};

mod model;
mod model_tests;
mod policy_tests;
mod proptests;
mod zone_tests;

/// Frame metadata in one `Vec` per range.
#[derive(Default)]
pub struct VecStore {
    ranges: BTreeMap<Pfn, Vec<FrameMeta>>,
    /// Blocks handed out as MOVABLE (head -> order): the harness's `PageLRU()`.
    pub lru: BTreeMap<Pfn, u32>,
}

impl FrameStore for VecStore {
    fn get(&self, pfn: Pfn) -> Option<&FrameMeta> {
        let (start, v) = self.ranges.range(..=pfn).next_back()?;
        v.get(usize::try_from(pfn - start).ok()?)
    }

    fn get_mut(&mut self, pfn: Pfn) -> Option<&mut FrameMeta> {
        let (start, v) = self.ranges.range_mut(..=pfn).next_back()?;
        v.get_mut(usize::try_from(pfn - *start).ok()?)
    }

    fn add_range(&mut self, start: Pfn, nr: u64) -> Result<(), CoreError> {
        self.ranges
            .insert(start, vec![FrameMeta::new(); nr as usize]);
        Ok(())
    }

    fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        self.ranges
            .remove(&start)
            .map(|_| ())
            .ok_or(CoreError::NotFound)
    }

    fn page_is_movable(&self, pfn: Pfn) -> bool {
        self.lru
            .range(..=pfn)
            .next_back()
            .is_some_and(|(&head, &order)| pfn < head + (1 << order))
    }
}

/// One zone with its per-CPU lists.
pub struct TestZone {
    pub zone: Zone<VecStore>,
    pub pcp: Vec<PerCpuPages>,
}

/// An allocator instance: nodes × zones, `nr_cpus` pcp sets each, and the
/// CPU the next call runs on.
pub struct Instance {
    pub topo: Topology,
    pub zones: BTreeMap<(u8, u8), TestZone>,
    pub nr_cpus: usize,
    pub cpu: usize,
    /// Blocks handed out: pfn -> order, for the "exactly one place" check.
    pub allocated: BTreeMap<Pfn, u32>,
    /// `min_free_kbytes` and the lowmem pages of the rest of the system
    /// (the kernel's own zones); `None` leaves each zone on its own.
    pub wmark: Option<(u64, u64)>,
}

impl Instance {
    pub fn new(nr_cpus: usize) -> Self {
        Instance {
            topo: Topology::new(),
            zones: BTreeMap::new(),
            nr_cpus,
            cpu: 0,
            allocated: BTreeMap::new(),
            wmark: None,
        }
    }

    /// `setup_per_zone_wmarks()` over every zone, after any change of size
    /// or of [`Instance::wmark`].
    pub fn setup_per_zone_wmarks(&mut self) {
        let Some((min_free_kbytes, other_lowmem)) = self.wmark else {
            for tz in self.zones.values_mut() {
                tz.zone.wmark_params = None;
                tz.zone.setup_watermarks();
            }
            return;
        };
        let lowmem_pages = other_lowmem
            + self
                .zones
                .values()
                .filter(|tz| tz.zone.zone_type == ZoneType::Normal)
                .map(|tz| tz.zone.managed_pages)
                .sum::<u64>();
        let params = WmarkParams {
            pages_min: min_free_kbytes / 4,
            lowmem_pages,
        };
        for tz in self.zones.values_mut() {
            tz.zone.setup_per_zone_wmarks(params);
        }
    }

    /// Gives node `nid` to `owner` (the `owner` control of the module).
    pub fn set_owner(&mut self, nid: u8, owner: u32) -> Result<(), CoreError> {
        let desc = self.topo.node(i32::from(nid)).ok_or(CoreError::NotFound)?;
        self.topo
            .set_node(i32::from(nid), Some(NodeDesc { owner, ..desc }));
        Ok(())
    }

    /// Every CPU's lists of every zone back to the buddy.
    pub fn drain_all(&mut self) {
        for tz in self.zones.values_mut() {
            for p in tz.pcp.iter_mut() {
                p.drain(&mut tz.zone);
            }
        }
    }

    /// Adds a range to node `nid`'s zone, creating the node (owner `owner`).
    pub fn add_range(
        &mut self,
        nid: u8,
        zt: ZoneType,
        owner: u32,
        start: Pfn,
        nr: u64,
    ) -> Result<(), CoreError> {
        // A pfn belongs to one zone of one node, as page_zone() says.
        let end = start.saturating_add(nr);
        if self
            .zones
            .values()
            .flat_map(|tz| tz.zone.ranges())
            .any(|r| start < r.end() && r.start < end)
        {
            return Err(CoreError::Exists);
        }
        let nr_cpus = self.nr_cpus;
        let tz = self
            .zones
            .entry((nid, zt as u8))
            .or_insert_with(|| TestZone {
                zone: Zone::new(i32::from(nid), zt, VecStore::default()),
                pcp: (0..nr_cpus).map(|_| PerCpuPages::new()).collect(),
            });
        tz.zone.add_range(start, nr)?;
        self.refresh_node(nid, owner);
        self.setup_per_zone_wmarks();
        Ok(())
    }

    /// Drains every CPU's lists of the zone holding `start`, then removes the range.
    pub fn remove_range(&mut self, start: Pfn) -> Result<(), CoreError> {
        let key = *self
            .zones
            .iter()
            .find(|(_, tz)| tz.zone.ranges().any(|r| r.start == start))
            .ok_or(CoreError::NotFound)?
            .0;
        let tz = self.zones.get_mut(&key).ok_or(CoreError::NotFound)?;
        for p in tz.pcp.iter_mut() {
            p.drain(&mut tz.zone);
        }
        tz.zone.remove_range(start)?;
        let owner = self.topo.node(i32::from(key.0)).map_or(0, |d| d.owner);
        self.refresh_node(key.0, owner);
        self.setup_per_zone_wmarks();
        Ok(())
    }

    fn refresh_node(&mut self, nid: u8, owner: u32) {
        let mut populated = 0u8;
        for zt in 0..MAX_NR_ZONES as u8 {
            if self
                .zones
                .get(&(nid, zt))
                .is_some_and(|tz| tz.zone.is_populated())
            {
                populated |= 1 << zt;
            }
        }
        let desc = (populated != 0).then_some(NodeDesc { owner, populated });
        self.topo.set_node(i32::from(nid), desc);
    }

    pub fn zone(&self, nid: u8, zt: ZoneType) -> &Zone<VecStore> {
        &self.zones[&(nid, zt as u8)].zone
    }

    fn zone_of(&self, pfn: Pfn) -> Option<(u8, u8)> {
        self.zones
            .iter()
            .find(|(_, tz)| tz.zone.spans(pfn))
            .map(|(k, _)| *k)
    }

    /// `__free_pages()`: to this CPU's pcp for small orders, else the buddy.
    pub fn free(&mut self, pfn: Pfn, order: u32) {
        assert_eq!(
            self.allocated.remove(&pfn),
            Some(order),
            "freeing {pfn:#x} order {order}"
        );
        let key = self.zone_of(pfn).expect("pfn in a zone");
        let cpu = self.cpu;
        let tz = self.zones.get_mut(&key).unwrap();
        tz.zone.frames.lru.remove(&pfn);
        if pcp::pcp_allowed_order(order) {
            // As the module does: the list of the pageblock's type.
            let mt = tz.zone.pageblock_mt(pfn);
            assert!(pcp::free_pcp(
                &mut tz.pcp[cpu],
                &mut tz.zone,
                pfn,
                order,
                mt,
                false
            ));
        } else {
            tz.zone.free_pages(pfn, order);
        }
    }

    /// `take_page_off_buddy()` in the zone holding `pfn`, if any.
    pub fn take_page_off_buddy(&mut self, pfn: Pfn) -> bool {
        let Some(key) = self.zone_of(pfn) else {
            return false;
        };
        self.zones
            .get_mut(&key)
            .is_some_and(|tz| tz.zone.take_page_off_buddy(pfn))
    }

    /// `put_page_back_buddy()` in the zone holding `pfn`, if any.
    pub fn put_page_back_buddy(&mut self, pfn: Pfn) -> bool {
        let Some(key) = self.zone_of(pfn) else {
            return false;
        };
        self.zones
            .get_mut(&key)
            .is_some_and(|tz| tz.zone.put_page_back_buddy(pfn))
    }

    /// Frees a block handed out, but for `bad_pfn`, straight to the buddy,
    /// as the module does with a block that holds a poisoned page.
    pub fn free_pages_except(
        &mut self,
        pfn: Pfn,
        order: u32,
        bad_pfn: Pfn,
    ) -> Result<(), CoreError> {
        assert_eq!(
            self.allocated.get(&pfn),
            Some(&order),
            "freeing {pfn:#x} order {order}"
        );
        let key = self.zone_of(pfn).expect("pfn in a zone");
        let tz = self.zones.get_mut(&key).unwrap();
        tz.zone.free_pages_except(pfn, order, bad_pfn)?;
        tz.zone.frames.lru.remove(&pfn);
        self.allocated.remove(&pfn);
        Ok(())
    }

    /// Total pages on pcp lists of all zones and CPUs.
    pub fn pcp_pages(&self) -> u64 {
        self.zones
            .values()
            .flat_map(|tz| tz.pcp.iter())
            .map(|p| u64::from(p.count))
            .sum()
    }
}

impl PageAllocEnv for Instance {
    fn topology(&self) -> &Topology {
        &self.topo
    }

    fn watermark_ok(&mut self, z: ZoneRef, order: u32, flags: AllocFlags) -> Option<bool> {
        let zone = &mut self.zones.get_mut(&(z.nid, z.zone as u8))?.zone;
        Some(zone.zone_watermark_fast(order, flags))
    }

    fn watermark_ok_bulk(&mut self, z: ZoneRef, flags: AllocFlags, nr: u64) -> Option<bool> {
        let zone = &mut self.zones.get_mut(&(z.nid, z.zone as u8))?.zone;
        Some(zone.zone_watermark_bulk(flags, nr))
    }

    fn rmqueue(
        &mut self,
        z: ZoneRef,
        order: u32,
        mt: MigrateType,
        flags: AllocFlags,
    ) -> Option<Pfn> {
        let cpu = self.cpu;
        let tz = self.zones.get_mut(&(z.nid, z.zone as u8))?;
        let pfn = if pcp::pcp_allowed_order(order) {
            pcp::rmqueue_pcplist(&mut tz.pcp[cpu], &mut tz.zone, order, mt, flags)
        } else {
            None
        };
        let pfn = pfn.or_else(|| tz.zone.rmqueue_buddy(order, mt, flags))?;
        if mt == MigrateType::Movable {
            tz.zone.frames.lru.insert(pfn, order);
        }
        self.allocated.insert(pfn, order);
        Some(pfn)
    }

    fn unreserve_highatomic(&mut self, z: ZoneRef, mt: MigrateType, force: bool) -> bool {
        self.zones
            .get_mut(&(z.nid, z.zone as u8))
            .is_some_and(|tz| tz.zone.unreserve_highatomic_pageblock(mt, force))
    }

    fn drain_all_pages(&mut self, z: ZoneRef) {
        if let Some(tz) = self.zones.get_mut(&(z.nid, z.zone as u8)) {
            for p in tz.pcp.iter_mut() {
                p.drain(&mut tz.zone);
            }
        }
    }
}

/// Checks every invariant of every zone; panics with the first violation.
pub fn check_invariants(inst: &Instance) {
    for ((nid, zt), tz) in &inst.zones {
        let z = &tz.zone;
        let ctx = |m: &str| format!("node {nid} zone {zt}: {m}");
        // Where each frame is: 0 nowhere yet, 1 seen once.
        let mut seen: BTreeMap<Pfn, Vec<u8>> = z
            .ranges()
            .map(|r| (r.start, vec![0u8; r.nr as usize]))
            .collect();
        let mut mark = |pfn: Pfn, order: u32, what: &str| {
            let (start, v) = seen
                .range_mut(..=pfn)
                .next_back()
                .unwrap_or_else(|| panic!("{}", ctx(what)));
            for i in 0..(1u64 << order) {
                let slot = v.get_mut((pfn - start + i) as usize).unwrap_or_else(|| {
                    panic!("{}", ctx(&format!("{what} {pfn:#x} outside range")))
                });
                assert_eq!(
                    *slot,
                    0,
                    "{}",
                    ctx(&format!("{what} {pfn:#x}+{i} is in two places"))
                );
                *slot = 1;
            }
        };
        let mut free = 0u64;
        let mut free_ha = 0u64;
        for order in 0..=MAX_PAGE_ORDER {
            let area = &z.free_area[order as usize];
            let mut nr_free = 0;
            for mt in MigrateType::ALL {
                let list = &area.free_list[mt.index()];
                let mut pfn = list.head;
                let mut n = 0;
                while n < list.nr {
                    let m = z
                        .frame(pfn)
                        .unwrap_or_else(|| panic!("{}", ctx("list frame unmanaged")));
                    assert!(
                        m.buddy,
                        "{}",
                        ctx(&format!("{pfn:#x} on list but not buddy"))
                    );
                    assert_eq!(u32::from(m.order), order, "{}", ctx("order mismatch"));
                    assert_eq!(m.mt, mt, "{}", ctx("list type mismatch"));
                    assert_eq!(pfn % (1 << order), 0, "{}", ctx("unaligned block"));
                    if order < PAGEBLOCK_ORDER {
                        assert_eq!(
                            z.pageblock_mt(pfn),
                            mt,
                            "{}",
                            ctx(&format!("{pfn:#x} list != pageblock type"))
                        );
                    }
                    // No two free buddies left unmerged below pageblock
                    // order. From pageblock order up, pageblock types change
                    // (claim, unreserve) without a merge, in 7.3 too.
                    if order < PAGEBLOCK_ORDER {
                        if let Some(b) = z.find_buddy_pfn(pfn, order) {
                            panic!(
                                "{}",
                                ctx(&format!("buddies {pfn:#x}/{b:#x} order {order} unmerged"))
                            );
                        }
                    }
                    mark(pfn, order, "free block");
                    free += 1 << order;
                    if mt == MigrateType::HighAtomic {
                        free_ha += 1 << order;
                    }
                    pfn = m.next;
                    n += 1;
                }
                assert_eq!(pfn, super::frame::NO_PFN, "{}", ctx("list longer than nr"));
                nr_free += list.nr;
            }
            assert_eq!(
                area.nr_free,
                nr_free,
                "{}",
                ctx("free_area.nr_free != recount")
            );
        }
        assert_eq!(z.nr_free_pages, free, "{}", ctx("NR_FREE_PAGES != recount"));
        assert_eq!(
            z.nr_free_highatomic,
            free_ha,
            "{}",
            ctx("nr_free_highatomic != recount")
        );
        let mut on_pcp = 0u64;
        for p in &tz.pcp {
            let mut count = 0u64;
            for pindex in 0..NR_PCP_LISTS {
                let order = pcp::pindex_to_order(pindex);
                for pfn in p.list_pfns(pindex) {
                    let m = z.frame(pfn).unwrap();
                    assert!(!m.buddy, "{}", ctx("pcp page is also buddy"));
                    mark(pfn, order, "pcp page");
                    count += 1 << order;
                }
            }
            assert_eq!(
                u64::from(p.count),
                count,
                "{}",
                ctx("pcp->count != recount")
            );
            on_pcp += count;
        }
        let mut withdrawn = 0u64;
        for (&start, v) in &z.frames.ranges {
            for (i, m) in v.iter().enumerate() {
                if m.hwpoison {
                    let pfn = start + i as u64;
                    assert!(!m.buddy, "{}", ctx(&format!("{pfn:#x} hwpoison and buddy")));
                    mark(pfn, 0, "withdrawn page");
                    withdrawn += 1;
                }
            }
        }
        assert_eq!(
            z.nr_hwpoison,
            withdrawn,
            "{}",
            ctx("nr_hwpoison != recount")
        );
        let mut out = 0u64;
        for (&pfn, &order) in &inst.allocated {
            if z.spans(pfn) {
                mark(pfn, order, "allocated block");
                out += 1 << order;
            }
        }
        for (start, v) in &seen {
            if let Some(i) = v.iter().position(|&s| s == 0) {
                panic!(
                    "{}",
                    ctx(&format!("frame {:#x} is nowhere", start + i as u64))
                );
            }
        }
        assert_eq!(
            free + on_pcp + out + withdrawn,
            z.managed_pages,
            "{}",
            ctx("free + pcp + allocated + withdrawn != managed")
        );
        let ha_blocks = z.pageblock_counts()[MigrateType::HighAtomic.index()];
        assert_eq!(
            z.nr_reserved_highatomic,
            ha_blocks * super::PAGEBLOCK_NR_PAGES,
            "{}",
            ctx("nr_reserved_highatomic != HIGHATOMIC pageblocks")
        );
    }
}

#[test]
fn sort_by_key_is_stable() {
    let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
    super::sort_by_key(&mut v, |e| e.0);
    assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
    let mut empty: [u8; 0] = [];
    super::sort_by_key(&mut empty, |&e| e);
}
