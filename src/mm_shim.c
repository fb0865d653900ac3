// SPDX-License-Identifier: GPL-2.0
/*
 * Inline helpers, macros and callbacks of mm/ made callable from pnalloc's
 * Rust code. Only symbols exported to modules are used; what mm/ does not
 * export lives in the kernel patch series (rust/kernel-patches/).
 */
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/fault-inject.h>
#include <linux/highmem.h>
#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/llist.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/node_private.h>
#include <linux/nodemask.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/topology.h>


#include "mm_shim.h"
#include "pnalloc.h"

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
		.is_private = node_is_private(nid),
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

int pnalloc_node_distance(int from, int to)
{
	return node_distance(from, to);
}

int pnalloc_numa_node_id(void)
{
	return numa_node_id();
}

struct block_walk {
	void *arg;
	pnalloc_block_fn walk;
};

static int block_cb(struct memory_block *mem, void *arg)
{
	struct block_walk *w = arg;
	unsigned long pfn = section_nr_to_pfn(mem->start_section_nr);

	return w->walk(w->arg, pfn, memory_block_size_bytes() >> PAGE_SHIFT,
		       mem->nid, mem->state == MEM_ONLINE);
}

int pnalloc_walk_memory_blocks(void *arg,
			   int (*walk)(void *, u64, u64, int, bool))
{
	struct block_walk w = { .arg = arg, .walk = walk };

	return for_each_memory_block(&w, block_cb);
}

u64 pnalloc_block_pages(void)
{
	return memory_block_size_bytes() >> PAGE_SHIFT;
}

/*
 * The nodes pnalloc registered as private, changed together with the
 * registration under the device hotplug lock (pnalloc_node_register()).
 */
static nodemask_t pnalloc_nodes;

static bool pnalloc_owns_node(int nid)
{
	return nid >= 0 && nid < MAX_NUMNODES && node_isset(nid, pnalloc_nodes) &&
	       node_is_private(nid);
}

/*
 * Memory onlined into one of pnalloc's nodes, whoever onlines it (a claim,
 * an auto-online policy, the admin through sysfs, ACPI re-onlining after a
 * failed eject): onlining leaves each page PageOffline with refcount 1. It
 * becomes a free frame of pnalloc's: no page type and refcount 0, prepared
 * as __free_pages_core() prepares the buddy's (init_on_free, poisoning,
 * KASAN, debug_pagealloc), so that a speculative get_page_unless_zero()
 * (memory failure, compaction scanners, kpageflags readers) on it fails. The
 * MEM_ONLINE notifier then puts the block on pnalloc's free lists.
 */
static void pnalloc_online_page(struct page *page, unsigned int order)
{
	/*
	 * A chunk that fails the free-time checks was reported by bad_page();
	 * its pages fail the new-page checks too and are never handed out.
	 */
	WARN_ON_ONCE(!node_private_prepare_onlined(page, order));
}

/*
 * Injected failures of a block's MEM_GOING_OFFLINE (debugfs
 * pnalloc/fail_offline, the kernel's fault-injection knobs): a release or
 * an eject that fails half-way, on demand.
 */
static DECLARE_FAULT_ATTR(pnalloc_fail_offline);

/*
 * Poisoned pages of the block going offline, added to the managed count in
 * MEM_GOING_OFFLINE (see there). Offlining is serialised by the memory
 * hotplug lock: one block at a time.
 */
static unsigned long poisoned_going_offline;

/*
 * A block of a private node is pnalloc's exactly while it is online, as a
 * block of an ordinary node is the buddy's. Each step of onlining and
 * offlining goes through here, under the memory hotplug lock:
 *
 * - MEM_GOING_ONLINE: metadata for the block, and a module reference, so
 *   that rmmod is refused while pnalloc has memory;
 * - MEM_ONLINE: the frames (prepared by pnalloc_online_page()) go on the
 *   free lists;
 * - MEM_GOING_OFFLINE: refused (EBUSY) while any page of the block is handed
 *   out; otherwise the block leaves the free lists in one step and its
 *   frozen frames are marked PageOffline, which offline_pages() treats as
 *   free offline pages, as virtio-mem's;
 * - MEM_CANCEL_OFFLINE: the block goes back on the free lists;
 * - MEM_OFFLINE: its metadata and the module reference are dropped.
 *
 * The CANCEL events reach every notifier, also the one that refused: Rust
 * answers whether it had the block pending.
 */
static int pnalloc_memory_cb(struct notifier_block *nb, unsigned long action,
			     void *arg)
{
	struct memory_notify *mn = arg;
	unsigned long pfn, end = mn->start_pfn + mn->nr_pages;
	int nid = pfn_to_nid(mn->start_pfn);
	unsigned long nr_poisoned;
	struct page *page;
	int ret;

	if (!pnalloc_owns_node(nid))
		return NOTIFY_OK;

	switch (action) {
	case MEM_GOING_ONLINE:
		/* Unloading: the memory stays offline. */
		if (!try_module_get(THIS_MODULE))
			return notifier_from_errno(-ENODEV);
		ret = pnalloc_rust_block_event(PNALLOC_GOING_ONLINE, nid,
					       mn->start_pfn, mn->nr_pages);
		if (ret) {
			module_put(THIS_MODULE);
			return notifier_from_errno(ret);
		}
		break;
	case MEM_ONLINE:
		pnalloc_rust_block_event(PNALLOC_ONLINE, nid, mn->start_pfn,
					 mn->nr_pages);
		break;
	case MEM_CANCEL_ONLINE:
		if (pnalloc_rust_block_event(PNALLOC_CANCEL_ONLINE, nid,
					     mn->start_pfn, mn->nr_pages) > 0)
			module_put(THIS_MODULE);
		break;
	case MEM_GOING_OFFLINE:
		if (should_fail(&pnalloc_fail_offline, 1))
			return notifier_from_errno(-EIO);
		pnalloc_drain_deferred();
		ret = pnalloc_rust_block_event(PNALLOC_GOING_OFFLINE, nid,
					       mn->start_pfn, mn->nr_pages);
		if (ret)
			return notifier_from_errno(ret);
		nr_poisoned = 0;
		for (pfn = mn->start_pfn; pfn < end; pfn++) {
			page = pfn_to_page(pfn);
			/* Withdrawn for good; offline_pages() skips it. */
			if (PageHWPoison(page)) {
				nr_poisoned++;
				continue;
			}
			/* MEM_CANCEL_OFFLINE undoes what was done so far. */
			if (WARN_ON_ONCE(page_count(page) || PageOffline(page)))
				return notifier_from_errno(-EBUSY);
			__SetPageOffline(page);
		}
		/*
		 * offline_pages() takes every page that is not PageOffline off
		 * the zone's managed count, as the buddy's poisoned pages are
		 * managed. Ours never were: add them first, so that the count
		 * comes out unchanged.
		 */
		if (nr_poisoned)
			adjust_managed_page_count(pfn_to_page(mn->start_pfn),
						  nr_poisoned);
		poisoned_going_offline = nr_poisoned;
		break;
	case MEM_CANCEL_OFFLINE:
		/* Frames are plain free frames again before they are freed. */
		for (pfn = mn->start_pfn; pfn < end; pfn++) {
			page = pfn_to_page(pfn);
			if (PageOffline(page))
				__ClearPageOffline(page);
		}
		if (poisoned_going_offline)
			adjust_managed_page_count(pfn_to_page(mn->start_pfn),
						  -poisoned_going_offline);
		poisoned_going_offline = 0;
		/* Re-adds the block, poisoned frames withdrawn under the lock. */
		pnalloc_rust_block_event(PNALLOC_CANCEL_OFFLINE, nid,
					 mn->start_pfn, mn->nr_pages);
		break;
	case MEM_OFFLINE:
		poisoned_going_offline = 0;
		if (pnalloc_rust_block_event(PNALLOC_OFFLINE, nid,
					     mn->start_pfn, mn->nr_pages) > 0)
			module_put(THIS_MODULE);
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block pnalloc_memory_nb = {
	.notifier_call = pnalloc_memory_cb,
};

/*
 * A CPU that went away leaves its pcp lists behind: give them back to the
 * zones, as page_alloc_cpu_dead() does for the buddy. Runs on a control
 * CPU after @cpu is dead, so nothing on @cpu can touch its lists.
 */
static enum cpuhp_state pnalloc_cpuhp_state;

static int pnalloc_cpu_dead(unsigned int cpu)
{
	pnalloc_rust_cpu_dead(cpu);
	return 0;
}

int pnalloc_hotplug_init(void)
{
	int ret = register_memory_notifier(&pnalloc_memory_nb);

	if (ret)
		return ret;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "mm/pnalloc:dead",
					NULL, pnalloc_cpu_dead);
	if (ret < 0)
		goto out_notifier;
	pnalloc_cpuhp_state = ret;
	return 0;

out_notifier:
	unregister_memory_notifier(&pnalloc_memory_nb);
	return ret;
}

void pnalloc_hotplug_exit(void)
{
	cpuhp_remove_state_nocalls(pnalloc_cpuhp_state);
	unregister_memory_notifier(&pnalloc_memory_nb);
}

/*
 * Allocation failures on demand, with the kernel's framework: one attribute
 * per node (fail_node<N>: taking a block from that node's zone fails, as
 * if it were empty, so the allocation falls back or returns NULL exactly
 * as a real shortage would) and one for nolock callers (fail_nolock: a
 * trylock that fails, as under contention).
 */
static struct fault_attr pnalloc_fail_node[MAX_NUMNODES];
static DECLARE_FAULT_ATTR(pnalloc_fail_nolock);
static struct dentry *pnalloc_fault_dirs[MAX_NUMNODES + 2];

bool pnalloc_should_fail_alloc(int nid, unsigned int order)
{
	/* should_fail() draws random numbers and may print: not in NMI. */
	if (in_nmi() || nid < 0 || nid >= MAX_NUMNODES)
		return false;
	return should_fail(&pnalloc_fail_node[nid], PAGE_SIZE << order);
}

bool pnalloc_should_fail_nolock(void)
{
	return !in_nmi() && should_fail(&pnalloc_fail_nolock, 1);
}

/* The attributes, in the directory the Rust side created. */
int pnalloc_fault_init(void)
{
	struct dentry *dir = debugfs_lookup("pnalloc", NULL), *d;
	char name[24];
	int nid, n = 0;

	if (IS_ERR_OR_NULL(dir))
		return -ENOENT;
	d = fault_create_debugfs_attr("fail_offline", dir, &pnalloc_fail_offline);
	if (IS_ERR(d))
		goto fail;
	pnalloc_fault_dirs[n++] = d;
	d = fault_create_debugfs_attr("fail_nolock", dir, &pnalloc_fail_nolock);
	if (IS_ERR(d))
		goto fail;
	pnalloc_fault_dirs[n++] = d;
	for (nid = 0; nid < nr_node_ids; nid++) {
		pnalloc_fail_node[nid] = (struct fault_attr)FAULT_ATTR_INITIALIZER;
		snprintf(name, sizeof(name), "fail_node%d", nid);
		d = fault_create_debugfs_attr(name, dir, &pnalloc_fail_node[nid]);
		if (IS_ERR(d))
			goto fail;
		pnalloc_fault_dirs[n++] = d;
	}
	dput(dir);
	return 0;
fail:
	dput(dir);
	pnalloc_fault_exit();
	return PTR_ERR(d);
}

void pnalloc_fault_exit(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(pnalloc_fault_dirs); i++) {
		debugfs_remove(pnalloc_fault_dirs[i]);
		pnalloc_fault_dirs[i] = NULL;
	}
}

struct block_range {
	unsigned long start, end;	/* pfns */
	int nid;			/* NUMA_NO_NODE: any */
	struct memory_block **blocks;
	unsigned int nr, cap;
	bool online;			/* collect the online ones, or the offline */
};

static int collect_block(struct memory_block *mem, void *arg)
{
	struct block_range *r = arg;
	unsigned long pfn = section_nr_to_pfn(mem->start_section_nr);

	if (pfn < r->start || pfn >= r->end ||
	    (r->nid != NUMA_NO_NODE && mem->nid != r->nid) ||
	    (mem->state == MEM_ONLINE) != r->online)
		return 0;
	if (r->nr == r->cap)
		return -ERANGE;
	r->blocks[r->nr++] = mem;
	return 0;
}

/*
 * The memory blocks of [@start_pfn, +@nr_pages) that are online (or
 * offline), in pfn order. Call with the device hotplug lock held: blocks are
 * only added and removed under it.
 */
static int collect_blocks(struct block_range *r, u64 start_pfn, u64 nr_pages,
			  int nid, bool online)
{
	unsigned long block = memory_block_size_bytes() >> PAGE_SHIFT;
	int ret;

	*r = (struct block_range) {
		.start = start_pfn, .end = start_pfn + nr_pages, .nid = nid,
		.cap = DIV_ROUND_UP(nr_pages, block), .online = online,
	};
	r->blocks = kmalloc_array(r->cap, sizeof(*r->blocks), GFP_KERNEL);
	if (!r->blocks)
		return -ENOMEM;
	ret = for_each_memory_block(r, collect_block);
	if (ret)
		kfree(r->blocks);
	return ret;
}

static int block_cmp(const void *a, const void *b)
{
	const struct memory_block *x = *(struct memory_block * const *)a;
	const struct memory_block *y = *(struct memory_block * const *)b;

	return x->start_section_nr < y->start_section_nr ? -1 :
	       x->start_section_nr > y->start_section_nr;
}

/* The online type that puts a block back in the zone it is in now. */
static enum mmop block_online_type(struct memory_block *mem)
{
	struct page *page = pfn_to_online_page(section_nr_to_pfn(mem->start_section_nr));

	return page && page_zonenum(page) == ZONE_MOVABLE ? MMOP_ONLINE_MOVABLE :
							     MMOP_ONLINE_KERNEL;
}

/*
 * Offline and online memory blocks in place, as writing their sysfs "state"
 * file does, all or nothing: a block that cannot change undoes the ones
 * before it, offlined blocks going back to the zone they were in (as
 * offline_and_remove_memory() restores them). Blocks stay bound to the ACPI
 * device that added them, so an eject later goes through the same
 * notifiers.
 */
static int change_blocks(u64 start_pfn, u64 nr_pages, int nid, bool online)
{
	struct block_range r;
	unsigned int i, done;
	u8 *types;
	int ret;

	lock_device_hotplug();
	ret = collect_blocks(&r, start_pfn, nr_pages, nid, !online);
	if (ret)
		goto out_unlock;
	types = kmalloc_array(max(r.nr, 1U), sizeof(*types), GFP_KERNEL);
	if (!types) {
		ret = -ENOMEM;
		goto out_free;
	}
	sort(r.blocks, r.nr, sizeof(*r.blocks), block_cmp, NULL);
	for (done = 0; done < r.nr; done++) {
		struct memory_block *mem = r.blocks[done];

		/* mem->online_type is protected by the device hotplug lock. */
		if (online) {
			mem->online_type = MMOP_ONLINE_KERNEL;
			ret = device_online(&mem->dev);
		} else {
			types[done] = block_online_type(mem);
			ret = device_offline(&mem->dev);
		}
		if (ret < 0)
			break;
		ret = 0;
	}
	if (ret) {
		for (i = 0; i < done; i++) {
			struct memory_block *mem = r.blocks[i];
			int rc;

			if (!online)
				mem->online_type = types[i];
			rc = online ? device_offline(&mem->dev) : device_online(&mem->dev);
			if (rc < 0)
				pr_warn("block at pfn %#llx stays %s: %d\n",
					(u64)section_nr_to_pfn(mem->start_section_nr),
					online ? "online" : "offline", rc);
		}
	}
	kfree(types);
out_free:
	kfree(r.blocks);
out_unlock:
	unlock_device_hotplug();
	return ret;
}

int pnalloc_online_blocks(u64 start_pfn, u64 nr_pages)
{
	return change_blocks(start_pfn, nr_pages, NUMA_NO_NODE, true);
}

int pnalloc_offline_blocks(u64 start_pfn, u64 nr_pages, int nid)
{
	return change_blocks(start_pfn, nr_pages, nid < 0 ? NUMA_NO_NODE : nid,
			     false);
}

/*
 * Frees of our pages, from any context. A nolock free (possibly in NMI)
 * cannot take pnalloc's zone lock: the page waits on a lock-free list until
 * the next locked operation drains it, as 7.3 does with
 * zone->trylock_free_pages.
 */
static LLIST_HEAD(deferred_frees);

static void deferred_work_fn(struct irq_work *work)
{
	pnalloc_drain_deferred();
}

/*
 * Drains soon after a nolock free; irq_work_queue() is NMI-safe. Not a
 * HARD irq_work: it takes spinlock_t locks, which PREEMPT_RT makes sleeping
 * (lockdep's wait-context check says so too).
 */
static struct irq_work deferred_work = IRQ_WORK_INIT(deferred_work_fn);

static void pnalloc_node_free(struct page *page, unsigned int order, bool nolock)
{
	if (nolock) {
		page->private = order;
		llist_add(&page->pcp_llist, &deferred_frees);
		irq_work_queue(&deferred_work);
		return;
	}
	pnalloc_rust_free(page_to_pfn(page), order, page_to_nid(page),
			  PageHWPoison(page));
}

void pnalloc_deferred_sync(void)
{
	irq_work_sync(&deferred_work);
	pnalloc_drain_deferred();
}

void pnalloc_drain_deferred(void)
{
	struct llist_node *list;

	/* The common case: one read, no atomic exchange on a shared line. */
	if (llist_empty(&deferred_frees))
		return;
	list = llist_del_all(&deferred_frees);
	struct page *page, *next;

	llist_for_each_entry_safe(page, next, list, pcp_llist) {
		unsigned int order = page->private;

		page->private = 0;
		pnalloc_rust_free(page_to_pfn(page), order, page_to_nid(page),
				  PageHWPoison(page));
	}
}

/* split_page() of one of our blocks, by us or by whoever holds it. */
static void pnalloc_node_split(struct page *page, unsigned int order)
{
	pnalloc_rust_tag_split(page_to_pfn(page), order);
}

/* memory_failure() on one of our pages; see node::memory_failure(). */
static int pnalloc_node_memory_failure(struct page *page)
{
	return pnalloc_rust_memory_failure(page_to_pfn(page));
}

static const struct node_private_ops pnalloc_node_ops = {
	.online_page = pnalloc_online_page,
	.free_pages = pnalloc_node_free,
	.split_page = pnalloc_node_split,
	.memory_failure = pnalloc_node_memory_failure,
};

/*
 * Registration and pnalloc_nodes change together under the device hotplug
 * lock, which every online and offline of a memory block holds: the memory
 * notifier never sees a node registered to pnalloc but not in the mask, or
 * the reverse (another owner's node in the mask).
 */
int pnalloc_node_register(int nid)
{
	int ret;

	if (nid < 0 || nid >= MAX_NUMNODES)
		return -EINVAL;
	lock_device_hotplug();
	ret = node_private_register(nid, &pnalloc_node_ops);
	if (!ret)
		node_set(nid, pnalloc_nodes);
	unlock_device_hotplug();
	return ret;
}

int pnalloc_node_unregister(int nid)
{
	int ret;

	lock_device_hotplug();
	ret = node_private_unregister(nid, &pnalloc_node_ops);
	if (!ret)
		node_clear(nid, pnalloc_nodes);
	unlock_device_hotplug();
	return ret;
}

bool pnalloc_page_hwpoison(u64 pfn)
{
	return PageHWPoison(pfn_to_page(pfn));
}

bool pnalloc_node_registered(int nid)
{
	return pnalloc_owns_node(nid);
}

static bool prep_new_page_noprof(struct page *page, unsigned int order,
				 gfp_t gfp, bool no_watermarks)
{
	return node_private_prep_new_page(page, order, gfp, no_watermarks);
}

/*
 * The kernel's own allocation tag of the pages: one row in /proc/allocinfo
 * for everything pnalloc hands out (pnalloc's allocinfo has the per-caller
 * rows). post_alloc_hook() needs current->alloc_tag set, as alloc_hooks()
 * sets it for the kernel's entry points.
 */
#define prep_new_page_tagged(...)	alloc_hooks(prep_new_page_noprof(__VA_ARGS__))

/*
 * A block leaves pnalloc exactly as it leaves the buddy: prep_new_page()
 * through the patch, which undoes what __free_pages_prepare() did on free
 * (KASAN, debug_pagealloc, poisoning), zeroes for __GFP_ZERO and
 * init_on_alloc, records page_owner, and sets up the compound page and the
 * first reference. False if the new-page checks found a bad page.
 */
bool pnalloc_prep_alloc(u64 pfn, unsigned int order, u32 gfp,
			bool no_watermarks)
{
	return prep_new_page_tagged(pfn_to_page(pfn), order, (__force gfp_t)gfp,
				    no_watermarks);
}

void pnalloc_free_pages(u64 pfn, unsigned int order)
{
	__free_pages(pfn_to_page(pfn), order);
}

void pnalloc_folio_put(u64 pfn)
{
	folio_put(page_folio(pfn_to_page(pfn)));
}

bool pnalloc_page_is_offline(u64 pfn)
{
	return PageOffline(pfn_to_page(pfn));
}

int pnalloc_page_count(u64 pfn)
{
	return page_count(pfn_to_page(pfn));
}

int pnalloc_page_nid(u64 pfn)
{
	return page_to_nid(pfn_to_page(pfn));
}

/*
 * Speculative reference on a frame, as memory_failure() and the compaction
 * scanners take one: must fail on a free frame. Undone without a free if it
 * succeeded, so that a test can report it and nothing else changes.
 */
bool pnalloc_try_get_page(u64 pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (!get_page_unless_zero(page))
		return false;
	page_ref_dec(page);
	return true;
}

/* Extra references, as a caller sharing a non-compound block takes them. */
void pnalloc_get_page(u64 pfn)
{
	get_page(pfn_to_page(pfn));
}

void pnalloc_put_page(u64 pfn)
{
	put_page(pfn_to_page(pfn));
}

bool pnalloc_init_on_alloc(void)
{
	return want_init_on_alloc(GFP_KERNEL);
}

/* Per-CPU memory (the Rust kernel crate has no per-CPU support yet). */
void __percpu *pnalloc_percpu_alloc(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

void pnalloc_percpu_free(void __percpu *p)
{
	free_percpu(p);
}

void *pnalloc_per_cpu_ptr(void __percpu *p, int cpu)
{
	return per_cpu_ptr(p, cpu);
}

/*
 * This CPU's slot of @p without pinning: for per-CPU atomic counters, where
 * landing on another CPU's slot after a migration is harmless.
 */
void *pnalloc_raw_cpu_ptr(void __percpu *p)
{
	return raw_cpu_ptr(p);
}

/*
 * pcp_spin_trylock() on src/node.rs's per-CPU PcpSlot, whose first member
 * is its spinlock_t: pin the task, find this CPU's slot, trylock it. True
 * with the task pinned and the lock held; false unpinned. Either way
 * *slot is the slot tried, so the caller can count a failure. One call
 * where the pcp fast path used to cross into C five times.
 */
bool pnalloc_pcp_trylock(void __percpu *slots, void **slot)
{
	spinlock_t *lock;

	preempt_disable();
	lock = this_cpu_ptr((spinlock_t __percpu *)slots);
	*slot = lock;
	if (likely(spin_trylock(lock)))
		return true;
	preempt_enable();
	return false;
}

/* pcp_spin_unlock(): undoes a successful pnalloc_pcp_trylock(). */
void pnalloc_pcp_unlock(void *slot)
{
	spin_unlock((spinlock_t *)slot);
	preempt_enable();
}

int pnalloc_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

bool pnalloc_cpu_possible(int cpu)
{
	return cpu_possible(cpu);
}

/*
 * The exported entry points (pnalloc.h). Each one turns its arguments into
 * one call of the Rust allocator, which returns a pfn or PNALLOC_NO_PFN.
 */
#define PNALLOC_NO_PFN	(~0ULL)

static u64 nodemask_bits(const nodemask_t *mask, bool *has)
{
	*has = mask != NULL;
	return mask ? mask->bits[0] : 0;
}

static struct page *alloc_one(struct pnalloc_tag_site *site, gfp_t gfp,
			      unsigned int order, int nid, nodemask_t *nodemask,
			      unsigned int alloc_flags, int zlsel)
{
	bool has_mask;
	u64 bits = nodemask_bits(nodemask, &has_mask);
	u64 pfn = pnalloc_rust_alloc(site, (__force u32)gfp, order, nid, bits,
				     has_mask, alloc_flags, zlsel);

	return pfn == PNALLOC_NO_PFN ? NULL : pfn_to_page(pfn);
}

struct page *__pnalloc_alloc_pages_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order,
				   int preferred_nid, nodemask_t *nodemask,
				   unsigned int alloc_flags)
{
	return alloc_one(site, gfp, order, preferred_nid, nodemask, alloc_flags,
			 PNALLOC_ZONELIST_DEFAULT);
}
EXPORT_SYMBOL_GPL(__pnalloc_alloc_pages_site);

struct page *pnalloc_alloc_pages_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order)
{
	return alloc_one(site, gfp, order, NUMA_NO_NODE, NULL, 0,
			 PNALLOC_ZONELIST_DEFAULT);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_site);

struct page *pnalloc_alloc_pages_node_site(struct pnalloc_tag_site *site, int nid, gfp_t gfp, unsigned int order)
{
	return alloc_one(site, gfp, order, nid, NULL, 0, PNALLOC_ZONELIST_DEFAULT);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_node_site);

struct folio *__pnalloc_folio_alloc_zonelist_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order,
					     int preferred_nid,
					     nodemask_t *nodemask,
					     enum pnalloc_zonelist zlsel)
{
	struct page *page = alloc_one(site, gfp | __GFP_COMP, order, preferred_nid,
				      nodemask, 0, zlsel);

	return page ? page_folio(page) : NULL;
}
EXPORT_SYMBOL_GPL(__pnalloc_folio_alloc_zonelist_site);

struct folio *__pnalloc_folio_alloc_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order,
				    int preferred_nid, nodemask_t *nodemask)
{
	return __pnalloc_folio_alloc_zonelist_site(site, gfp, order, preferred_nid,
						   nodemask, PNALLOC_ZONELIST_DEFAULT);
}
EXPORT_SYMBOL_GPL(__pnalloc_folio_alloc_site);

struct folio *__pnalloc_folio_alloc_node_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order, int nid)
{
	return __pnalloc_folio_alloc_site(site, gfp, order, nid, NULL);
}
EXPORT_SYMBOL_GPL(__pnalloc_folio_alloc_node_site);

struct folio *pnalloc_folio_alloc_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order)
{
	return __pnalloc_folio_alloc_site(site, gfp, order, NUMA_NO_NODE, NULL);
}
EXPORT_SYMBOL_GPL(pnalloc_folio_alloc_site);

/*
 * alloc_pages_bulk(): fills the NULL slots of @page_array with order-0
 * pages, in order, and returns what the kernel's does: the index of the
 * first slot still NULL (@nr_pages if every slot is populated), so that
 * populated slots after a failure are not counted. The batch is taken
 * under one pcp lock, as alloc_pages_bulk_noprof() takes it.
 */
unsigned long pnalloc_alloc_pages_bulk_site(struct pnalloc_tag_site *site, gfp_t gfp, int preferred_nid,
				       nodemask_t *nodemask,
				       unsigned long nr_pages,
				       struct page **page_array)
{
	bool has_mask;
	u64 bits = nodemask_bits(nodemask, &has_mask);

	return pnalloc_rust_alloc_bulk(site, (__force u32)gfp, preferred_nid,
				       bits, has_mask, nr_pages, page_array);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_bulk_site);

unsigned long __pnalloc_get_free_pages_site(struct pnalloc_tag_site *site, gfp_t gfp, unsigned int order)
{
	struct page *page = pnalloc_alloc_pages_site(site, gfp & ~__GFP_HIGHMEM,
						     order);

	return page ? (unsigned long)page_address(page) : 0;
}
EXPORT_SYMBOL_GPL(__pnalloc_get_free_pages_site);

unsigned long pnalloc_get_zeroed_page_site(struct pnalloc_tag_site *site, gfp_t gfp)
{
	return __pnalloc_get_free_pages_site(site, gfp | __GFP_ZERO, 0);
}
EXPORT_SYMBOL_GPL(pnalloc_get_zeroed_page_site);

/* make_alloc_exact(): split, then give the pages beyond @size back. */
static void *alloc_exact(struct pnalloc_tag_site *site, int nid, size_t size,
			 gfp_t gfp)
{
	unsigned int order = get_order(size);
	struct page *page;
	unsigned long addr, used, end;

	if (WARN_ON_ONCE(gfp & (__GFP_COMP | __GFP_HIGHMEM)))
		gfp &= ~(__GFP_COMP | __GFP_HIGHMEM);
	page = alloc_one(site, gfp, order, nid, NULL, 0, PNALLOC_ZONELIST_DEFAULT);
	if (!page)
		return NULL;
	addr = (unsigned long)page_address(page);
	/* Every page now carries the tag (the split hook): they come back one by one. */
	split_page(page, order);
	used = addr + PAGE_ALIGN(size);
	end = addr + (PAGE_SIZE << order);
	for (; used < end; used += PAGE_SIZE)
		free_page(used);
	return (void *)addr;
}

void *pnalloc_alloc_pages_exact_site(struct pnalloc_tag_site *site, size_t size, gfp_t gfp)
{
	return alloc_exact(site, NUMA_NO_NODE, size, gfp);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_exact_site);

void *pnalloc_alloc_pages_exact_nid_site(struct pnalloc_tag_site *site, int nid, size_t size, gfp_t gfp)
{
	return alloc_exact(site, nid, size, gfp);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_exact_nid_site);

/*
 * free_pages_nolock() for callers in other modules: 7.3 exports it to no
 * one, and pnalloc's consumers need the pair of alloc_pages_nolock().
 */
void pnalloc_free_pages_nolock(struct page *page, unsigned int order)
{
	free_pages_nolock(page, order);
}
EXPORT_SYMBOL_GPL(pnalloc_free_pages_nolock);

void pnalloc_free_pages_exact(void *virt, size_t size)
{
	free_pages_exact(virt, size);
}
EXPORT_SYMBOL_GPL(pnalloc_free_pages_exact);

/* For the Rust API and KUnit: what a caller would do with the pages. */
u64 pnalloc_virt_to_pfn(unsigned long addr)
{
	return page_to_pfn(virt_to_page((void *)addr));
}

unsigned long pnalloc_pfn_to_virt(u64 pfn)
{
	return (unsigned long)page_address(pfn_to_page(pfn));
}

/* Fills (or checks) @nr pages from @pfn with a pattern derived from @seed. */
bool pnalloc_pattern(u64 pfn, unsigned long nr, u64 seed, bool check)
{
	unsigned long i, j;

	for (i = 0; i < nr; i++) {
		u64 *p = page_address(pfn_to_page(pfn + i));

		for (j = 0; j < PAGE_SIZE / sizeof(u64); j++) {
			u64 want = seed ? seed ^ ((pfn + i) << 12 | j) : 0;

			if (!check)
				p[j] = want;
			else if (p[j] != want)
				return false;
		}
	}
	return true;
}

u64 pnalloc_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

struct page *pnalloc_pfn_to_page(u64 pfn)
{
	return pfn_to_page(pfn);
}

/* The lock backend of src/lock.rs: irqsave, with trylock for nolock callers. */
unsigned long pnalloc_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

bool pnalloc_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags)
{
	return spin_trylock_irqsave(lock, *flags);
}

void pnalloc_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

/*
 * alloc_pages_nolock() (7.3 contract): any context where RCU is watching,
 * NMI included. The caller may pass only __GFP_ACCOUNT; __GFP_NOWARN,
 * __GFP_ZERO, __GFP_NOMEMALLOC and __GFP_COMP are forced; order at most
 * PAGE_ALLOC_COSTLY_ORDER (no THP in the VM kernel). Only trylocks are taken:
 * contention returns NULL.
 */
struct page *pnalloc_alloc_pages_nolock_site(struct pnalloc_tag_site *site, gfp_t gfp, int nid, unsigned int order)
{
	if ((gfp & ~__GFP_ACCOUNT) || order > PAGE_ALLOC_COSTLY_ORDER)
		return NULL;
	/* As 7.3: an rt_spin_trylock() from hard IRQ or NMI confuses PI. */
	if (IS_ENABLED(CONFIG_PREEMPT_RT) && (in_nmi() || in_hardirq()))
		return NULL;
	gfp |= __GFP_NOWARN | __GFP_ZERO | __GFP_NOMEMALLOC | __GFP_COMP;
	return alloc_one(site, gfp, order, nid, NULL, PNALLOC_ALLOC_NOLOCK,
			 PNALLOC_ZONELIST_DEFAULT);
}
EXPORT_SYMBOL_GPL(pnalloc_alloc_pages_nolock_site);

/* For KUnit: split_page() a block pnalloc handed out, carrying its tag. */
void pnalloc_split_page(u64 pfn, unsigned int order)
{
	split_page(pfn_to_page(pfn), order);
}
