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
	atomic64_t bytes;
	atomic64_t calls;
	atomic64_t failures;
	atomic64_t fallbacks;
	atomic64_t nolock;
	atomic64_t notag;
	atomic_t inaccurate;
};

static struct pn_tag *pn_tags;
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
	id = atomic_inc_return(&pn_nr_tags);
	if (id > PN_MAX_TAGS)
		return 0;
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

void pnalloc_tag_event(u32 id, int event, u64 bytes)
{
	struct pn_tag *t = pn_tag_get(id);

	if (!t)
		return;
	switch (event) {
	case PNALLOC_TAG_ALLOC:
		atomic64_add(bytes, &t->bytes);
		atomic64_inc(&t->calls);
		break;
	case PNALLOC_TAG_FREE:
		atomic64_sub(bytes, &t->bytes);
		atomic64_dec(&t->calls);
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
	case PNALLOC_TAG_INACCURATE:
		atomic_set(&t->inaccurate, 1);
		break;
	case PNALLOC_TAG_SPLIT:
		/* @bytes is the number of new pieces, each freed on its own. */
		atomic64_add(bytes, &t->calls);
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

		if (!t)
			continue;
		seq_printf(m, "%12lli %8llu ", (s64)atomic64_read(&t->bytes),
			   (u64)atomic64_read(&t->calls));
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
	s64 bytes = atomic64_read(&t->bytes);

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
	d->counter.bytes = atomic64_read(&t->bytes);
	d->counter.calls = atomic64_read(&t->calls);
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

	seq_puts(m, "#     <size>  <calls> <failures> <fallbacks> <nolock> <notag> <tag info>\n");
	for (i = 1; i <= pn_tag_count(); i++) {
		struct pn_tag *t = pn_tag_get(i);

		if (!t)
			continue;
		seq_printf(m, "%12lli %8llu %10llu %11llu %8llu %7llu %s:%llu [%s] func:%s\n",
			   (s64)atomic64_read(&t->bytes),
			   (u64)atomic64_read(&t->calls),
			   (u64)atomic64_read(&t->failures),
			   (u64)atomic64_read(&t->fallbacks),
			   (u64)atomic64_read(&t->nolock),
			   (u64)atomic64_read(&t->notag),
			   t->filename, t->lineno, t->modname, t->function);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(allocinfo_ext);

int pnalloc_alloc_tag_init(void)
{
	struct dentry *dir;

	pn_tags = vzalloc(array_size(PN_MAX_TAGS, sizeof(*pn_tags)));
	if (!pn_tags)
		return -ENOMEM;
	/* The directory the Rust side created. */
	dir = debugfs_lookup("pnalloc", NULL);
	if (IS_ERR_OR_NULL(dir))
		return -ENOENT;
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
}

/* For KUnit: the current counters of tag @id (0, 0 if there is none). */
void pnalloc_tag_read(u32 id, s64 *bytes, u64 *calls)
{
	struct pn_tag *t = pn_tag_get(id);

	*bytes = t ? atomic64_read(&t->bytes) : 0;
	*calls = t ? atomic64_read(&t->calls) : 0;
}
