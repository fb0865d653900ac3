// SPDX-License-Identifier: GPL-2.0

//! The Rust API: allocations are owning handles.
//!
//! A [`Pages`] knows its first pfn, order and node, and frees itself with
//! `__free_pages()` on drop (the patched free path brings the block back).
//! Handing a block to C is explicit ([`Pages::into_raw`]), and so is taking
//! one back ([`Pages::from_raw`]), the same discipline as `KBox`.

use kernel::prelude::*;

use crate::{
    core::{gfp::Gfp, page_alloc::AllocRequest, zonelist::AllocZonelist, Pfn, MAX_PAGE_ORDER},
    mm_sys,
    mm_sys::TagSite,
    node,
};

/// An allocated block of `1 << order` pages on a private node.
///
/// # Invariants
///
/// The handle owns the block's one reference; the block was allocated by
/// pnalloc with this order and is not a compound page unless `compound`.
pub(crate) struct Pages {
    pfn: Pfn,
    order: u32,
    nid: i32,
    compound: bool,
}

impl Pages {
    /// `alloc_pages_node(nid, gfp, order)`; `nid` may be `NUMA_NO_NODE`.
    /// `site` is the caller's `tag_site!()`: the allocinfo row charged.
    pub(crate) fn alloc_node(
        site: &'static TagSite,
        nid: i32,
        gfp: Gfp,
        order: u32,
    ) -> Result<Self> {
        Self::alloc(site, &AllocRequest::new(gfp, order, nid))
    }

    /// `__folio_alloc_zonelist()`: a compound block from the chosen zonelist.
    pub(crate) fn folio_zonelist(
        site: &'static TagSite,
        nid: i32,
        gfp: Gfp,
        order: u32,
        zl: AllocZonelist,
    ) -> Result<Self> {
        Self::alloc(
            site,
            &AllocRequest {
                zonelist: zl,
                ..AllocRequest::new(Gfp(gfp.0 | Gfp::COMP), order, nid)
            },
        )
    }

    /// The general form: any request the core accepts.
    pub(crate) fn alloc(site: &'static TagSite, req: &AllocRequest) -> Result<Self> {
        if req.order > MAX_PAGE_ORDER {
            return Err(EINVAL);
        }
        let inst = node::instance().ok_or(ENODEV)?;
        let req = AllocRequest {
            local_nid: mm_sys::numa_node_id(),
            ..*req
        };
        let a = inst.alloc(&req, Some(site))?;
        // INVARIANT: we own the block `alloc` just prepared for us.
        Ok(Pages {
            pfn: a.pfn,
            order: a.order,
            nid: i32::from(a.zone.nid),
            compound: a.order > 0 && req.gfp.has(Gfp::COMP),
        })
    }

    /// First pfn.
    pub(crate) fn pfn(&self) -> Pfn {
        self.pfn
    }

    /// Order.
    pub(crate) fn order(&self) -> u32 {
        self.order
    }

    /// Node.
    pub(crate) fn nid(&self) -> i32 {
        self.nid
    }

    /// Whether the block is a folio.
    pub(crate) fn is_folio(&self) -> bool {
        self.compound || self.order == 0
    }

    /// Gives up ownership: the caller (C code, usually) now owns the
    /// reference and must free the block with `__free_pages(page, order)`.
    pub(crate) fn into_raw(self) -> (Pfn, u32) {
        let raw = (self.pfn, self.order);
        ::core::mem::forget(self);
        raw
    }

    /// Takes ownership back.
    ///
    /// # Safety
    ///
    /// `pfn` and `order` come from [`Pages::into_raw`] (or are a block of
    /// that order pnalloc handed out), and the caller owns its reference.
    pub(crate) unsafe fn from_raw(pfn: Pfn, order: u32, compound: bool) -> Self {
        let nid = mm_sys::page_nid(pfn);
        // INVARIANT: the caller transfers its reference to the handle.
        Pages {
            pfn,
            order,
            nid,
            compound,
        }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        let how = if self.compound {
            mm_sys::FreeHow::Folio
        } else {
            mm_sys::FreeHow::Pages
        };
        // SAFETY: by the invariant the handle owns the one reference.
        unsafe { mm_sys::free_as(self.pfn, self.order, how) };
    }
}
