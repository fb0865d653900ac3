// SPDX-License-Identifier: GPL-2.0

//! Zonelists over the private nodes (`build_zonelists()`, `node_zonelist()`).
//!
//! Each private node has three lists, rebuilt by every change to the node
//! set or the distance table (a few times per boot) and only read by
//! allocations:
//! - `fallback`: every private node's zones in `find_next_best_node()`
//!   order (distance, ties spread by `node_load[]`), highest zone first
//!   within a node (`ZONELIST_FALLBACK`);
//! - `nofallback`: only its own zones (`ZONELIST_NOFALLBACK`, `__GFP_THISNODE`);
//! - `private`: `fallback` without the nodes of other owners, so that one
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zonelist {
    refs: [ZoneRef; MAX_ZONEREFS],
    nr: u8,
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
        self.refs[..usize::from(self.nr)].iter().copied()
    }

    /// The `i`-th zone, if the list is that long.
    pub fn get(&self, i: usize) -> Option<ZoneRef> {
        self.refs[..usize::from(self.nr)].get(i).copied()
    }

    /// Number of zones.
    pub fn len(&self) -> usize {
        usize::from(self.nr)
    }

    /// No zones at all.
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    fn push(&mut self, z: ZoneRef) {
        if let Some(slot) = self.refs.get_mut(usize::from(self.nr)) {
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
///
/// Plain data (`Copy`), so that the kernel layer can publish a copy with
/// RCU and readers never see a list being rebuilt.
///
/// # Invariants
///
/// `fallback`, `nofallback`, `private` and `nearest` are what
/// `build_all_zonelists()` would compute from `nodes`, `distance` and
/// `nr_node_ids`: every mutator rebuilds them before it returns, so the
/// allocation path only reads.
#[derive(Clone, Copy)]
pub struct Topology {
    nodes: [Option<NodeDesc>; MAX_NUMNODES],
    /// `node_distance(from, to)`; 10 local, 20 remote unless told otherwise.
    distance: [[u8; MAX_NUMNODES]; MAX_NUMNODES],
    /// One past the highest node id the topology was told about: the nodes
    /// `for_each_node()` visits when `node_load[]` is accumulated.
    nr_node_ids: usize,
    /// `ZONELIST_FALLBACK` of each private node.
    fallback: [Zonelist; MAX_NUMNODES],
    /// `ZONELIST_NOFALLBACK` of each private node.
    nofallback: [Zonelist; MAX_NUMNODES],
    /// `ALLOC_ZONELIST_PRIVATE` of each private node.
    private: [Zonelist; MAX_NUMNODES],
    /// The first private node of each node's fallback order, or -1.
    nearest: [i8; MAX_NUMNODES],
}

impl Topology {
    /// No private nodes; every distance is the kernel's default. `const`, so
    /// that a caller can copy it from a static rather than build this large
    /// value on a small stack.
    pub const fn new() -> Self {
        let mut distance = [[20u8; MAX_NUMNODES]; MAX_NUMNODES];
        let mut i = 0;
        while i < MAX_NUMNODES {
            distance[i][i] = 10;
            i += 1;
        }
        // INVARIANT: with no private node every list is empty.
        Topology {
            nodes: [None; MAX_NUMNODES],
            distance,
            nr_node_ids: 0,
            fallback: [Zonelist::new(); MAX_NUMNODES],
            nofallback: [Zonelist::new(); MAX_NUMNODES],
            private: [Zonelist::new(); MAX_NUMNODES],
            nearest: [-1; MAX_NUMNODES],
        }
    }

    fn idx(nid: i32) -> Option<usize> {
        usize::try_from(nid).ok().filter(|&n| n < MAX_NUMNODES)
    }

    fn saw_node(&mut self, n: usize) {
        self.nr_node_ids = self.nr_node_ids.max(n + 1);
    }

    /// Records `node_distance(from, to)` and rebuilds the zonelists.
    pub fn set_distance(&mut self, from: i32, to: i32, d: u8) {
        if let (Some(f), Some(t)) = (Self::idx(from), Self::idx(to)) {
            self.distance[f][t] = d;
            self.saw_node(f.max(t));
            self.build_all_zonelists();
        }
    }

    /// `node_distance()`
    pub fn distance(&self, from: i32, to: i32) -> u8 {
        match (Self::idx(from), Self::idx(to)) {
            (Some(f), Some(t)) => self.distance[f][t],
            _ => u8::MAX,
        }
    }

    /// Sets or clears a private node's description (claim, release, owner
    /// change) and rebuilds the zonelists.
    pub fn set_node(&mut self, nid: i32, desc: Option<NodeDesc>) {
        if let Some(n) = Self::idx(nid) {
            self.nodes[n] = desc;
            self.saw_node(n);
            self.build_all_zonelists();
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

    /// `find_next_best_node()` over the private nodes (`N_MEMORY` here):
    /// the local node first if it has memory, then the smallest
    /// `distance + (n < node)`, scaled by `MAX_NUMNODES` plus `node_load[n]`
    /// so that equal distances spread over the nodes. Private nodes are
    /// memory-only, so `PENALTY_FOR_NODE_WITH_CPUS` never applies.
    fn find_next_best_node(
        &self,
        node: usize,
        used: &mut u64,
        node_load: &[u32; MAX_NUMNODES],
    ) -> Option<usize> {
        if *used & (1 << node) == 0 && self.nodes[node].is_some() {
            *used |= 1 << node;
            return Some(node);
        }
        let mut best = None;
        let mut min_val = u32::MAX;
        for (n, (desc, load)) in self.nodes.iter().zip(node_load).enumerate() {
            if desc.is_none() || *used & (1 << n) != 0 {
                continue;
            }
            let mut val = u32::from(self.distance[node][n]);
            val += u32::from(n < node);
            val = val * MAX_NUMNODES as u32 + load;
            if val < min_val {
                min_val = val;
                best = Some(n);
            }
        }
        if let Some(b) = best {
            *used |= 1 << b;
        }
        best
    }

    fn append_node_zones(&self, list: &mut Zonelist, nid: usize) {
        let populated = self.nodes[nid].map_or(0, |d| d.populated);
        for zone in ZoneType::ALL.iter().rev() {
            if populated & (1 << *zone as u8) != 0 {
                list.push(ZoneRef {
                    nid: nid as u8,
                    zone: *zone,
                });
            }
        }
    }

    /// `__build_all_zonelists()`: `node_zonelists[]` of every node, with
    /// `node_load[]` carried from one node's `build_zonelists()` to the next
    /// in node id order, as the kernel does. Nodes beyond `nr_node_ids` get
    /// their `nearest` answer from the final loads without adding to them.
    fn build_all_zonelists(&mut self) {
        let mut node_load = [0u32; MAX_NUMNODES];
        for local in 0..MAX_NUMNODES {
            let mut order = [0u8; MAX_NUMNODES];
            let mut nr = 0;
            let mut used = 0u64;
            let mut prev = local;
            while let Some(node) = self.find_next_best_node(local, &mut used, &node_load) {
                // build_zonelists(): penalise the first node of each
                // distance group so that the next list starts elsewhere.
                if local < self.nr_node_ids
                    && self.distance[local][node] != self.distance[local][prev]
                {
                    node_load[node] += 1;
                }
                order[nr] = node as u8;
                nr += 1;
                prev = node;
            }
            self.nearest[local] = order[..nr].first().map_or(-1, |&n| n as i8);
            let mut fallback = Zonelist::new();
            let mut nofallback = Zonelist::new();
            let mut private = Zonelist::new();
            if let Some(desc) = self.nodes[local] {
                for &n in &order[..nr] {
                    self.append_node_zones(&mut fallback, usize::from(n));
                    if self.nodes[usize::from(n)].is_some_and(|d| d.owner == desc.owner) {
                        self.append_node_zones(&mut private, usize::from(n));
                    }
                }
                self.append_node_zones(&mut nofallback, local);
            }
            // INVARIANT: this node's lists now follow the current nodes and distances.
            self.fallback[local] = fallback;
            self.nofallback[local] = nofallback;
            self.private[local] = private;
        }
    }

    /// `node_zonelist()` with the proposal's `alloc_zonelist`: the list built
    /// for private node `nid`, or `None` if `nid` is not private.
    pub fn zonelist(&self, nid: i32, sel: AllocZonelist, thisnode: bool) -> Option<&Zonelist> {
        let n = Self::idx(nid)?;
        self.nodes[n]?;
        Some(match (sel, thisnode) {
            (AllocZonelist::Default, true) => &self.nofallback[n],
            (AllocZonelist::Default, false) => &self.fallback[n],
            (AllocZonelist::Private, _) => &self.private[n],
        })
    }

    /// The private node nearest to `from` (which need not be private), for
    /// `NUMA_NO_NODE` requests: the first private node of `from`'s fallback
    /// order (`numa_mem_id()`).
    pub fn nearest(&self, from: i32) -> Option<i32> {
        let n = *self.nearest.get(Self::idx(from)?)?;
        (n >= 0).then_some(i32::from(n))
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

    fn nids(l: &Zonelist) -> Vec<(u8, ZoneType)> {
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

    fn three_equidistant() -> Topology {
        let mut t = Topology::new();
        for n in 1..=3 {
            t.set_node(
                n,
                Some(NodeDesc {
                    owner: 0,
                    populated: 1,
                }),
            );
        }
        t
    }

    fn order(t: &Topology, nid: i32) -> Vec<u8> {
        t.zonelist(nid, AllocZonelist::Default, false)
            .unwrap()
            .iter()
            .map(|z| z.nid)
            .collect()
    }

    #[test]
    fn equal_distances_are_spread_by_node_load() {
        // Nodes 1-3 all at distance 20 from each other. build_zonelists()
        // for nodes 0..3 in turn: node 0 takes 1 first (load[1] = 1); node 1
        // itself, then 2 (load[2] = 1); node 2 itself, then 3 (1 is "under"
        // it and loaded); node 3 itself, then 1 (tie with 2, lower id).
        let t = three_equidistant();
        assert_eq!(order(&t, 1), [1, 2, 3]);
        assert_eq!(order(&t, 2), [2, 3, 1]);
        assert_eq!(order(&t, 3), [3, 1, 2]);
        assert_eq!(t.nearest(0), Some(1));
        assert_eq!(t.nearest(2), Some(2));
        // Node 4 (beyond nr_node_ids) adds no load: 2 and 3 tie at the
        // lowest load, 2 wins.
        assert_eq!(t.nearest(4), Some(2));
        assert_eq!(t.nearest(63), Some(2));
        assert_eq!(t.nearest(64), None);
        assert_eq!(t.nearest(-1), None);
        assert_eq!(Topology::new().nearest(0), None);
    }

    #[test]
    fn every_mutator_rebuilds_and_copies_are_independent() {
        let mut t = three_equidistant();
        let before = t;
        t.set_distance(2, 1, 11);
        assert_eq!(order(&t, 2), [2, 1, 3]);
        assert_eq!(order(&before, 2), [2, 3, 1], "a copy keeps its lists");
        t.set_node(
            3,
            Some(NodeDesc {
                owner: 5,
                populated: 1,
            }),
        );
        let pr = t.zonelist(2, AllocZonelist::Private, false).unwrap();
        assert_eq!(nids(pr), [(2, ZoneType::Normal), (1, ZoneType::Normal)]);
        let pr3 = t.zonelist(3, AllocZonelist::Private, true).unwrap();
        assert_eq!(nids(pr3), [(3, ZoneType::Normal)]);
        t.set_node(1, None);
        assert!(t.zonelist(1, AllocZonelist::Default, false).is_none());
        assert_eq!(order(&t, 2), [2, 3]);
        assert_eq!(t.nodes().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(t.node(3).map(|d| d.owner), Some(5));
        let fb = t.zonelist(2, AllocZonelist::Default, false).unwrap();
        assert_eq!((fb.len(), fb.is_empty()), (2, false));
        assert_eq!(fb.get(2), None);
        // Out-of-range ids change nothing.
        t.set_node(64, None);
        t.set_distance(-1, 2, 5);
        assert_eq!(t.distance(-1, 2), u8::MAX);
        assert_eq!(order(&t, 2), [2, 3]);
    }
}
