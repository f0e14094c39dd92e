#!/bin/sh
# dkms-test.sh B "KVER..." : dkms.conf works. `make dkms-source` stages the
# tree dkms copies; dkms (Debian's, installed by install-deps.sh) adds,
# builds and installs it for each kernel of the list against Debian's
# headers (/usr/src/linux-headers-KVER), all in a scratch tree under
# $B/dkms-test (--dkmstree, --sourcetree, --installtree, --no-depmod,
# a scratch signing key): the system's /var/lib/dkms, /usr/src and
# /lib/modules are not touched and nothing is loaded. Each kernel's
# mkioq.ko must be installed and carry the `devices` parameter with its
# description, license GPL, the description and that kernel's vermagic.
# Results as tests with kselftest totals.
set -u
B=$1
kvers=$2
. "$(dirname "$0")/test-results.sh"
totals() {
	print_totals
	[ "$fail" -eq 0 ]
	exit
}

if [ -z "$kvers" ]; then
	echo "# no kernel given (make check passes MKIOQ_KVERS to check.sh)"
	result 1 kernel_given
	print_totals
	exit 1
fi
version=$(sed -n 's/^VERSION := //p' Makefile)
w=$(pwd)/$B/dkms-test
rm -rf "$w"
mkdir -p "$w"
log=$w/dkms.log

command -v dkms >/dev/null 2>&1 || sh tests/scripts/install-deps.sh
if ! command -v dkms >/dev/null 2>&1; then
	echo "# dkms is not installed (tests/scripts/install-deps.sh)"
	result 1 dkms_installed
	totals
fi
echo "# $(dkms --version), mkioq $version, kernels: $kvers"

# What the system has before; compared at the end.
system_state() {
	{
		ls -la /var/lib/dkms /usr/src 2>&1
		for k in $kvers; do
			find "/lib/modules/$k" -name 'mkioq.ko*' 2>&1
		done
		grep -ws '^mkioq' /proc/modules
	} >"$1"
}
system_state "$w/before"

# The source tree, as `make install` places it in /usr/src (MAKEFLAGS
# emptied: no DKMSSRCDIR=... given to `make check` moves it).
MAKEFLAGS='' make --no-print-directory dkms-source DESTDIR="$w/root" >"$w/make.log" 2>&1
st=$?
src=$w/root/usr/src/mkioq-$version
for f in dkms.conf Kbuild driver/Kbuild driver/mkioq_main.c \
		uapi/linux/mkioq.h; do
	if [ ! -f "$src/$f" ] || [ -L "$src/$f" ]; then
		echo "# $src/$f: missing or a link"
		st=1
	fi
done
[ "$st" -eq 0 ] || sed 's/^/# /' "$w/make.log"
result "$st" dkms_source_tree
grep -qx "PACKAGE_VERSION=\"$version\"" dkms.conf
result $? dkms_conf_version_is_makefile_version

# The scratch trees; the framework's signing variables point into it too,
# so that dkms makes its key there, not in /var/lib/dkms.
mkdir -p "$w/dkms" "$w/modules"
export mok_signing_key="$w/mok.key" mok_certificate="$w/mok.pub"
scratch() {
	dkms "$@" --dkmstree "$w/dkms" --sourcetree "$w/root/usr/src" \
		--installtree "$w/modules" >>"$log" 2>&1
}
scratch add "mkioq/$version"
st=$?
result "$st" dkms_add

for k in $kvers; do
	if [ ! -d "/usr/src/linux-headers-$k" ]; then
		echo "# no headers for $k (make deps)"
		result 1 "dkms_build_install_$k"
		continue
	fi
	mkdir -p "$w/modules/$k"
	echo "== dkms build, install -k $k" >>"$log"
	start=$(date +%s)
	scratch build "mkioq/$version" -k "$k" -j 2 \
		--kernelsourcedir "/usr/src/linux-headers-$k" &&
		scratch install "mkioq/$version" -k "$k" --no-depmod \
			--kernelsourcedir "/usr/src/linux-headers-$k"
	st=$?
	# dkms compresses modules as the kernel's own are (6.12: xz).
	ko=$(find "$w/modules/$k/updates/dkms" -name 'mkioq.ko*' 2>/dev/null | head -n 1)
	if [ -n "$ko" ]; then
		echo "# $k: ${ko#"$w"/} ($(($(date +%s) - start)) s)"
	else
		echo "# $k: no mkioq.ko* in modules/$k/updates/dkms"
		st=1
	fi
	[ "$st" -eq 0 ] || tail -n 25 "$log" | sed 's/^/# /'
	result "$st" "dkms_build_install_$k"
	[ -n "$ko" ] || continue

	mi=$w/modinfo-$k
	modinfo "$ko" >"$mi" 2>&1
	st=0
	grep -qx 'parm: *devices:number of /dev/mkioqN devices (1-64, default 1) (uint)' \
		"$mi" || st=1
	grep -qx 'license: *GPL' "$mi" || st=1
	grep -qx 'description: *Host side of a GPU megakernel IO request ring' \
		"$mi" || st=1
	vm=$(sed -n 's/^vermagic: *//p' "$mi")
	case $vm in
	"$k "*) ;;
	*) st=1 ;;
	esac
	grep -E '^(parm|license|description|vermagic|signer):' "$mi" |
		sed 's/^/#   /'
	[ "$st" -eq 0 ] || sed 's/^/# modinfo: /' "$mi"
	result "$st" "modinfo_$k"
done

dkms status mkioq --dkmstree "$w/dkms" --sourcetree "$w/root/usr/src" \
	--installtree "$w/modules" 2>/dev/null | sed 's/^/# dkms status: /'
scratch remove "mkioq/$version" --all --no-depmod
st=$?
left=$(find "$w/modules" "$w/dkms" -type f | head -n 5)
[ -n "$left" ] && echo "# left after dkms remove: $left"
result "$([ "$st" -eq 0 ] && [ -z "$left" ]; echo $?)" dkms_remove

system_state "$w/after"
if cmp -s "$w/before" "$w/after"; then
	st=0
else
	diff "$w/before" "$w/after" | sed 's/^/# /'
	st=1
fi
result "$st" system_untouched

[ "$fail" -eq 0 ] && rm -rf "$w"
totals
