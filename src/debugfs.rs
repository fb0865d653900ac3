// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/pnalloc/`: what pnalloc shows an mm developer.
//!
//! - `version`, `nodes`: the module and the kernel's node states;
//! - `ranges`: each claimed range with its page counts;
//! - `buddyinfo`, `pagetypeinfo`: the exact formats of `/proc/buddyinfo` and
//!   `/proc/pagetypeinfo`, for the private nodes, so existing parsers work;
//! - `zoneinfo`: watermarks and counters per private zone;
//! - `pageblocks`: every pageblock's migratetype and free pages, for a
//!   picture of fragmentation (`scripts/bench-report.py` draws one);
//! - `control` (0200): claim and release ranges (see [`crate::control`]).
//!
//! Read-only files are 0400 and written files 0200, as the kernel's
//! debugfs helpers create them: root only.

use ::core::sync::atomic::Ordering;

use kernel::{
    debugfs::{
        Dir,
        File, //
    },
    fmt,
    prelude::*,
    sync::Arc, //
};

use crate::{
    control,
    core::{
        frame::FrameStore,
        migratetype::{MigrateType, MIGRATE_TYPES},
        zone::{ZoneStat, MAX_RANGES},
        NR_PAGE_ORDERS, PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER,
    },
    mm_sys,
    state::State,
};

/// The module's version, as `version` reports it.
pub(crate) const VERSION: &str = "0.2.0";

/// The debugfs directory with its files. Every file holds a reference to
/// the [`State`]; the state is dropped (and its ranges released) when the
/// module's own reference and the files are gone.
#[pin_data]
pub(crate) struct PnallocDebugfs {
    #[pin]
    version: File<Arc<State>>,
    #[pin]
    nodes: File<Arc<State>>,
    #[pin]
    ranges: File<Arc<State>>,
    #[pin]
    buddyinfo: File<Arc<State>>,
    #[pin]
    pagetypeinfo: File<Arc<State>>,
    #[pin]
    zoneinfo: File<Arc<State>>,
    #[pin]
    pageblocks: File<Arc<State>>,
    #[pin]
    control: File<Arc<State>>,
    // Dropped last: the files above are removed before their directory.
    dir: Dir,
}

impl PnallocDebugfs {
    pub(crate) fn new(s: &Arc<State>) -> impl PinInit<Self, Error> + '_ {
        let dir = Dir::new(c"pnalloc");
        try_pin_init!(Self {
            version <- dir.read_callback_file(c"version", s.clone(), &version_show),
            nodes <- dir.read_callback_file(c"nodes", s.clone(), &nodes_show),
            ranges <- dir.read_callback_file(c"ranges", s.clone(), &ranges_show),
            buddyinfo <- dir.read_callback_file(c"buddyinfo", s.clone(), &buddyinfo_show),
            pagetypeinfo <- dir.read_callback_file(c"pagetypeinfo", s.clone(), &pagetypeinfo_show),
            zoneinfo <- dir.read_callback_file(c"zoneinfo", s.clone(), &zoneinfo_show),
            pageblocks <- dir.read_callback_file(c"pageblocks", s.clone(), &pageblocks_show),
            control <- dir.write_callback_file(c"control", s.clone(), &control::control_write),
            dir,
        }? Error)
    }
}

fn version_show(_: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "pnalloc {VERSION}")
}

/// One line per possible node, `key=value` pairs, in node id order.
fn nodes_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for nid in 0..mm_sys::nr_node_ids() {
        let Ok(n) = mm_sys::node_info(nid) else {
            continue;
        };
        if n.possible == 0 {
            continue;
        }
        let owner = s
            .inst
            .zonelists
            .read(|topo| topo.node(nid).map_or(-1, |d| i64::from(d.owner)));
        writeln!(
            f,
            "node {nid} online={} memory={} normal={} cpu={} private={} owner={} start_pfn={} present_pages={} spanned_pages={}",
            n.online,
            n.has_memory,
            n.has_normal_memory,
            n.has_cpu,
            n.is_private,
            owner,
            n.node_start_pfn,
            n.present_pages,
            n.spanned_pages
        )?;
    }
    Ok(())
}

/// Private nodes in id order, with what `f` reads from each zone under its lock.
fn for_each_private_zone<R>(
    s: &State,
    mut snap: impl FnMut(&crate::core::zone::Zone<crate::frames::KStore>) -> R,
    mut out: impl FnMut(i32, R) -> fmt::Result,
) -> fmt::Result {
    for nid in 0..mm_sys::nr_node_ids() {
        let Ok(zone) = s.inst.zone(nid) else {
            continue;
        };
        let r = {
            let z = zone.lock();
            if !z.is_populated() {
                continue;
            }
            snap(&z)
        };
        out(nid, r)?;
    }
    Ok(())
}

fn ranges_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Ok(claimed) = s.carve.snapshot(&s.inst) else {
        return Err(fmt::Error);
    };
    for c in claimed.iter() {
        let free = s.inst.zone(c.nid).map_or(0, |z| {
            let z = z.lock();
            let (mut free, mut pfn) = (0u64, c.start_pfn);
            while pfn < c.start_pfn + c.nr_pages {
                match z.frames.get(pfn) {
                    Some(m) if m.buddy => {
                        free += 1 << m.order;
                        pfn += 1 << m.order;
                    }
                    _ => pfn += 1,
                }
            }
            free
        });
        writeln!(
            f,
            "node {} start_pfn {:#x} end_pfn {:#x} present {} managed {} free {} state claimed",
            c.nid,
            c.start_pfn,
            c.start_pfn + c.nr_pages,
            c.nr_pages,
            c.nr_pages,
            free
        )?;
    }
    Ok(())
}

/// `/proc/buddyinfo`: `Node %d, zone %8s ` then `%6lu ` per order.
fn buddyinfo_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for_each_private_zone(
        s,
        |z| (z.zone_type.name(), z.nr_free_per_order()),
        |nid, (name, free)| {
            write!(f, "Node {nid}, zone {name:>8} ")?;
            for n in free {
                write!(f, "{n:6} ")?;
            }
            writeln!(f)
        },
    )
}

/// The kernel prints one more type, Isolate, which private nodes never use.
const TYPE_NAMES: [&str; MIGRATE_TYPES + 1] = [
    "Unmovable",
    "Movable",
    "Reclaimable",
    "HighAtomic",
    "Isolate",
];

/// `/proc/pagetypeinfo`, same layout (without the mixed-blocks section,
/// which needs page_owner).
fn pagetypeinfo_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "Page block order: {PAGEBLOCK_ORDER}")?;
    writeln!(f, "Pages per block:  {PAGEBLOCK_NR_PAGES}")?;
    writeln!(f)?;
    write!(f, "{:<43} ", "Free pages count per migrate type at order")?;
    for o in 0..NR_PAGE_ORDERS {
        write!(f, "{o:6} ")?;
    }
    writeln!(f)?;
    for_each_private_zone(
        s,
        |z| {
            let per_type: [[u64; NR_PAGE_ORDERS]; MIGRATE_TYPES] =
                ::core::array::from_fn(|i| z.nr_free_per_order_mt(MigrateType::ALL[i]));
            (z.zone_type.name(), per_type)
        },
        |nid, (name, per_type)| {
            for (i, type_name) in TYPE_NAMES.iter().enumerate() {
                write!(f, "Node {nid:4}, zone {name:>8}, type {type_name:>12} ")?;
                for o in 0..NR_PAGE_ORDERS {
                    write!(f, "{:6} ", per_type.get(i).map_or(0, |t| t[o]))?;
                }
                writeln!(f)?;
            }
            Ok(())
        },
    )?;
    write!(f, "\n{:<23}", "Number of blocks type ")?;
    for t in TYPE_NAMES {
        write!(f, "{t:>12} ")?;
    }
    writeln!(f)?;
    for_each_private_zone(
        s,
        |z| (z.zone_type.name(), z.pageblock_counts()),
        |nid, (name, counts)| {
            write!(f, "Node {nid}, zone {name:>8} ")?;
            for i in 0..TYPE_NAMES.len() {
                write!(f, "{:12} ", counts.get(i).copied().unwrap_or(0))?;
            }
            writeln!(f)
        },
    )
}

struct ZoneSnap {
    name: &'static str,
    free: u64,
    wmark: [u64; 3],
    managed: u64,
    spanned: u64,
    free_highatomic: u64,
    reserved_highatomic: u64,
    hwpoison: u64,
    stat: ZoneStat,
}

/// Pageblocks per line of `pageblocks`, read under one zone lock hold.
const PAGEBLOCKS_PER_LINE: usize = 32;

/// One letter per migratetype, in [`MigrateType::ALL`] order.
const TYPE_LETTERS: [char; MIGRATE_TYPES] = ['U', 'M', 'R', 'H'];

/// Per private node and range, one `<type letter><free pages>` entry per
/// pageblock in pfn order (`M512` is a free movable pageblock). The zone
/// lock is taken per line, not for the whole node, as the kernel's
/// pagetypeinfo walk does per zone: the picture is of a node at rest.
fn pageblocks_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "pages per block {PAGEBLOCK_NR_PAGES}; types {TYPE_LETTERS:?}"
    )?;
    for nid in 0..mm_sys::nr_node_ids() {
        let Ok(zone) = s.inst.zone(nid) else {
            continue;
        };
        let ranges: [Option<(u64, u64)>; MAX_RANGES] = {
            let z = zone.lock();
            let mut ranges = [None; MAX_RANGES];
            for (slot, r) in ranges.iter_mut().zip(z.ranges()) {
                *slot = Some((r.start, r.end()));
            }
            ranges
        };
        for (start, end) in ranges.into_iter().flatten() {
            let nr = (end - start) / PAGEBLOCK_NR_PAGES;
            writeln!(f, "node {nid} start_pfn {start:#x} pageblocks {nr}")?;
            let mut pfn = start;
            while pfn < end {
                let mut line = [(MigrateType::Movable, 0u64); PAGEBLOCKS_PER_LINE];
                let mut n = 0;
                {
                    let z = zone.lock();
                    // The range may have gone, or another taken its place,
                    // between two lines: only the range read above is shown.
                    if !z.ranges().any(|r| r.start == start && r.end() == end) {
                        break;
                    }
                    while n < PAGEBLOCKS_PER_LINE && pfn < end {
                        line[n] = z.pageblock_state(pfn);
                        n += 1;
                        pfn += PAGEBLOCK_NR_PAGES;
                    }
                }
                for (i, (mt, free)) in line.iter().take(n).enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    let letter = TYPE_LETTERS.get(mt.index()).copied().unwrap_or('?');
                    write!(f, "{sep}{letter}{free}")?;
                }
                writeln!(f)?;
            }
        }
    }
    Ok(())
}

/// `/proc/zoneinfo`-like: the fields a private zone has, same spelling.
fn zoneinfo_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for_each_private_zone(
        s,
        |z| ZoneSnap {
            name: z.zone_type.name(),
            free: z.nr_free_pages,
            wmark: z.watermark,
            managed: z.managed_pages,
            spanned: z.ranges().map(|r| r.nr).sum(),
            free_highatomic: z.nr_free_highatomic,
            reserved_highatomic: z.nr_reserved_highatomic,
            hwpoison: z.nr_hwpoison,
            stat: z.stat,
        },
        |nid, z| {
            writeln!(f, "Node {nid}, zone {:>8}", z.name)?;
            writeln!(f, "  pages free     {}", z.free)?;
            writeln!(f, "        min      {}", z.wmark[0])?;
            writeln!(f, "        low      {}", z.wmark[1])?;
            writeln!(f, "        high     {}", z.wmark[2])?;
            writeln!(f, "        spanned  {}", z.spanned)?;
            writeln!(f, "        present  {}", z.spanned)?;
            writeln!(f, "        managed  {}", z.managed)?;
            writeln!(f, "      nr_free_highatomic {}", z.free_highatomic)?;
            writeln!(f, "      nr_reserved_highatomic {}", z.reserved_highatomic)?;
            writeln!(f, "      nr_hwpoison {}", z.hwpoison)?;
            writeln!(f, "      rmqueue_blocks {}", z.stat.rmqueue_blocks)?;
            writeln!(f, "      freed_blocks {}", z.stat.freed_blocks)?;
            writeln!(f, "      fallback_claim {}", z.stat.fallback_claim)?;
            writeln!(f, "      fallback_steal {}", z.stat.fallback_steal)?;
            writeln!(
                f,
                "      highatomic_reserved {}",
                z.stat.highatomic_reserved
            )?;
            writeln!(
                f,
                "      highatomic_unreserved {}",
                z.stat.highatomic_unreserved
            )?;
            writeln!(f, "      watermark_fail {}", z.stat.watermark_fail)?;
            // Outside the zone lock: the pcp locks come first in lock order.
            if let Ok(nz) = s.inst.node_zone(nid) {
                let [hit, miss, refill, drain, free] = nz.pcp_stat();
                writeln!(f, "  pagesets")?;
                writeln!(f, "    count: {}", nz.pcp_count())?;
                writeln!(f, "    high:  {}", crate::core::pcp::PCP_DEFAULT_HIGH)?;
                writeln!(f, "    batch: {}", crate::core::pcp::PCP_DEFAULT_BATCH)?;
                writeln!(f, "    pcp_hit {hit} pcp_miss {miss} pcp_refill {refill} pcp_drain {drain} pcp_free {free}")?;
                writeln!(f, "    pcp_trylock_failed {}", nz.pcp_trylock_failed())?;
                writeln!(
                    f,
                    "  zone_lock_contended {} zone_trylock_failed {}",
                    nz.zone.contended.load(Ordering::Relaxed),
                    nz.zone.trylock_failed.load(Ordering::Relaxed)
                )?;
            }
            Ok(())
        },
    )?;
    writeln!(f, "outstanding_pages {}", s.inst.outstanding())?;
    writeln!(f, "alloc_failures {}", s.inst.failures())?;
    writeln!(f, "bad_frees {}", s.inst.bad_frees())?;
    writeln!(f, "bad_pages {}", s.inst.bad_pages())
}
