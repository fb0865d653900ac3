#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Patch, configure and build the VM kernel in the cache, incrementally.
#
# The build directory is per kernel version. Its stamp holds a key over the
# patch series, the config fragments and the toolchain; when the key matches
# and the image exists, nothing is done. When it differs, the previously
# applied series is reverted and the new one applied, so only the files a
# patch touches get new mtimes and make rebuilds just what depends on them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SERIES_DIR=$REPO_DIR/rust/kernel-patches
FRAGMENTS=("$REPO_DIR/scripts/kconfig/pnalloc-vm.config" "$REPO_DIR/selftests/config")
# PNALLOC_KERNEL_VARIANT=bench: the same kernel without the debuggers, in a
# build directory (and link) of its own; the test kernel stays as it is.
VARIANT=${PNALLOC_KERNEL_VARIANT:-test}
case $VARIANT in
test) suffix="" ;;
bench)
	suffix=-bench
	FRAGMENTS+=("$REPO_DIR/scripts/kconfig/pnalloc-bench.config")
	KBUILD_LINK=$CACHE_DIR/build/bench
	;;
*) die "unknown kernel variant $VARIANT" ;;
esac

src=$("$REPO_DIR/scripts/fetch-kernel.sh") || die "kernel source step failed"
ver=${src##*/linux-source-}
obj=$CACHE_DIR/build/linux-$ver$suffix
mkdir -p "$obj"

series() { [ -f "$SERIES_DIR/series" ] && grep -v '^\s*#' "$SERIES_DIR/series" | sed '/^\s*$/d' || true; }

key=$({
	echo "$ver"
	for p in $(series); do sha256sum <"$SERIES_DIR/$p"; done
	cat "${FRAGMENTS[@]}"
	echo "${KMAKE_FLAGS[*]}"
	/usr/bin/rustc --version
	clang-22 --version | head -n1
	"$(bindgen_bin)" --version
} | sha256sum | cut -c1-16)

if [ "$(cat "$obj/.pnalloc-key" 2>/dev/null)" = "$key" ] && [ -f "$obj/arch/x86/boot/bzImage" ]; then
	info "kernel $ver up to date (key $key)"
	ln -sfn "$obj" "$KBUILD_LINK"
	exit 0
fi

step "kernel: patch series ($SERIES_DIR)"
# The tree remembers what it has applied in $applied. Patches that are the
# same (name and content) at the front of both series stay applied; only the
# rest is reverted (newest first) and applied again, so an edit to the last
# patch does not touch the files of the ones before it.
applied=$src/.pnalloc-applied
mkdir -p "$applied"
touch "$applied/series"
mapfile -t old < "$applied/series"
mapfile -t new < <(series)
keep=0
while [ $keep -lt ${#old[@]} ] && [ $keep -lt ${#new[@]} ] &&
	[ "${old[$keep]}" = "${new[$keep]}" ] && cmp -s "$applied/${old[$keep]}" "$SERIES_DIR/${new[$keep]}"; do
	keep=$((keep + 1))
done
for ((i = ${#old[@]} - 1; i >= keep; i--)); do
	p=${old[$i]}
	patch -d "$src" -p1 -R -s -f <"$applied/$p" >/dev/null ||
		die "could not revert $p; delete $src to start from a clean tree"
	rm -f "$applied/$p"
	info "reverted $p"
done
printf '%s\n' "${old[@]:0:$keep}" | sed '/^$/d' >"$applied/series"
for p in "${new[@]:$keep}"; do
	[ -f "$SERIES_DIR/$p" ] || die "series names $p but rust/kernel-patches/$p does not exist"
	if ! patch -d "$src" -p1 -N -s -f --dry-run <"$SERIES_DIR/$p" >/dev/null; then
		patch -d "$src" -p1 -N -f --dry-run <"$SERIES_DIR/$p" >&2 || true
		die "patch $p does not apply to linux $ver"
	fi
	patch -d "$src" -p1 -N -s -f <"$SERIES_DIR/$p" >/dev/null
	cp "$SERIES_DIR/$p" "$applied/"
	echo "$p" >>"$applied/series"
	info "applied $p"
done
[ $keep -eq 0 ] || info "kept $keep patch(es) applied"

step "kernel: config (allnoconfig + ${FRAGMENTS[*]##*/})"
kmake() { make -C "$src" O="$obj" "${KMAKE_FLAGS[@]}" "$@"; }
# Configure in a scratch file and only replace .config when it changed, so an
# unchanged config does not make kbuild rebuild the world.
cfgdir=$(mktemp -d)
trap 'rm -rf "$cfgdir"' EXIT
make -C "$src" O="$cfgdir" "${KMAKE_FLAGS[@]}" -s allnoconfig >&2
KCONFIG_CONFIG=$cfgdir/.config "$src/scripts/kconfig/merge_config.sh" -m -O "$cfgdir" \
	"$cfgdir/.config" "${FRAGMENTS[@]}" >/dev/null
make -C "$src" O="$cfgdir" "${KMAKE_FLAGS[@]}" -s olddefconfig >&2
# Every symbol we ask for must have survived olddefconfig; a silently dropped
# dependency (RUST without bindgen, VIRTIO_PCI without VIRTIO_MENU) is an error.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		sym=${line%%=*}
		grep -qx "$line" "$cfgdir/.config" || {
			info "config: wanted $line, got: $(grep -E "^(# )?${sym}[= ]" "$cfgdir/.config" || echo unset)"
			bad=1
		}
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		! grep -q "^$sym=" "$cfgdir/.config" || bad=1
		;;
	esac
done < <(
	# A later fragment overrides an earlier one: check the last word on
	# each symbol only.
	cat "${FRAGMENTS[@]}" | awk '
		/^CONFIG_[A-Za-z0-9_]+=/ { sym = $0; sub(/=.*/, "", sym) }
		/^# CONFIG_[A-Za-z0-9_]+ is not set/ { sym = $2 }
		/^CONFIG_|^# CONFIG_.* is not set/ { if (!(sym in last)) order[n++] = sym; last[sym] = $0 }
		END { for (i = 0; i < n; i++) print last[order[i]] }')
if [ $bad -ne 0 ]; then
	[ -x "$src/scripts/rust_is_available.sh" ] &&
		RUSTC=/usr/bin/rustc BINDGEN=$(bindgen_bin) CC=clang-22 "$src/scripts/rust_is_available.sh" >&2 || true
	die "kernel config: requested symbols were dropped (see above)"
fi
if ! cmp -s "$cfgdir/.config" "$obj/.config"; then
	cp "$cfgdir/.config" "$obj/.config"
	info "config changed; wrote $obj/.config"
fi

step "kernel: build linux $ver in $obj (-j$(nproc)); log: $obj/build.log"
start=$(date +%s)
# Progress: one line per 100 objects, so a 20-minute build is not silent.
if ! kmake -j"$(nproc)" bzImage modules 2>&1 | tee "$obj/build.log" |
	awk '/^  (CC|RUSTC|AS|LD|AR)/ { n++; if (n % 100 == 0) { printf("    %d objects...\n", n) > "/dev/stderr"; fflush() } }
	     /error|Error/ { print > "/dev/stderr" }'; then
	die "kernel build failed; see $obj/build.log"
fi
[ -f "$obj/arch/x86/boot/bzImage" ] || die "kernel build produced no bzImage"
echo "$key" >"$obj/.pnalloc-key"
ln -sfn "$obj" "$KBUILD_LINK"
info "kernel $ver built in $(($(date +%s) - start)) s (key $key)"
