// SPDX-License-Identifier: GPL-2.0
/*
 * Malformed input for pnalloc's written files and module parameters.
 *
 *   fuzz_input <grammar> <seed> <count> <file>
 *
 * writes <count> inputs, each built to be invalid for <grammar>, to <file>
 * (one open file, one write() per input), or for grammar "param" loads the
 * module <file> with each as its parameter string through finit_module().
 * Grammars: control (pnalloc/control), test (pnalloc_test/test), stress
 * (pnalloc_test/stress), attr (a numeric fault-injection attribute), bool
 * (a boolean one), param (pnalloc.ko's nodes= and claim=).
 *
 * An input is one of: random bytes led by a byte no keyword or number
 * starts with; a valid command with one number replaced by one that is
 * malformed, too large or negative; a valid command cut short; a keyword
 * misspelt; the words of a valid command reordered so a keyword no longer
 * leads; a valid command with one word too many. None can be valid, so the
 * file must refuse every one: prints
 *   "tried <n> accepted <n> einval <n> erange <n> other <n> ignored <n>"
 * and, for each accepted or unexpected result, the input on stderr.
 * "ignored" counts the writes a boolean debugfs attribute answers with
 * success while keeping its value (debugfs_write_file_bool()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_LEN 320
#define fallthrough __attribute__((__fallthrough__))

static uint64_t rng_state;

/* xorshift64*: the same seed gives the same inputs, for reproduction. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int pick(unsigned int n)
{
	return rnd() % n;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Not a number in any slot: malformed, out of every range, or negative. */
static const char *const bad_numbers[] = {
	"-2", "-9223372036854775809", "18446744073709551616",
	"340282366920938463463374607431768211456", "0x", "0X", "0x10000000000000000",
	"0xg1", "1e3", "12abc", "0b101", "1.5", "0x-1", "--1", "\xd9\xa3", "x12",
	"0xffffffffffffffffff", "99999999999999999999",
};

/* Numbers that parse but name no node or order: per slot kind. */
static const char *const bad_nid[] = { "4096", "1024", "65536", "0x4000000" };
static const char *const bad_order[] = { "11", "64", "4294967296", "0x100000000" };

/*
 * Valid commands; %N is a node id, %O an order, %X any number (all must be
 * complete: one more word makes each invalid).
 */
static const char *const control_cmds[] = {
	"claim %N", "claim %N %X %X", "release %X", "release all",
	"owner %N %X", "drain", "verify",
};
static const char *const control_words[] = {
	"claim", "release", "all", "owner", "drain", "verify",
};
static const char *const test_cmds[] = {
	"alloc %N %O %X %X %X", "ep node %N %X %X %X", "ep bulk %N %X %X %X",
	"ep exact %N %X %X %X", "ep folio %N %X %X %X", "free %X", "put %X",
	"fill %X", "verify %X", "nolock task %N %O", "nolock hardirq %N %O",
	"nolock nmi %N %O",
};
static const char *const test_words[] = {
	"alloc", "ep", "free", "put", "fill", "verify", "nolock", "pages", "node",
	"nodemask", "folio", "folio_node", "zonelist_default", "zonelist_private",
	"bulk", "get_free_pages", "zeroed", "exact", "task", "hardirq", "nmi",
};
static const char *const stress_cmds[] = { "%X %X" };
static const char *const param_cmds[] = { "nodes=%M", "claim=%B" };

struct grammar {
	const char *name;
	const char *const *cmds;
	unsigned int nr_cmds;
	const char *const *words;
	unsigned int nr_words;
};

static const struct grammar grammars[] = {
	{ "control", control_cmds, ARRAY_SIZE(control_cmds), control_words,
	  ARRAY_SIZE(control_words) },
	{ "test", test_cmds, ARRAY_SIZE(test_cmds), test_words, ARRAY_SIZE(test_words) },
	{ "stress", stress_cmds, ARRAY_SIZE(stress_cmds), NULL, 0 },
	{ "attr", NULL, 0, NULL, 0 },
	{ "bool", NULL, 0, NULL, 0 },
	{ "param", param_cmds, ARRAY_SIZE(param_cmds), NULL, 0 },
};

static const char *sep(void)
{
	static const char *const seps[] = { " ", "\t", "  ", " \t " };

	return seps[pick(ARRAY_SIZE(seps))];
}

/* A valid value for a slot (for params: a mask that is still invalid). */
static void slot_value(char kind, char *out, size_t len)
{
	switch (kind) {
	case 'N':
		snprintf(out, len, "%u", 1 + pick(3));
		break;
	case 'O':
		snprintf(out, len, "%u", pick(11));
		break;
	case 'M':
		/* Node 0 has the CPUs; bits 4..63 name no node of the VM's. */
		snprintf(out, len, pick(2) ? "0x%llx" : "%llu",
			 (unsigned long long)((pick(2) ? 1ULL : 1ULL << (4 + pick(60))) |
					      (rnd() & 0xe)));
		break;
	case 'B':
		out[0] = 0;
		break;
	default:
		snprintf(out, len, pick(2) ? "%llu" : "0x%llx",
			 (unsigned long long)(rnd() >> pick(64)));
	}
}

static const char *bad_value(char kind)
{
	static const char *const bad_bool[] = {
		"", "2", "maybe", "-1", "\xff", "x", "ja", "ok", "?",
	};

	if (kind == 'B')
		return bad_bool[pick(ARRAY_SIZE(bad_bool))];
	if (kind == 'N' && pick(3) == 0)
		return bad_nid[pick(ARRAY_SIZE(bad_nid))];
	if (kind == 'O' && pick(3) == 0)
		return bad_order[pick(ARRAY_SIZE(bad_order))];
	return bad_numbers[pick(ARRAY_SIZE(bad_numbers))];
}

/*
 * Expands template @t into @out, words separated by random blanks; slot
 * number @bad (counted from 0) gets a bad value, -1 for none. Returns the
 * number of slots.
 */
static int expand(const char *t, int bad, char *out, size_t len, int param)
{
	char val[64];
	int slot = 0;
	size_t o = 0;

	for (; *t && o + 1 < len; t++) {
		if (*t == '%') {
			const char *v = val;

			t++;
			if (slot == bad)
				v = bad_value(*t);
			else
				slot_value(*t, val, sizeof(val));
			slot++;
			o += snprintf(out + o, len - o, "%s", v);
		} else if (*t == ' ' && !param) {
			o += snprintf(out + o, len - o, "%s", sep());
		} else {
			out[o++] = *t;
		}
	}
	out[o < len ? o : len - 1] = 0;
	return slot;
}

static int is_word(const struct grammar *g, const char *w, size_t n)
{
	unsigned int i;

	for (i = 0; i < g->nr_words; i++)
		if (strlen(g->words[i]) == n && !strncmp(g->words[i], w, n))
			return 1;
	return 0;
}

/* Random bytes, led by one that starts no keyword, number or blank. */
static size_t random_bytes(char *out, size_t max_len)
{
	size_t n = 1 + pick(max_len - 1), i;

	out[0] = 0x80 + pick(0x80);
	for (i = 1; i < n; i++)
		out[i] = rnd();
	return n;
}

/* @out's keyword (its first word, or an entry point's name) misspelt. */
static int misspell(const struct grammar *g, char *out, size_t len)
{
	char *w = out, *end;
	size_t n;
	int tries;

	if (!strncmp(out, "ep", 2) || !strncmp(out, "nolock", 6))
		w = strpbrk(out, " \t") + strspn(strpbrk(out, " \t"), " \t");
	end = w + strcspn(w, " \t\n");
	n = end - w;
	for (tries = 0; tries < 16; tries++) {
		char save[MAX_LEN];
		size_t i = pick(n);

		memcpy(save, out, len);
		switch (pick(4)) {
		case 0: /* case */
			w[i] ^= 0x20;
			break;
		case 1: /* a letter dropped */
			memmove(w + i, w + i + 1, strlen(w + i));
			break;
		case 2: /* a letter doubled */
			if (strlen(out) + 2 >= len)
				continue;
			memmove(w + i + 1, w + i, strlen(w + i) + 1);
			break;
		default: /* a digit appended */
			if (strlen(out) + 2 >= len)
				continue;
			memmove(end + 1, end, strlen(end) + 1);
			*end = '0' + pick(10);
		}
		end = w + strcspn(w, " \t\n");
		if (end > w && !is_word(g, w, end - w))
			return 0;
		memcpy(out, save, len);
		end = w + strcspn(w, " \t\n");
	}
	return -1;
}

/* The words of @out in another order, none of the keywords leading. */
static int reorder(const struct grammar *g, char *out, size_t len)
{
	char *words[16], copy[MAX_LEN], *p = copy, *w;
	int n = 0, i, tries;

	snprintf(copy, sizeof(copy), "%s", out);
	while ((w = strsep(&p, " \t")) && n < 16)
		if (*w)
			words[n++] = w;
	if (n < 2)
		return -1;
	for (tries = 0; tries < 16; tries++) {
		for (i = n - 1; i > 0; i--) {
			int j = pick(i + 1);
			char *t = words[i];

			words[i] = words[j];
			words[j] = t;
		}
		if (!is_word(g, words[0], strlen(words[0])))
			break;
	}
	if (is_word(g, words[0], strlen(words[0])))
		return -1;
	out[0] = 0;
	for (i = 0; i < n; i++) {
		strncat(out, words[i], len - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, sep(), len - strlen(out) - 1);
	}
	return 0;
}

/*
 * Whether @t without its last word is still invalid: always for control
 * and stress; for test only nolock (alloc, ep, free, put, fill and verify
 * take optional trailing words).
 */
static int drop_ok(const struct grammar *g, const char *t)
{
	if (!strcmp(g->name, "test"))
		return !strncmp(t, "nolock", 6);
	return strchr(t, ' ') != NULL;
}

/* One invalid input for @g into @out; returns its length. */
static size_t generate(const struct grammar *g, char *out, size_t len)
{
	const char *t;
	int slots, kind, param = !strcmp(g->name, "param");

	if (!g->nr_cmds) {
		/* attr, bool: short (simple_attr_write() reads 23 bytes). */
		if (!strcmp(g->name, "bool") || pick(3) == 0)
			return random_bytes(out, 20);
		/* Signed attributes (times, space) take "-2": skip it. */
		snprintf(out, len, "%s%s", bad_numbers[1 + pick(ARRAY_SIZE(bad_numbers) - 1)],
			 pick(2) ? "\n" : "");
		if (strlen(out) > 22)
			out[22] = 0;
		return strlen(out);
	}
	t = g->cmds[pick(g->nr_cmds)];
	kind = param ? 1 + 4 * pick(2) : pick(6);
	for (;;) {
		switch (kind) {
		case 0:
			return random_bytes(out, len - 1);
		case 1: /* a bad number */
			slots = expand(t, -1, out, len, param);
			if (!slots) {
				kind = 3;
				continue;
			}
			expand(t, pick(slots), out, len, param);
			break;
		case 2: /* cut short */
			expand(t, -1, out, len, param);
			if (pick(2) && drop_ok(g, t)) {
				/* the last word dropped */
				char *last = out + strlen(out);

				while (last > out && !strchr(" \t", last[-1]))
					last--;
				while (last > out && strchr(" \t", last[-1]))
					last--;
				*last = 0;
			} else if (g->nr_words) {
				/* inside the keyword: no keyword is a prefix of another */
				size_t n = strcspn(out, " \t");

				out[n > 1 ? 1 + pick(n - 1) : 0] = 0;
			} else {
				kind = 1;
				continue;
			}
			break;
		case 3: /* a keyword misspelt */
			expand(t, -1, out, len, param);
			if (!g->nr_words || misspell(g, out, len)) {
				kind = 1;
				continue;
			}
			break;
		case 4: /* reordered */
			expand(t, -1, out, len, param);
			if (!g->nr_words || reorder(g, out, len)) {
				kind = 5;
				continue;
			}
			break;
		case 5:
			if (param) {
				/* a well-formed value that is out of range */
				expand(t, -1, out, len, param);
				break;
			}
			fallthrough;
		default: /* a word too many */
			expand(t, -1, out, len, param);
			strncat(out, sep(), len - strlen(out) - 1);
			strncat(out, pick(2) ? "1" : "all", len - strlen(out) - 1);
		}
		break;
	}
	if (!param && pick(2))
		strncat(out, "\n", len - strlen(out) - 1);
	return strlen(out);
}

static const char *path;

static void show(const char *what, const char *buf, size_t n)
{
	size_t i;

	fprintf(stderr, "%s: %s: '", path, what);
	for (i = 0; i < n; i++)
		fprintf(stderr, buf[i] >= 0x20 && buf[i] < 0x7f ? "%c" : "\\x%02x",
			(unsigned char)buf[i]);
	fprintf(stderr, "'\n");
}

int main(int argc, char **argv)
{
	unsigned long count, i, accepted = 0, einval = 0, erange = 0, other = 0, ignored = 0;
	const struct grammar *g = NULL;
	char buf[MAX_LEN];
	unsigned int k;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: %s <grammar> <seed> <count> <file>\n", argv[0]);
		return 2;
	}
	for (k = 0; k < ARRAY_SIZE(grammars); k++)
		if (!strcmp(argv[1], grammars[k].name))
			g = &grammars[k];
	if (!g) {
		fprintf(stderr, "unknown grammar %s\n", argv[1]);
		return 2;
	}
	rng_state = strtoull(argv[2], NULL, 0) | 1;
	count = strtoul(argv[3], NULL, 0);
	if (!strcmp(argv[4], "-")) {
		/* The inputs, one per line, for checking the generator itself. */
		for (i = 0; i < count; i++) {
			size_t n = generate(g, buf, sizeof(buf)), j;

			for (j = 0; j < n; j++)
				printf("\\x%02x", (unsigned char)buf[j]);
			printf("\n");
		}
		return 0;
	}
	path = argv[4];
	fd = open(argv[4], !strcmp(g->name, "param") ? O_RDONLY : O_WRONLY);
	if (fd < 0) {
		perror(argv[4]);
		return 2;
	}
	for (i = 0; i < count; i++) {
		size_t n = generate(g, buf, sizeof(buf));
		long r;

		if (!strcmp(g->name, "param")) {
			buf[n] = 0;
			r = syscall(SYS_finit_module, fd, buf, 0);
			if (!r)
				syscall(SYS_delete_module, "pnalloc", O_NONBLOCK);
		} else {
			r = write(fd, buf, n);
		}
		if (r >= 0 && !strcmp(g->name, "bool")) {
			/*
			 * debugfs_write_file_bool() returns the count even when
			 * kstrtobool() refuses the input; the value is untouched.
			 */
			ignored++;
		} else if (r >= 0) {
			accepted++;
			show("accepted", buf, n);
		} else if (errno == EINVAL) {
			einval++;
		} else if (errno == ERANGE) {
			erange++;
		} else {
			other++;
			show(strerror(errno), buf, n);
		}
	}
	printf("tried %lu accepted %lu einval %lu erange %lu other %lu ignored %lu\n",
	       count, accepted, einval, erange, other, ignored);
	return accepted || other;
}
