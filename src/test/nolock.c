// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_pages_nolock() and free_pages_nolock() from the contexts they
 * exist for: task, hardirq (an irq_work, which runs in hardirq context on
 * !PREEMPT_RT) and NMI.
 *
 * The NMI source is an IPI with NMI_VECTOR, as the kernel's own NMI
 * self-test (arch/x86/kernel/nmi_selftest.c) and backtrace IPIs do. A perf
 * counter overflow would be the portable source, but QEMU's TCG has no
 * PMU, so there would be no NMI at all in our VM; where there is no x86
 * local APIC the NMI context reports -EOPNOTSUPP rather than pretending.
 *
 * One handler is registered for the module's life. It only claims an NMI
 * when its CPU's slot is armed, so NMIs meant for others pass through.
 */
#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#ifdef CONFIG_X86_LOCAL_APIC
#include <asm/apic.h>
#include <asm/nmi.h>
#endif

#include "../pnalloc.h"
#include "pnalloc_test.h"

/*
 * A slot goes IDLE -> FILLING (one kicker) -> ARMED -> RUNNING (its CPU's
 * NMI) -> IDLE, or -> DONE for a one-shot request, which its waiter reads
 * and sets IDLE. A one-shot whose NMI is late is withdrawn (ARMED -> IDLE).
 * Whether an NMI is ours is told by the slot's count of IPIs sent and not
 * yet received, not by its state: a late IPI is still claimed (no
 * "unknown reason" NMI), and another NMI source never takes a request.
 */
enum { SLOT_IDLE, SLOT_FILLING, SLOT_ARMED, SLOT_RUNNING, SLOT_DONE };

static DEFINE_PER_CPU(struct pnt_nmi_slot, nmi_slot);

static enum pnt_ctx current_ctx(void)
{
	return in_nmi() ? PNT_NMI : in_hardirq() ? PNT_HARDIRQ : PNT_TASK;
}

/* The allocation under test, and the free it pairs with. */
static int nolock_pair(int nid, unsigned int order)
{
	struct page *page = pnalloc_alloc_pages_nolock(0, nid, order);

	if (!page)
		return -ENOMEM;
	pnalloc_free_pages_nolock(page, order);
	return 0;
}

#ifdef CONFIG_X86_LOCAL_APIC
static int pnt_nmi_handler(unsigned int cmd, struct pt_regs *regs)
{
	struct pnt_nmi_slot *s = this_cpu_ptr(&nmi_slot);

	if (atomic_dec_if_positive(&s->pending) < 0)
		return NMI_DONE;
	/* Ours, but its request was withdrawn or already served. */
	if (atomic_cmpxchg(&s->armed, SLOT_ARMED, SLOT_RUNNING) != SLOT_ARMED)
		return NMI_HANDLED;
	s->ctx = current_ctx();
	s->result = nolock_pair(s->nid, s->order);
	s->tries++;
	if (!s->result)
		s->ok++;
	atomic_set_release(&s->armed, s->oneshot ? SLOT_DONE : SLOT_IDLE);
	return NMI_HANDLED;
}

bool pnt_nmi_supported(void)
{
	return true;
}

static bool nmi_kick(unsigned int cpu, int nid, unsigned int order, bool oneshot)
{
	struct pnt_nmi_slot *s = per_cpu_ptr(&nmi_slot, cpu);

	if (atomic_cmpxchg(&s->armed, SLOT_IDLE, SLOT_FILLING) != SLOT_IDLE)
		return false;
	s->nid = nid;
	s->order = order;
	s->oneshot = oneshot;
	/* Orders the fields before the handler can see the slot armed. */
	atomic_set_release(&s->armed, SLOT_ARMED);
	atomic_inc(&s->pending);
	apic->send_IPI_mask(cpumask_of(cpu), NMI_VECTOR);
	return true;
}

bool pnt_nmi_kick(unsigned int cpu, int nid, unsigned int order)
{
	return nmi_kick(cpu, nid, order, false);
}
#else
bool pnt_nmi_supported(void)
{
	return false;
}

bool pnt_nmi_kick(unsigned int cpu, int nid, unsigned int order)
{
	return false;
}

static bool nmi_kick(unsigned int cpu, int nid, unsigned int order, bool oneshot)
{
	return false;
}
#endif

void pnt_nmi_counts(unsigned int cpu, u64 *tries, u64 *ok)
{
	struct pnt_nmi_slot *s = per_cpu_ptr(&nmi_slot, cpu);

	*tries = READ_ONCE(s->tries);
	*ok = READ_ONCE(s->ok);
}

/*
 * Only between stress runs, when nothing kicks: the counters are the
 * handler's. A late NMI of the last run can still add one; no slot state
 * is touched here.
 */
void pnt_nmi_reset(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct pnt_nmi_slot *s = per_cpu_ptr(&nmi_slot, cpu);

		s->tries = 0;
		s->ok = 0;
	}
}

static struct {
	int nid;
	unsigned int order;
	int result;
	enum pnt_ctx ctx;
} irq_req;

static void nolock_irq_work_fn(struct irq_work *work)
{
	irq_req.ctx = current_ctx();
	irq_req.result = nolock_pair(irq_req.nid, irq_req.order);
}

static struct irq_work nolock_irq_work = IRQ_WORK_INIT_HARD(nolock_irq_work_fn);

/* One request at a time: irq_req and each CPU's slot are shared. */
static DEFINE_MUTEX(once_lock);

static int nmi_once(int nid, unsigned int order)
{
	struct pnt_nmi_slot *s;
	unsigned long i;
	int ret;

	if (!pnt_nmi_supported())
		return -EOPNOTSUPP;
	preempt_disable();
	s = this_cpu_ptr(&nmi_slot);
	/* A stress run may have this CPU's slot in flight: -EBUSY, not a wait. */
	if (!nmi_kick(smp_processor_id(), nid, order, true)) {
		preempt_enable();
		return -EBUSY;
	}
	/*
	 * A self-NMI arrives at once; 10^7 relaxes are seconds under TCG.
	 * It runs on this CPU, so the slot is never seen RUNNING here.
	 */
	for (i = 0; i < 10000000 && atomic_read_acquire(&s->armed) != SLOT_DONE; i++)
		cpu_relax();
	if (atomic_cmpxchg(&s->armed, SLOT_ARMED, SLOT_IDLE) == SLOT_ARMED) {
		ret = -ETIMEDOUT;
	} else {
		ret = s->ctx != PNT_NMI ? -EPROTO : s->result;
		atomic_set_release(&s->armed, SLOT_IDLE);
	}
	preempt_enable();
	return ret;
}

/*
 * One alloc_pages_nolock() + free_pages_nolock() in context @ctx: 0, or
 * -ENOMEM when the allocation returned NULL (what contention must give),
 * -EPROTO if it did not run in the context asked for.
 */
int pnt_nolock_once(enum pnt_ctx ctx, int nid, unsigned int order)
{
	guard(mutex)(&once_lock);
	switch (ctx) {
	case PNT_TASK:
		return nolock_pair(nid, order);
	case PNT_HARDIRQ:
		irq_req.nid = nid;
		irq_req.order = order;
		irq_req.result = -ETIMEDOUT;
		irq_req.ctx = NR_PNT_CTX;
		irq_work_queue(&nolock_irq_work);
		irq_work_sync(&nolock_irq_work);
		return irq_req.ctx != PNT_HARDIRQ ? -EPROTO : irq_req.result;
	case PNT_NMI:
		return nmi_once(nid, order);
	default:
		return -EINVAL;
	}
}

int pnt_nolock_init(void)
{
#ifdef CONFIG_X86_LOCAL_APIC
	return register_nmi_handler(NMI_LOCAL, pnt_nmi_handler, 0, "pnalloc_test");
#else
	return 0;
#endif
}

void pnt_nolock_exit(void)
{
#ifdef CONFIG_X86_LOCAL_APIC
	unsigned int cpu, i;

	/* An IPI still in flight must find the handler: up to a second. */
	for_each_possible_cpu(cpu)
		for (i = 0; i < 100 && atomic_read(&per_cpu_ptr(&nmi_slot, cpu)->pending); i++)
			usleep_range(10000, 20000);
	unregister_nmi_handler(NMI_LOCAL, "pnalloc_test");
#endif
}
