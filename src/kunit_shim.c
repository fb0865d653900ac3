// SPDX-License-Identifier: GPL-2.0
/*
 * What pnalloc's KUnit suites read from struct page that no other part of
 * the module needs (built only with CONFIG_KUNIT). Declared in
 * src/mm_sys.rs; pfns are of claimed ranges, as everywhere in the shim.
 */
#include <linux/mm.h>

bool pnalloc_page_is_pfmemalloc(u64 pfn);

/*
 * page_is_pfmemalloc(): prep_new_page() marks a page handed out with
 * ALLOC_NO_WATERMARKS, so that its user (the network stack) knows it came
 * from the reserves.
 */
bool pnalloc_page_is_pfmemalloc(u64 pfn)
{
	return page_is_pfmemalloc(pfn_to_page(pfn));
}
