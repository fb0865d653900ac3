/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of pnalloc's FFI layer: wrappers around inline helpers and
 * macros of mm/ that Rust's generated bindings cannot call. Every function
 * here has a matching declaration in src/mm_sys.rs; keep the two in step.
 */
#ifndef PNALLOC_MM_SHIM_H
#define PNALLOC_MM_SHIM_H

#include <linux/types.h>

/* A snapshot of one NUMA node's state, as /sys/devices/system/node shows it. */
struct pnalloc_node_info {
	u8 possible;
	u8 online;
	u8 has_normal_memory;
	u8 has_memory;
	u8 has_cpu;
	u64 present_pages;
	u64 spanned_pages;
	u64 node_start_pfn;
};

int pnalloc_nr_node_ids(void);
int pnalloc_node_info(int nid, struct pnalloc_node_info *info);

#endif /* PNALLOC_MM_SHIM_H */
