// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs pnalloc_test/test: the selftests' allocation interface, a
 * consumer of pnalloc.h like any driver. Each write is one command, parsed
 * completely before anything changes; bad input gets -EINVAL (-ERANGE for
 * numbers that do not fit) and changes nothing. Reading lists what is held.
 *
 * - alloc <nid> <order> [<count> [<gfp> [<alloc_flags>]]]: hold @count
 *   blocks (default 1, gfp default GFP_KERNEL, alloc_flags 0, e.g. 0x1000
 *   for ALLOC_NO_CODETAG) from __pnalloc_alloc_pages();
 * - ep <name> <nid> <arg> [<gfp> [<nodemask>]]: one call of an entry point
 *   (pages, node, nodemask, folio, folio_node, zonelist_default,
 *   zonelist_private, bulk, get_free_pages, zeroed, exact); @arg is the
 *   order, the page count for bulk (1-64), the size in bytes for exact;
 *   @nid -1 is NUMA_NO_NODE; @nodemask a bitmap of node ids;
 * - free [<count>]: free the last @count held blocks with the function
 *   their entry point pairs with (__free_pages(), folio_put(),
 *   free_pages(), pnalloc_free_pages_exact());
 * - put [<count>]: the same through folio_put() (folios and order 0);
 * - fill <seed> [<count>], verify <seed> [<count>]: write or check a
 *   pattern in every page of the last @count held blocks (default all;
 *   `verify 0` checks zeroes); a mismatch is -EIO;
 * - nolock <task|hardirq|nmi> <nid> <order>: one alloc_pages_nolock() +
 *   free_pages_nolock() from that context; -ENOMEM when it returned NULL.
 */
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "../pnalloc.h"
#include "pnalloc_test.h"

#define CMD_MAX_INPUT	256
#define MAX_WORDS	8
#define MAX_COUNT	(1UL << 20)
#define MAX_BULK	64

/* How a held block goes back: the free its entry point pairs with. */
enum free_how { HOW_PAGES, HOW_FOLIO, HOW_ADDR, HOW_EXACT };

struct held {
	struct list_head list;
	struct page *page;
	unsigned int order;
	int nid;
	unsigned long pages;	/* usable pages: fewer than 1 << order for exact */
	size_t size;		/* for exact */
	enum free_how how;
};

/* Held blocks, oldest first; every command runs under cmd_lock. */
static LIST_HEAD(held_list);
static unsigned long nr_held;
static DEFINE_MUTEX(cmd_lock);

int pnt_read_words(const char __user *ubuf, size_t len, char *buf, size_t max,
		   char **words, int nr)
{
	char *p = buf, *w;
	int n = 0;

	if (!len || len >= max)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (strlen(buf) != len)
		return -EINVAL;
	while ((w = strsep(&p, " \t\n"))) {
		if (!*w)
			continue;
		if (n == nr)
			return -EINVAL;
		words[n++] = w;
	}
	return n;
}

/* Decimal or 0x hexadecimal, nothing else; -ERANGE if it does not fit. */
/*
 * Decimal or 0x-prefixed hex, digits only: kstrtou64() alone would take a
 * sign, a newline, and base 16 would take a second "0x" ("0x0x10").
 */
int pnt_parse_u64(const char *s, u64 *v)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;
	const char *c;

	if (!*d)
		return -EINVAL;
	for (c = d; *c; c++)
		if (hex ? !isxdigit(*c) : !isdigit(*c))
			return -EINVAL;
	return kstrtou64(d, hex ? 16 : 10, v);
}

static int parse_u32(const char *s, u32 *v)
{
	u64 x;
	int ret = pnt_parse_u64(s, &x);

	if (ret)
		return ret;
	if (x > U32_MAX)
		return -ERANGE;
	*v = x;
	return 0;
}

static int parse_nid(const char *s, bool no_node_ok, int *nid)
{
	u64 x;
	int ret;

	if (no_node_ok && !strcmp(s, "-1")) {
		*nid = NUMA_NO_NODE;
		return 0;
	}
	ret = pnt_parse_u64(s, &x);
	if (ret)
		return ret;
	if (x >= nr_node_ids)
		return -EINVAL;
	*nid = x;
	return 0;
}

static int parse_order(const char *s, unsigned int *order)
{
	int ret = parse_u32(s, order);

	if (!ret && *order > MAX_PAGE_ORDER)
		ret = -EINVAL;
	return ret;
}

/* A count of 1..MAX_COUNT, 1 when absent. */
static int parse_count(const char *s, unsigned long *count)
{
	u64 x = 1;
	int ret = s ? pnt_parse_u64(s, &x) : 0;

	if (ret)
		return ret;
	if (!x || x > MAX_COUNT)
		return -EINVAL;
	*count = x;
	return 0;
}

static int parse_gfp(const char *s, gfp_t *gfp)
{
	u32 v;
	int ret;

	if (!s) {
		*gfp = GFP_KERNEL;
		return 0;
	}
	ret = parse_u32(s, &v);
	if (ret)
		return ret == -ERANGE ? -EINVAL : ret;
	*gfp = (__force gfp_t)v;
	return 0;
}

static const char *const how_names[] = {
	[HOW_PAGES] = "Pages", [HOW_FOLIO] = "Folio",
	[HOW_ADDR] = "Addr", [HOW_EXACT] = "Exact",
};

static void held_free(struct held *h, enum free_how how)
{
	switch (how) {
	case HOW_FOLIO:
		folio_put(page_folio(h->page));
		break;
	case HOW_ADDR:
		free_pages((unsigned long)page_address(h->page), h->order);
		break;
	case HOW_EXACT:
		pnalloc_free_pages_exact(page_address(h->page), h->size);
		break;
	default:
		__free_pages(h->page, h->order);
	}
}

/* Entries are allocated before the pages, so that no page is ever lost. */
static struct held *held_new(void)
{
	return kzalloc(sizeof(struct held), GFP_KERNEL);
}

static void held_push(struct held *h, struct page *page, unsigned int order,
		      enum free_how how)
{
	h->page = page;
	h->order = order;
	h->nid = page_to_nid(page);
	h->how = how;
	if (how != HOW_EXACT)
		h->pages = 1UL << order;
	list_add_tail(&h->list, &held_list);
	nr_held++;
}

static int cmd_alloc(char **w, int n)
{
	unsigned long count, i;
	unsigned int order;
	u32 alloc_flags = 0;
	struct held *h;
	gfp_t gfp;
	int nid, ret;

	if (n < 3 || n > 6)
		return -EINVAL;
	ret = parse_nid(w[1], false, &nid) ?: parse_order(w[2], &order) ?:
	      parse_count(n > 3 ? w[3] : NULL, &count) ?:
	      parse_gfp(n > 4 ? w[4] : NULL, &gfp) ?:
	      (n > 5 ? parse_u32(w[5], &alloc_flags) : 0);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		struct page *page;

		h = held_new();
		if (!h)
			return -ENOMEM;
		page = __pnalloc_alloc_pages(gfp, order, nid, NULL, alloc_flags);
		if (!page) {
			kfree(h);
			return -ENOMEM;
		}
		held_push(h, page, order,
			  order && PageHead(page) ? HOW_FOLIO : HOW_PAGES);
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}

static int ep_bulk(gfp_t gfp, int nid, nodemask_t *mask, unsigned long nr)
{
	struct held *h, *tmp;
	struct page **pages;
	unsigned long got, i;
	LIST_HEAD(spare);
	int ret = 0;

	if (!nr || nr > MAX_BULK)
		return -EINVAL;
	pages = kcalloc(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		h = held_new();
		if (!h) {
			ret = -ENOMEM;
			goto out;
		}
		list_add(&h->list, &spare);
	}
	got = pnalloc_alloc_pages_bulk(gfp, nid, mask, nr, pages);
	for (i = 0; i < got; i++) {
		h = list_first_entry(&spare, struct held, list);
		list_del(&h->list);
		held_push(h, pages[i], 0, HOW_PAGES);
	}
	if (!got)
		ret = -ENOMEM;
out:
	list_for_each_entry_safe(h, tmp, &spare, list)
		kfree(h);
	kfree(pages);
	return ret;
}

enum ep {
	EP_PAGES, EP_NODE, EP_NODEMASK, EP_FOLIO, EP_FOLIO_NODE,
	EP_ZL_DEFAULT, EP_ZL_PRIVATE, EP_BULK, EP_GFP, EP_ZEROED, EP_EXACT,
};

static const char *const ep_names[] = {
	[EP_PAGES] = "pages", [EP_NODE] = "node", [EP_NODEMASK] = "nodemask",
	[EP_FOLIO] = "folio", [EP_FOLIO_NODE] = "folio_node",
	[EP_ZL_DEFAULT] = "zonelist_default",
	[EP_ZL_PRIVATE] = "zonelist_private", [EP_BULK] = "bulk",
	[EP_GFP] = "get_free_pages", [EP_ZEROED] = "zeroed", [EP_EXACT] = "exact",
};

/* A bitmap of node ids; -EINVAL for a bit beyond MAX_NUMNODES. */
static int parse_nodemask(const char *s, nodemask_t *mask)
{
	u64 bits;
	int ret = pnt_parse_u64(s, &bits), nid;

	if (ret)
		return ret;
	if (MAX_NUMNODES < 64 && bits >> (MAX_NUMNODES % 64))
		return -EINVAL;
	nodes_clear(*mask);
	for (nid = 0; nid < 64 && nid < MAX_NUMNODES; nid++)
		if (bits & BIT_ULL(nid))
			node_set(nid, *mask);
	return 0;
}

/* The order @arg names, or for exact the size in bytes it must fit. */
static int ep_order(enum ep ep, u64 arg, unsigned int *order)
{
	if (ep == EP_EXACT) {
		if (!arg || arg > (PAGE_SIZE << MAX_PAGE_ORDER))
			return -EINVAL;
		*order = get_order(arg);
		return 0;
	}
	if (arg > MAX_PAGE_ORDER)
		return -EINVAL;
	*order = ep == EP_ZEROED ? 0 : arg;
	return 0;
}

static struct page *addr_page(unsigned long addr)
{
	return addr ? virt_to_page((void *)addr) : NULL;
}

static struct page *folio_page0(struct folio *folio)
{
	return folio ? &folio->page : NULL;
}

static int cmd_ep(char **w, int n)
{
	nodemask_t mask, *maskp = NULL;
	struct page *page = NULL;
	unsigned int order;
	struct held *h;
	int ep, nid, ret;
	gfp_t gfp;
	u64 arg;

	if (n < 4 || n > 6)
		return -EINVAL;
	ep = match_string(ep_names, ARRAY_SIZE(ep_names), w[1]);
	if (ep < 0)
		return -EINVAL;
	ret = parse_nid(w[2], true, &nid) ?: pnt_parse_u64(w[3], &arg) ?:
	      parse_gfp(n > 4 ? w[4] : NULL, &gfp) ?:
	      (n > 5 ? parse_nodemask(w[5], &mask) : 0);
	if (ret)
		return ret;
	if (n > 5)
		maskp = &mask;
	if (ep == EP_BULK)
		return ep_bulk(gfp, nid, maskp, arg > MAX_BULK ? 0 : arg);
	ret = ep_order(ep, arg, &order);
	if (ret)
		return ret;

	h = held_new();
	if (!h)
		return -ENOMEM;
	switch (ep) {
	case EP_PAGES:
		page = pnalloc_alloc_pages(gfp, order);
		break;
	case EP_NODE:
		page = pnalloc_alloc_pages_node(nid, gfp, order);
		break;
	case EP_NODEMASK:
		page = __pnalloc_alloc_pages(gfp, order, nid, maskp, 0);
		break;
	case EP_FOLIO:
		page = folio_page0(pnalloc_folio_alloc(gfp, order));
		break;
	case EP_FOLIO_NODE:
		page = folio_page0(__pnalloc_folio_alloc_node(gfp, order, nid));
		break;
	case EP_ZL_DEFAULT:
		page = folio_page0(__pnalloc_folio_alloc_zonelist(gfp, order, nid, maskp,
								  PNALLOC_ZONELIST_DEFAULT));
		break;
	case EP_ZL_PRIVATE:
		page = folio_page0(__pnalloc_folio_alloc_zonelist(gfp, order, nid, maskp,
								  PNALLOC_ZONELIST_PRIVATE));
		break;
	case EP_GFP:
		page = addr_page(__pnalloc_get_free_pages(gfp, order));
		break;
	case EP_ZEROED:
		page = addr_page(pnalloc_get_zeroed_page(gfp));
		break;
	case EP_EXACT:
		page = addr_page((unsigned long)pnalloc_alloc_pages_exact_nid(nid, arg, gfp));
		h->size = arg;
		h->pages = DIV_ROUND_UP(arg, PAGE_SIZE);
		break;
	}
	if (!page) {
		kfree(h);
		return -ENOMEM;
	}
	held_push(h, page, order,
		  ep == EP_EXACT ? HOW_EXACT :
		  ep == EP_GFP || ep == EP_ZEROED ? HOW_ADDR :
		  ep >= EP_FOLIO && ep <= EP_ZL_PRIVATE ? HOW_FOLIO : HOW_PAGES);
	return 0;
}

static int cmd_free(char **w, int n, bool put)
{
	unsigned long count, i;
	struct held *h, *tmp;
	int ret;

	if (n > 2)
		return -EINVAL;
	ret = parse_count(n > 1 ? w[1] : NULL, &count);
	if (ret)
		return ret;
	if (count > nr_held)
		return -EINVAL;
	/* folio_put() only fits folios and order-0 pages: check all first. */
	i = 0;
	list_for_each_entry_reverse(h, &held_list, list) {
		if (i++ == count)
			break;
		if (put && h->order && h->how != HOW_FOLIO)
			return -EINVAL;
	}
	i = 0;
	list_for_each_entry_safe_reverse(h, tmp, &held_list, list) {
		if (i++ == count)
			break;
		list_del(&h->list);
		nr_held--;
		held_free(h, put ? HOW_FOLIO : h->how);
		kfree(h);
	}
	return 0;
}

/* The pattern of word @j of page @pfn, or zero for seed 0. */
static u64 pattern(u64 seed, unsigned long pfn, unsigned long j)
{
	return seed ? seed ^ ((u64)pfn << 12 | j) : 0;
}

static bool pattern_pages(struct held *h, u64 seed, bool check)
{
	unsigned long i, j, pfn = page_to_pfn(h->page);

	for (i = 0; i < h->pages; i++) {
		u64 *p = page_address(h->page + i);

		for (j = 0; j < PAGE_SIZE / sizeof(u64); j++) {
			if (!check)
				p[j] = pattern(seed, pfn + i, j);
			else if (p[j] != pattern(seed, pfn + i, j))
				return false;
		}
		cond_resched();
	}
	return true;
}

static int cmd_pattern(char **w, int n, bool check)
{
	unsigned long count = nr_held, i = 0;
	struct held *h;
	u64 seed;
	int ret;

	if (n < 2 || n > 3)
		return -EINVAL;
	ret = pnt_parse_u64(w[1], &seed) ?:
	      (n > 2 ? parse_count(w[2], &count) : 0);
	if (ret)
		return ret;
	if (count > nr_held)
		return -EINVAL;
	list_for_each_entry_reverse(h, &held_list, list) {
		if (i++ == count)
			break;
		if (!pattern_pages(h, seed, check))
			return -EIO;
	}
	return 0;
}

static int cmd_nolock(char **w, int n)
{
	static const char *const ctxs[] = {
		[PNT_TASK] = "task", [PNT_HARDIRQ] = "hardirq", [PNT_NMI] = "nmi",
	};
	unsigned int order;
	int ctx, nid, ret;

	if (n != 4)
		return -EINVAL;
	ctx = match_string(ctxs, ARRAY_SIZE(ctxs), w[1]);
	if (ctx < 0)
		return -EINVAL;
	ret = parse_nid(w[2], false, &nid) ?: parse_order(w[3], &order);
	if (ret)
		return ret;
	return pnt_nolock_once(ctx, nid, order);
}

static ssize_t cmd_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	char buf[CMD_MAX_INPUT], *w[MAX_WORDS];
	int n, ret;

	n = pnt_read_words(ubuf, len, buf, sizeof(buf), w, ARRAY_SIZE(w));
	if (n <= 0)
		return n ?: -EINVAL;
	guard(mutex)(&cmd_lock);
	if (!strcmp(w[0], "alloc"))
		ret = cmd_alloc(w, n);
	else if (!strcmp(w[0], "ep"))
		ret = cmd_ep(w, n);
	else if (!strcmp(w[0], "free") || !strcmp(w[0], "put"))
		ret = cmd_free(w, n, w[0][0] == 'p');
	else if (!strcmp(w[0], "fill") || !strcmp(w[0], "verify"))
		ret = cmd_pattern(w, n, w[0][0] == 'v');
	else if (!strcmp(w[0], "nolock"))
		ret = cmd_nolock(w, n);
	else
		ret = -EINVAL;
	return ret ?: len;
}

static int cmd_show(struct seq_file *m, void *v)
{
	struct held *h;

	guard(mutex)(&cmd_lock);
	seq_printf(m, "held %lu\n", nr_held);
	list_for_each_entry(h, &held_list, list) {
		seq_printf(m, "pfn %#lx order %u nid %d pages %lu free %s",
			   page_to_pfn(h->page), h->order, h->nid, h->pages,
			   how_names[h->how]);
		if (h->how == HOW_EXACT)
			seq_printf(m, "(%zu)", h->size);
		seq_putc(m, '\n');
	}
	return 0;
}

static int cmd_open(struct inode *inode, struct file *file)
{
	return single_open(file, cmd_show, NULL);
}

static const struct file_operations cmd_fops = {
	.owner = THIS_MODULE,
	.open = cmd_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = cmd_write,
};

int pnt_cmd_init(struct dentry *dir)
{
	debugfs_create_file("test", 0600, dir, NULL, &cmd_fops);
	return 0;
}

/* Unloading frees what the test interface still holds: nothing is lost. */
void pnt_cmd_exit(void)
{
	struct held *h, *tmp;

	list_for_each_entry_safe(h, tmp, &held_list, list) {
		list_del(&h->list);
		held_free(h, h->how);
		kfree(h);
	}
	nr_held = 0;
}
