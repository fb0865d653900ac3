#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-7.3 through a private apt configuration and
# unpack it into the cache. The system's apt sources are never touched: adding
# trixie there would upgrade libc6 and half the machine.
#
# Prints the path of the pristine source tree on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The version we build and test against. If the suite has moved on, the newest
# 7.3.x it offers is used instead and the script says so.
KERNEL_PIN=$KERNEL_VERSION
SUITE=trixie-backports

APT_DIR=$CACHE_DIR/apt
SRC_DIR=$CACHE_DIR/src
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$APT_DIR/etc" "$SRC_DIR"

cat >"$APT_DIR/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main
SRC
APT_OPTS=(
	-o "Dir::Etc::SourceList=$APT_DIR/etc/sources.list"
	-o "Dir::Etc::SourceParts=/dev/null"
	-o "Dir::State::Lists=$APT_DIR/lists"
	-o "Dir::Cache::Archives=$APT_DIR/archives"
	-o "Dir::Cache=$APT_DIR"
	-o "Dir::State::status=/var/lib/dpkg/status"
	-o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root"
	-o "APT::Get::List-Cleanup=0"
)

tree_for() { echo "$SRC_DIR/linux-source-$1"; }

# A tree unpacked earlier for the pinned version needs no network at all.
if [ -f "$(tree_for "$KERNEL_PIN")/.pnalloc-unpacked" ]; then
	info "kernel source $KERNEL_PIN (cached)"
	tree_for "$KERNEL_PIN"
	exit 0
fi

step "kernel source: apt metadata for $SUITE (private apt config)"
apt-get "${APT_OPTS[@]}" -q update >&2 || die "private apt-get update for $SUITE failed"

# linux-source-7.3 is the binary package; its version is e.g. 7.3.4-1~bpo13+1.
mapfile -t versions < <(apt-cache "${APT_OPTS[@]}" madison linux-source-7.3 | awk -F'|' '{gsub(/ /,"",$2); print $2}')
[ ${#versions[@]} -gt 0 ] || die "$SUITE offers no linux-source-7.3"
chosen=""
for v in "${versions[@]}"; do
	case "$v" in "$KERNEL_PIN"-*) chosen=$v ;; esac
done
if [ -z "$chosen" ]; then
	chosen=$(printf '%s\n' "${versions[@]}" | sort -V | tail -n1)
	info "WARNING: pinned $KERNEL_PIN is gone from $SUITE; using newest: $chosen"
fi
upstream=${chosen%%-*}
info "linux-source-7.3 $chosen (upstream $upstream)"

tree=$(tree_for "$upstream")
if [ ! -f "$tree/.pnalloc-unpacked" ]; then
	step "kernel source: download and verify linux-source-7.3=$chosen"
	# apt-get download checks the .deb against the signed Release/Packages hashes.
	(cd "$APT_DIR/archives" && apt-get "${APT_OPTS[@]}" -q download "linux-source-7.3=$chosen" >&2) ||
		die "download of linux-source-7.3=$chosen failed"
	deb=$(ls "$APT_DIR"/archives/linux-source-7.3_*.deb | head -n1)
	step "kernel source: unpack $(basename "$deb")"
	work=$(mktemp -d "$SRC_DIR/unpack.XXXX")
	dpkg-deb -x "$deb" "$work" || die "dpkg-deb failed on $deb"
	tarball=$(ls "$work"/usr/src/linux-source-7.3.tar.* | head -n1)
	rm -rf "$tree"
	mkdir -p "$tree"
	tar -xf "$tarball" -C "$tree" --strip-components=1 || die "untar of $tarball failed"
	rm -rf "$work"
	[ -f "$tree/mm/page_alloc.c" ] || die "unpacked tree has no mm/page_alloc.c"
	echo "$chosen" >"$tree/.pnalloc-unpacked"
fi
echo "$tree"
