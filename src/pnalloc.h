/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pnalloc's public C API: the page allocator entry points of
 * include/linux/gfp.h (Linux 7.3), served from pnalloc's private nodes.
 *
 * Names are the gfp.h names with a pnalloc_ prefix; arguments and return
 * values are the same. Pages are freed through the ordinary kernel paths
 * (__free_pages(), free_pages(), folio_put(), free_pages_exact() has a
 * pnalloc_ twin only for symmetry): the patched kernel hands them back to
 * pnalloc. Differences from the kernel allocator are listed in
 * Documentation/pnalloc/api.rst; the main one is that there is no reclaim,
 * so an allocation that cannot be satisfied fails at once (and never sleeps).
 */
#ifndef _PNALLOC_H
#define _PNALLOC_H

#include <linux/gfp_types.h>
#include <linux/mm_types.h>
#include <linux/nodemask.h>

/* enum alloc_zonelist of the Private Memory Nodes proposal. */
enum pnalloc_zonelist {
	PNALLOC_ZONELIST_DEFAULT,	/* honours __GFP_THISNODE */
	PNALLOC_ZONELIST_PRIVATE,	/* the preferred node's owner only */
};

/* The public alloc_flags bits (mm/page_alloc.h values). */
#define PNALLOC_ALLOC_NOLOCK		0x400
#define PNALLOC_ALLOC_NO_CODETAG	0x1000

struct page *pnalloc_alloc_pages(gfp_t gfp, unsigned int order);
struct page *pnalloc_alloc_pages_node(int nid, gfp_t gfp, unsigned int order);
struct page *__pnalloc_alloc_pages(gfp_t gfp, unsigned int order,
				   int preferred_nid, nodemask_t *nodemask,
				   unsigned int alloc_flags);
struct folio *pnalloc_folio_alloc(gfp_t gfp, unsigned int order);
struct folio *__pnalloc_folio_alloc(gfp_t gfp, unsigned int order,
				    int preferred_nid, nodemask_t *nodemask);
struct folio *__pnalloc_folio_alloc_node(gfp_t gfp, unsigned int order,
					 int nid);
struct folio *__pnalloc_folio_alloc_zonelist(gfp_t gfp, unsigned int order,
					     int preferred_nid,
					     nodemask_t *nodemask,
					     enum pnalloc_zonelist zlsel);
unsigned long pnalloc_alloc_pages_bulk(gfp_t gfp, int preferred_nid,
				       nodemask_t *nodemask,
				       unsigned long nr_pages,
				       struct page **page_array);
unsigned long __pnalloc_get_free_pages(gfp_t gfp, unsigned int order);
unsigned long pnalloc_get_zeroed_page(gfp_t gfp);
void *pnalloc_alloc_pages_exact(size_t size, gfp_t gfp);
void *pnalloc_alloc_pages_exact_nid(int nid, size_t size, gfp_t gfp);
void pnalloc_free_pages_exact(void *virt, size_t size);

#endif /* _PNALLOC_H */
