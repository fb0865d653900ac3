// SPDX-License-Identifier: GPL-2.0

//! Zonelists over the private nodes (`build_zonelists()`, `node_zonelist()`).
//!
//! Each private node has three lists, computed on demand from the node set
//! and the distance table (at most 64 nodes, so no cache to keep coherent):
//! - `fallback`: every private node's zones, nearest node first (distance,
//!   then node id), highest zone first within a node (`ZONELIST_FALLBACK`);
//! - `nofallback`: only its own zones (`ZONELIST_NOFALLBACK`, `__GFP_THISNODE`);
//! - `private`: like `fallback` but only nodes of the same owner, so that one
//!   device's memory never backs another's allocations (the per-device
//!   isolation linux-mm reviewers asked for).

use super::{zone::ZoneType, zone::MAX_NR_ZONES, MAX_NUMNODES};

/// `struct zoneref`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneRef {
    /// Node id.
    pub nid: u8,
    /// Zone within the node.
    pub zone: ZoneType,
}

/// `MAX_ZONES_PER_ZONELIST`
pub const MAX_ZONEREFS: usize = MAX_NUMNODES * MAX_NR_ZONES;

/// `struct zonelist`
#[derive(Clone, Copy)]
pub struct Zonelist {
    refs: [ZoneRef; MAX_ZONEREFS],
    nr: usize,
}

impl Zonelist {
    /// An empty list.
    pub const fn new() -> Self {
        Zonelist {
            refs: [ZoneRef {
                nid: 0,
                zone: ZoneType::Normal,
            }; MAX_ZONEREFS],
            nr: 0,
        }
    }

    /// The zones in order.
    pub fn iter(&self) -> impl Iterator<Item = ZoneRef> + '_ {
        self.refs[..self.nr].iter().copied()
    }

    fn push(&mut self, z: ZoneRef) {
        if let Some(slot) = self.refs.get_mut(self.nr) {
            *slot = z;
            self.nr += 1;
        }
    }
}

impl Default for Zonelist {
    fn default() -> Self {
        Self::new()
    }
}

/// `nodemask_t` for `MAX_NUMNODES = 64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeMask(pub u64);

impl NodeMask {
    /// `node_isset()`; ids out of range are never set.
    pub const fn contains(self, nid: i32) -> bool {
        nid >= 0 && (nid as usize) < MAX_NUMNODES && self.0 & (1 << nid) != 0
    }

    /// `node_set()`; ids out of range are ignored.
    pub fn set(&mut self, nid: i32) {
        if nid >= 0 && (nid as usize) < MAX_NUMNODES {
            self.0 |= 1 << nid;
        }
    }
}

/// `enum alloc_zonelist` from the Private Memory Nodes proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocZonelist {
    /// `ALLOC_ZONELIST_DEFAULT`: the fallback list, or the no-fallback list
    /// when the gfp mask has `__GFP_THISNODE`.
    Default,
    /// `ALLOC_ZONELIST_PRIVATE`: the preferred node's owner's nodes only,
    /// nearest first; `__GFP_THISNODE` is not consulted (the selector says
    /// which list, as in the proposal).
    Private,
}

/// What the zonelist builder knows about one private node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeDesc {
    /// Who owns the node (one id per device/driver).
    pub owner: u32,
    /// Populated zones, bit per [`ZoneType`].
    pub populated: u8,
}

/// The private nodes, their distances and their zonelists.
pub struct Topology {
    nodes: [Option<NodeDesc>; MAX_NUMNODES],
    /// `node_distance(from, to)`; 10 local, 20 remote unless told otherwise.
    distance: [[u8; MAX_NUMNODES]; MAX_NUMNODES],
}

impl Topology {
    /// No private nodes; every distance is the kernel's default.
    pub fn new() -> Self {
        Topology {
            nodes: [None; MAX_NUMNODES],
            distance: core::array::from_fn(|i| {
                core::array::from_fn(|j| if i == j { 10 } else { 20 })
            }),
        }
    }

    fn idx(nid: i32) -> Option<usize> {
        usize::try_from(nid).ok().filter(|&n| n < MAX_NUMNODES)
    }

    /// Records `node_distance(from, to)`.
    pub fn set_distance(&mut self, from: i32, to: i32, d: u8) {
        if let (Some(f), Some(t)) = (Self::idx(from), Self::idx(to)) {
            self.distance[f][t] = d;
        }
    }

    /// `node_distance()`
    pub fn distance(&self, from: i32, to: i32) -> u8 {
        match (Self::idx(from), Self::idx(to)) {
            (Some(f), Some(t)) => self.distance[f][t],
            _ => u8::MAX,
        }
    }

    /// Sets or clears a private node's description.
    pub fn set_node(&mut self, nid: i32, desc: Option<NodeDesc>) {
        if let Some(n) = Self::idx(nid) {
            self.nodes[n] = desc;
        }
    }

    /// The description of node `nid`, if it is private.
    pub fn node(&self, nid: i32) -> Option<NodeDesc> {
        Self::idx(nid).and_then(|n| self.nodes[n])
    }

    /// All private node ids.
    pub fn nodes(&self) -> impl Iterator<Item = i32> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_some())
            .map(|(i, _)| i as i32)
    }

    /// The private nodes ordered by distance from `from`, then id
    /// (`find_next_best_node()`).
    fn by_distance(&self, from: i32, owner: Option<u32>) -> ([u8; MAX_NUMNODES], usize) {
        let mut order = [0u8; MAX_NUMNODES];
        let mut nr = 0;
        for n in self.nodes() {
            if owner.is_some_and(|o| self.node(n).map(|d| d.owner) != Some(o)) {
                continue;
            }
            order[nr] = n as u8;
            nr += 1;
        }
        super::sort_by_key(&mut order[..nr], |&n| {
            (self.distance(from, i32::from(n)), n)
        });
        (order, nr)
    }

    fn append_node_zones(&self, list: &mut Zonelist, nid: u8) {
        let populated = self.node(i32::from(nid)).map_or(0, |d| d.populated);
        for zone in ZoneType::ALL.iter().rev() {
            if populated & (1 << *zone as u8) != 0 {
                list.push(ZoneRef { nid, zone: *zone });
            }
        }
    }

    /// `build_zonelists()` for one node and selector: `node_zonelist()` with
    /// the proposal's `alloc_zonelist`. `None` if `nid` is not a private node.
    pub fn zonelist(&self, nid: i32, sel: AllocZonelist, thisnode: bool) -> Option<Zonelist> {
        let desc = self.node(nid)?;
        let mut list = Zonelist::new();
        match (sel, thisnode) {
            (AllocZonelist::Default, true) => self.append_node_zones(&mut list, nid as u8),
            (AllocZonelist::Default, false) | (AllocZonelist::Private, _) => {
                let owner = (sel == AllocZonelist::Private).then_some(desc.owner);
                let (order, nr) = self.by_distance(nid, owner);
                for &n in &order[..nr] {
                    self.append_node_zones(&mut list, n);
                }
            }
        }
        Some(list)
    }

    /// The private node nearest to `from` (which need not be private), for
    /// `NUMA_NO_NODE` requests: smallest distance, then lowest id.
    pub fn nearest(&self, from: i32) -> Option<i32> {
        self.nodes()
            .min_by_key(|&n| (if n == from { 0 } else { self.distance(from, n) }, n))
    }
}

impl Default for Topology {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn nids(l: Zonelist) -> Vec<(u8, ZoneType)> {
        l.iter().map(|z| (z.nid, z.zone)).collect()
    }

    #[test]
    fn fallback_by_distance_then_id() {
        let mut t = Topology::new();
        for (n, owner) in [(1, 7), (2, 7), (3, 9)] {
            t.set_node(
                n,
                Some(NodeDesc {
                    owner,
                    populated: 1,
                }),
            );
        }
        t.set_distance(1, 2, 30);
        t.set_distance(1, 3, 15);
        let fb = t.zonelist(1, AllocZonelist::Default, false).unwrap();
        assert_eq!(
            nids(fb),
            [
                (1, ZoneType::Normal),
                (3, ZoneType::Normal),
                (2, ZoneType::Normal)
            ]
        );
        let this = t.zonelist(1, AllocZonelist::Default, true).unwrap();
        assert_eq!(nids(this), [(1, ZoneType::Normal)]);
        // Private: owner 7 only, node 3 (owner 9) never appears.
        let pr = t.zonelist(1, AllocZonelist::Private, true).unwrap();
        assert_eq!(nids(pr), [(1, ZoneType::Normal), (2, ZoneType::Normal)]);
        assert!(t.zonelist(0, AllocZonelist::Default, false).is_none());
        assert_eq!(t.nearest(0), Some(1));
        t.set_distance(0, 3, 12);
        assert_eq!(t.nearest(0), Some(3));
    }

    #[test]
    fn movable_zone_first_within_a_node() {
        let mut t = Topology::new();
        t.set_node(
            2,
            Some(NodeDesc {
                owner: 0,
                populated: 0b11,
            }),
        );
        let fb = t.zonelist(2, AllocZonelist::Default, false).unwrap();
        assert_eq!(nids(fb), [(2, ZoneType::Movable), (2, ZoneType::Normal)]);
    }
}
