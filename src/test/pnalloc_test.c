// SPDX-License-Identifier: GPL-2.0
/*
 * pnalloc_test: a consumer of pnalloc's exported API and nothing else
 * (src/pnalloc.h and the kernel's own free functions), as lib/test_hmm.c
 * sits beside hmm. It proves the exports are enough for a module of its
 * own, and stresses the allocator from every CPU at once.
 *
 * debugfs pnalloc_test/stress: write "<seed> <ops per CPU>" to run one
 * pinned kthread per online CPU, all started by one barrier, each doing a
 * random mix of every entry point (orders 0-10, random private nodes and
 * nodemasks), writing a pattern into every page of every block and
 * checking it before the block is freed; half the blocks are handed to the
 * next CPU to free. Meanwhile an hrtimer on every CPU allocates and frees
 * with alloc_pages_nolock()/free_pages_nolock() from hardirq context,
 * which contends with the kthread it interrupts, and every fourth expiry
 * sends the next CPU an NMI that does the same there (nolock.c), landing
 * wherever that CPU's kthread is, zone lock held or not. Not a _HARD
 * hrtimer: like the kernel's, pnalloc's locks are spinlock_t, which
 * lockdep's wait context check (and PREEMPT_RT) forbid there; on
 * !PREEMPT_RT an ordinary hrtimer still expires in hardirq context. The
 * write returns when all is done; reading the file prints the results of
 * the last run.
 *
 * debugfs pnalloc_test/test: the selftests' command interface (cmd.c).
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/node_private.h>
#include <linux/nodemask.h>
#include <linux/percpu.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "../pnalloc.h"
#include "pnalloc_test.h"

enum stress_kind {
	K_PAGES, K_NODE, K_NODEMASK, K_FOLIO, K_ZL_DEFAULT, K_ZL_PRIVATE,
	K_BULK, K_EXACT, K_GFP, K_ZEROED, K_NOLOCK, K_SPLIT, NR_KINDS
};

static const char *const kind_names[NR_KINDS] = {
	"pages", "node", "nodemask", "folio", "zonelist_default",
	"zonelist_private", "bulk", "exact", "get_free_pages", "zeroed",
	"nolock", "split_page",
};

/* One block handed out: enough to check and free it the way it came. */
struct stress_blk {
	struct page *page;
	unsigned int order;
	u8 kind;
	u64 seed;
};

#define RING_SLOTS	128
/* Blocks handed from one CPU to the next, freed there. */
struct stress_ring {
	spinlock_t lock;
	unsigned int head, tail;
	struct stress_blk slot[RING_SLOTS];
};

struct stress_cpu {
	struct stress_ring ring;
	struct hrtimer timer;
	struct rnd_state rnd;
	u64 ops, fails, mismatches, handed;
	u64 ops_kind[NR_KINDS];
	u64 timer_tries, timer_ok;
	unsigned int next_cpu;	/* frees what this CPU hands over; gets its NMIs */
	bool timer_on;
	struct task_struct *task;	/* referenced until stress_run() reaps it */
};

static struct stress_cpu __percpu *stress_cpus;
static nodemask_t private_nodes;
static int nr_private;
static DECLARE_COMPLETION(go);
static atomic_t running;
static DECLARE_COMPLETION(all_done);
static bool stop;		/* the writer was killed: finish early */
static DEFINE_MUTEX(stress_lock);
static u64 ops_per_cpu, base_seed;
static u64 last_ms;
static struct dentry *test_dir;

/* The pattern of page @i of a block: seed, pfn and index, so that a page
 * handed out twice or moved shows as a mismatch.
 */
static u64 pattern(u64 seed, unsigned long pfn, unsigned int word)
{
	return seed ^ ((u64)pfn << 12) ^ word;
}

#define WORDS_CHECKED	4

static void fill(struct page *page, unsigned int order, u64 seed)
{
	unsigned long i, pfn = page_to_pfn(page);

	for (i = 0; i < (1UL << order); i++) {
		u64 *p = page_address(page + i);
		unsigned int w;

		for (w = 0; w < WORDS_CHECKED; w++)
			p[w * (PAGE_SIZE / sizeof(u64) / WORDS_CHECKED)] =
				pattern(seed, pfn + i, w);
	}
}

static bool check(struct page *page, unsigned int order, u64 seed)
{
	unsigned long i, pfn = page_to_pfn(page);

	for (i = 0; i < (1UL << order); i++) {
		u64 *p = page_address(page + i);
		unsigned int w;

		for (w = 0; w < WORDS_CHECKED; w++)
			if (p[w * (PAGE_SIZE / sizeof(u64) / WORDS_CHECKED)] !=
			    pattern(seed, pfn + i, w))
				return false;
	}
	return true;
}

static bool is_zero(struct page *page)
{
	return !memchr_inv(page_address(page), 0, PAGE_SIZE);
}

static int random_node(u32 r)
{
	int i = r % nr_private, nid;

	for_each_node_mask(nid, private_nodes)
		if (!i--)
			return nid;
	return first_node(private_nodes);
}

/*
 * Mostly small orders, as real callers ask: 70% order 0, 27% orders 1-3,
 * 2.8% orders 4-8, 0.2% orders 9-10. Every page is zeroed on allocation
 * (init_on_alloc) and unpoisoned by KASAN, so the rare large blocks cost
 * as much as all the small ones under TCG.
 */
static unsigned int random_order(struct rnd_state *rnd, unsigned int max)
{
	u32 r = prandom_u32_state(rnd) % 1000;
	unsigned int order = r < 700 ? 0 : r < 970 ? 1 + r % 3 :
			     r < 998 ? 4 + r % 5 : 9 + r % 2;

	return min(order, max);
}

/* Frees @b the way its entry point pairs with. */
static void stress_free(struct stress_blk *b)
{
	unsigned long i;

	switch (b->kind) {
	case K_FOLIO:
	case K_ZL_DEFAULT:
	case K_ZL_PRIVATE:
		folio_put(page_folio(b->page));
		break;
	case K_EXACT:
		pnalloc_free_pages_exact(page_address(b->page), PAGE_SIZE << b->order);
		break;
	case K_GFP:
	case K_ZEROED:
		free_pages((unsigned long)page_address(b->page), b->order);
		break;
	case K_NOLOCK:
		pnalloc_free_pages_nolock(b->page, b->order);
		break;
	case K_SPLIT:
		/* split_page() made each page a block of its own. */
		for (i = 0; i < (1UL << b->order); i++)
			__free_pages(b->page + i, 0);
		break;
	default:
		__free_pages(b->page, b->order);
	}
}

static void retire(struct stress_cpu *sc, struct stress_blk *b)
{
	if (!check(b->page, b->order, b->seed)) {
		sc->mismatches++;
		pr_err("pattern mismatch: pfn %#lx order %u kind %s\n",
		       page_to_pfn(b->page), b->order, kind_names[b->kind]);
	}
	stress_free(b);
}

/* One random allocation; false if it failed (counted). */
static bool stress_alloc(struct stress_cpu *sc, struct stress_blk *b)
{
	struct rnd_state *rnd = &sc->rnd;
	int nid = random_node(prandom_u32_state(rnd));
	nodemask_t mask = NODE_MASK_NONE;
	struct page *bulk[4] = { NULL };
	struct folio *folio;
	unsigned long addr, n, i;
	int other;

	b->kind = prandom_u32_state(rnd) % NR_KINDS;
	b->order = random_order(rnd, MAX_PAGE_ORDER);
	b->page = NULL;
	node_set(nid, mask);
	for_each_node_mask(other, private_nodes)
		if (prandom_u32_state(rnd) & 1)
			node_set(other, mask);

	switch (b->kind) {
	case K_PAGES:
		b->page = pnalloc_alloc_pages(GFP_KERNEL | __GFP_NOWARN, b->order);
		break;
	case K_NODE:
		b->page = pnalloc_alloc_pages_node(nid, GFP_KERNEL | __GFP_NOWARN, b->order);
		break;
	case K_NODEMASK:
		b->page = __pnalloc_alloc_pages(GFP_KERNEL | __GFP_NOWARN, b->order, nid, &mask, 0);
		break;
	case K_FOLIO:
		folio = __pnalloc_folio_alloc(GFP_KERNEL | __GFP_NOWARN, b->order, nid, &mask);
		b->page = folio ? &folio->page : NULL;
		break;
	case K_ZL_DEFAULT:
	case K_ZL_PRIVATE:
		folio = __pnalloc_folio_alloc_zonelist(GFP_KERNEL | __GFP_NOWARN, b->order, nid, NULL,
						       b->kind == K_ZL_DEFAULT ?
						       PNALLOC_ZONELIST_DEFAULT :
						       PNALLOC_ZONELIST_PRIVATE);
		b->page = folio ? &folio->page : NULL;
		break;
	case K_BULK:
		/* Order-0 pages: the first is the block, the rest freed now. */
		b->order = 0;
		n = pnalloc_alloc_pages_bulk(GFP_KERNEL | __GFP_NOWARN, nid, NULL, ARRAY_SIZE(bulk), bulk);
		for (i = 1; i < n; i++)
			__free_pages(bulk[i], 0);
		b->page = bulk[0];
		break;
	case K_EXACT:
		addr = (unsigned long)pnalloc_alloc_pages_exact_nid(nid, PAGE_SIZE << b->order,
								     GFP_KERNEL | __GFP_NOWARN);
		b->page = addr ? virt_to_page((void *)addr) : NULL;
		break;
	case K_GFP:
		addr = __pnalloc_get_free_pages(GFP_KERNEL | __GFP_NOWARN, b->order);
		b->page = addr ? virt_to_page((void *)addr) : NULL;
		break;
	case K_ZEROED:
		b->order = 0;
		addr = pnalloc_get_zeroed_page(GFP_KERNEL | __GFP_NOWARN);
		b->page = addr ? virt_to_page((void *)addr) : NULL;
		if (b->page && !is_zero(b->page)) {
			sc->mismatches++;
			pr_err("get_zeroed_page: pfn %#lx not zero\n", page_to_pfn(b->page));
		}
		break;
	case K_NOLOCK:
		b->order = min(b->order, (unsigned int)PAGE_ALLOC_COSTLY_ORDER);
		b->page = pnalloc_alloc_pages_nolock(0, nid, b->order);
		break;
	case K_SPLIT:
		b->page = pnalloc_alloc_pages_node(nid, GFP_KERNEL | __GFP_NOWARN, b->order);
		if (b->page)
			split_page(b->page, b->order);
		break;
	}
	sc->ops_kind[b->kind]++;
	if (!b->page) {
		sc->fails++;
		return false;
	}
	b->seed = prandom_u32_state(rnd) | ((u64)prandom_u32_state(rnd) << 32);
	fill(b->page, b->order, b->seed);
	return true;
}

static bool ring_push(struct stress_ring *r, struct stress_blk *b)
{
	bool ok;

	spin_lock(&r->lock);
	ok = r->head - r->tail < RING_SLOTS;
	if (ok)
		r->slot[r->head++ % RING_SLOTS] = *b;
	spin_unlock(&r->lock);
	return ok;
}

static bool ring_pop(struct stress_ring *r, struct stress_blk *b)
{
	bool ok;

	spin_lock(&r->lock);
	ok = r->head != r->tail;
	if (ok)
		*b = r->slot[r->tail++ % RING_SLOTS];
	spin_unlock(&r->lock);
	return ok;
}

/* hardirq: one nolock allocation and free, contending with the task below. */
static enum hrtimer_restart stress_timer_fn(struct hrtimer *t)
{
	struct stress_cpu *sc = container_of(t, struct stress_cpu, timer);
	struct page *page;

	sc->timer_tries++;
	/* Not sc->rnd: the task this interrupts may be in the middle of it. */
	page = pnalloc_alloc_pages_nolock(0, random_node(get_random_u32()), 0);
	if (page) {
		sc->timer_ok++;
		pnalloc_free_pages_nolock(page, 0);
	}
	/* An NMI for the next CPU, whatever it is doing, at most one in flight. */
	if (!(sc->timer_tries & 3))
		pnt_nmi_kick(sc->next_cpu, random_node(get_random_u32()),
			     get_random_u32_below(PAGE_ALLOC_COSTLY_ORDER + 1));
	if (!READ_ONCE(sc->timer_on))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(NSEC_PER_MSEC));
	return HRTIMER_RESTART;
}

static int stress_thread(void *arg)
{
	unsigned int cpu = (unsigned long)arg, next;
	struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);
	struct stress_blk b;
	u64 i;

	next = cpumask_next(cpu, cpu_online_mask);
	if (next >= nr_cpu_ids)
		next = cpumask_first(cpu_online_mask);
	sc->next_cpu = next;
	/* Everyone starts together. */
	wait_for_completion(&go);
	WRITE_ONCE(sc->timer_on, true);
	hrtimer_start(&sc->timer, ns_to_ktime(NSEC_PER_MSEC),
		      HRTIMER_MODE_REL_PINNED);

	for (i = 0; i < ops_per_cpu && !READ_ONCE(stop); i++) {
		if (stress_alloc(sc, &b)) {
			/* Half of them go to the next CPU, the rest freed here. */
			if ((prandom_u32_state(&sc->rnd) & 1) &&
			    ring_push(&per_cpu_ptr(stress_cpus, next)->ring, &b))
				sc->handed++;
			else
				retire(sc, &b);
		}
		if (ring_pop(&sc->ring, &b))
			retire(sc, &b);
		sc->ops++;
		if (!(i & 255))
			cond_resched();
	}
	WRITE_ONCE(sc->timer_on, false);
	hrtimer_cancel(&sc->timer);
	if (atomic_dec_and_test(&running))
		complete(&all_done);
	/* stress_run() reaps us with kthread_stop(), so the module stays. */
	return 0;
}

static int stress_run(u64 seed, u64 ops)
{
	struct task_struct *t;
	struct stress_blk b;
	unsigned int cpu, n = 0;
	int nid;
	u64 start;

	nodes_clear(private_nodes);
	for_each_node(nid)
		if (node_is_private(nid))
			node_set(nid, private_nodes);
	nr_private = nodes_weight(private_nodes);
	if (!nr_private)
		return -ENODEV;

	cpus_read_lock();
	ops_per_cpu = ops;
	base_seed = seed;
	WRITE_ONCE(stop, false);
	atomic_set(&running, 1);	/* our own, dropped once all are started */
	reinit_completion(&go);
	reinit_completion(&all_done);
	for_each_online_cpu(cpu) {
		struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);

		memset(&sc->ops, 0, offsetof(struct stress_cpu, task) -
				    offsetof(struct stress_cpu, ops));
		prandom_seed_state(&sc->rnd, seed + cpu);
		sc->ring.head = sc->ring.tail = 0;
		sc->task = NULL;
	}
	pnt_nmi_reset();
	start = ktime_get_ns();
	for_each_online_cpu(cpu) {
		t = kthread_run_on_cpu(stress_thread, (void *)(unsigned long)cpu,
				       cpu, "pnalloc_stress/%u");
		if (IS_ERR(t))
			continue;
		atomic_inc(&running);
		/* It waits for go, so it cannot have exited yet. */
		get_task_struct(t);
		per_cpu_ptr(stress_cpus, cpu)->task = t;
		n++;
	}
	complete_all(&go);
	if (!atomic_dec_and_test(&running) &&
	    wait_for_completion_killable(&all_done))
		WRITE_ONCE(stop, true);	/* killed: cut the runs short */
	/* kthread_stop() returns once each thread has left our code. */
	for_each_online_cpu(cpu) {
		struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);

		if (!sc->task)
			continue;
		kthread_stop_put(sc->task);
		sc->task = NULL;
	}
	/* What is still handed over is freed here, checked. */
	for_each_online_cpu(cpu) {
		struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);

		while (ring_pop(&sc->ring, &b))
			retire(sc, &b);
	}
	cpus_read_unlock();
	last_ms = (ktime_get_ns() - start) / NSEC_PER_MSEC;
	return n ? 0 : -ECHILD;
}

static int stress_show(struct seq_file *m, void *v)
{
	u64 ops = 0, fails = 0, mism = 0, handed = 0, tt = 0, tok = 0;
	u64 nt = 0, nok = 0, t, ok;
	u64 kinds[NR_KINDS] = { 0 };
	unsigned int cpu, k;

	mutex_lock(&stress_lock);
	for_each_possible_cpu(cpu) {
		struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);

		ops += sc->ops;
		fails += sc->fails;
		mism += sc->mismatches;
		handed += sc->handed;
		tt += sc->timer_tries;
		tok += sc->timer_ok;
		pnt_nmi_counts(cpu, &t, &ok);
		nt += t;
		nok += ok;
		for (k = 0; k < NR_KINDS; k++)
			kinds[k] += sc->ops_kind[k];
	}
	seq_printf(m, "seed %llu ops %llu alloc_failures %llu mismatches %llu handed_to_other_cpu %llu ms %llu\n",
		   base_seed, ops, fails, mism, handed, last_ms);
	seq_printf(m, "hardirq_nolock tries %llu ok %llu\n", tt, tok);
	seq_printf(m, "nmi_nolock tries %llu ok %llu\n", nt, nok);
	for (k = 0; k < NR_KINDS; k++)
		seq_printf(m, "kind %s %llu\n", kind_names[k], kinds[k]);
	mutex_unlock(&stress_lock);
	return 0;
}

static int stress_open(struct inode *inode, struct file *file)
{
	return single_open(file, stress_show, NULL);
}

static ssize_t stress_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char buf[64], *w[2];
	u64 seed, ops;
	int n, ret;

	n = pnt_read_words(ubuf, len, buf, sizeof(buf), w, ARRAY_SIZE(w));
	if (n < 0)
		return n;
	if (n != 2)
		return -EINVAL;
	ret = pnt_parse_u64(w[0], &seed) ?: pnt_parse_u64(w[1], &ops);
	if (ret)
		return ret;
	if (!ops || ops > 100000000)
		return -ERANGE;
	if (!mutex_trylock(&stress_lock))
		return -EBUSY;
	ret = stress_run(seed, ops);
	mutex_unlock(&stress_lock);
	return ret ?: len;
}

static const struct file_operations stress_fops = {
	.owner = THIS_MODULE,
	.open = stress_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = stress_write,
};

static int __init pnalloc_test_init(void)
{
	unsigned int cpu;
	int ret;

	stress_cpus = alloc_percpu(struct stress_cpu);
	if (!stress_cpus)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct stress_cpu *sc = per_cpu_ptr(stress_cpus, cpu);

		spin_lock_init(&sc->ring.lock);
		hrtimer_setup(&sc->timer, stress_timer_fn, CLOCK_MONOTONIC,
			      HRTIMER_MODE_REL_PINNED);
	}
	ret = pnt_nolock_init();
	if (ret) {
		free_percpu(stress_cpus);
		return ret;
	}
	test_dir = debugfs_create_dir("pnalloc_test", NULL);
	debugfs_create_file("stress", 0600, test_dir, NULL, &stress_fops);
	pnt_cmd_init(test_dir);
	return 0;
}

static void __exit pnalloc_test_exit(void)
{
	/* No writer is left once the files are gone. */
	debugfs_remove(test_dir);
	pnt_cmd_exit();
	pnt_nolock_exit();
	free_percpu(stress_cpus);
}

module_init(pnalloc_test_init);
module_exit(pnalloc_test_exit);
MODULE_DESCRIPTION("Stress and API test of pnalloc, from its exported API only");
MODULE_LICENSE("GPL");
