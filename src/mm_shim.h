/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of pnalloc's FFI layer: wrappers around inline helpers, macros
 * and callbacks of mm/ that Rust's generated bindings cannot reach. Every
 * function here has a matching declaration in src/mm_sys.rs; keep the two in
 * step. Frames are passed as pfns; struct page stays on this side.
 */
#ifndef PNALLOC_MM_SHIM_H
#define PNALLOC_MM_SHIM_H

#include <linux/spinlock_types.h>
#include <linux/types.h>

/* A snapshot of one NUMA node's state, as /sys/devices/system/node shows it. */
struct pnalloc_node_info {
	u8 possible;
	u8 online;
	u8 has_normal_memory;
	u8 has_memory;
	u8 has_cpu;
	u8 is_private;
	u64 present_pages;
	u64 spanned_pages;
	u64 node_start_pfn;
};

int pnalloc_nr_node_ids(void);
int pnalloc_node_info(int nid, struct pnalloc_node_info *info);
int pnalloc_node_distance(int from, int to);
int pnalloc_numa_node_id(void);

/* Memory blocks: calls @fn(arg, start_pfn, nr_pages, nid, online) for each. */
typedef int (*pnalloc_block_fn)(void *arg, u64 start_pfn, u64 nr_pages,
				int nid, bool online);
int pnalloc_walk_memory_blocks(void *arg, pnalloc_block_fn walk);
u64 pnalloc_block_pages(void);

/* Carving (src/carve.rs) and the memory notifier (src/hotplug.rs). */
int pnalloc_hotplug_init(void);
void pnalloc_hotplug_exit(void);
int pnalloc_fault_init(void);
void pnalloc_fault_exit(void);
bool pnalloc_should_fail_alloc(int nid, unsigned int order);
bool pnalloc_should_fail_nolock(void);
int pnalloc_online_blocks(u64 start_pfn, u64 nr_pages);
int pnalloc_offline_blocks(u64 start_pfn, u64 nr_pages, int nid);
int pnalloc_node_register(int nid);
int pnalloc_node_unregister(int nid);
bool pnalloc_node_registered(int nid);

/* The steps of a memory block of a private node going online or offline. */
enum pnalloc_block_event {
	PNALLOC_GOING_ONLINE,
	PNALLOC_ONLINE,
	PNALLOC_CANCEL_ONLINE,
	PNALLOC_GOING_OFFLINE,
	PNALLOC_CANCEL_OFFLINE,
	PNALLOC_OFFLINE,
};

/* Pages. */
bool pnalloc_prep_alloc(u64 pfn, unsigned int order, u32 gfp,
			bool no_watermarks);
bool pnalloc_try_get_page(u64 pfn);
void pnalloc_get_page(u64 pfn);
void pnalloc_put_page(u64 pfn);
bool pnalloc_init_on_alloc(void);
void pnalloc_free_pages(u64 pfn, unsigned int order);
void pnalloc_folio_put(u64 pfn);
bool pnalloc_page_is_offline(u64 pfn);
int pnalloc_page_count(u64 pfn);
int pnalloc_page_nid(u64 pfn);
void pnalloc_drain_deferred(void);
void pnalloc_deferred_sync(void);

/* Per-CPU memory. */
void __percpu *pnalloc_percpu_alloc(size_t size, size_t align);
void pnalloc_percpu_free(void __percpu *p);
void *pnalloc_per_cpu_ptr(void __percpu *p, int cpu);
void *pnalloc_raw_cpu_ptr(void __percpu *p);
bool pnalloc_pcp_trylock(void __percpu *slots, void **slot);
void pnalloc_pcp_unlock(void *slot);
int pnalloc_nr_cpu_ids(void);
bool pnalloc_cpu_possible(int cpu);

/* The Rust API's and KUnit's view of pages. */
u64 pnalloc_virt_to_pfn(unsigned long addr);
unsigned long pnalloc_pfn_to_virt(u64 pfn);
bool pnalloc_pattern(u64 pfn, unsigned long nr, u64 seed, bool check);
u64 pnalloc_page_to_pfn(struct page *page);
struct page *pnalloc_pfn_to_page(u64 pfn);

/* src/lock.rs */
unsigned long pnalloc_spin_lock_irqsave(spinlock_t *lock);
bool pnalloc_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags);
void pnalloc_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);

/* src/alloc_tag.c */
struct pnalloc_tag_site;
u32 pnalloc_tag_id(struct pnalloc_tag_site *site);
void pnalloc_tag_event(u32 id, int event, u64 bytes);
int pnalloc_alloc_tag_init(void);
void pnalloc_tag_read(u32 id, s64 *bytes, u64 *calls);
void pnalloc_tag_report_hwpoison(u32 id, u64 pfn, u64 head);
bool pnalloc_page_hwpoison(u64 pfn);
void pnalloc_split_page(u64 pfn, unsigned int order);
void pnalloc_alloc_tag_exit(void);

/* Implemented in Rust (src/mm_sys.rs). */
void pnalloc_rust_free(u64 pfn, unsigned int order, int nid, bool hwpoison);
u64 pnalloc_rust_alloc(struct pnalloc_tag_site *site, u32 gfp,
		       unsigned int order, int nid, u64 nodemask,
		       bool has_nodemask, unsigned int alloc_flags, int zlsel);
unsigned long pnalloc_rust_alloc_bulk(struct pnalloc_tag_site *site, u32 gfp,
				     int nid, u64 nodemask, bool has_nodemask,
				     unsigned long nr_pages,
				     struct page **page_array);
void pnalloc_rust_tag_split(u64 pfn, unsigned int order);
void pnalloc_rust_cpu_dead(unsigned int cpu);
int pnalloc_rust_block_event(int event, int nid, u64 start_pfn, u64 nr_pages);
int pnalloc_rust_memory_failure(u64 pfn);

#endif /* PNALLOC_MM_SHIM_H */
