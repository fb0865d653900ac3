// SPDX-License-Identifier: GPL-2.0

//! The written debugfs files: `control` (claim and release ranges) and
//! `test` (the selftests' allocation interface). Every command is parsed
//! completely before anything changes; bad input gets `EINVAL` (`ERANGE`
//! for numbers that do not fit) and changes nothing.
//!
//! `control` commands:
//! - `claim <nid>`: every offline memory block of node `nid` (a CPU-less
//!   node whose memory the kernel onlined is taken over first);
//! - `claim <nid> <start> <size>`: physical range in bytes, whole memory blocks;
//! - `release <start>`: the run of contiguous online blocks of pnalloc's
//!   that starts at physical `start`, offlined in place, all or none;
//! - `release all`: every run, last claimed first (stops at the first that
//!   cannot be released); rmmod is refused until nothing is claimed, since
//!   each online block holds a module reference;
//! - `owner <nid> <owner>`: which owner (device) a claimed node belongs to;
//!   `ALLOC_ZONELIST_PRIVATE` stays within the preferred node's owner;
//! - `drain`: every CPU's pcp lists back to the buddy (`drain_all_pages()`),
//!   and their batch scaling reset, so that tests can count refills;
//! - `verify`: drain, then walk every free list: `EIO` (and the reason in
//!   the kernel log) if a frame is free twice, a free block lies outside
//!   pnalloc's online blocks, or the lists disagree with the free count.
//!
//! `test` commands (reading `test` lists what is held):
//! - `alloc <nid> <order> [<count> [<gfp> [<alloc_flags>]]]`: allocate and
//!   hold `count` blocks (default 1, gfp default `GFP_KERNEL`, alloc_flags
//!   default 0, e.g. 0x1000 for `ALLOC_NO_CODETAG`) through the Rust API;
//! - `ep <name> <nid> <arg> [<gfp> [<nodemask>]]`: one call of an exported
//!   entry point of `pnalloc.h` (`pages`, `node`, `nodemask`, `folio`,
//!   `folio_node`, `zonelist_default`, `zonelist_private`, `bulk`,
//!   `get_free_pages`, `zeroed`, `exact`); `arg` is the order, the page count
//!   for `bulk`, the size in bytes for `exact`; `nid` -1 is `NUMA_NO_NODE`;
//! - `free [<count>]`: free the last `count` held blocks with the function
//!   their entry point pairs with (`__free_pages()`, `folio_put()`,
//!   `free_pages()`, `free_pages_exact()`);
//! - `put [<count>]`: the same through `folio_put()` (folios and order 0);
//! - `fill <seed> [<count>]`, `verify <seed> [<count>]`: write or check a
//!   pattern in the pages of the last `count` held blocks (default: all;
//!   `verify 0` checks zeroes); a mismatch is `EIO`;
//! - `nolock <task|hardirq|nmi|zonelocked> <nid> <order>`: one
//!   `alloc_pages_nolock()` + `free_pages_nolock()` from that context
//!   (`zonelocked`: in this task, with the node's zone lock held by this CPU);
//!   `ENOMEM` when the allocation returned NULL;
//! - `bench <nid> <order> <iters>`: alloc+free pairs through pnalloc and the
//!   kernel's allocator in this boot; ns per pair in the kernel log.

use kernel::{
    fmt,
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader, //
};

use crate::{
    api::Pages,
    core::{gfp::Gfp, Pfn, MAX_PAGE_ORDER},
    mm_sys::{self, tag_site, EntryPoint, FreeHow},
    state::{Held, State},
};

const PAGE_SHIFT: u32 = 12;
const MAX_INPUT: usize = 256;
const MAX_COUNT: u64 = 1 << 20;

/// Reads a whole write (at most `MAX_INPUT` bytes) and splits it in words.
fn read_words<'a>(
    reader: &mut UserSliceReader,
    buf: &'a mut [u8; MAX_INPUT],
) -> Result<KVec<&'a str>> {
    let len = reader.len();
    if len == 0 || len > MAX_INPUT {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    let text = ::core::str::from_utf8(&buf[..len]).map_err(|_| EINVAL)?;
    let mut words = KVec::new();
    for w in text.split_ascii_whitespace() {
        words.push(w, GFP_KERNEL)?;
    }
    Ok(words)
}

/// A decimal or `0x` hexadecimal number; `ERANGE` if it does not fit.
fn parse_u64(s: &str) -> Result<u64> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    if digits.is_empty() {
        return Err(EINVAL);
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = u64::from(c.to_digit(radix).ok_or(EINVAL)?);
        v = v
            .checked_mul(radix.into())
            .and_then(|v| v.checked_add(d))
            .ok_or(ERANGE)?;
    }
    Ok(v)
}

fn parse_nid(s: &str) -> Result<i32> {
    let nid = i32::try_from(parse_u64(s)?).map_err(|_| EINVAL)?;
    if nid >= mm_sys::nr_node_ids() {
        return Err(EINVAL);
    }
    Ok(nid)
}

/// A byte address or size as whole pages.
fn parse_pages(s: &str) -> Result<Pfn> {
    let bytes = parse_u64(s)?;
    if bytes % (1 << PAGE_SHIFT) != 0 {
        return Err(EINVAL);
    }
    Ok(bytes >> PAGE_SHIFT)
}

pub(crate) fn control_write(s: &Arc<State>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; MAX_INPUT];
    let words = read_words(reader, &mut buf)?;
    match words.as_slice() {
        ["claim", nid] => {
            let nid = parse_nid(nid)?;
            s.carve.claim_node(&s.inst, nid).map(|_| ())
        }
        ["claim", nid, start, size] => {
            let nid = parse_nid(nid)?;
            let (start, nr) = (parse_pages(start)?, parse_pages(size)?);
            s.carve.claim(&s.inst, nid, start, nr)
        }
        ["release", "all"] => s.carve.release_all(&s.inst),
        ["release", start] => s.carve.release(&s.inst, parse_pages(start)?),
        ["owner", nid, owner] => {
            let nid = parse_nid(nid)?;
            let owner = u32::try_from(parse_u64(owner)?).map_err(|_| ERANGE)?;
            s.carve.set_owner(&s.inst, nid, owner)
        }
        ["verify"] => crate::verify::verify(&s.inst),
        ["drain"] => {
            // Frees from free_pages_nolock() wait on their own list first.
            mm_sys::deferred_sync();
            for nz in s.inst.zones.iter() {
                nz.drain_all_pages();
                nz.reset_pcp_tuning();
            }
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

pub(crate) fn test_show(s: &Arc<State>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let held = s.held.lock();
    writeln!(f, "held {}", held.len())?;
    for h in held.iter() {
        writeln!(
            f,
            "pfn {:#x} order {} nid {} pages {} free {:?}",
            h.pfn, h.order, h.nid, h.pages, h.how
        )?;
    }
    Ok(())
}

fn parse_count(w: Option<&&str>) -> Result<u64> {
    let n = w.map_or(Ok(1), |w| parse_u64(w))?;
    if n == 0 || n > MAX_COUNT {
        return Err(EINVAL);
    }
    Ok(n)
}

fn parse_gfp(w: Option<&&str>) -> Result<Gfp> {
    match w {
        Some(g) => Ok(Gfp(u32::try_from(parse_u64(g)?).map_err(|_| EINVAL)?)),
        None => Ok(Gfp::KERNEL),
    }
}

pub(crate) fn test_write(s: &Arc<State>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; MAX_INPUT];
    let words = read_words(reader, &mut buf)?;
    let mut held = s.held.lock();
    match words.as_slice() {
        ["alloc", nid, order, rest @ ..] if rest.len() <= 3 => {
            let nid = parse_nid(nid)?;
            let order = u32::try_from(parse_u64(order)?).map_err(|_| EINVAL)?;
            if order > MAX_PAGE_ORDER {
                return Err(EINVAL);
            }
            let count = parse_count(rest.first())?;
            let gfp = parse_gfp(rest.get(1))?;
            let alloc_flags = match rest.get(2) {
                Some(f) => u32::try_from(parse_u64(f)?).map_err(|_| EINVAL)?,
                None => 0,
            };
            let req = crate::core::page_alloc::AllocRequest {
                alloc_flags,
                ..crate::core::page_alloc::AllocRequest::new(gfp, order, nid)
            };
            held.reserve(count as usize, GFP_KERNEL)?;
            for _ in 0..count {
                // Through the Rust API; the handle's reference moves to `held`.
                let p = Pages::alloc(tag_site!(), &req)?;
                let (nid, how) = (
                    p.nid(),
                    if p.order() > 0 && p.is_folio() {
                        FreeHow::Folio
                    } else {
                        FreeHow::Pages
                    },
                );
                let (pfn, order) = p.into_raw();
                held.push(
                    Held {
                        pfn,
                        order,
                        nid,
                        pages: 1 << order,
                        how,
                    },
                    GFP_KERNEL,
                )?;
            }
            Ok(())
        }
        ["ep", name, nid, arg, rest @ ..] if rest.len() <= 2 => {
            let ep = EntryPoint::from_name(name).ok_or(EINVAL)?;
            let nid = match *nid {
                "-1" => crate::core::NUMA_NO_NODE,
                n => parse_nid(n)?,
            };
            let arg = parse_u64(arg)?;
            if !matches!(ep, EntryPoint::Bulk | EntryPoint::Exact)
                && arg > u64::from(MAX_PAGE_ORDER)
            {
                return Err(EINVAL);
            }
            let gfp = parse_gfp(rest.first())?;
            let mask = rest.get(1).map(|m| parse_u64(m)).transpose()?;
            held.reserve(64, GFP_KERNEL)?;
            mm_sys::call_entry(ep, gfp.0, arg, nid, mask, |pfn, order, how| {
                let pages = match how {
                    FreeHow::Exact(size) => size.div_ceil(1 << PAGE_SHIFT) as u64,
                    _ => 1 << order,
                };
                let nid = mm_sys::page_nid(pfn);
                held.push(
                    Held {
                        pfn,
                        order,
                        nid,
                        pages,
                        how,
                    },
                    GFP_KERNEL,
                )?;
                Ok(())
            })
        }
        [cmd @ ("free" | "put"), rest @ ..] if rest.len() <= 1 => {
            let count = parse_count(rest.first())?;
            if count > held.len() as u64 {
                return Err(EINVAL);
            }
            let tail = held.iter().rev().take(count as usize);
            if *cmd == "put" && tail.clone().any(|h| h.order > 0 && h.how != FreeHow::Folio) {
                return Err(EINVAL);
            }
            for _ in 0..count {
                let Some(h) = held.pop() else {
                    break;
                };
                let how = if *cmd == "put" { FreeHow::Folio } else { h.how };
                // SAFETY: the test interface owns the one reference of this
                // block, and `how` matches how it was allocated (checked above
                // for `put`).
                unsafe { mm_sys::free_as(h.pfn, h.order, how) };
            }
            Ok(())
        }
        [cmd @ ("fill" | "verify"), seed, rest @ ..] if rest.len() <= 1 => {
            let seed = parse_u64(seed)?;
            let count = match rest.first() {
                Some(c) => parse_count(Some(c))?,
                None => held.len() as u64,
            };
            if count > held.len() as u64 {
                return Err(EINVAL);
            }
            for h in held.iter().rev().take(count as usize) {
                // SAFETY: held blocks are allocated and owned by the test
                // interface, which holds `held`'s lock.
                if !unsafe { mm_sys::pattern(h.pfn, h.pages, seed, *cmd == "verify") } {
                    return Err(EIO);
                }
            }
            Ok(())
        }
        ["bench", nid, order, iters] => {
            let nid = parse_nid(nid)?;
            let order = u32::try_from(parse_u64(order)?).map_err(|_| EINVAL)?;
            let iters = usize::try_from(parse_u64(iters)?).map_err(|_| ERANGE)?;
            if iters > 10_000_000 {
                return Err(ERANGE);
            }
            drop(held);
            let [p1, k1, p64, k64] = mm_sys::bench(nid, order, iters)?;
            pr_info!(
                "bench order {} iters {}: single pnalloc {} ns kernel {} ns; batch64 pnalloc {} ns kernel {} ns\n",
                order,
                iters,
                p1,
                k1,
                p64,
                k64
            );
            Ok(())
        }
        ["nolock", ctx, nid, order] => {
            let nid = parse_nid(nid)?;
            let order = u32::try_from(parse_u64(order)?).map_err(|_| EINVAL)?;
            drop(held);
            match *ctx {
                "task" => mm_sys::nolock_test(0, nid, order),
                "hardirq" => mm_sys::nolock_test(1, nid, order),
                "nmi" => mm_sys::nolock_test(2, nid, order),
                "zonelocked" => {
                    // This CPU holds the zone lock: a nolock allocation that
                    // needs it (THISNODE, so no other node can serve it)
                    // must fail at once, not spin on itself.
                    let nz = s.inst.node_zone(nid)?;
                    nz.drain_all_pages();
                    let gfp =
                        Gfp(Gfp::NOWARN | Gfp::ZERO | Gfp::NOMEMALLOC | Gfp::COMP | Gfp::THISNODE);
                    let req = crate::core::page_alloc::AllocRequest {
                        alloc_flags: crate::core::alloc_flags::ALLOC_NOLOCK,
                        ..crate::core::page_alloc::AllocRequest::new(gfp, order, nid)
                    };
                    let r = {
                        let _zone = nz.zone.lock();
                        s.inst.alloc(&req, Some(tag_site!()))
                    };
                    // Should it have succeeded, give the folio back.
                    if let Ok(a) = &r {
                        // SAFETY: we own the folio's one reference.
                        unsafe { mm_sys::free_as(a.pfn, a.order, FreeHow::Folio) };
                    }
                    r.map(|_| ())
                }
                _ => Err(EINVAL),
            }
        }
        _ => Err(EINVAL),
    }
}
