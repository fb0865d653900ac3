// SPDX-License-Identifier: GPL-2.0
/*
 * Inline helpers and macros of mm/ made callable from pnalloc's Rust code.
 * Only exported symbols are used here; anything mm/ does not export belongs
 * in the kernel patch series (rust/kernel-patches/), not in this file.
 */
#include <linux/errno.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>

#include "mm_shim.h"

int pnalloc_nr_node_ids(void)
{
	return nr_node_ids;
}

int pnalloc_node_info(int nid, struct pnalloc_node_info *info)
{
	pg_data_t *pgdat;

	if (nid < 0 || nid >= nr_node_ids)
		return -EINVAL;

	*info = (struct pnalloc_node_info) {
		.possible = node_state(nid, N_POSSIBLE),
		.online = node_state(nid, N_ONLINE),
		.has_normal_memory = node_state(nid, N_NORMAL_MEMORY),
		.has_memory = node_state(nid, N_MEMORY),
		.has_cpu = node_state(nid, N_CPU),
	};
	/* NODE_DATA() of a node that never came online may be NULL. */
	pgdat = info->online ? NODE_DATA(nid) : NULL;
	if (pgdat) {
		info->present_pages = pgdat->node_present_pages;
		info->spanned_pages = pgdat->node_spanned_pages;
		info->node_start_pfn = pgdat->node_start_pfn;
	}
	return 0;
}
