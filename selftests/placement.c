// SPDX-License-Identifier: GPL-2.0
/*
 * The user placement syscalls naming node <nid>: prints one line per call,
 * "<syscall> <errno name or ok>", for pnalloc_lifecycle.sh to compare.
 * Raw syscalls, so that no libnuma policy (numactl checks the node against
 * its own view first) stands between the call and the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_BIND	2
#define MPOL_MF_MOVE	(1 << 1)
#define MAXNODE		64

static const char *result(long r)
{
	if (r >= 0)
		return "ok";
	switch (errno) {
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	default: return strerror(errno);
	}
}

int main(int argc, char **argv)
{
	unsigned long node0 = 1, mask;
	long page_size = sysconf(_SC_PAGESIZE);
	int nid, node, status = 0;
	void *page;
	long r;

	if (argc != 2 || (nid = atoi(argv[1])) <= 0 || nid >= MAXNODE) {
		fprintf(stderr, "usage: %s <nid>\n", argv[0]);
		return 2;
	}
	mask = 1UL << nid;
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 1;
	*(volatile char *)page = 1;

	r = syscall(SYS_set_mempolicy, MPOL_BIND, &mask, MAXNODE + 1);
	printf("set_mempolicy %s\n", result(r));
	r = syscall(SYS_mbind, page, page_size, MPOL_BIND, &mask, MAXNODE + 1,
		    MPOL_MF_MOVE);
	printf("mbind %s\n", result(r));
	r = syscall(SYS_migrate_pages, 0, MAXNODE + 1, &node0, &mask);
	printf("migrate_pages %s\n", result(r));
	node = nid;
	r = syscall(SYS_move_pages, 0, 1, &page, &node, &status, 0);
	printf("move_pages %s status %d\n", result(r), status);
	return 0;
}
