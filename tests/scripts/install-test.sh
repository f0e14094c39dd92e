#!/bin/sh
# install-test.sh B KVER: `make install DESTDIR=...` puts exactly the files
# it should, with their modes and symlinks (module for KVER, libraries,
# headers, pkg-config files, man pages, udev rule, DKMS source tree), and
# runs no depmod; a program built with `pkg-config --cflags --libs mkioq`
# (and mkioq-uring) against the staged tree alone links and runs on the
# staged libraries (host-owned queue: no module needed); the .pc files
# follow PREFIX; `make uninstall` with the same DESTDIR (and PREFIX)
# leaves nothing but empty directories. Results as tests with kselftest
# totals.
set -u
B=$1
kver=$2
. "$(dirname "$0")/test-results.sh"

if [ -z "$kver" ]; then
	echo "# no kernel given (make check passes MKIOQ_KVERS to check.sh)"
	result 1 kernel_given
	print_totals
	exit 1
fi
version=$(sed -n 's/^VERSION := //p' Makefile)
so=$(sed -n 's/^SOVERSION := //p' Makefile)
w=$(pwd)/$B/install-test
rm -rf "$w"
mkdir -p "$w"
d=$w/root
# MAKEFLAGS emptied: variables given to `make check` (PREFIX=...) must
# not move the staged tree.
mk() {
	MAKEFLAGS='' make --no-print-directory "$@" >>"$w/make.log" 2>&1 ||
		{ tail -n 20 "$w/make.log" | sed 's/^/# /'; return 1; }
}

# The expected tree: "PATH MODE SOURCE" (SOURCE: the file it must equal,
# "-" for a generated one, "->TARGET" for a symlink).
lib=usr/local/lib
inc=usr/local/include
man=usr/local/share/man
dkms=usr/src/mkioq-$version
{
	for l in libmkioq libmkioq-uring; do
		echo "$lib/$l.a 644 $B/lib/$l.a"
		echo "$lib/$l.so.$version 755 $B/lib/$l.so.$version"
		echo "$lib/$l.so.$so 777 ->$l.so.$version"
		echo "$lib/$l.so 777 ->$l.so.$version"
	done
	for h in libmkioq.h mkioq_engine.h mkioq_uring.h mkioq_cuda.cuh; do
		echo "$inc/$h 644 libmkioq/include/$h"
	done
	echo "$inc/linux/mkioq.h 644 uapi/linux/mkioq.h"
	echo "$lib/pkgconfig/mkioq.pc 644 -"
	echo "$lib/pkgconfig/mkioq-uring.pc 644 -"
	for m in libmkioq/man/*.[37]; do
		echo "$man/man${m##*.}/${m##*/} 644 $m"
	done
	echo "usr/local/bin/mkioq-stat 755 $B/demo/mkioq-stat"
	echo "lib/udev/rules.d/99-mkioq.rules 644 Documentation/99-mkioq.rules"
	echo "lib/modules/$kver/updates/mkioq.ko 644 $B/kmod/$kver/driver/mkioq.ko"
	for f in dkms.conf Kbuild driver/Kbuild driver/*.[ch] uapi/linux/mkioq.h; do
		case $f in *.mod.c) continue ;; esac
		echo "$dkms/$f 644 $f"
	done
} | sort >"$w/expected"

mk install DESTDIR="$d" KVER="$kver"
result $? make_install

# Every expected file, its mode, its content; nothing else.
st=0
while read -r path mode src; do
	f=$d/$path
	if [ ! -e "$f" ] && [ ! -L "$f" ]; then
		echo "# missing: $path"
		st=1
		continue
	fi
	m=$(stat -c %a "$f")
	[ "$m" = "$mode" ] || { echo "# $path: mode $m, not $mode"; st=1; }
	case $src in
	-) ;;
	-\>*)
		t=$(readlink "$f")
		if [ ! -L "$f" ] || [ "$t" != "${src#->}" ] || [ ! -f "$f" ]; then
			echo "# $path: not a symlink to ${src#->}"
			st=1
		fi
		;;
	*)
		if [ -L "$f" ] || ! cmp -s "$f" "$src"; then
			echo "# $path: not a copy of $src"
			st=1
		fi
		;;
	esac
done <"$w/expected"
result "$st" installed_files_modes_links
echo "# $(wc -l <"$w/expected") files, $(du -sk "$d" | cut -f1) KiB under DESTDIR"

(cd "$d" && find . ! -type d | sed 's|^\./||' | sort) >"$w/found"
extra=$(cut -d' ' -f1 "$w/expected" | comm -13 - "$w/found")
[ -n "$extra" ] && printf '%s\n' "$extra" | sed 's/^/# not expected: /'
result "$([ -z "$extra" ]; echo $?)" nothing_else_installed

bad=$(find "$d" -type d ! -perm 755)
[ -n "$bad" ] && printf '%s\n' "$bad" | sed 's/^/# directory not 755: /'
result "$([ -z "$bad" ]; echo $?)" directories_755

# DESTDIR set: no depmod (it would have written modules.dep there).
result "$([ ! -e "$d/lib/modules/$kver/modules.dep" ]; echo $?)" no_depmod_with_destdir

vm=$(modinfo -F vermagic "$d/lib/modules/$kver/updates/mkioq.ko" 2>&1)
echo "# mkioq.ko vermagic: $vm"
case $vm in
"$kver "*) st=0 ;;
*) st=1 ;;
esac
result "$st" module_vermagic_is_kver

# Build against the staged tree alone: its headers and libraries, through
# its pkg-config files; nothing from the source tree.
export PKG_CONFIG_PATH="$d/$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$d"
cat >"$w/core.c" <<'EOF'
#include <stdio.h>
#include <libmkioq.h>

int main(void)
{
	struct mkioq_completion rec;
	struct mkioq_queue *q;
	int ret;

	ret = mkioq_queue_new(8, &q);
	if (ret) {
		printf("mkioq_queue_new: %s\n", mkioq_strerror(ret));
		return 1;
	}
	ret = mkioq_submit_dma_read(q, 3, 1, 2, 4096, 42);
	if (!ret)
		ret = mkioq_claim(q, 3);
	if (!ret)
		ret = mkioq_complete(q, 3);
	if (!ret)
		ret = mkioq_completion(q, 3, &rec);
	if (!ret && (rec.status != MKIOQ_RESULT_OK || rec.tag != 42 ||
		     rec.byte_count != 4096))
		ret = -1;
	if (!ret)
		ret = mkioq_recycle(q, 3);
	printf("slot 3 of %u: submit, claim, complete, recycle: %s\n",
	       mkioq_queue_slot_count(q), ret ? mkioq_strerror(ret) : "OK");
	mkioq_queue_free(q);
	return ret != 0;
}
EOF
cat >"$w/uring.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <mkioq_uring.h>

int main(void)
{
	struct mkioq_queue *q;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	int ret;

	if (mkioq_queue_new(8, &q))
		return 1;
	/* A host-owned queue has no device to ring: ENOTTY. */
	ret = mkioq_uring_init(q, 0);
	printf("mkioq_uring_init on a host queue: %d (%s)\n", ret,
	       ret == -ENOTTY ? "ENOTTY, as it should" : "WRONG");
	if (ret != -ENOTTY)
		return 1;
	if (io_uring_queue_init(4, &ring, 0) == 0) {
		sqe = io_uring_get_sqe(&ring);
		mkioq_prep_doorbell(&ring, sqe, 0);
		printf("doorbell SQE: opcode %u, cmd_op %#x\n", sqe->opcode,
		       sqe->cmd_op);
		io_uring_queue_exit(&ring);
	}
	mkioq_queue_free(q);
	return 0;
}
EOF

# build_run NAME PKG [LDFLAGS...]: build NAME.c with pkg-config PKG, run it
# on the staged libraries and check that they are the ones it loaded.
build_run() {
	name=$1 pkg=$2
	shift 2
	flags=$(pkg-config --cflags --libs "$pkg" 2>&1 | sed 's/ *$//')
	echo "# pkg-config --cflags --libs $pkg: $flags" | sed "s|$d|\$DESTDIR|g"
	# shellcheck disable=SC2086
	if ! cc -std=gnu11 -Wall -Werror -o "$w/$name" "$w/$name.c" $flags "$@" \
			>"$w/$name.cc.log" 2>&1; then
		sed 's/^/# /' "$w/$name.cc.log"
		return 1
	fi
	out=$(LD_LIBRARY_PATH="$d/$lib" "$w/$name" 2>&1)
	st=$?
	printf '%s\n' "$out" | sed "s/^/# $name: /"
	[ "$st" -eq 0 ] || return 1
	libs=$(LD_LIBRARY_PATH="$d/$lib" ldd "$w/$name" 2>/dev/null | grep -E 'libmkioq')
	[ -z "$libs" ] && return 0	# static
	printf '%s\n' "$libs" | sed "s|$d|\$DESTDIR|g; s/^[[:space:]]*/#   /"
	! printf '%s\n' "$libs" | grep -v -q "=> $d/$lib/"
}
case $(pkg-config --cflags --libs mkioq 2>&1 | sed 's/ *$//') in
"-I$d/$inc -L$d/$lib -lmkioq") st=0 ;;
*) st=1 ;;
esac
result "$st" pkg_config_mkioq_flags
build_run core mkioq
result $? build_run_with_pkg_config_mkioq
build_run uring mkioq-uring
result $? build_run_with_pkg_config_mkioq_uring
build_run core mkioq -static
result $? static_link_libmkioq_a

# make uninstall: nothing left but (empty) directories.
mk uninstall DESTDIR="$d" KVER="$kver"
st=$?
left=$(find "$d" ! -type d)
[ -n "$left" ] && printf '%s\n' "$left" | sed 's/^/# left by uninstall: /'
result "$([ "$st" -eq 0 ] && [ -z "$left" ]; echo $?)" make_uninstall_leaves_no_file
[ ! -e "$d/$dkms" ]
result $? uninstall_removes_dkms_tree

# Another PREFIX: the .pc files are made again with it, and uninstall
# with the same PREFIX removes them.
d2=$w/root-opt
mk install-lib DESTDIR="$d2" PREFIX=/opt/mkioq
st=$?
grep -qx 'prefix=/opt/mkioq' "$d2/opt/mkioq/lib/pkgconfig/mkioq.pc" &&
	grep -qx 'includedir=/opt/mkioq/include' "$d2/opt/mkioq/lib/pkgconfig/mkioq-uring.pc" &&
	[ -f "$d2/opt/mkioq/lib/libmkioq.so.$version" ] || st=1
mk uninstall DESTDIR="$d2" PREFIX=/opt/mkioq KVER="$kver" || st=1
[ -z "$(find "$d2" ! -type d)" ] || st=1
# The build's .pc files back to the default PREFIX.
mk lib || st=1
result "$st" pc_files_follow_prefix

print_totals
[ "$fail" -eq 0 ] && rm -rf "$w"
[ "$fail" -eq 0 ]
