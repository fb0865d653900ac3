#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every CPU at once, through pnalloc_test.ko: a separate module that uses
# only pnalloc's exported API. One pinned kthread per CPU runs a random mix
# of every entry point with a pattern in every page, handing half of its
# blocks to the next CPU to free, while an hrtimer on each CPU allocates and
# frees with the nolock pair from hardirq and sends the next CPU an NMI that
# does the same wherever it lands, and this script drains the pcp
# lists, flips a node's owner and walks the free lists from a third context.
# Nothing may be lost, doubled or corrupted, and the CPUs must really have
# met on the locks.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

# At least 10^6 operations in all (the issue's floor), split over the CPUs.
TOTAL_OPS=${PNALLOC_STRESS_OPS:-1000000}
SEED=${PNALLOC_STRESS_SEED:-20261124}

pn_begin
D=$PN_DEBUGFS
S=/sys/kernel/debug/pnalloc_test/stress
ktap_set_plan 5

pn_insmod || ktap_exit_fail_msg "insmod pnalloc + pnalloc_test failed"
echo drain >$D/control
NODES=$(awk '/private=1/ { print $2 }' $D/nodes)
N1=$(echo "$NODES" | head -n1)
state() {
	local n
	awk '/^outstanding_pages/ { print "outstanding", $2 }' $D/zoneinfo
	for n in $NODES; do echo "node $n free $(pn_zone_field "$n" free)"; done
}
met() {
	awk '$1 == "pcp_trylock_failed" { s += $2 }
		$1 == "zone_lock_contended" { s += $2 + $4 }
		END { print s + 0 }' $D/zoneinfo
}
BASE=$(state)
MET0=$(met)
CPUS=$(nproc)
PER_CPU=$(((TOTAL_OPS + CPUS - 1) / CPUS))

# 1: the run itself, with a third context busy on the control file.
run() {
	local pid r ok=0 i=0
	echo "$SEED $PER_CPU" >$S &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		case $((i % 3)) in
		0) r=$(pn_write $D/control drain) ;;
		1) r=$(pn_write $D/control "owner $N1 $((i % 2))") ;;
		2) r=$(pn_write $D/control verify) ;;
		esac
		[ "$r" = ok ] || { ktap_print_msg "control during the run: $r"; ok=1; }
		i=$((i + 1))
		sleep 0.5
	done
	wait "$pid" || { ktap_print_msg "stress write failed"; ok=1; }
	echo "owner $N1 0" >$D/control
	ktap_print_msg "$(head -n3 $S | tr '\n' ' ')"
	ktap_print_msg "third context: $i control writes"
	return $ok
}
ktap_test_result "$CPUS pinned kthreads, $PER_CPU ops each, every entry point, with hardirq and NMI nolock and a third context" run

# 2: at least TOTAL_OPS operations, none of them corrupted.
ops_clean() {
	local ops mism
	ops=$(awk '$1 == "seed" { print $4 }' $S)
	mism=$(awk '$1 == "seed" { print $8 }' $S)
	[ "$ops" -ge "$TOTAL_OPS" ] || { ktap_print_msg "only $ops ops"; return 1; }
	[ "$mism" = 0 ] || { ktap_print_msg "$mism pattern mismatches"; return 1; }
	# Every entry point was exercised, and the hardirq side ran and got pages.
	awk '$1 == "kind" && $3 == 0 { bad = 1 } END { exit bad }' $S || { ktap_print_msg "an entry point never ran"; return 1; }
	awk '$1 == "hardirq_nolock" && $3 > 0 && $5 > 0 { ok = 1 } END { exit !ok }' $S ||
		{ ktap_print_msg "$(grep hardirq $S)"; return 1; }
	# And NMIs landed on the other CPU mid-run and some got pages.
	awk '$1 == "nmi_nolock" && $3 > 0 && $5 > 0 { ok = 1 } END { exit !ok }' $S ||
		{ ktap_print_msg "$(grep nmi $S)"; return 1; }
}
ktap_test_result "at least $TOTAL_OPS operations, 0 pattern mismatches, every entry point, hardirq and NMI nolock exercised" ops_clean

# 3: the CPUs really met: contended zone locks or failed pcp/zone trylocks.
contended() {
	local met
	met=$(($(met) - MET0))
	ktap_print_msg "lock contention and trylock failures during the run: $met"
	[ "$met" -gt 0 ]
}
ktap_test_result "the CPUs contended (zone lock waits and trylock failures counted)" contended

# 4: every page came back: free counts exact, free lists consistent.
nothing_lost() {
	echo drain >$D/control
	[ "$(state)" = "$BASE" ] || { ktap_print_msg "after: $(state | tr '\n' ' '), before: $(echo "$BASE" | tr '\n' ' ')"; return 1; }
	[ "$(pn_write $D/control verify)" = ok ]
}
ktap_test_result "outstanding 0 and every node's free count back to the exact baseline; free lists verified" nothing_lost

pn_unload
ktap_test_result "no kernel warnings, KASAN or lockdep reports" pn_no_splats
ktap_finished
