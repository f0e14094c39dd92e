#!/bin/bash
# Run mkioq tests inside a QEMU (TCG) VM booted from the host's Debian kernel
# and a busybox initramfs built on the fly.
#
# Usage: tests/vm/run-vm.sh [options] [--] [cmd ...]
#
#   --ko PATH          mkioq.ko to load in the guest (default: none)
#   --mem SIZE         guest memory, QEMU syntax (default: 2G)
#   --smp N            guest CPUs (default: 2)
#   --cpu MODEL        QEMU CPU model (default: max,-erms,-fsrm)
#   --timeout SECONDS  kill QEMU and fail after this long (default: 600)
#   --append ARGS      extra kernel command line arguments
#   --workdir DIR      where to build and log (default: build/vm)
#   --kver VERSION     kernel version (default: $KVER, else the one the
#                      --ko module was built for (its vermagic) when
#                      /boot has it, else the newest /boot/vmlinuz-*-amd64)
#   --no-pvh           boot the compressed /boot/vmlinuz as is, instead of
#                      the uncompressed vmlinux extracted from it (see below)
#   --disk-image FILE  attach FILE, a raw ext4 image (tests/vm/make-disk.sh
#                      makes one), read-write as a virtio-blk disk, which
#                      the guest mounts at /mnt/ext4 (a run that asks for
#                      it and cannot mount it fails with status 3)
#   -h, --help         show this help
#
# Each cmd is one argument: the path of a host executable (normally static;
# shared libraries of a dynamic one are copied too; a name without a slash
# is looked up in $PATH) optionally followed by arguments, e.g.
# "build/demo/mkioq-demo --slots 64".  The executable is copied to
# /bin/<basename> in the guest, which runs "<basename> <arguments>" with
# sh -c (so shell quoting in the arguments works), in order, from /tmp, with
# stdin from /dev/null and MKIOQ_VM=1 in the environment.  The path itself
# must not contain whitespace.
#
# Booting: under TCG the guest spends ~4 s decompressing the bzImage, so by
# default the ELF vmlinux is extracted once from /boot/vmlinuz-$KVER (XZ for
# Debian's 6.1, zstd for its 6.12) into $WORKDIR/vmlinux-$KVER and booted
# through its PVH entry point; when that is not possible the bzImage is
# booted instead.
#
# The guest (tests/vm/init.sh) loads vgem with the modules it needs (from
# the kernel's modules.dep: drm and drm_shmem_helper on 6.1, also
# drm_kms_helper on 6.12; .ko.xz/.zst/.gz are decompressed on the host),
# the storage modules the kernel has as modules (loop for storage_test's
# block devices; virtio_pci, virtio_blk, crc32c and ext4 for the disk;
# dm_mod for storage_disk_test's injected errors), each with what it
# needs, and the optional mkioq.ko, runs the commands, checks dmesg and the taint
# flags and reports through isa-debug-exit.  The console goes to stdout
# and to $WORKDIR/console.log.
#
# Exit status (also printed as a one-line verdict):
#   0    all commands exited 0, kernel log clean
#   1    some command exited non-zero
#   2    kernel log dirty (WARNING, BUG, Oops, unexpected taint, ...)
#   3    a kernel module failed to load (mkioq.ko or a DRM module), or
#        the --disk-image disk could not be mounted
#   4    the VM ended without the guest reporting a result (kernel panic,
#        init died, QEMU failed to start, ...)
#   124  timeout
#   130  interrupted
#   64   bad usage / missing host files
#
# $WORKDIR/totals receives one line "PASS FAIL": the sums of the pass and
# fail+error counts of every kselftest "# Totals: pass:..." line seen, plus
# one failure per command that exited non-zero without reporting a failure
# in its Totals (or without a Totals line at all), one failure per command
# that never reported an exit status (VM died or timed out), and one pass
# per command that exited 0 without printing a Totals line.  A failing run
# (non-zero exit status, e.g. a dirty kernel log) always has FAIL >= 1.

set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=${0##*/}

ko=""
mem=2G
smp=2
# No ERMS/FSRM: TCG emulates "rep movsb" a byte at a time, so with them
# the kernel's memcpy (and glibc's for mid sizes) runs ~40x slower than the
# vector and "rep movsq" copies used without them, and copy speed would
# measure the emulator's quirk rather than the code.
cpu=max,-erms,-fsrm
# The guest would pick the HPET, and every clock_gettime() would then be an
# emulated MMIO read (10% of a benchmark's time, measured with perf); the
# TCG TSC is cheap and, under emulation, as good.
clock="clocksource=tsc tsc=reliable"
timeout_s=600
append=""
workdir=build/vm
kver=${KVER:-}
own_kernel=""
pvh=1
disk=""
qemu_bin=${QEMU:-qemu-system-x86_64}
busybox=${BUSYBOX:-/bin/busybox}

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
	echo "$prog: $*" >&2
	exit 64
}

# --- Options ---------------------------------------------------------------

while [ $# -gt 0 ]; do
	opt=$1
	val=""
	has_val=0
	case $opt in
	--*=*)
		val=${opt#*=}
		opt=${opt%%=*}
		has_val=1
		;;
	esac
	case $opt in
	--ko | --mem | --smp | --cpu | --timeout | --append | --workdir | --kver | --kernel | \
		--disk-image)
		if [ "$has_val" = 0 ]; then
			[ $# -ge 2 ] || die "$opt needs an argument"
			val=$2
			shift
		fi
		case $opt in
		--ko) ko=$val ;;
		--mem) mem=$val ;;
		--smp) smp=$val ;;
		--cpu) cpu=$val ;;
		--timeout) timeout_s=$val ;;
		--append) append=$val ;;
		--workdir) workdir=$val ;;
		--kver) kver=$val ;;
		--kernel) own_kernel=$val ;;
		--disk-image) disk=$val ;;
		esac
		shift
		;;
	--no-pvh)
		pvh=0
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		break
		;;
	-*)
		die "unknown option $opt (try --help)"
		;;
	*)
		break
		;;
	esac
done
cmds=("$@")

[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a positive number of seconds"
[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp wants a positive number"

# --- Host files ------------------------------------------------------------

if [ -n "$own_kernel" ]; then
	# A kernel of our own (the debug lane's) with DRM and vgem built in.
	kernel=$own_kernel
	kver=$(file -bL "$kernel" | sed -n 's/.*version \([^ ]*\).*/\1/p')
	pvh=0
elif [ -z "$kver" ]; then
	# The kernel the module was built for, if installed.
	if [ -n "$ko" ] && command -v modinfo >/dev/null; then
		kver=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1 || true)
		[ -n "$kver" ] && [ -r "/boot/vmlinuz-$kver" ] || kver=""
	fi
	# Else the newest Debian amd64 kernel installed.
	[ -n "$kver" ] ||
		kver=$(find /boot -maxdepth 1 -name 'vmlinuz-*-amd64' -printf '%f\n' |
			sed 's/^vmlinuz-//' | sort -V | tail -n 1)
	[ -n "$kver" ] || die "no /boot/vmlinuz-*-amd64 found (set KVER or --kver)"
fi
[ -n "$own_kernel" ] || kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || die "$kernel missing or unreadable"
moddir=/lib/modules/$kver
command -v "$qemu_bin" >/dev/null || die "$qemu_bin not found"
[ -x "$busybox" ] || die "$busybox not found (install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (install busybox-static)"
fi
[ -f "$script_dir/init.sh" ] || die "$script_dir/init.sh missing"
[ -z "$disk" ] || [ -f "$disk" ] || die "--disk-image $disk: no such file"
if [ -n "$ko" ]; then
	[ -f "$ko" ] || die "--ko $ko: no such file"
	if command -v modinfo >/dev/null; then
		vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
		case $vermagic in
		"$kver "*) ;;
		*) echo "$prog: warning: $ko vermagic '$vermagic' does not match $kver" >&2 ;;
		esac
	fi
fi

mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
stage=$workdir/initramfs
initrd=$workdir/initramfs.cpio.gz
log=$workdir/console.log
totals=$workdir/totals
fifo=$workdir/console.fifo
rm -f "$totals" "$log"

# --- Initramfs -------------------------------------------------------------

rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/mkioq-vm}

# busybox and its applet symlinks (bin/sh, sbin/insmod, usr/bin/awk, ...).
cp "$busybox" "$stage/bin/busybox"
while IFS= read -r applet; do
	if [ -z "$applet" ] || [ "$applet" = bin/busybox ]; then
		continue
	fi
	case $applet in
	*/*) [ -d "$stage/${applet%/*}" ] || mkdir -p "$stage/${applet%/*}" ;;
	esac
	ln -sfn /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)

install -m 0755 "$script_dir/init.sh" "$stage/init"

# Copy kernel module $1 (path under $moddir/kernel without .ko suffix, or a
# full .ko path) to the image as lib/mkioq-vm/$2.ko, decompressing if needed.
add_module() {
	local src=$1 name=$2 f
	local dst=$stage/lib/mkioq-vm/$name.ko
	if [ -f "$src" ]; then
		cp "$src" "$dst"
		return
	fi
	for f in "$moddir/kernel/$src".ko{,.xz,.zst,.gz}; do
		[ -f "$f" ] || continue
		case $f in
		*.xz) xz -dc "$f" >"$dst" ;;
		*.zst) zstd -qdc "$f" >"$dst" ;;
		*.gz) gzip -dc "$f" >"$dst" ;;
		*) cp "$f" "$dst" ;;
		esac
		return
	done
	die "kernel module $moddir/kernel/$src.ko not found"
}
# Print module $1 (a path under $moddir/kernel without the .ko suffix)
# and the modules it needs, as such paths, in load order: modules.dep
# lists every module a module needs, each after the ones that need it, so
# loading goes backwards. Prints nothing when modules.dep has no such
# module (built in, or not built).
dep_chain() {
	local dep=$moddir/modules.dep line deps=() i
	line=$(grep -E "^kernel/${1//./\\.}\.ko(\.[a-z]+)?:" "$dep" 2>/dev/null || true)
	[ -n "$line" ] || return 0
	read -r -a deps <<<"${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		echo "${deps[i]}"
	done
	echo "${line%%:*}"
}
# vgem and the modules it needs, the same way.
vgem_modules() {
	local chain
	chain=$(dep_chain drivers/gpu/drm/vgem/vgem)
	if [ -z "$chain" ]; then
		# No modules.dep: what 6.1 needs.
		printf '%s\n' drivers/gpu/drm/drm drivers/gpu/drm/drm_shmem_helper \
			drivers/gpu/drm/vgem/vgem
		return
	fi
	echo "$chain"
}
# The storage modules, those the kernel has as modules (each is built in,
# or absent, on others): loop (storage_test's block devices); virtio_pci
# (built in on 6.12, a module on 6.1) and virtio_blk for the disk; the
# crc32c that ext4 asks the crypto API for at mount (metadata_csum: ext4
# and jbd2 have it only as a softdep, which insmod does not follow, and
# the guest has no modprobe to load it on demand); ext4; dm_mod, whose
# "linear" and "error" targets storage_disk_test stacks its injected
# errors from.
storage_modules() {
	local m
	for m in drivers/block/loop drivers/virtio/virtio_pci \
		drivers/block/virtio_blk crypto/crc32c_generic fs/ext4/ext4 \
		drivers/md/dm-mod; do
		dep_chain "$m"
	done
}
if [ -n "$own_kernel" ]; then
	touch "$stage/etc/mkioq-builtin-drm"
else
	# The list goes to the guest too: init.sh loads them in this order.
	: >"$stage/etc/mkioq-modules"
	while IFS= read -r m; do
		m=${m#kernel/}
		m=${m%.ko*}
		add_module "$m" "${m##*/}"
		echo "${m##*/}" >>"$stage/etc/mkioq-modules"
	done < <(vgem_modules)
	# Each once, in the first place a chain names it (virtio and
	# virtio_ring come with both virtio_pci and virtio_blk).
	declare -A listed=()
	while IFS= read -r m; do
		m=${m#kernel/}
		m=${m%.ko*}
		[ -z "${listed[$m]:-}" ] || continue
		listed[$m]=1
		add_module "$m" "${m##*/}"
		echo "${m##*/}" >>"$stage/etc/mkioq-modules"
	done < <(storage_modules)
fi
[ -z "$ko" ] || add_module "$ko" mkioq

# The disk: init.sh mounts it when this file is there.
[ -z "$disk" ] || echo /mnt/ext4 >"$stage/etc/mkioq-disk"

# The commands: copy each executable to /bin/<basename>, write the list.
declare -A copied=()
: >"$stage/etc/mkioq-cmds"
for cmd in ${cmds[@]+"${cmds[@]}"}; do
	[[ $cmd != *$'\n'* ]] || die "command contains a newline: $cmd"
	cmd=${cmd#"${cmd%%[![:space:]]*}"}	# strip leading whitespace
	# Leading NAME=value words set the command's environment.
	envs=""
	while [[ $cmd =~ ^([A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*)[[:space:]]+(.*)$ ]]; do
		envs+="${BASH_REMATCH[1]} "
		cmd=${BASH_REMATCH[2]}
	done
	path=${cmd%%[[:space:]]*}
	args=${cmd#"$path"}
	[ -n "$path" ] || die "empty command"
	if [[ $path != */* ]]; then
		path=$(type -P "$path") || die "command not found: ${cmd%%[[:space:]]*}"
	fi
	if [ ! -f "$path" ] || [ ! -x "$path" ]; then
		die "not an executable file: $path"
	fi
	base=${path##*/}
	[ "$base" != busybox ] || die "a command may not be named busybox"
	real=$(readlink -f "$path")
	if [ -n "${copied[$base]:-}" ]; then
		[ "${copied[$base]}" = "$real" ] ||
			die "two different executables named $base: ${copied[$base]} and $real"
	else
		if [ -L "$stage/bin/$base" ]; then
			echo "$prog: warning: $base shadows the busybox applet of that name" >&2
			rm -f "$stage/bin/$base"
		fi
		install -m 0755 "$path" "$stage/bin/$base"
		copied[$base]=$real
		# A dynamic executable also needs its loader and libraries.
		if libs=$(ldd "$path" 2>/dev/null); then
			echo "$prog: warning: $path is dynamically linked, copying its libraries" >&2
			while read -r lib; do
				cp -L --parents "$lib" "$stage"
			done < <(grep -o '/[^ ]*' <<<"$libs" | sort -u)
		fi
	fi
	printf '%s%s%s\n' "$envs" "$base" "$args" >>"$stage/etc/mkioq-cmds"
done

# cpio newc archive, owned by root, in a stable order.
(
	cd "$stage"
	find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 --quiet
) | gzip -1 >"$initrd.tmp"
mv "$initrd.tmp" "$initrd"

# --- Boot ------------------------------------------------------------------

# Print the image to boot: the cached uncompressed vmlinux when it can be
# extracted from the XZ-compressed bzImage and has a PVH entry note (Xen ELF
# note 0x12), else the bzImage itself.
boot_image() {
	local out=$workdir/vmlinux-$kver off=""
	if [ "$pvh" = 1 ] && { [ ! -s "$out" ] || [ "$out" -ot "$kernel" ]; }; then
		rm -f "$out"
		command -v readelf >/dev/null && unpack_vmlinux "$out.tmp"
		if [ -s "$out.tmp" ] &&
			readelf -n "$out.tmp" 2>/dev/null |
				grep -E '\(0x00000012\)|PHYS32_ENTRY' >/dev/null; then
			mv "$out.tmp" "$out"
		else
			rm -f "$out.tmp"
			echo "$prog: note: no PVH vmlinux from $kernel, booting it as is" >&2
		fi
	fi
	if [ "$pvh" = 1 ] && [ -s "$out" ]; then
		echo "$out"
	else
		echo "$kernel"
	fi
}

# Decompress the vmlinux inside the bzImage into $1: XZ (Debian's 6.1) or
# zstd (Debian's 6.12). Leaves $1 empty when neither works.
unpack_vmlinux() {
	local off
	: >"$1"
	if command -v xz >/dev/null; then
		off=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ' "$kernel" || true)
		off=${off%%:*}
		# (No pipefail: xz stops reading after the stream, tail gets EPIPE.)
		if [ -n "$off" ] &&
			(set +o pipefail; tail -c "+$((off + 1))" "$kernel" |
				xz -dc --single-stream >"$1" 2>/dev/null); then
			return
		fi
	fi
	if command -v zstd >/dev/null; then
		off=$(LC_ALL=C grep -m1 -obUaP '\x28\xb5\x2f\xfd' "$kernel" || true)
		off=${off%%:*}
		# zstd fails on the bytes after the frame, having written it all:
		# the ELF check in boot_image() judges the result.
		if [ -n "$off" ]; then
			(set +o pipefail; tail -c "+$((off + 1))" "$kernel" |
				zstd -qdc >"$1" 2>/dev/null) || true
			return
		fi
	fi
	: >"$1"
}
image=$(boot_image)

# shellcheck disable=SC2054  # the commas are QEMU's, not array separators
qemu=(
	"$qemu_bin"
	-accel tcg,thread=multi -cpu "$cpu" -smp "$smp" -m "$mem"
	-kernel "$image" -initrd "$initrd"
	-append "console=ttyS0 panic=-1 quiet loglevel=4 $clock $append"
	-display none -monitor none -serial stdio -nic none
	-no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
)
# The disk through the host's page cache (QEMU's default cache=writeback):
# a guest read that misses its own page cache costs a virtio-blk request
# and the emulator's pread(), not a trip to the host's disk.
[ -z "$disk" ] || qemu+=(-drive "file=$disk,format=raw,if=virtio")

qemu_pid=""
tee_pid=""

# Stop QEMU (through timeout(1), which passes the signal on) if still running.
# (SC2317: shellcheck does not see that the trap handlers are reachable.)
# shellcheck disable=SC2317
stop_qemu() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill -TERM "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	qemu_pid=""
}
# shellcheck disable=SC2317
on_signal() {
	trap - INT TERM
	echo >&2
	echo "$prog: interrupted, stopping QEMU" >&2
	stop_qemu
	exit 130
}
# shellcheck disable=SC2317
on_exit() {
	stop_qemu
	rm -f "$fifo"
}
trap on_signal INT TERM
trap on_exit EXIT

echo "$prog: kernel $image, ${#cmds[@]} command(s), mem $mem, smp $smp, cpu $cpu, timeout ${timeout_s}s"
echo "$prog: log $log"

# QEMU writes to a FIFO read by tee, both in the background, so that the
# INT/TERM trap runs at once instead of after QEMU finishes.
boot() {
	rm -f "$fifo"
	mkfifo "$fifo"
	tee -p "$log" <"$fifo" &
	tee_pid=$!
	start=$(date +%s.%N)
	timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$fifo" 2>&1 &
	qemu_pid=$!
	rc=0
	wait "$qemu_pid" || rc=$?
	qemu_pid=""
	wait "$tee_pid" || true
	elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
}
boot
# A kernel that panics while it boots, before the guest's init printed a
# line, ran no test: seen once with Debian's 6.12 under TCG (an int3 Oops
# in sched_clock_cpu() while the kernel patched its own text, with no
# module loaded yet), an emulator race rather than anything of ours. One
# more boot then, said on the console; a second such panic fails the run.
if [ "$rc" != 124 ] && [ "$rc" != 137 ] &&
	! tr -d '\r' <"$log" | grep -q '^# mkioq-vm:' &&
	grep -q 'Kernel panic' "$log"; then
	mv "$log" "$log.first-boot"
	echo "$prog: the kernel panicked before the guest's init ran (console in $log.first-boot); booting once more"
	boot
fi

# --- Verdict ---------------------------------------------------------------

ncmds=${#cmds[@]}
# The guest's own report (the last "# mkioq-vm: result N" line).
guest=$(tr -d '\r' <"$log" | sed -n 's/^# mkioq-vm: result \([0-9]\{1,\}\)\( .*\)\{0,1\}$/\1/p' | tail -n 1)

# Sum the kselftest totals; see the header for the accounting rules.
read -r pass fail skip cmd_fail missing < <(
	tr -d '\r' <"$log" | awk -v ncmds="$ncmds" '
	function num(key,   re) {
		re = key ":[0-9]+"
		if (match($0, re))
			return substr($0, RSTART + length(key) + 1, RLENGTH - length(key) - 1) + 0
		return 0
	}
	/# Totals: pass:[0-9]+ fail:[0-9]+/ {
		seen = 1
		p = num("pass"); f = num("fail") + num("error")
		pass += p; fail += f; skip += num("skip"); cur_fail += f
		next
	}
	/^# mkioq-vm: cmd .* exit [0-9]+$/ {
		markers++
		if ($NF != 0 && (!seen || cur_fail == 0)) fail++
		else if ($NF == 0 && !seen) pass++
		if ($NF != 0) bad++
		seen = 0; cur_fail = 0
	}
	END {
		missing = ncmds - markers
		if (missing < 0) missing = 0
		fail += missing
		printf "%d %d %d %d %d\n", pass, fail, skip, bad, missing
	}'
)
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	status=124
	verdict="TIMEOUT after ${timeout_s}s"
elif [ -n "$guest" ] && [ $((rc & 1)) = 1 ] && [ $((rc >> 1)) = "$guest" ]; then
	status=$guest
	case $guest in
	0) verdict="PASS" ;;
	1) verdict="FAIL (a command exited non-zero)" ;;
	2) verdict="FAIL (kernel log dirty)" ;;
	3) verdict="FAIL (kernel module failed to load)" ;;
	*) verdict="FAIL (guest status $guest)" ;;
	esac
else
	status=4
	verdict="FAIL (VM ended without a guest result: QEMU status $rc${guest:+, guest said $guest}; kernel panic or QEMU error?)"
fi

# A failed run never reports zero failures (e.g. a dirty kernel log).
[ "$status" = 0 ] || [ "$fail" -gt 0 ] || fail=1
echo "$pass $fail" >"$totals"

summary="$ncmds command(s), $cmd_fail failed"
[ "$missing" = 0 ] || summary+=", $missing did not report"
summary+="; totals pass:$pass fail:$fail skip:$skip; ${elapsed}s"
echo "mkioq-vm: $verdict: $summary"
exit "$status"
