/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pnalloc_test's parts: the stress (pnalloc_test.c), the `test` command
 * file (cmd.c) and the drivers that call alloc_pages_nolock() from hardirq
 * and NMI (nolock.c). Each uses pnalloc's exported API only.
 */
#ifndef _PNALLOC_TEST_H
#define _PNALLOC_TEST_H

#include <linux/debugfs.h>
#include <linux/types.h>

/* Contexts of a nolock allocation, as the `test nolock` command names them. */
enum pnt_ctx {
	PNT_TASK,
	PNT_HARDIRQ,
	PNT_NMI,
	NR_PNT_CTX
};

/*
 * One nolock allocation and free request, served on one CPU by the NMI
 * handler when @armed is set. The counters are only written by that CPU's
 * NMI handler.
 */
struct pnt_nmi_slot {
	atomic_t armed;
	atomic_t pending;	/* NMI IPIs sent to this CPU, not yet received */
	int nid;
	unsigned int order;
	int result;		/* 0 or -ENOMEM, of the last request */
	int ctx;		/* the context it ran in */
	bool oneshot;		/* a waiter reads the result: end DONE, not IDLE */
	u64 tries, ok;
};

int pnt_nolock_once(enum pnt_ctx ctx, int nid, unsigned int order);
bool pnt_nmi_supported(void);
/* Arms @cpu's slot and sends it an NMI; false if its last one is pending. */
bool pnt_nmi_kick(unsigned int cpu, int nid, unsigned int order);
void pnt_nmi_counts(unsigned int cpu, u64 *tries, u64 *ok);
void pnt_nmi_reset(void);
int pnt_nolock_init(void);
void pnt_nolock_exit(void);

int pnt_cmd_init(struct dentry *dir);
void pnt_cmd_exit(void);

/*
 * Splits a write of at most @max bytes into at most @nr words; -EINVAL for
 * an empty or overlong write, NULs or too many words.
 */
int pnt_read_words(const char __user *ubuf, size_t len, char *buf, size_t max,
		   char **words, int nr);
int pnt_parse_u64(const char *s, u64 *v);

#endif /* _PNALLOC_TEST_H */
