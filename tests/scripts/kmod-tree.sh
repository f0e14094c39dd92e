#!/bin/sh
# kmod-tree.sh DIR: make DIR an out-of-tree module tree of the driver for
# `make -C $KDIR M=DIR`: Kbuild, driver/ (Kbuild and *.[ch]) and uapi/ as
# symlinks to the sources, so that each kernel's objects stay in their own
# DIR and builds for two kernels never clobber each other. Idempotent;
# links to sources that no longer exist are removed.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 64; }
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
mkdir -p "$dir/driver"
ln -sfn "$src/Kbuild" "$dir/Kbuild"
ln -sfn "$src/uapi" "$dir/uapi"
for f in "$src"/driver/Kbuild "$src"/driver/*.[ch]; do
	case $f in
	*.mod.c) continue ;;
	esac
	ln -sfn "$f" "$dir/driver/${f##*/}"
done
find "$dir/driver" -type l ! -exec test -e {} \; -exec rm -f {} +
