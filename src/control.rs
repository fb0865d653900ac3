// SPDX-License-Identifier: GPL-2.0

//! The written debugfs file `control`. Every command is parsed completely
//! before anything changes; bad input gets `EINVAL` (`ERANGE` for numbers
//! that do not fit) and changes nothing. The selftests' allocation
//! interface is not here: it lives in pnalloc_test.ko (src/test/cmd.c), a
//! consumer of the exported API like any other module.
//!
//! Commands:
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

use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader, //
};

use crate::{core::Pfn, mm_sys, state::State};

const PAGE_SHIFT: u32 = 12;
const MAX_INPUT: usize = 256;

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
