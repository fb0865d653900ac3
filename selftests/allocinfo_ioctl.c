// SPDX-License-Identifier: GPL-2.0
/*
 * Reads an allocinfo file through the ALLOCINFO_IOC_* ioctls of
 * include/uapi/linux/alloc_tag.h, as tools written for /proc/allocinfo do.
 *
 *   allocinfo_ioctl FILE dump [file=F] [line=N] [func=F] [mod=M] [min=B] [max=B]
 *       prints "bytes calls file:line [mod] func:name" for every matching
 *       row, GET_AT(0) then GET_NEXT until ENOENT
 *   allocinfo_ioctl FILE content-id
 *   allocinfo_ioctl FILE errors
 *       bad requests must fail with EINVAL/ENOTTY/ENOENT; prints "ok"
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "alloc_tag.h"

static void print_row(const struct allocinfo_tag_data *d)
{
	printf("%lld %llu %s:%llu [%s] func:%s\n", (long long)d->counter.bytes,
	       (unsigned long long)d->counter.calls, d->tag.filename,
	       (unsigned long long)d->tag.lineno, d->tag.modname,
	       d->tag.function);
}

static int parse_filter(int argc, char **argv, struct allocinfo_filter *f)
{
	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');

		if (!v)
			return -1;
		*v++ = '\0';
		if (!strcmp(argv[i], "file")) {
			f->mask |= ALLOCINFO_FILTER_MASK_FILENAME;
			strncpy(f->fields.filename, v, ALLOCINFO_STR_SIZE - 1);
		} else if (!strcmp(argv[i], "func")) {
			f->mask |= ALLOCINFO_FILTER_MASK_FUNCTION;
			strncpy(f->fields.function, v, ALLOCINFO_STR_SIZE - 1);
		} else if (!strcmp(argv[i], "mod")) {
			f->mask |= ALLOCINFO_FILTER_MASK_MODNAME;
			strncpy(f->fields.modname, v, ALLOCINFO_STR_SIZE - 1);
		} else if (!strcmp(argv[i], "line")) {
			f->mask |= ALLOCINFO_FILTER_MASK_LINENO;
			f->fields.lineno = strtoull(v, NULL, 0);
		} else if (!strcmp(argv[i], "min")) {
			f->mask |= ALLOCINFO_FILTER_MASK_MIN_SIZE;
			f->min_size = strtoull(v, NULL, 0);
		} else if (!strcmp(argv[i], "max")) {
			f->mask |= ALLOCINFO_FILTER_MASK_MAX_SIZE;
			f->max_size = strtoull(v, NULL, 0);
		} else {
			return -1;
		}
	}
	return 0;
}

static int dump(int fd, int argc, char **argv)
{
	struct allocinfo_get_at at = { .pos = 0 };
	struct allocinfo_tag_data d;

	if (parse_filter(argc, argv, &at.filter))
		return 2;
	if (ioctl(fd, ALLOCINFO_IOC_GET_AT, &at))
		return errno == ENOENT ? 0 : 1;
	print_row(&at.data);
	while (!ioctl(fd, ALLOCINFO_IOC_GET_NEXT, &d))
		print_row(&d);
	return errno == ENOENT ? 0 : 1;
}

static int expect(int ret, int err, const char *what)
{
	if (ret == 0 || errno != err) {
		printf("%s: ret %d errno %d, want errno %d\n", what, ret, errno, err);
		return 1;
	}
	return 0;
}

static int errors(int fd)
{
	struct allocinfo_get_at at = { .pos = 0 };
	int bad = 0;

	at.filter.mask = 1ULL << 40;
	bad |= expect(ioctl(fd, ALLOCINFO_IOC_GET_AT, &at), EINVAL, "unknown filter bit");
	memset(&at, 0, sizeof(at));
	at.filter.mask = ALLOCINFO_FILTER_MASK_MIN_SIZE | ALLOCINFO_FILTER_MASK_MAX_SIZE;
	at.filter.min_size = 10;
	at.filter.max_size = 1;
	bad |= expect(ioctl(fd, ALLOCINFO_IOC_GET_AT, &at), EINVAL, "min > max");
	memset(&at, 0, sizeof(at));
	at.pos = 1u << 30;
	bad |= expect(ioctl(fd, ALLOCINFO_IOC_GET_AT, &at), ENOENT, "pos past the end");
	bad |= expect(ioctl(fd, _IO(0xA6, 99), NULL), ENOTTY, "unknown ioctl");
	bad |= expect(ioctl(fd, ALLOCINFO_IOC_GET_AT, (void *)16), EFAULT, "bad pointer");
	if (!bad)
		printf("ok\n");
	return bad;
}

int main(int argc, char **argv)
{
	int fd, ret;

	if (argc < 3)
		return 2;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (!strcmp(argv[2], "dump")) {
		ret = dump(fd, argc - 3, argv + 3);
	} else if (!strcmp(argv[2], "content-id")) {
		struct allocinfo_content_id id;

		ret = ioctl(fd, ALLOCINFO_IOC_CONTENT_ID, &id) ? 1 : 0;
		if (!ret)
			printf("%llu\n", (unsigned long long)id.id);
	} else if (!strcmp(argv[2], "errors")) {
		ret = errors(fd);
	} else {
		ret = 2;
	}
	close(fd);
	return ret;
}
