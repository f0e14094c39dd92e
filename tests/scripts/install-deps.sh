#!/bin/sh
# Install the Debian packages mkioq's build, tests and demo need, and the
# second kernel of the test lanes: Debian's 6.12 from bookworm-security
# (the newest linux-image-6.12.*+deb12-amd64-unsigned with its headers).
# Idempotent: does nothing (and prints nothing) when all are present.
set -eu

pkgs="build-essential pkg-config clang libclang-rt-14-dev \
	linux-image-amd64 linux-headers-amd64 linux-source-6.1 \
	liburing-dev libdrm-dev sparse \
	qemu-system-x86 busybox-static cpio xz-utils zstd kmod gnuplot-nox \
	e2fsprogs \
	flex bison bc libelf-dev libssl-dev dkms linux-perf"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q "install ok installed"
}

# The ABI names ("6.12.117+deb12") of the 6.12 kernels apt knows about,
# newest first. Only the local package lists are read.
k612_available() {
	apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' 2>/dev/null |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12\)-amd64-unsigned .*/\1/p' |
		sort -rV
}

# The newest 6.12 ABI whose image and headers apt can install.
k612_newest() {
	for abi in $(k612_available); do
		if apt-cache show "linux-headers-$abi-amd64" >/dev/null 2>&1; then
			echo "$abi"
			return
		fi
	done
}

# Is the bookworm-security suite in an (uncommented) apt source?
have_security() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
			/etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		grep -Eqs '^[^#]*bookworm-security' "$f" && return 0
	done
	return 1
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: $* (run as root)" >&2
		exit 1
	fi
}

missing=""
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done

updated=""
apt_update() {
	[ -n "$updated" ] && return
	apt-get update -qq
	updated=1
}
export DEBIAN_FRONTEND=noninteractive

if ! have_security; then
	need_root "bookworm-security is not an apt source"
	echo "install-deps: adding bookworm-security to the apt sources"
	cat >/etc/apt/sources.list.d/mkioq-bookworm-security.sources <<-EOF
	Types: deb
	URIs: http://deb.debian.org/debian-security
	Suites: bookworm-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt_update
fi

# The 6.12 kernel: the newest in the package lists (after an update if the
# lists know none), unless that one is already installed.
abi=$(k612_newest)
if [ -z "$abi" ]; then
	need_root "no 6.12 kernel in the apt lists"
	apt_update
	abi=$(k612_newest)
fi
if [ -z "$abi" ]; then
	echo "install-deps: no linux-image-6.12.*+deb12-amd64-unsigned with headers in bookworm-security" >&2
	exit 1
fi
for p in "linux-image-$abi-amd64-unsigned" "linux-headers-$abi-amd64"; do
	installed "$p" || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

need_root "missing:$missing"
echo "install-deps: installing:$missing"
apt_update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
