// SPDX-License-Identifier: GPL-2.0
/*
 * Per-call-site allocation profiling for pnalloc, after mm/alloc_tag.c.
 *
 * Every entry point takes a struct pnalloc_tag_site, one static per call
 * site (the PNALLOC_TAG_SITE() macro, as alloc_hooks() defines one
 * alloc_tag per site). The first allocation from a site registers it in
 * pnalloc's own tag table (codetag_register_type() is not exported); the
 * table copies the strings, so a caller module may unload and its rows
 * stay readable. Registration and counting are lock-free and NMI-safe:
 * a slot is claimed with atomic_inc_return(), published with a release
 * store, and bound to the site with cmpxchg(); a site that loses the race
 * leaves a dead slot behind.
 *
 * /sys/kernel/debug/pnalloc/allocinfo prints exactly /proc/allocinfo's 2.0
 * format and answers the ALLOCINFO_IOC_* ioctls of
 * include/uapi/linux/alloc_tag.h, so tools written for /proc/allocinfo
 * work on it; allocinfo_ext adds what allocinfo has no column for.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <uapi/linux/alloc_tag.h>

#include "mm_shim.h"
#include "pnalloc.h"

#define PN_MAX_TAGS	1024

struct pn_tag {
	char modname[ALLOCINFO_STR_SIZE];
	char function[ALLOCINFO_STR_SIZE];
	char filename[ALLOCINFO_STR_SIZE];
	u64 lineno;
	int ready;		/* release-stored once the strings are in */
	bool dead;		/* lost the cmpxchg: never bound to a site */
	atomic64_t failures;
	atomic64_t fallbacks;
	atomic64_t nolock;
	atomic64_t notag;
	atomic64_t hwpoison;
	atomic_t inaccurate;
};

/*
 * Bytes and calls change on every allocation and free: per-CPU, summed
 * when read, as the kernel's struct alloc_tag_counters are.
 */
struct pn_counters {
	s64 bytes;
	s64 calls;
};

static struct pn_tag *pn_tags;
static struct pn_counters __percpu *pn_ctr;
/* Saturates at PN_MAX_TAGS: it never wraps into live rows. */
static atomic_t pn_nr_tags = ATOMIC_INIT(0);
/* Bumped whenever a row appears: ALLOCINFO_IOC_CONTENT_ID. */
static atomic64_t pn_content_id = ATOMIC64_INIT(1);
static struct dentry *pn_allocinfo, *pn_allocinfo_ext;

/* Keep the last ALLOCINFO_STR_SIZE - 1 characters, as allocinfo_str() does. */
static const char *pn_str(const char *str)
{
	size_t len = str ? strlen(str) : 0;

	if (!str)
		return "";
	if (len >= ALLOCINFO_STR_SIZE)
		str += len - ALLOCINFO_STR_SIZE + 1;
	return str;
}

static struct pn_tag *pn_tag_get(u32 id)
{
	struct pn_tag *t;

	if (!id || id > min_t(u32, atomic_read(&pn_nr_tags), PN_MAX_TAGS))
		return NULL;
	t = &pn_tags[id - 1];
	/* Pairs with the release in pnalloc_tag_id(): strings are complete. */
	return smp_load_acquire(&t->ready) && !t->dead ? t : NULL;
}

u32 pnalloc_tag_id(struct pnalloc_tag_site *site)
{
	u32 id, old;
	struct pn_tag *t;

	if (!site || !pn_tags)
		return 0;
	id = READ_ONCE(site->id);
	if (id)
		return id;
	/* A full table answers 0 (not counted) for good. */
	old = atomic_fetch_add_unless(&pn_nr_tags, 1, PN_MAX_TAGS);
	if (old >= PN_MAX_TAGS)
		return 0;
	id = old + 1;
	t = &pn_tags[id - 1];
	strscpy_pad(t->modname, pn_str(site->modname), ALLOCINFO_STR_SIZE);
	strscpy_pad(t->function, pn_str(site->function), ALLOCINFO_STR_SIZE);
	strscpy_pad(t->filename, pn_str(site->filename), ALLOCINFO_STR_SIZE);
	t->lineno = site->lineno;
	old = cmpxchg(&site->id, 0, id);
	if (old)
		t->dead = true;
	/* Publish the strings above before readers may use the slot. */
	smp_store_release(&t->ready, 1);
	if (!old)
		atomic64_inc(&pn_content_id);
	return old ? old : id;
}

static void pn_counts(struct pn_tag *t, s64 *bytes, s64 *calls)
{
	u32 i = t - pn_tags;
	int cpu;

	*bytes = *calls = 0;
	for_each_possible_cpu(cpu) {
		struct pn_counters *c = per_cpu_ptr(&pn_ctr[i], cpu);

		*bytes += READ_ONCE(c->bytes);
		*calls += READ_ONCE(c->calls);
	}
}

/* this_cpu_*() are safe against interrupts and NMIs on this CPU. */
void pnalloc_tag_event(u32 id, int event, u64 bytes)
{
	struct pn_tag *t = pn_tag_get(id);

	if (!t)
		return;
	switch (event) {
	case PNALLOC_TAG_ALLOC:
		this_cpu_add(pn_ctr[id - 1].bytes, bytes);
		this_cpu_inc(pn_ctr[id - 1].calls);
		break;
	case PNALLOC_TAG_FREE:
		this_cpu_sub(pn_ctr[id - 1].bytes, bytes);
		this_cpu_dec(pn_ctr[id - 1].calls);
		break;
	case PNALLOC_TAG_SUB_BYTES:
		/* A tail piece freed early: the head still holds the call. */
		this_cpu_sub(pn_ctr[id - 1].bytes, bytes);
		break;
	case PNALLOC_TAG_FAIL:
		atomic64_inc(&t->failures);
		break;
	case PNALLOC_TAG_FALLBACK:
		atomic64_inc(&t->fallbacks);
		break;
	case PNALLOC_TAG_NOLOCK:
		atomic64_inc(&t->nolock);
		break;
	case PNALLOC_TAG_NOTAG:
		atomic64_inc(&t->notag);
		break;
	case PNALLOC_TAG_HWPOISON:
		atomic64_inc(&t->hwpoison);
		break;
	case PNALLOC_TAG_INACCURATE:
		atomic_set(&t->inaccurate, 1);
		break;
	case PNALLOC_TAG_SPLIT:
		/* @bytes is the number of new pieces, each freed on its own. */
		this_cpu_add(pn_ctr[id - 1].calls, bytes);
		break;
	}
}

static u32 pn_tag_count(void)
{
	return min_t(u32, atomic_read(&pn_nr_tags), PN_MAX_TAGS);
}

/* ---- /proc/allocinfo text format --------------------------------------- */

static int allocinfo_show(struct seq_file *m, void *v)
{
	u32 i;

	seq_puts(m, "allocinfo - version: 2.0\n");
	seq_puts(m, "#     <size>  <calls> <tag info>\n");
	for (i = 1; i <= pn_tag_count(); i++) {
		struct pn_tag *t = pn_tag_get(i);
		s64 bytes, calls;

		if (!t)
			continue;
		pn_counts(t, &bytes, &calls);
		seq_printf(m, "%12lli %8llu ", bytes, (u64)calls);
		seq_printf(m, "%s:%llu [%s] func:%s", t->filename, t->lineno,
			   t->modname, t->function);
		if (atomic_read(&t->inaccurate))
			seq_puts(m, " accurate:no");
		/* Every row ends with a space, as alloc_tag_to_text() does. */
		seq_putc(m, ' ');
		seq_putc(m, '\n');
	}
	return 0;
}

/* ---- the ALLOCINFO_IOC_* interface ------------------------------------- */

struct allocinfo_private {
	struct mutex ioctl_lock;
	struct allocinfo_filter filter;
	u32 next;		/* next tag id GET_NEXT looks at; 0: unpositioned */
};

static int allocinfo_open(struct inode *inode, struct file *file)
{
	struct allocinfo_private *priv = kzalloc(sizeof(*priv), GFP_KERNEL);
	int ret;

	if (!priv)
		return -ENOMEM;
	mutex_init(&priv->ioctl_lock);
	ret = single_open(file, allocinfo_show, priv);
	if (ret)
		kfree(priv);
	return ret;
}

static int allocinfo_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;
	struct allocinfo_private *priv = m->private;

	mutex_destroy(&priv->ioctl_lock);
	kfree(priv);
	return single_release(inode, file);
}

static bool matches_filter(struct pn_tag *t, struct allocinfo_filter *f)
{
	s64 bytes, calls;

	pn_counts(t, &bytes, &calls);
	if (!f->mask)
		return true;
	if ((f->mask & ALLOCINFO_FILTER_MASK_MODNAME) &&
	    strncmp(t->modname, f->fields.modname, ALLOCINFO_STR_SIZE))
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_FUNCTION) &&
	    strncmp(t->function, f->fields.function, ALLOCINFO_STR_SIZE))
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_FILENAME) &&
	    strncmp(t->filename, f->fields.filename, ALLOCINFO_STR_SIZE))
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_LINENO) &&
	    t->lineno != f->fields.lineno)
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_INACCURATE) &&
	    !!atomic_read(&t->inaccurate) != !!f->inaccurate)
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_MIN_SIZE) && bytes < (s64)f->min_size)
		return false;
	if ((f->mask & ALLOCINFO_FILTER_MASK_MAX_SIZE) && bytes > (s64)f->max_size)
		return false;
	return true;
}

static void to_params(struct pn_tag *t, struct allocinfo_tag_data *d)
{
	memcpy(d->tag.modname, t->modname, ALLOCINFO_STR_SIZE);
	memcpy(d->tag.function, t->function, ALLOCINFO_STR_SIZE);
	memcpy(d->tag.filename, t->filename, ALLOCINFO_STR_SIZE);
	d->tag.lineno = t->lineno;
	s64 bytes, calls;

	pn_counts(t, &bytes, &calls);
	d->counter.bytes = bytes;
	d->counter.calls = calls;
	d->counter.accurate = !atomic_read(&t->inaccurate);
}

/* The first matching tag with id >= @from, or 0. */
static u32 find_match(u32 from, struct allocinfo_filter *f)
{
	u32 i;

	for (i = from; i && i <= pn_tag_count(); i++) {
		struct pn_tag *t = pn_tag_get(i);

		if (t && matches_filter(t, f))
			return i;
	}
	return 0;
}

static long allocinfo_ioctl(struct file *file, unsigned int cmd,
			    unsigned long uarg)
{
	struct seq_file *m = file->private_data;
	struct allocinfo_private *priv = m->private;
	void __user *arg = (void __user *)uarg;
	long ret = 0;

	switch (cmd) {
	case ALLOCINFO_IOC_CONTENT_ID: {
		struct allocinfo_content_id p = {
			.id = atomic64_read(&pn_content_id),
		};

		return copy_to_user(arg, &p, sizeof(p)) ? -EFAULT : 0;
	}
	case ALLOCINFO_IOC_GET_AT: {
		struct allocinfo_get_at p;
		u64 skip;
		u32 id;

		if (copy_from_user(&p, arg, sizeof(p)))
			return -EFAULT;
		if (p.filter.mask & ~ALLOCINFO_FILTER_MASKS)
			return -EINVAL;
		if ((p.filter.mask & ALLOCINFO_FILTER_MASK_MIN_SIZE) &&
		    (p.filter.mask & ALLOCINFO_FILTER_MASK_MAX_SIZE) &&
		    p.filter.min_size > p.filter.max_size)
			return -EINVAL;
		mutex_lock(&priv->ioctl_lock);
		priv->filter = p.filter;
		id = find_match(1, &priv->filter);
		for (skip = p.pos; id && skip; skip--)
			id = find_match(id + 1, &priv->filter);
		if (id) {
			memset(&p.data, 0, sizeof(p.data));
			to_params(pn_tag_get(id), &p.data);
			priv->next = id + 1;
		} else {
			ret = -ENOENT;
		}
		mutex_unlock(&priv->ioctl_lock);
		if (!ret && copy_to_user(arg, &p, sizeof(p)))
			ret = -EFAULT;
		return ret;
	}
	case ALLOCINFO_IOC_GET_NEXT: {
		struct allocinfo_tag_data d = {};
		u32 id;

		mutex_lock(&priv->ioctl_lock);
		id = find_match(priv->next ? priv->next : 1, &priv->filter);
		if (id) {
			to_params(pn_tag_get(id), &d);
			priv->next = id + 1;
		} else {
			priv->next = 0;
			ret = -ENOENT;
		}
		mutex_unlock(&priv->ioctl_lock);
		if (!ret && copy_to_user(arg, &d, sizeof(d)))
			ret = -EFAULT;
		return ret;
	}
	default:
		return -ENOIOCTLCMD;
	}
}

static const struct file_operations allocinfo_fops = {
	.owner		= THIS_MODULE,
	.open		= allocinfo_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= allocinfo_release,
	.unlocked_ioctl	= allocinfo_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/* ---- allocinfo_ext: what allocinfo has no column for -------------------- */

static int allocinfo_ext_show(struct seq_file *m, void *v)
{
	u32 i;

	seq_puts(m, "#     <size>  <calls> <failures> <fallbacks> <nolock> <notag> <hwpoison> <tag info>\n");
	for (i = 1; i <= pn_tag_count(); i++) {
		struct pn_tag *t = pn_tag_get(i);
		s64 bytes, calls;

		if (!t)
			continue;
		pn_counts(t, &bytes, &calls);
		seq_printf(m, "%12lli %8llu %10llu %11llu %8llu %7llu %10llu %s:%llu [%s] func:%s\n",
			   bytes, (u64)calls,
			   (u64)atomic64_read(&t->failures),
			   (u64)atomic64_read(&t->fallbacks),
			   (u64)atomic64_read(&t->nolock),
			   (u64)atomic64_read(&t->notag),
			   (u64)atomic64_read(&t->hwpoison),
			   t->filename, t->lineno, t->modname, t->function);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(allocinfo_ext);

int pnalloc_alloc_tag_init(void)
{
	struct dentry *dir;

	pn_tags = vzalloc(array_size(PN_MAX_TAGS, sizeof(*pn_tags)));
	pn_ctr = __alloc_percpu(array_size(PN_MAX_TAGS, sizeof(*pn_ctr)),
				__alignof__(*pn_ctr));
	if (!pn_tags || !pn_ctr) {
		pnalloc_alloc_tag_exit();
		return -ENOMEM;
	}
	/* The directory the Rust side created. */
	dir = debugfs_lookup("pnalloc", NULL);
	if (IS_ERR_OR_NULL(dir)) {
		pnalloc_alloc_tag_exit();
		return -ENOENT;
	}
	pn_allocinfo = debugfs_create_file("allocinfo", 0400, dir, NULL,
					   &allocinfo_fops);
	pn_allocinfo_ext = debugfs_create_file("allocinfo_ext", 0400, dir, NULL,
					       &allocinfo_ext_fops);
	dput(dir);
	return 0;
}

void pnalloc_alloc_tag_exit(void)
{
	debugfs_remove(pn_allocinfo);
	debugfs_remove(pn_allocinfo_ext);
	pn_allocinfo = pn_allocinfo_ext = NULL;
	vfree(pn_tags);
	pn_tags = NULL;
	free_percpu(pn_ctr);
	pn_ctr = NULL;
}

/* memory_failure() hit a page in use: say who holds it. */
void pnalloc_tag_report_hwpoison(u32 id, u64 pfn, u64 head)
{
	struct pn_tag *t = pn_tag_get(id);

	if (t)
		pr_err("memory failure at pfn %#llx: in use (block at pfn %#llx), allocated at %s:%llu [%s] func:%s\n",
		       pfn, head, t->filename, t->lineno, t->modname, t->function);
	else
		pr_err("memory failure at pfn %#llx: in use (block at pfn %#llx), no allocation tag\n",
		       pfn, head);
}

/* For KUnit: the current counters of tag @id (0, 0 if there is none). */
void pnalloc_tag_read(u32 id, s64 *bytes, u64 *calls)
{
	struct pn_tag *t = pn_tag_get(id);
	s64 c = 0;

	*bytes = 0;
	if (t)
		pn_counts(t, bytes, &c);
	*calls = c;
}
