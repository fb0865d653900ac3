#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Decide a KTAP log: every planned test must have run and passed. A skip is a
# failure here (a skipped test is not done), and so is a missing plan or a
# plan that was not met, which is what a VM that never booted looks like.
set -euo pipefail
log=$1
[ -s "$log" ] || { echo "ktap: empty log $log: the VM did not run the tests" >&2; exit 1; }

awk '
/^[[:space:]]*(# )?1\.\.[0-9]+/ {
	line = $0; sub(/^[[:space:]]*(# )?1\.\./, "", line); plans += line + 0 }
/^[[:space:]]*(# )?ok [0-9]+/ {
	if ($0 ~ /# *SKIP/) { skip++; print "ktap: SKIP counts as failure: " $0 } else pass++ }
/^[[:space:]]*(# )?not ok [0-9]+/ { fail++; print "ktap: FAIL: " $0 }
/Bail out!/ { bail++; print "ktap: " $0 }
/(BUG:|WARNING: CPU:|Oops|Call Trace:|possible circular locking|INFO: task .* blocked)/ { splat++; print "ktap: kernel splat: " $0 }
END {
	printf("ktap: %d passed, %d failed, %d skipped, %d plan lines total %d, %d splats\n", pass, fail, skip, nplans, plans, splat) > "/dev/stderr"
	if (pass == 0 || fail || skip || bail || splat) exit 1
}' nplans=0 "$log"
