#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Malformed input and unprivileged access. Every written file of pnalloc's
# and pnalloc_test's debugfs directories gets at least 10^4 inputs that are
# invalid by construction (fuzz_input.c), from two writers racing on the two
# CPUs; the module parameters get malformed and out-of-range values through
# finit_module(). Each input must be refused with EINVAL or ERANGE, and
# everything readable (and the node and memory block states in sysfs) must
# be byte-identical before and after. Then every file must be root-only:
# an unprivileged user can neither read nor write any of them.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

FUZZ=$DIR/fuzz_input
PN_TEST_DIR=${PN_TEST%/*}
# Inputs per file, split between the two writers.
PER_FILE=${PNALLOC_FUZZ_PER_FILE:-10000}
# finit_module() calls per parameter: each is a whole module load.
PER_PARAM=${PNALLOC_FUZZ_PER_PARAM:-1000}
SEED=${PNALLOC_FUZZ_SEED:-$(date +%s)}

pn_begin
[ -x "$FUZZ" ] || ktap_exit_fail_msg "fuzz_input not built"
ktap_set_plan 5
ktap_print_msg "seed $SEED (PNALLOC_FUZZ_SEED=$SEED reproduces the inputs)"

pn_insmod || ktap_exit_fail_msg "insmod failed"
echo drain >$PN_DEBUGFS/control

# Everything readable in both directories, and what sysfs says of the nodes
# and memory blocks, in a stable order.
snapshot() {
	local f
	for f in $(find "$PN_DEBUGFS" "$PN_TEST_DIR" -type f -perm -0400 2>/dev/null | sort); do
		echo "== $f"
		cat "$f"
	done
	for f in online possible has_memory has_normal_memory has_cpu; do
		echo "== node $f $(cat $PN_SYS_NODE/$f)"
	done
	for f in $PN_SYS_MEM/memory[0-9]*; do
		echo "${f##*/} $(cat "$f/state") $(cat "$f/valid_zones" 2>/dev/null)"
	done
}

# The written files, "<grammar> <path>" per line.
written_files() {
	local f
	for f in $(find "$PN_DEBUGFS" "$PN_TEST_DIR" -type f -perm -0200 | sort); do
		case ${f##*/} in
		control) echo "control $f" ;;
		test) echo "test $f" ;;
		stress) echo "stress $f" ;;
		task-filter) echo "bool $f" ;;
		*) echo "attr $f" ;;
		esac
	done
}

TOTALS=/tmp/pnalloc_fuzz.$$
: >"$TOTALS"
trap 'rm -f "$TOTALS" /tmp/pnalloc_fuzz.$$.*' EXIT

# Two writers, one per CPU, on one file; their result lines go to $TOTALS.
race() {
	local g=$1 f=$2 tag=$3 half=$((PER_FILE / 2))
	taskset -c 0 "$FUZZ" "$g" $((SEED + 2 * tag)) $half "$f" \
		>/tmp/pnalloc_fuzz.$$.$tag.0 2>&1 &
	taskset -c 1 "$FUZZ" "$g" $((SEED + 2 * tag + 1)) $((PER_FILE - half)) "$f" \
		>/tmp/pnalloc_fuzz.$$.$tag.1 2>&1 &
}

# Sums the writers' "tried ... ignored" lines into $tried $acc $einval $erange
# $other $ignored, and shows the first inputs that were not refused as they should.
summarise() {
	local out
	out=$(cat /tmp/pnalloc_fuzz.$$.*)
	rm -f /tmp/pnalloc_fuzz.$$.*
	grep -v '^tried ' <<<"$out" | head -n 20 | while read -r l; do ktap_print_msg "$l"; done
	read -r tried acc einval erange other ignored < <(awk '$1 == "tried" {
			t += $2; a += $4; e += $6; r += $8; o += $10; i += $12 }
		END { printf "%d %d %d %d %d %d\n", t, a, e, r, o, i }' <<<"$out")
}

# 1-2: the command files, all six writers at once (two per file), then the
# fault-injection attributes (two writers per file, file by file).
fuzz_files() {
	local which=$1 tag=0 g f n=0 s0 s1 t0=$SECONDS
	s0=$(snapshot)
	while read -r g f; do
		case $g in control | test | stress) [ "$which" = cmd ] ;; *) [ "$which" = attr ] ;; esac || continue
		race "$g" "$f" $tag
		tag=$((tag + 1))
		n=$((n + 1))
		[ "$which" = attr ] && wait
	done < <(written_files)
	wait
	summarise
	s1=$(snapshot)
	ktap_print_msg "$which: $n files, $tried inputs: accepted $acc, EINVAL $einval, ERANGE $erange, other $other, ignored (boolean attributes, value kept) $ignored; $((SECONDS - t0)) s"
	echo "$which $n $tried" >>"$TOTALS"
	[ "$n" -gt 0 ] && [ "$tried" -ge $((n * PER_FILE)) ] && [ "$acc" = 0 ] && [ "$other" = 0 ] || return 1
	[ "$s0" = "$s1" ] || { diff <(echo "$s0") <(echo "$s1") | head -n 20 |
		while read -r l; do ktap_print_msg "$l"; done; return 1; }
	pn_no_splats
}
ktap_test_result "10^4 malformed writes to each of control, test and stress, two racing writers per file: all refused, state byte-identical" fuzz_files cmd
ktap_test_result "10^4 malformed writes to each fault-injection attribute, two racing writers per file: all refused, state byte-identical" fuzz_files attr

# 3: nodes= and claim= values that are malformed or name no possible
# CPU-less node: each load fails with EINVAL and changes nothing.
fuzz_params() {
	local s0 s1 splats="" i t0=$SECONDS
	pn_unload || return 1
	s0=$(snapshot)
	# Each refused load logs a line or two: check the log every 100 loads,
	# before its mark can scroll out of the kernel's log buffer.
	for i in $(seq 0 $((2 * PER_PARAM / 100 - 1))); do
		pn_dmesg_mark
		"$FUZZ" param $((SEED + 1000 + i)) 100 "$KO" >/tmp/pnalloc_fuzz.$$.p$i 2>&1
		splats+=$(pn_splats_since)
	done
	summarise
	s1=$(snapshot)
	ktap_print_msg "params: $tried loads: accepted $acc, EINVAL $einval, ERANGE $erange, other $other; $((SECONDS - t0)) s"
	echo "param 2 $tried" >>"$TOTALS"
	[ -z "$splats" ] || { ktap_print_msg "$splats"; return 1; }
	[ "$tried" -ge $((2 * PER_PARAM)) ] && [ "$acc" = 0 ] && [ "$other" = 0 ] || return 1
	! pn_loaded || return 1
	[ "$s0" = "$s1" ] || { diff <(echo "$s0") <(echo "$s1") | head -n 20 |
		while read -r l; do ktap_print_msg "$l"; done; return 1; }
}
ktap_test_result "$PER_PARAM malformed values each for nodes= and claim=: every load refused with EINVAL, nothing changed" fuzz_params

# 4-5: every file is root-only by its mode, and with the debugfs root made
# traversable (so that only the file modes stand in the way) user 65534
# can neither read nor write any of them.
pn_insmod || ktap_exit_fail_msg "insmod failed"
FILES=$(find "$PN_DEBUGFS" "$PN_TEST_DIR" -type f | sort)
NFILES=$(wc -l <<<"$FILES")

modes_root_only() {
	local f bad=0
	for f in $FILES; do
		[ "$(stat -c %u "$f")" = 0 ] && [ $((0$(stat -c %a "$f") & 077)) = 0 ] ||
			{ ktap_print_msg "$f: $(stat -c '%U %a' "$f")"; bad=1; }
	done
	ktap_print_msg "$NFILES files checked"
	[ "$NFILES" -ge 20 ] && [ $bad = 0 ]
}
ktap_test_result "every file of pnalloc and pnalloc_test is owned by root with no group or other access" modes_root_only

unprivileged_refused() {
	local f mode bad=0 n=0
	mode=$(stat -c %a /sys/kernel/debug)
	chmod 755 /sys/kernel/debug || return 1
	for f in $FILES; do
		if setpriv --reuid=65534 --regid=65534 --clear-groups cat "$f" >/dev/null 2>&1; then
			ktap_print_msg "$f: read as 65534"
			bad=1
		fi
		# shellcheck disable=SC2016 # expanded by the inner shell
		if setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo drain >"$1"' sh "$f" 2>/dev/null; then
			ktap_print_msg "$f: written as 65534"
			bad=1
		fi
		n=$((n + 2))
	done
	chmod "$mode" /sys/kernel/debug
	# The check above means something: root, same path, can read.
	cat "$PN_DEBUGFS/version" >/dev/null || bad=1
	ktap_print_msg "$n unprivileged reads and writes tried on $NFILES files, all refused"
	[ $bad = 0 ] && pn_no_splats
}
ktap_test_result "as uid 65534 (setpriv --clear-groups), none of the $NFILES files can be read or written" unprivileged_refused

awk '{ f += $2; t += $3 } END { printf "# fuzz: %d inputs over %d files and parameters\n", t, f }' "$TOTALS"
pn_unload || ktap_exit_fail_msg "unload failed"
ktap_finished
