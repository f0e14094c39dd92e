#!/bin/sh
# tests/vm/make-disk.sh IMAGE: make the raw ext4 image that run-vm.sh
# --disk-image attaches as a virtio-blk disk (the guest mounts it at
# /mnt/ext4), without mounting anything on the host: mkfs.ext4 -d copies
# the files in. It holds
#   seed.bin   8 MiB + 4093 bytes of random data (storage_disk_test reads
#              it byte for byte against pread(), and its end of file)
#   bench.bin  64 MiB of random data (mkioq-bench --only storage)
# and room (about 180 MiB) for the files the tests write. The image is
# made afresh each time: a run that writes to it leaves nothing for the
# next. Needs e2fsprogs 1.43 or later (mkfs.ext4 -d).
set -eu

img=${1:?usage: make-disk.sh IMAGE}
mkfs=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
[ -x "$mkfs" ] || { echo "make-disk: mkfs.ext4 not found (install e2fsprogs)" >&2; exit 64; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c $((8 << 20)) /dev/urandom >"$dir/seed.bin"
head -c 4093 /dev/urandom >>"$dir/seed.bin"
head -c $((64 << 20)) /dev/urandom >"$dir/bench.bin"

mkdir -p "$(dirname "$img")"
rm -f "$img"
truncate -s 256M "$img"
# 4 KiB blocks whatever the size (mke2fs.conf's "small" type would pick
# 1 KiB ones for an image under 512 MiB).
"$mkfs" -q -F -b 4096 -L mkioq-disk -d "$dir" "$img"
