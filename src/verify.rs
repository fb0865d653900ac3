// SPDX-License-Identifier: GPL-2.0

//! `control: verify`: walks every free list of every private node and
//! checks what must hold after any sequence of claims, releases, ejects and
//! failures: each free block lies inside one online block of pnalloc's, no
//! frame is free twice, no poisoned frame is free, and the lists add up to
//! the zone's free count.
//! Tests run it after every failure they inject.

use kernel::prelude::*;

use crate::{
    core::{migratetype::MigrateType, Pfn, MAX_PAGE_ORDER},
    node::Instance,
};

/// One node: drains its pcp lists, then checks its free lists. Returns the
/// free pages counted, or `EIO` (logged) on the first violation.
fn verify_node(inst: &Instance, nid: i32) -> Result<u64> {
    let nz = inst.node_zone(nid)?;
    let online = {
        let b = inst.blocks.lock();
        let mut v = KVec::with_capacity(b.online().len(), GFP_KERNEL)?;
        for c in b.online().iter().filter(|c| c.nid == nid) {
            v.push((c.start_pfn, c.nr_pages), GFP_KERNEL)?;
        }
        v
    };
    nz.drain_all_pages();
    let mut blocks: KVec<(Pfn, u32)> = KVec::new();
    let nr_free = {
        let z = nz.zone.lock();
        for order in 0..=MAX_PAGE_ORDER {
            let area = &z.free_area[order as usize];
            for mt in MigrateType::ALL {
                let list = &area.free_list[mt.index()];
                let mut pfn = list.head;
                for _ in 0..list.nr {
                    let Some(m) = z.frame(pfn) else {
                        pr_err!(
                            "verify: node {}: pfn {:#x} on a free list is not managed\n",
                            nid,
                            pfn
                        );
                        return Err(EIO);
                    };
                    if !m.buddy || u32::from(m.order) != order {
                        pr_err!("verify: node {}: pfn {:#x} on list {} is not a free block of that order\n", nid, pfn, order);
                        return Err(EIO);
                    }
                    if let Some(p) = (pfn..pfn + (1u64 << order))
                        .find(|&p| z.frame(p).is_some_and(|f| f.hwpoison))
                    {
                        pr_err!(
                            "verify: node {}: poisoned pfn {:#x} is on a free list\n",
                            nid,
                            p
                        );
                        return Err(EIO);
                    }
                    // Allocating under the zone lock: GFP_ATOMIC.
                    blocks.push((pfn, order), GFP_ATOMIC)?;
                    pfn = m.next;
                }
            }
        }
        z.nr_free_pages
    };
    crate::core::sort_by_key(blocks.as_mut_slice(), |b| b.0);
    let mut counted = 0u64;
    let mut end_prev: Pfn = 0;
    for &(pfn, order) in blocks.iter() {
        let end = pfn + (1u64 << order);
        if pfn < end_prev {
            pr_err!("verify: node {}: pfn {:#x} is free twice\n", nid, pfn);
            return Err(EIO);
        }
        if !online.iter().any(|&(s, n)| pfn >= s && end <= s + n) {
            pr_err!(
                "verify: node {}: free pfn {:#x} (order {}) is outside pnalloc's online blocks\n",
                nid,
                pfn,
                order
            );
            return Err(EIO);
        }
        counted += 1 << order;
        end_prev = end;
    }
    if counted != nr_free {
        pr_err!(
            "verify: node {}: free lists hold {} pages, nr_free says {}\n",
            nid,
            counted,
            nr_free
        );
        return Err(EIO);
    }
    Ok(counted)
}

/// Every node: `EIO` on the first violation (logged).
pub(crate) fn verify(inst: &Instance) -> Result {
    for nid in 0..inst.zones.len() {
        let nid = nid as i32;
        let free = verify_node(inst, nid)?;
        if free > 0 {
            pr_info!(
                "verify: node {}: {} free pages, each once, all in online blocks\n",
                nid,
                free
            );
        }
    }
    Ok(())
}
