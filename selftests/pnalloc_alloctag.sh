#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Allocation profiling: after known allocations from known call sites,
# allocinfo shows exactly those bytes and calls on exactly those lines, in
# /proc/allocinfo's format; they return on free; notag allocations appear
# nowhere; nolock allocations (task, hardirq, NMI) are counted on their
# site; the ioctl interface returns the same rows as the text with each
# filter narrowing; bad ioctls fail. Lockdep must stay silent throughout.

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pnalloc_lib.sh"

pn_begin
REPO=$(dirname "$(pn_param ko)")
[ -f "$REPO/src/test/cmd.c" ] || ktap_exit_fail_msg "sources not found"
pn_insmod || ktap_exit_fail_msg "insmod failed"
D=$PN_DEBUGFS
A=$(awk '/private=1/ { print $2; exit }' $D/nodes)
IOC="$DIR/allocinfo_ioctl $D/allocinfo"
# The call site of the test interface's `alloc` in pnalloc_test.ko, as the
# sources say (the file part is __FILE__, whose prefix depends on the build).
LINE=$(grep -n '__pnalloc_alloc_pages(gfp, order, nid, NULL, alloc_flags)' "$REPO/src/test/cmd.c" | cut -d: -f1)
SITE="src/test/cmd.c:$LINE [pnalloc_test] func:cmd_alloc"
t() { pn_write $PN_TEST "$1"; }
row() { grep -F "$1 " $D/allocinfo | awk '{ print $1, $2 }'; }
# The whole tag field of a site, as allocinfo prints it.
tag_of() { grep -F "$1 " $D/allocinfo | awk '{ print $3, $4, $5 }'; }
ext() { grep -F "$1" $D/allocinfo_ext | awk '{ print $1, $2, $3, $4, $5, $6 }'; }

ktap_set_plan 8

# 1
format() {
	[ "$(head -n1 $D/allocinfo)" = "allocinfo - version: 2.0" ] &&
		[ "$(sed -n 2p $D/allocinfo)" = "#     <size>  <calls> <tag info>" ] || return 1
	# "%12lli %8llu file:line [module] func:name " and nothing else.
	! tail -n +3 $D/allocinfo | grep -vE '^ *-?[0-9]+ +[0-9]+ [^ ]+:[0-9]+ \[[^]]+\] func:[^ ]+( accurate:no)? $'
}
ktap_test_result "allocinfo has /proc/allocinfo's 2.0 header and row format" format

# 2
exact_rows() {
	local before after
	[ "$(t "alloc $A 0 3")" = ok ] || return 1
	before=$(row "$SITE")
	[ "$(t "alloc $A 2 2")" = ok ] || return 1
	after=$(row "$SITE")
	# 3 * 4 KiB then 2 * 16 KiB more, 5 calls, on that line.
	[ "$after" = "$((3 * 4096 + 2 * 16384)) 5" ] || { ktap_print_msg "site $SITE: '$before' -> '$after'"; return 1; }
	[ "$(t "free 5")" = ok ] && [ "$(row "$SITE")" = "0 0" ] || return 1
	# Allocated on CPU 0, freed on CPU 1: the charge still comes off.
	[ "$(pn_write_on 0 $PN_TEST "alloc $A 1 4")" = ok ] || return 1
	[ "$(row "$SITE")" = "32768 4" ] || return 1
	[ "$(pn_write_on 1 $PN_TEST "free 4")" = ok ] || return 1
	[ "$(row "$SITE")" = "0 0" ] || { ktap_print_msg "after a cross-CPU free: $(row "$SITE")"; return 1; }
}
ktap_test_result "known allocations show exactly their bytes and calls on $SITE, and return on free (also from another CPU)" exact_rows

# 3
exact_split() {
	local line site
	line=$(grep -n 'pnalloc_alloc_pages_exact_nid(nid, arg, gfp)' "$REPO/src/test/cmd.c" | cut -d: -f1)
	site="src/test/cmd.c:$line [pnalloc_test] func:cmd_ep"
	[ "$(t "ep exact $A 20480")" = ok ] || return 1
	# An order-3 block split into 8 pages, 3 given back: 5 pages, 5 calls.
	[ "$(row "$site")" = "20480 5" ] || { ktap_print_msg "$site: $(row "$site")"; return 1; }
	[ "$(t "free 1")" = ok ] && [ "$(row "$site")" = "0 0" ]
}
ktap_test_result "alloc_pages_exact: the split pages stay charged until each is freed" exact_split

# 4
notag() {
	local rows_before rows_after
	rows_before=$(tail -n +3 $D/allocinfo | sort)
	[ "$(t "alloc $A 1 4 0xcc0 0x1000")" = ok ] || return 1
	rows_after=$(tail -n +3 $D/allocinfo | sort)
	[ "$rows_before" = "$rows_after" ] || { ktap_print_msg "allocinfo changed"; return 1; }
	[ "$(ext "$SITE")" = "0 0 0 0 0 4" ] || { ktap_print_msg "ext: $(ext "$SITE")"; return 1; }
	[ "$(t "free 4")" = ok ] && [ "$(tail -n +3 $D/allocinfo | sort)" = "$rows_before" ]
}
ktap_test_result "ALLOC_NO_CODETAG allocations appear nowhere in allocinfo (counted as notag in allocinfo_ext)" notag

# 5
nolock() {
	local c site
	for c in task hardirq nmi; do
		[ "$(t "nolock $c $A 2")" = ok ] || { ktap_print_msg "nolock $c failed"; return 1; }
	done
	site=$(grep -F "[pnalloc_test] func:nolock_pair" $D/allocinfo_ext | awk '{ print $8 }')
	# Three nolock allocations, each freed with free_pages_nolock().
	[ "$(ext "$site [pnalloc_test] func:nolock_pair")" = "0 0 0 0 3 0" ] || { ktap_print_msg "ext: $(ext "func:nolock_pair")"; return 1; }
	sleep 0.5
	grep -q "^outstanding_pages 0$" $D/zoneinfo
}
ktap_test_result "alloc_pages_nolock from task, hardirq and NMI is counted on its site in pnalloc_test.ko" nolock

# 6
ioctl_matches_text() {
	local text ioc
	[ "$(t "alloc $A 3 2")" = ok ] || return 1
	text=$(tail -n +3 $D/allocinfo | awk '{ print $1, $2, $3, $4, $5 }')
	ioc=$($IOC dump) || return 1
	[ "$text" = "$ioc" ] || { ktap_print_msg "text and ioctl differ"; diff <(echo "$text") <(echo "$ioc") | head -5 | while read -r l; do ktap_print_msg "$l"; done; return 1; }
	[ "$($IOC content-id)" -gt 0 ]
}
ktap_test_result "ALLOCINFO_IOC_GET_AT/GET_NEXT return the same rows and values as the text" ioctl_matches_text

# 7
filters() {
	local ok=0
	local tag file
	tag=$(tag_of "$SITE")
	file=${tag%%:*}
	[ "$($IOC dump file="$file" line=$LINE)" = "65536 2 $tag" ] || { ktap_print_msg "file+line: $($IOC dump file="$file" line=$LINE)"; ok=1; }
	[ "$($IOC dump min=65536)" = "65536 2 $tag" ] || { ktap_print_msg "min: $($IOC dump min=65536)"; ok=1; }
	[ -z "$($IOC dump max=-1 min=65537)" ] || ok=1
	[ "$($IOC dump func=cmd_ep mod=pnalloc_test | wc -l)" = "$(grep -c '\[pnalloc_test\] func:cmd_ep ' $D/allocinfo)" ] || ok=1
	[ "$($IOC dump func=nolock_pair | wc -l)" = 1 ] || ok=1
	[ -z "$($IOC dump mod=nosuchmodule)" ] || ok=1
	[ "$(t "free 2")" = ok ] || ok=1
	return $ok
}
ktap_test_result "each ioctl filter (file, line, function, module, min/max size) narrows correctly" filters

# 8
bad_ioctls() {
	[ "$($IOC errors)" = ok ] && pn_unload && pn_no_splats
}
ktap_test_result "bad ioctls fail (EINVAL, ENOENT, ENOTTY, EFAULT); unload; no lockdep reports" bad_ioctls

ktap_finished
