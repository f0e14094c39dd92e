#!/bin/sh
# Install the Debian packages mkioq's build, tests and demo need.
# Idempotent: does nothing (and prints nothing) when all are present.
set -eu

pkgs="build-essential pkg-config clang libclang-rt-14-dev \
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 \
	liburing-dev libdrm-dev sparse \
	qemu-system-x86 busybox-static cpio xz-utils kmod gnuplot-nox \
	flex bison bc libelf-dev libssl-dev"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
