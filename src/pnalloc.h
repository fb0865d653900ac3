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

/*
 * One static per call site, like the alloc_tag alloc_hooks() defines: the
 * site a page is charged to in /sys/kernel/debug/pnalloc/allocinfo.
 */
struct pnalloc_tag_site {
	const char *modname;
	const char *function;
	const char *filename;
	unsigned int lineno;
	unsigned int id;	/* set on first use */
};

#define PNALLOC_TAG_SITE()						\
	({								\
		static struct pnalloc_tag_site __pnalloc_site = {	\
			.modname = KBUILD_MODNAME,			\
			.function = __func__,				\
			.filename = __FILE__,				\
			.lineno = __LINE__,				\
		};							\
		&__pnalloc_site;					\
	})

/* Events counted per site. */
enum {
	PNALLOC_TAG_ALLOC,
	PNALLOC_TAG_FREE,
	PNALLOC_TAG_FAIL,
	PNALLOC_TAG_FALLBACK,
	PNALLOC_TAG_NOLOCK,
	PNALLOC_TAG_NOTAG,
	PNALLOC_TAG_INACCURATE,
	PNALLOC_TAG_SPLIT,
	PNALLOC_TAG_SUB_BYTES,
	PNALLOC_TAG_HWPOISON,
};

/* The public alloc_flags bits (mm/page_alloc.h values). */
#define PNALLOC_ALLOC_NOLOCK		0x400
#define PNALLOC_ALLOC_NO_CODETAG	0x1000

/*
 * The entry points take the call site first; the gfp.h-named macros below
 * pass PNALLOC_TAG_SITE() so each caller line gets its allocinfo row.
 */
struct pnalloc_tag_site;
struct page *pnalloc_alloc_pages_site(struct pnalloc_tag_site *site, gfp_t gfp,
				      unsigned int order);
struct page *pnalloc_alloc_pages_node_site(struct pnalloc_tag_site *site,
					   int nid, gfp_t gfp,
					   unsigned int order);
struct page *__pnalloc_alloc_pages_site(struct pnalloc_tag_site *site,
					gfp_t gfp, unsigned int order,
					int preferred_nid, nodemask_t *nodemask,
					unsigned int alloc_flags);
struct folio *pnalloc_folio_alloc_site(struct pnalloc_tag_site *site,
				       gfp_t gfp, unsigned int order);
struct folio *__pnalloc_folio_alloc_site(struct pnalloc_tag_site *site,
					 gfp_t gfp, unsigned int order,
					 int preferred_nid,
					 nodemask_t *nodemask);
struct folio *__pnalloc_folio_alloc_node_site(struct pnalloc_tag_site *site,
					      gfp_t gfp, unsigned int order,
					      int nid);
struct folio *
__pnalloc_folio_alloc_zonelist_site(struct pnalloc_tag_site *site, gfp_t gfp,
				    unsigned int order, int preferred_nid,
				    nodemask_t *nodemask,
				    enum pnalloc_zonelist zlsel);
unsigned long pnalloc_alloc_pages_bulk_site(struct pnalloc_tag_site *site,
					    gfp_t gfp, int preferred_nid,
					    nodemask_t *nodemask,
					    unsigned long nr_pages,
					    struct page **page_array);
unsigned long __pnalloc_get_free_pages_site(struct pnalloc_tag_site *site,
					    gfp_t gfp, unsigned int order);
unsigned long pnalloc_get_zeroed_page_site(struct pnalloc_tag_site *site,
					   gfp_t gfp);
void *pnalloc_alloc_pages_exact_site(struct pnalloc_tag_site *site,
				     size_t size, gfp_t gfp);
void *pnalloc_alloc_pages_exact_nid_site(struct pnalloc_tag_site *site,
					 int nid, size_t size, gfp_t gfp);
struct page *pnalloc_alloc_pages_nolock_site(struct pnalloc_tag_site *site,
					     gfp_t gfp, int nid,
					     unsigned int order);
void pnalloc_free_pages_exact(void *virt, size_t size);
void pnalloc_free_pages_nolock(struct page *page, unsigned int order);

#define pnalloc_alloc_pages(...) \
	pnalloc_alloc_pages_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_alloc_pages_node(...) \
	pnalloc_alloc_pages_node_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define __pnalloc_alloc_pages(...) \
	__pnalloc_alloc_pages_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_folio_alloc(...) \
	pnalloc_folio_alloc_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define __pnalloc_folio_alloc(...) \
	__pnalloc_folio_alloc_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define __pnalloc_folio_alloc_node(...) \
	__pnalloc_folio_alloc_node_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define __pnalloc_folio_alloc_zonelist(...) \
	__pnalloc_folio_alloc_zonelist_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_alloc_pages_bulk(...) \
	pnalloc_alloc_pages_bulk_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define __pnalloc_get_free_pages(...) \
	__pnalloc_get_free_pages_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_get_zeroed_page(...) \
	pnalloc_get_zeroed_page_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_alloc_pages_exact(...) \
	pnalloc_alloc_pages_exact_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_alloc_pages_exact_nid(...) \
	pnalloc_alloc_pages_exact_nid_site(PNALLOC_TAG_SITE(), __VA_ARGS__)
#define pnalloc_alloc_pages_nolock(...) \
	pnalloc_alloc_pages_nolock_site(PNALLOC_TAG_SITE(), __VA_ARGS__)

#endif /* _PNALLOC_H */
