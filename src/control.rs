// SPDX-License-Identifier: GPL-2.0

//! The written debugfs files: `control` (claim and release ranges) and
//! `test` (the selftests' allocation interface). Every command is parsed
//! completely before anything changes; bad input gets `EINVAL` (`ERANGE`
//! for numbers that do not fit) and changes nothing.
//!
//! `control` commands:
//! - `claim <nid>`: every offline memory block of node `nid`;
//! - `claim <nid> <start> <size>`: physical range in bytes, whole memory blocks;
//! - `release <start>`: the claimed range starting at physical `start`;
//! - `drain`: every CPU's pcp lists back to the buddy (`drain_all_pages()`).
//!
//! `test` commands (reading `test` lists what is held):
//! - `alloc <nid> <order> [<count> [<gfp>]]`: allocate and hold `count` blocks
//!   (default 1, gfp default `GFP_KERNEL`);
//! - `free [<count>]`: `__free_pages()` the last `count` held blocks;
//! - `put [<count>]`: the same through `folio_put()` (compound blocks only).

use kernel::{
    fmt,
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader, //
};

use crate::{
    core::{gfp::Gfp, page_alloc::AllocRequest, Pfn, MAX_PAGE_ORDER},
    mm_sys,
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
        ["release", start] => s.carve.release(&s.inst, parse_pages(start)?),
        ["drain"] => {
            for nz in s.inst.zones.iter() {
                nz.drain_all_pages();
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
            "pfn {:#x} order {} nid {} compound {}",
            h.pfn,
            h.order,
            h.nid,
            u8::from(h.compound)
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

pub(crate) fn test_write(s: &Arc<State>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; MAX_INPUT];
    let words = read_words(reader, &mut buf)?;
    match words.as_slice() {
        ["alloc", nid, order, rest @ ..] if rest.len() <= 2 => {
            let nid = parse_nid(nid)?;
            let order = u32::try_from(parse_u64(order)?).map_err(|_| EINVAL)?;
            if order > MAX_PAGE_ORDER {
                return Err(EINVAL);
            }
            let count = parse_count(rest.first())?;
            let gfp = match rest.get(1) {
                Some(g) => Gfp(u32::try_from(parse_u64(g)?).map_err(|_| EINVAL)?),
                None => Gfp::KERNEL,
            };
            let req = AllocRequest {
                local_nid: mm_sys::numa_node_id(),
                ..AllocRequest::new(gfp, order, nid)
            };
            let mut held = s.held.lock();
            held.reserve(count as usize, GFP_KERNEL)?;
            for _ in 0..count {
                let a = s.inst.alloc(&req)?;
                // Capacity was reserved above.
                held.push(
                    Held {
                        pfn: a.pfn,
                        order,
                        nid: i32::from(a.zone.nid),
                        compound: order > 0 && gfp.has(Gfp::COMP),
                    },
                    GFP_KERNEL,
                )?;
            }
            Ok(())
        }
        [cmd @ ("free" | "put"), rest @ ..] if rest.len() <= 1 => {
            let count = parse_count(rest.first())?;
            let mut held = s.held.lock();
            if count > held.len() as u64 {
                return Err(EINVAL);
            }
            if *cmd == "put"
                && held
                    .iter()
                    .rev()
                    .take(count as usize)
                    .any(|h| h.order > 0 && !h.compound)
            {
                return Err(EINVAL);
            }
            for _ in 0..count {
                let Some(h) = held.pop() else {
                    break;
                };
                if *cmd == "put" {
                    // SAFETY: the test interface owns the one reference of
                    // this block and it is a folio (checked above).
                    unsafe { mm_sys::folio_put(h.pfn) };
                } else {
                    // SAFETY: the test interface owns the one reference.
                    unsafe { mm_sys::free_pages(h.pfn, h.order) };
                }
            }
            Ok(())
        }
        _ => Err(EINVAL),
    }
}
