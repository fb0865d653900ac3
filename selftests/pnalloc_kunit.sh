#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pnalloc's KUnit suites run when the module loads: the core built into the
# kernel on an isolated instance, and the entry points on the nodes carved
# at load. Check that every planned case ran and passed.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin

# suite:number of cases
SUITES="pnalloc_core_kernel:5 pnalloc_entry:7 pnalloc_contract:7 pnalloc_policy:5"
ktap_set_plan $(($(echo $SUITES | wc -w) + 2))

insmod "$KO" || ktap_exit_fail_msg "insmod failed"
for s in $SUITES; do
	name=${s%%:*}
	want=${s#*:}
	suite_ok() {
		local r=/sys/kernel/debug/kunit/$name/results plan pass
		[ -r "$r" ] || { ktap_print_msg "no $r"; return 1; }
		sed 's/^/    /' "$r" | while read -r l; do ktap_print_msg "$l"; done
		plan=$(grep -Eo '^\s+1\.\.[0-9]+' "$r" | head -n1 | tr -dc 0-9 | cut -c2-)
		pass=$(grep -Ec '^\s+ok [0-9]+ ' "$r")
		[ "$plan" = "$want" ] && [ "$pass" = "$want" ] && ! grep -q "not ok" "$r"
	}
	ktap_test_result "KUnit suite $name: $want cases ran and passed" suite_ok
done
unload() {
	grep -q "^outstanding_pages 0$" $PN_DEBUGFS/zoneinfo && pn_unload
}
ktap_test_result "every page the suites took came back; the module unloads" unload
ktap_test_result "no kernel warnings or lockdep reports" pn_no_splats
ktap_finished
