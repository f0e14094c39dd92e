#!/bin/bash
# Build (once per machine) the debug kernel of mkioq's reliability lane
# from Debian's linux-source-6.1 and tests/debug-kernel/mkioq-debug.config,
# and print the path of its build tree. The tree is cached outside the
# work tree, keyed by the config, the source package version and gcc, so a
# second run on the same machine does not rebuild.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/mkioq-debug.config
cache_root=${MKIOQ_KERNEL_CACHE:-/var/cache/mkioq/debug-kernel}
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( { cat "$frag"; echo "$srcver"; gcc --version | head -n 1; } |
	sha256sum | cut -c1-16)
tree=$cache_root/$key/linux-source-6.1

if [ -f "$tree/.mkioq-built" ]; then
	echo "$tree"
	exit 0
fi

log() { echo "debug-kernel: $*" >&2; }
rm -rf "${cache_root:?}/$key"
mkdir -p "$cache_root/$key"
log "extracting linux-source-6.1 $srcver into $cache_root/$key"
tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$cache_root/$key"
cd "$tree"
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
make -s olddefconfig >&2

# merge_config drops what Kconfig refuses: insist on what the lane needs.
missing=""
for opt in $(grep -o '^CONFIG_[A-Z0-9_]*=y' "$frag" | cut -d= -f1); do
	grep -q "^$opt=y" .config || missing="$missing $opt"
done
if [ -n "$missing" ]; then
	log "the config lost:$missing"
	exit 1
fi

# About this many files compile (" CC" lines of build.log), for progress.
files_total=1130
log "building bzImage and modules (about 10-15 minutes on 2 cores, $files_total files)"
start=$(date +%s)
blog=$cache_root/$key/build.log
make -j"$(($(nproc) + 1))" bzImage modules >"$blog" 2>&1 &
make_pid=$!
# One line a minute: what it does and how far along, not the build's log.
last=$start
while kill -0 "$make_pid" 2>/dev/null; do
	sleep 5
	now=$(date +%s)
	if [ $((now - last)) -ge 60 ]; then
		last=$now
		done_files=$(grep -c '^  CC' "$blog" 2>/dev/null || true)
		log "building: $(( (now - start) / 60 )) min, ${done_files:-0} of about $files_total files ($(( ${done_files:-0} * 100 / files_total ))%)"
	fi
done
wait "$make_pid" || {
	tail -n 40 "$blog" >&2
	exit 1
}
log "built in $(( $(date +%s) - start )) s"
touch .mkioq-built
echo "$tree"
