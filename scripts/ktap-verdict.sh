#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Decide a KTAP log: every planned test must have run and passed. A skip is a
# failure here (a skipped test is not done), and so is a missing plan or a
# plan that was not met, which is what a VM that crashed or never booted
# looks like. Kernel splats anywhere in the log fail it too.
set -euo pipefail
log=$1
[ -s "$log" ] || { echo "ktap: empty log $log: the VM did not run the tests" >&2; exit 1; }

awk '
# The runner'"'"'s own plan and results are the lines without a "# " prefix.
/^1\.\.[0-9]+/ && !top_plan { top_plan = substr($0, 4) + 0 }
/^(ok|not ok) [0-9]+/ { top++ }
/^[[:space:]]*(# )*ok [0-9]+/ {
	if ($0 ~ /# *SKIP/) { skip++; print "ktap: SKIP counts as failure: " $0 } else pass++ }
/^[[:space:]]*(# )*not ok [0-9]+/ { fail++; print "ktap: FAIL: " $0 }
/Bail out!/ { bail++; print "ktap: " $0 }
# WARN(): 7.3 prints "WARNING: <file>:<line> at ..." or "WARNING: at ..."
# (kernel/panic.c), older kernels "WARNING: CPU: ...".
/(BUG:|WARNING: CPU:|WARNING: ([^ ]+:[0-9]+ )?at |Oops|Call Trace:|possible circular locking|inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|Kernel panic|kmemleak:|Uhhuh\. NMI received|Dazed and confused)/ {
	splat++; print "ktap: kernel splat: " $0 }
END {
	printf("ktap: %d passed, %d failed, %d skipped; %d of %d planned test programs reported; %d splats\n",
		pass, fail, skip, top, top_plan, splat) > "/dev/stderr"
	if (!top_plan) print "ktap: no plan: the test run did not start"
	else if (top < top_plan) print "ktap: plan not met: the run stopped early (VM crash or timeout?)"
	if (pass == 0 || fail || skip || bail || splat || !top_plan || top < top_plan) exit 1
}' "$log"
