#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install pnalloc's kselftests, the kernel's kselftest runner and the built
# module into $CACHE/kselftest, the directory the VM runs them from.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KSRC=$(readlink -f "$KDIR/source")
ST=$ST_DIR
KO=$REPO_DIR/pnalloc.ko
[ -f "$KO" ] || die "no pnalloc.ko; run 'make module'"
[ -f "$REPO_DIR/pnalloc_test.ko" ] || die "no pnalloc_test.ko; run 'make module'"
[ -d "$KSRC/tools/testing/selftests/kselftest" ] || die "no kselftest framework in $KSRC"

step "selftests: install into $ST"
rm -rf "$ST"
mkdir -p "$ST/kselftest"
for f in runner.sh prefix.pl ktap_helpers.sh module.sh ksft.py; do
	install -m 744 "$KSRC/tools/testing/selftests/kselftest/$f" "$ST/kselftest/"
done
install -m 744 "$KSRC/tools/testing/selftests/run_kselftest.sh" "$ST/"
mkdir -p "$ST/pnalloc"
make -s -C "$REPO_DIR/selftests" KSRC="$KSRC" OUTPUT="$ST/pnalloc" install INSTALL_PATH="$ST/pnalloc" >&2 ||
	die "selftests install failed"
make -s --no-print-directory -C "$REPO_DIR/selftests" KSRC="$KSRC" COLLECTION=pnalloc emit_tests >"$ST/kselftest-list.txt" ||
	die "selftests emit_tests failed"
install -m 644 "$KO" "$ST/pnalloc/"
install -m 644 "$REPO_DIR/pnalloc_test.ko" "$ST/pnalloc/"
info "$(wc -l <"$ST/kselftest-list.txt") tests: $(tr '\n' ' ' <"$ST/kselftest-list.txt")"
