// SPDX-License-Identifier: GPL-2.0
/*
 * pnalloc_bench: pnalloc against the kernel's own allocator, side by side
 * in one boot, through the public APIs only (src/pnalloc.h for one side,
 * include/linux/gfp.h for the other), as a module of its own.
 *
 * The two sides get the same memory: pnalloc a private node, the kernel an
 * equal DIMM node onlined to ZONE_NORMAL, both asked with __GFP_THISNODE,
 * both pre-touched ("touch"). Each measurement runs pinned kthreads, one per
 * CPU up to the thread count, released by one barrier; every run has a
 * warm-up round first, then <reps> rounds with the sides interleaved
 * A B B A ... so that drift charges both alike. Failed allocations are
 * counted apart, never as operations.
 *
 * debugfs pnalloc_bench/run, write:
 *   touch <pn nid> <kernel nid>
 *   repeat <pn nid> <kernel nid> <threads> <reps> <order> <iters>
 *       LAB repeat (page_bench01): alloc+free one block, <iters> times
 *   bulk <pn nid> <kernel nid> <threads> <reps> <order> <blocks>
 *       LAB bulk: each thread allocates <blocks>, then frees them FIFO
 *   rand <pn nid> <kernel nid> <threads> <reps> <order> <blocks>
 *       LAB rand: as bulk, then the blocks of all threads are shuffled and
 *       each thread frees an equal share of them
 *   bulkapi <pn nid> <kernel nid> <threads> <reps> <batch> <iters>
 *       page_bench04: alloc_pages_bulk() of <batch> pages, freed one by one
 *   nolock <pn nid> <kernel nid> <threads> <reps> <order> <iters>
 *       alloc_pages_nolock()+free_pages_nolock() latency from task
 *       context on CPU 0; with 2 threads CPU 1 runs "repeat" on the same
 *       node meanwhile (contended)
 *   nolockirq <pn nid> <kernel nid> <threads> <reps> <order> <iters>
 *       the same pairs from an hrtimer callback (hardirq) on CPU 0, one
 *       every 20 us, timed inside the callback
 *   frag <pn nid> <kernel nid> <iterations>
 *       LAB frag, order 0, one thread: fill the node, free a random 10%
 *       (about 90% full), free a random half of the rest, then each
 *       iteration frees a random 10% of the pages held and allocates as
 *       many again; one row per iteration with the 2 MiB frames of the
 *       node that hold none of the pages (the frames a THP could use)
 *   frag <pn nid> <kernel nid> <iterations> hold
 *       the same, but pnalloc's side keeps its pages at the end, so that
 *       pnalloc/pageblocks shows the node as LAB-frag left it; every
 *       command but clear is -EBUSY until then
 *   clear (the rows, and the pages a "frag ... hold" kept)
 * read: one CSV row per side and round,
 *   side,workload,order,x,iteration,allocs,get_min,get_avg,get_max,put_min,put_avg,put_max
 * (linux-alloc-bench's columns after the first two; x is the thread count
 * or the batch; times are ns per operation, min/avg/max over the threads).
 * For repeat, get is the alloc+free pair and put is 0. For nolock the six
 * times are p50,p95,p99,max,tries,0 (ns, ns, ns, ns, count) and allocs the
 * successes. For frag: allocs is the pages held, the times are the fully
 * free 2 MiB frames, the frames of the node, and their share in 1/10000.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/bitmap.h>
#include <linux/cpu.h>
#include <linux/ctype.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/node_private.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>

#include "../pnalloc.h"

#define BENCH_GFP	(GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN | __GFP_NORETRY)
#define MAX_THREADS	8
#define MAX_ROWS	8192
/* nolock rows keep their whole latency distribution: every percentile. */
#define MAX_CDF		256
#define CDF_POINTS	101
#define MAX_BATCH	512
#define MAX_BLOCKS	(1UL << 20)
#define FRAME_ORDER	(PMD_SHIFT - PAGE_SHIFT)	/* a 2 MiB frame on x86 */

enum side { PN, KERN, NR_SIDES };
static const char *const side_names[NR_SIDES] = { "pnalloc", "kernel" };

enum workload {
	W_REPEAT, W_BULK, W_RAND, W_BULKAPI, W_NOLOCK, W_NOLOCK_IRQ, W_FRAG, NR_WORKLOADS
};
static const char *const workload_names[NR_WORKLOADS] = {
	"repeat", "bulk", "rand", "bulkapi", "nolock", "nolockirq", "frag",
};

struct row {
	u8 side, workload;
	u16 order, x;
	s16 iteration;
	u16 cdf;		/* 1 + index into cdfs, or 0 */
	u64 allocs;
	u64 t[6];
};

static struct row *rows;
static unsigned int nr_rows;
static u32 (*cdfs)[CDF_POINTS];
static unsigned int nr_cdfs;
/* What "frag ... hold" kept of pnalloc's side, until "clear". */
static struct page **frag_kept;
static unsigned long nr_frag_kept;
static DEFINE_MUTEX(bench_lock);
static struct dentry *bench_dir;

/* One measurement: what every thread of it needs. */
struct run {
	enum workload w;
	enum side side;
	int nid;
	unsigned int threads, order;
	unsigned long n;		/* iterations, blocks or tries per thread */
	unsigned int batch;
	atomic_t ready;
	struct completion go;
	/* rand: every thread's blocks, shuffled between the two phases */
	struct page **all;
	atomic_t phase_in;
	struct completion shuffled;
	/* per thread */
	u64 get_ns[MAX_THREADS], put_ns[MAX_THREADS], ok[MAX_THREADS];
	u64 fails[MAX_THREADS];
	u32 *lat;			/* nolock: per-try latency */
	bool stop;			/* nolock: ends thread 1's repeat */
	/* nolockirq: the hrtimer, its next try, and its end */
	struct hrtimer timer;
	unsigned long irq_i;
	struct completion irq_done;
	bool abort;			/* the writer was killed: stop early */
	atomic_t left;			/* threads still measuring */
	struct completion done;
};

static struct page *side_alloc(enum side s, int nid, unsigned int order)
{
	if (s == PN)
		return pnalloc_alloc_pages_node(nid, BENCH_GFP, order);
	return alloc_pages_node(nid, BENCH_GFP, order);
}

static unsigned long side_bulk(enum side s, int nid, unsigned long nr,
			       struct page **pages)
{
	nodemask_t mask = NODE_MASK_NONE;

	if (s == PN) {
		node_set(nid, mask);
		return pnalloc_alloc_pages_bulk(BENCH_GFP, nid, &mask, nr, pages);
	}
	return alloc_pages_bulk_node(BENCH_GFP, nid, nr, pages);
}

static struct page *side_alloc_nolock(enum side s, int nid, unsigned int order)
{
	struct page *p;

	if (s == PN)
		return pnalloc_alloc_pages_nolock(0, nid, order);
	/*
	 * alloc_pages_nolock() takes no __GFP_THISNODE and falls back to
	 * other nodes: a page from elsewhere counts as a failure.
	 */
	p = alloc_pages_nolock(0, nid, order);
	if (p && page_to_nid(p) != nid) {
		pnalloc_free_pages_nolock(p, order);
		p = NULL;
	}
	return p;
}

static void thread_repeat(struct run *r, unsigned int t)
{
	unsigned long i, ok = 0;
	u64 t0 = ktime_get_ns();

	for (i = 0; i < r->n && !READ_ONCE(r->abort); i++) {
		struct page *p = side_alloc(r->side, r->nid, r->order);

		if (!p) {
			r->fails[t]++;
			continue;
		}
		__free_pages(p, r->order);
		ok++;
	}
	r->get_ns[t] = ktime_get_ns() - t0;
	r->ok[t] = ok;
}

/* bulk and rand: allocate into @pages (n slots), return how many. */
static unsigned long fill(struct run *r, unsigned int t, struct page **pages)
{
	unsigned long i, ok = 0;
	u64 t0 = ktime_get_ns();

	for (i = 0; i < r->n && !READ_ONCE(r->abort); i++) {
		pages[i] = side_alloc(r->side, r->nid, r->order);
		if (pages[i])
			ok++;
		else
			r->fails[t]++;
	}
	r->get_ns[t] = ktime_get_ns() - t0;
	r->ok[t] = ok;
	/* Cut short: the rest still holds the last round's pages, freed then. */
	memset(pages + i, 0, (r->n - i) * sizeof(*pages));
	return ok;
}

static void free_slice(struct run *r, unsigned int t, struct page **pages,
		       unsigned long n)
{
	unsigned long i;
	u64 t0 = ktime_get_ns();

	for (i = 0; i < n; i++)
		if (pages[i])
			__free_pages(pages[i], r->order);
	r->put_ns[t] = ktime_get_ns() - t0;
}

static void thread_bulkapi(struct run *r, unsigned int t)
{
	struct page **pages = kmalloc_array(r->batch, sizeof(*pages), GFP_KERNEL);
	unsigned long i, j, got, ok = 0;
	u64 get = 0, put = 0, t0, t1;

	if (!pages) {
		r->fails[t] = r->n * r->batch;
		return;
	}
	for (i = 0; i < r->n && !READ_ONCE(r->abort); i++) {
		memset(pages, 0, sizeof(pages[0]) * r->batch);
		t0 = ktime_get_ns();
		got = side_bulk(r->side, r->nid, r->batch, pages);
		t1 = ktime_get_ns();
		for (j = 0; j < got; j++)
			__free_page(pages[j]);
		put += ktime_get_ns() - t1;
		get += t1 - t0;
		ok += got;
		r->fails[t] += r->batch - got;
	}
	r->get_ns[t] = get;
	r->put_ns[t] = put;
	r->ok[t] = ok;
	kfree(pages);
}

static bool is_nolock(enum workload w)
{
	return w == W_NOLOCK || w == W_NOLOCK_IRQ;
}

/* One timed nolock pair, from task or hardirq context; true if it got a page. */
static bool nolock_try(struct run *r, unsigned long i)
{
	u64 t0 = ktime_get_ns();
	struct page *p = side_alloc_nolock(r->side, r->nid, r->order);

	/* Both sides: pnalloc's export is free_pages_nolock() itself (7.3 exports that to pnalloc only). */
	if (p)
		pnalloc_free_pages_nolock(p, r->order);
	r->lat[i] = min_t(u64, ktime_get_ns() - t0, U32_MAX);
	return p;
}

/* hardirq (an ordinary hrtimer expires in hardirq context on !PREEMPT_RT) */
static enum hrtimer_restart nolock_timer_fn(struct hrtimer *timer)
{
	struct run *r = container_of(timer, struct run, timer);

	if (r->irq_i >= r->n || READ_ONCE(r->abort)) {
		complete(&r->irq_done);
		return HRTIMER_NORESTART;
	}
	if (nolock_try(r, r->irq_i))
		r->ok[0]++;
	else
		r->fails[0]++;
	r->irq_i++;
	hrtimer_forward_now(timer, ns_to_ktime(20 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void thread_nolock(struct run *r, unsigned int t)
{
	unsigned long i, ok = 0;

	if (t) {
		/* the contender: plain allocations on the same node meanwhile */
		while (!READ_ONCE(r->stop) && !READ_ONCE(r->abort)) {
			struct page *p = side_alloc(r->side, r->nid, r->order);

			if (p)
				__free_pages(p, r->order);
			cond_resched();
		}
		return;
	}
	if (r->w == W_NOLOCK_IRQ) {
		/* Thread 0 is pinned to CPU 0: so is the timer it starts. */
		r->irq_i = 0;
		reinit_completion(&r->irq_done);
		hrtimer_start(&r->timer, ns_to_ktime(20 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_PINNED);
		wait_for_completion(&r->irq_done);
		hrtimer_cancel(&r->timer);
		WRITE_ONCE(r->stop, true);
		return;
	}
	for (i = 0; i < r->n && !READ_ONCE(r->abort); i++) {
		if (nolock_try(r, i))
			ok++;
		else
			r->fails[t]++;
	}
	r->ok[t] = ok;
	WRITE_ONCE(r->stop, true);
}

/*
 * Fisher-Yates. The index is drawn once: swap() is a macro that would
 * evaluate a random index twice and leave a page in two slots.
 */
static void shuffle_pages(struct page **pages, unsigned long n)
{
	unsigned long i, j;

	for (i = n; i > 1; i--) {
		j = get_random_u32_below(i);
		swap(pages[i - 1], pages[j]);
	}
}

struct thread_arg {
	struct run *r;
	unsigned int t;
};

static int bench_thread(void *data)
{
	struct thread_arg *a = data;
	struct run *r = a->r;
	unsigned int t = a->t;
	unsigned long per;

	atomic_inc(&r->ready);
	wait_for_completion(&r->go);
	switch (r->w) {
	case W_REPEAT:
		thread_repeat(r, t);
		break;
	case W_BULK:
		per = r->n;
		fill(r, t, r->all + t * per);
		free_slice(r, t, r->all + t * per, per);
		break;
	case W_RAND:
		per = r->n;
		fill(r, t, r->all + t * per);
		/* the last thread in shuffles everything, then all free */
		if (atomic_inc_return(&r->phase_in) == r->threads) {
			shuffle_pages(r->all, per * r->threads);
			complete_all(&r->shuffled);
		}
		wait_for_completion(&r->shuffled);
		free_slice(r, t, r->all + t * per, per);
		break;
	case W_BULKAPI:
		thread_bulkapi(r, t);
		break;
	case W_NOLOCK:
	case W_NOLOCK_IRQ:
		thread_nolock(r, t);
		break;
	default:
		break;
	}
	if (atomic_dec_and_test(&r->left))
		complete(&r->done);
	/* run_once() reaps us with kthread_stop(), so the module stays. */
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

static void add_row(struct run *r, int iteration)
{
	struct row *row;
	unsigned int t;
	u64 gmin = U64_MAX, gmax = 0, gsum = 0, pmin = U64_MAX, pmax = 0, psum = 0;
	u64 ok = 0;

	if (iteration < 0 || nr_rows >= MAX_ROWS)
		return;
	row = &rows[nr_rows++];
	row->side = r->side;
	row->workload = r->w;
	row->order = r->w == W_BULKAPI ? 0 : r->order;
	row->x = r->w == W_BULKAPI ? r->batch : r->threads;
	row->iteration = iteration;
	row->cdf = 0;
	if (is_nolock(r->w)) {
		unsigned long n = r->n;

		sort(r->lat, n, sizeof(u32), cmp_u32, NULL);
		row->allocs = r->ok[0];
		row->t[0] = r->lat[n / 2];
		row->t[1] = r->lat[n * 95 / 100];
		row->t[2] = r->lat[n * 99 / 100];
		row->t[3] = r->lat[n - 1];
		row->t[4] = n;
		row->t[5] = 0;
		if (nr_cdfs < MAX_CDF) {
			for (t = 0; t < CDF_POINTS; t++) {
				u64 at = n * t / (CDF_POINTS - 1);

				cdfs[nr_cdfs][t] = r->lat[min_t(u64, at, n - 1)];
			}
			row->cdf = ++nr_cdfs;
		}
		return;
	}
	for (t = 0; t < r->threads; t++) {
		u64 g = r->ok[t] ? r->get_ns[t] / r->ok[t] : 0;
		u64 p = r->ok[t] ? r->put_ns[t] / r->ok[t] : 0;

		ok += r->ok[t];
		gmin = min(gmin, g);
		gmax = max(gmax, g);
		gsum += g;
		pmin = min(pmin, p);
		pmax = max(pmax, p);
		psum += p;
	}
	row->allocs = ok;
	row->t[0] = gmin;
	row->t[1] = gsum / r->threads;
	row->t[2] = gmax;
	row->t[3] = pmin;
	row->t[4] = psum / r->threads;
	row->t[5] = pmax;
}

/* One round of one side: start the threads, wait, record. */
static int run_once(struct run *r, int iteration)
{
	struct task_struct *tasks[MAX_THREADS];
	struct thread_arg args[MAX_THREADS];
	unsigned int t, started;
	u64 fails = 0;
	int ret = 0;

	atomic_set(&r->ready, 0);
	atomic_set(&r->phase_in, 0);
	atomic_set(&r->left, 1);	/* ours, dropped once all are started */
	init_completion(&r->go);
	init_completion(&r->shuffled);
	init_completion(&r->done);
	r->stop = false;
	r->abort = false;
	memset(r->get_ns, 0, sizeof(r->get_ns));
	memset(r->put_ns, 0, sizeof(r->put_ns));
	memset(r->ok, 0, sizeof(r->ok));
	memset(r->fails, 0, sizeof(r->fails));
	/* Thread t runs on CPU t: they stay online until we are done. */
	cpus_read_lock();
	for (started = 0; started < r->threads; started++) {
		struct task_struct *k = NULL;

		if (!cpu_online(started)) {
			ret = -ERANGE;
		} else {
			args[started].r = r;
			args[started].t = started;
			k = kthread_run_on_cpu(bench_thread, &args[started], started,
					       "pnalloc_bench/%u");
			ret = PTR_ERR_OR_ZERO(k);
		}
		if (ret) {
			/* the threads started so far run with a count they can finish */
			r->threads = started;
			break;
		}
		atomic_inc(&r->left);
		/* It waits for go, so it cannot have exited yet. */
		get_task_struct(k);
		tasks[started] = k;
	}
	while (atomic_read(&r->ready) < started)
		usleep_range(100, 200);
	complete_all(&r->go);
	if (!atomic_dec_and_test(&r->left) && wait_for_completion_killable(&r->done)) {
		WRITE_ONCE(r->abort, true);
		ret = -EINTR;
	}
	/* Each returns once its thread has left our code; args[] lives until then. */
	for (t = 0; t < started; t++)
		kthread_stop_put(tasks[t]);
	cpus_read_unlock();
	if (ret)
		return ret;
	/*
	 * A failed allocation took time that no operation accounts for: the
	 * round is refused rather than measured (nolock reports its rate).
	 */
	for (t = 0; t < r->threads; t++)
		fails += r->fails[t];
	if (fails && !is_nolock(r->w)) {
		pr_warn("pnalloc_bench: %s %s order %u: %llu failed allocations\n",
			workload_names[r->w], side_names[r->side], r->order, fails);
		return -ENOMEM;
	}
	add_row(r, iteration);
	return 0;
}

/* Every free page of each side's node written once, then given back. */
static int touch(int nids[NR_SIDES])
{
	struct page **pages;
	unsigned long n, i;
	enum side s;
	int ret = 0;

	pages = vmalloc_array(MAX_BLOCKS, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	for (s = 0; s < NR_SIDES && !ret; s++) {
		for (n = 0; n < MAX_BLOCKS; n++) {
			pages[n] = side_alloc(s, nids[s], 0);
			if (!pages[n])
				break;
			memset(page_address(pages[n]), 0x5a, PAGE_SIZE);
			if (!(n & 1023))
				cond_resched();
		}
		for (i = 0; i < n; i++)
			__free_page(pages[i]);
		pr_info("pnalloc_bench: touched %lu pages of node %d (%s)\n", n,
			nids[s], side_names[s]);
		/* A node bigger than the array would be touched in part. */
		if (n == MAX_BLOCKS)
			ret = -E2BIG;
	}
	vfree(pages);
	return ret;
}

static int bench(enum workload w, int nids[NR_SIDES], unsigned int threads,
		 unsigned int reps, unsigned int arg, unsigned long n)
{
	struct run *r;
	int rep, ret = 0;

	r = kzalloc_obj(*r);
	if (!r)
		return -ENOMEM;
	r->w = w;
	r->threads = threads;
	r->n = n;
	if (w == W_BULKAPI)
		r->batch = arg;
	else
		r->order = arg;
	if (w == W_BULK || w == W_RAND) {
		r->all = vzalloc(array_size(n * threads, sizeof(*r->all)));
		if (!r->all)
			ret = -ENOMEM;
	}
	hrtimer_setup(&r->timer, nolock_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	init_completion(&r->irq_done);
	if (is_nolock(w)) {
		r->lat = vmalloc_array(n, sizeof(*r->lat));
		if (!r->lat)
			ret = -ENOMEM;
	}
	/* rep -1 is the warm-up; the sides go A B B A A B ... */
	for (rep = -1; !ret && rep < (int)reps; rep++) {
		int k;

		for (k = 0; k < NR_SIDES && !ret; k++) {
			int idx = (rep + 1) * NR_SIDES + k;

			r->side = ((idx + 1) / 2) % 2 ? KERN : PN;
			r->nid = nids[r->side];
			ret = run_once(r, rep);
		}
	}
	vfree(r->all);
	vfree(r->lat);
	kfree(r);
	return ret;
}


/* Allocates into pages[held..want); returns the new count held. */
static unsigned long frag_alloc(enum side s, int nid, struct page **pages,
				unsigned long held, unsigned long want)
{
	while (held < want) {
		struct page *p = side_alloc(s, nid, 0);

		if (!p)
			break;
		pages[held++] = p;
		if (!(held & 1023))
			cond_resched();
	}
	return held;
}

/* Frees the last @n of pages[0..held) (pages is kept shuffled). */
static unsigned long frag_free(struct page **pages, unsigned long held,
			       unsigned long n)
{
	while (n-- && held)
		__free_page(pages[--held]);
	return held;
}

/* The 2 MiB frames the node's pages span, found from the pages at full. */
struct frames {
	unsigned long start_pfn, nr;
	unsigned long *used;
};

static void frag_row(enum side s, struct page **pages, unsigned long held,
		     struct frames *fr, int iteration)
{
	unsigned long frames = fr->nr, *used = fr->used, i, free_frames;
	struct row *row;

	bitmap_zero(used, frames);
	for (i = 0; i < held; i++) {
		unsigned long f = (page_to_pfn(pages[i]) - fr->start_pfn) >> FRAME_ORDER;

		if (f < frames)
			__set_bit(f, used);
	}
	free_frames = frames - bitmap_weight(used, frames);
	if (nr_rows >= MAX_ROWS)
		return;
	row = &rows[nr_rows++];
	memset(row, 0, sizeof(*row));
	row->side = s;
	row->workload = W_FRAG;
	row->iteration = iteration;
	row->allocs = held;
	row->t[0] = free_frames;
	row->t[1] = frames;
	row->t[2] = frames ? free_frames * 10000 / frames : 0;
}

static void frag_release_kept(void)
{
	frag_free(frag_kept, nr_frag_kept, nr_frag_kept);
	kvfree(frag_kept);
	frag_kept = NULL;
	nr_frag_kept = 0;
}

static int frag(int nids[NR_SIDES], unsigned int iterations, bool hold)
{
	unsigned long held, full, it, i, lo, hi;
	struct frames fr;
	struct page **pages;
	enum side s;
	int ret = 0;

	pages = vmalloc_array(MAX_BLOCKS, sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	for (s = 0; s < NR_SIDES && !ret; s++) {
		int nid = nids[s];

		full = frag_alloc(s, nid, pages, 0, MAX_BLOCKS);
		if (!full)
			continue;
		/* "Fill the node" would not be true of a node this big. */
		if (full == MAX_BLOCKS) {
			frag_free(pages, full, full);
			ret = -E2BIG;
			break;
		}
		lo = ULONG_MAX;
		hi = 0;
		for (i = 0; i < full; i++) {
			lo = min(lo, page_to_pfn(pages[i]));
			hi = max(hi, page_to_pfn(pages[i]));
		}
		fr.start_pfn = round_down(lo, 1UL << FRAME_ORDER);
		fr.nr = (hi - fr.start_pfn) / (1UL << FRAME_ORDER) + 1;
		fr.used = bitmap_zalloc(fr.nr, GFP_KERNEL);
		if (!fr.used) {
			frag_free(pages, full, full);
			ret = -ENOMEM;
			break;
		}
		shuffle_pages(pages, full);
		held = frag_free(pages, full, full / 10);
		shuffle_pages(pages, held);
		held = frag_free(pages, held, held / 2);
		frag_row(s, pages, held, &fr, -1);
		for (it = 0; it < iterations; it++) {
			unsigned long n = held / 10, before = held;

			shuffle_pages(pages, held);
			held = frag_free(pages, held, n);
			held = frag_alloc(s, nid, pages, held, before);
			frag_row(s, pages, held, &fr, it);
		}
		bitmap_free(fr.used);
		if (hold && s == PN && held) {
			frag_kept = kvmalloc_array(held, sizeof(*pages), GFP_KERNEL);
			if (frag_kept) {
				memcpy(frag_kept, pages, held * sizeof(*pages));
				nr_frag_kept = held;
				held = 0;
			} else {
				ret = -ENOMEM;
			}
		}
		frag_free(pages, held, held);
		pr_info("pnalloc_bench: fragmentation run, %s node %d: %lu pages at full\n",
			side_names[s], nid, full);
	}
	vfree(pages);
	return ret;
}

/*
 * Exactly @n numbers, then the word @opt if it is not NULL; *@has_opt
 * tells whether it was there.
 */
static int parse_ulongs(char *s, unsigned long *v, int n, const char *opt,
			bool *has_opt)
{
	char *w;
	int i = 0;

	if (has_opt)
		*has_opt = false;
	while ((w = strsep(&s, " \t\n"))) {
		if (!*w)
			continue;
		if (i == n && opt && !*has_opt && !strcmp(w, opt)) {
			*has_opt = true;
			continue;
		}
		if (i == n || (has_opt && *has_opt) || !isdigit(*w) ||
		    kstrtoul(w, 10, &v[i]))
			return -EINVAL;
		i++;
	}
	return i == n ? 0 : -EINVAL;
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	char buf[128], *p = buf, *cmd;
	unsigned long v[6];
	int nids[NR_SIDES], w = -1, ret;
	bool hold = false;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	cmd = strsep(&p, " \t\n");
	guard(mutex)(&bench_lock);
	if (!strcmp(cmd, "clear") && (!p || !strim(p)[0])) {
		nr_rows = 0;
		nr_cdfs = 0;
		frag_release_kept();
		return len;
	}
	if (!p)
		return -EINVAL;
	if (!strcmp(cmd, "touch")) {
		ret = parse_ulongs(p, v, 2, NULL, NULL);
		if (ret)
			return ret;
	} else if (!strcmp(cmd, "frag")) {
		ret = parse_ulongs(p, v, 3, "hold", &hold);
		if (ret)
			return ret;
		if (!v[2] || v[2] > 1000)
			return -ERANGE;
	} else {
		w = match_string(workload_names, NR_WORKLOADS, cmd);
		if (w < 0)
			return -EINVAL;
		ret = parse_ulongs(p, v, 6, NULL, NULL);
		if (ret)
			return ret;
		if (!v[2] || v[2] > MAX_THREADS || v[2] > num_online_cpus() ||
		    !v[3] || v[3] > 100 || !v[5] || v[5] > MAX_BLOCKS ||
		    v[2] * v[5] > MAX_BLOCKS)
			return -ERANGE;
		if (w == W_BULKAPI ? !v[4] || v[4] > MAX_BATCH : v[4] > MAX_PAGE_ORDER)
			return -ERANGE;
		/* pnalloc serves nolock up to the costly order, as the kernel's pcp */
		if (is_nolock(w) && (v[2] > 2 || v[4] > PAGE_ALLOC_COSTLY_ORDER))
			return -ERANGE;
	}
	/* pnalloc's side a private node, the kernel's a node with kernel memory */
	if (v[0] >= nr_node_ids || v[1] >= nr_node_ids || !node_is_private(v[0]) ||
	    node_is_private(v[1]) || !node_state(v[1], N_MEMORY))
		return -EINVAL;
	/* Every row a command makes must fit: a figure is never dropped. */
	if (strcmp(cmd, "touch") &&
	    nr_rows + NR_SIDES * (strcmp(cmd, "frag") ? v[3] : v[2] + 1) > MAX_ROWS)
		return -ENOSPC;
	if (w >= 0 && is_nolock(w) && nr_cdfs + NR_SIDES * v[3] > MAX_CDF)
		return -ENOSPC;
	/* The node is not at rest while a frag's pages are kept. */
	if (frag_kept)
		return -EBUSY;
	nids[PN] = v[0];
	nids[KERN] = v[1];
	if (!strcmp(cmd, "touch"))
		ret = touch(nids);
	else if (!strcmp(cmd, "frag"))
		ret = frag(nids, v[2], hold);
	else
		ret = bench(w, nids, v[2], v[3], v[4], v[5]);
	/* A failed command keeps nothing. */
	if (ret && frag_kept)
		frag_release_kept();
	return ret ?: len;
}

static int run_show(struct seq_file *m, void *v)
{
	unsigned int i;

	guard(mutex)(&bench_lock);
	seq_puts(m, "side,workload,order,x,iteration,allocs,get_min,get_avg,get_max,put_min,put_avg,put_max\n");
	for (i = 0; i < nr_rows; i++) {
		struct row *r = &rows[i];

		seq_printf(m, "%s,%s,%u,%u,%d,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n",
			   side_names[r->side], workload_names[r->workload],
			   r->order, r->x, r->iteration, r->allocs, r->t[0],
			   r->t[1], r->t[2], r->t[3], r->t[4], r->t[5]);
	}
	return 0;
}

static int run_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, run_show, NULL, (MAX_ROWS + 1) * 128);
}

/* cdf: every percentile of every nolock row, for a true CDF plot. */
static int cdf_show(struct seq_file *m, void *v)
{
	unsigned int i, q;

	guard(mutex)(&bench_lock);
	seq_puts(m, "side,workload,x,iteration,percentile,ns\n");
	for (i = 0; i < nr_rows; i++) {
		struct row *r = &rows[i];

		if (!r->cdf)
			continue;
		for (q = 0; q < CDF_POINTS; q++)
			seq_printf(m, "%s,%s,%u,%d,%u,%u\n",
				   side_names[r->side],
				   workload_names[r->workload], r->x,
				   r->iteration, q, cdfs[r->cdf - 1][q]);
	}
	return 0;
}

static int cdf_open(struct inode *inode, struct file *file)
{
	return single_open_size(file, cdf_show, NULL, (MAX_CDF * CDF_POINTS + 1) * 48);
}

static const struct file_operations cdf_fops = {
	.owner = THIS_MODULE,
	.open = cdf_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.open = run_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = run_write,
};

static int __init pnalloc_bench_init(void)
{
	rows = vcalloc(MAX_ROWS, sizeof(*rows));
	cdfs = vcalloc(MAX_CDF, sizeof(*cdfs));
	if (!rows || !cdfs) {
		vfree(rows);
		vfree(cdfs);
		return -ENOMEM;
	}
	bench_dir = debugfs_create_dir("pnalloc_bench", NULL);
	debugfs_create_file("run", 0600, bench_dir, NULL, &run_fops);
	debugfs_create_file("cdf", 0400, bench_dir, NULL, &cdf_fops);
	return 0;
}

static void __exit pnalloc_bench_exit(void)
{
	debugfs_remove(bench_dir);
	frag_release_kept();
	vfree(cdfs);
	vfree(rows);
}

module_init(pnalloc_bench_init);
module_exit(pnalloc_bench_exit);
MODULE_DESCRIPTION("pnalloc against the kernel's page allocator, same boot");
MODULE_LICENSE("GPL");
