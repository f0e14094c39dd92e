#!/bin/sh
# /init of the mkioq test VM (busybox sh), installed by tests/vm/run-vm.sh.
#
# Loads vgem and the DRM modules it needs, and the storage modules the
# kernel has as modules (listed in load order in /etc/mkioq-modules by
# run-vm.sh), and mkioq.ko when present; mounts the virtio-blk disk at
# the directory /etc/mkioq-disk names when run-vm.sh attached one
# (--disk-image) and exports that directory as MKIOQ_DISK; runs
# every line of /etc/mkioq-cmds in order, checks the kernel log and taint
# flags, then leaves QEMU through isa-debug-exit (port 0xf4) with:
#   0  every command exited 0 and the kernel log is clean
#   1  some command exited non-zero
#   2  the kernel log is dirty (warning, oops, bad taint, ...)
#   3  a kernel module (mkioq.ko, or one of the DRM modules) failed to
#      load, or the attached disk could not be mounted
# When several apply the highest-numbered one wins.  The host side parses
# the "# mkioq-vm:" marker lines printed here; keep their format stable.

PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

MODDIR=/lib/mkioq-vm
CMDS=/etc/mkioq-cmds

# Taint bits that are expected: O (4096, out-of-tree module) and
# E (8192, unsigned module), both set by loading mkioq.ko.
TAINT_OK=$((4096 | 8192))

# Kernel log lines that indicate a problem, and the benign ones that the
# pattern would otherwise catch (the taint notices for O and E above).
BAD_RE='WARNING:|BUG:|Oops|general protection|Call Trace|KASAN|kmemleak|lockdep|possible circular|sleeping function called|taint'
BENIGN_RE='loading out-of-tree module taints kernel|module verification failed: signature and/or required key missing - tainting kernel|kmemleak: Kernel memory leak detector initialized|kmemleak: Automatic memory scanning thread|RCU lockdep checking is enabled|kmemleak: Cannot allocate a scan area'

log() {
	echo "# mkioq-vm: $*"
}

# Leave QEMU with status $1 (QEMU exits with ($1 << 1) | 1).
vm_exit() {
	log "result $1 (up $(cut -d' ' -f1 /proc/uptime)s)"
	# Give the serial console time to drain before QEMU goes away.
	sleep 1
	# shellcheck disable=SC2059  # the format is the octal escape we build
	printf "\\$(printf '%03o' "$1")" |
		dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	# Only reached without the isa-debug-exit device: stop here, never
	# let /init return (that would panic the kernel).
	log "isa-debug-exit device missing, powering off"
	poweroff -f
	while :; do sleep 3600; done
}

# --- Early setup -----------------------------------------------------------

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# From now on make sure stdio is the (serial) console.
exec </dev/console >/dev/console 2>&1
# Plain "\n" line ends for the commands' output (kernel messages keep "\r\n").
stty -onlcr 2>/dev/null
mkdir -p /dev/pts /dev/shm /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
if [ -d /sys/kernel/debug ]; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null ||
		log "debugfs not mounted"
fi
hostname mkioq-vm 2>/dev/null

ncmds=0
[ -f "$CMDS" ] && ncmds=$(grep -c . "$CMDS")
log "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, $ncmds commands, up $(cut -d" " -f1 /proc/uptime)s"

result=0	# worst exit code so far (see the table at the top)

# --- Kernel modules --------------------------------------------------------

modules_ok=1
mods="drm drm_shmem_helper vgem"
[ -f /etc/mkioq-modules ] && mods=$(cat /etc/mkioq-modules)
mods="$mods mkioq"
# A kernel of our own has DRM and vgem built in.
[ -f /etc/mkioq-builtin-drm ] && mods=mkioq
for m in $mods; do
	ko="$MODDIR/$m.ko"
	if [ ! -f "$ko" ]; then
		if [ "$m" = mkioq ]; then
			log "no mkioq.ko in the image, not loading it"
		else
			log "FAIL: $ko missing"
			modules_ok=0
		fi
		continue
	fi
	if insmod "$ko"; then
		log "loaded $m.ko"
	else
		log "FAIL: insmod $m.ko failed (status $?)"
		modules_ok=0
	fi
done
if [ "$modules_ok" = 0 ]; then
	result=3
	dmesg | tail -n 20
fi

# --- The disk --------------------------------------------------------------

# run-vm.sh attached an ext4 image as a virtio-blk disk: its first disk,
# vda. The node appears when virtio_blk has probed it; give that a moment.
if [ "$modules_ok" = 1 ] && [ -f /etc/mkioq-disk ]; then
	mnt=$(cat /etc/mkioq-disk)
	i=0
	while [ ! -b /dev/vda ] && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	mkdir -p "$mnt"
	if mount -t ext4 /dev/vda "$mnt"; then
		MKIOQ_DISK=$mnt
		export MKIOQ_DISK
		log "mounted /dev/vda (ext4) at $mnt"
	else
		log "FAIL: cannot mount /dev/vda as ext4 at $mnt (status $?)"
		modules_ok=0
		result=3
		dmesg | tail -n 20
	fi
fi

# Show which DRM nodes vgem created.
log "dri nodes:$(for n in /dev/dri/*; do [ -e "$n" ] && printf ' %s' "${n##*/}"; done)"

# --- Commands --------------------------------------------------------------

if [ "$modules_ok" = 1 ] && [ "$ncmds" -gt 0 ]; then
	cd /tmp || exit 1
	MKIOQ_VM=1
	export MKIOQ_VM
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		# The name: the first word that is not a NAME=value.
		name=$line
		while :; do
			first=${name%% *}
			case $first in
			*=*) [ "$first" != "$name" ] && name=${name#* } || break ;;
			*) break ;;
			esac
		done
		name=${name%% *}
		log "run $line"
		# The line is "basename [args...]"; sh -c honours any quoting in
		# the arguments.  stdin is /dev/null so that no command can eat
		# the rest of the command list or block on the console.
		sh -c "$line" </dev/null 2>&1
		status=$?
		log "cmd $name exit $status"
		[ "$status" = 0 ] || { [ "$result" -lt 1 ] && result=1; }
	done <"$CMDS"
elif [ "$modules_ok" = 0 ]; then
	log "not running the commands: a module failed to load"
fi

# --- Kernel log check ------------------------------------------------------

dirty=0
# A test killed by a signal: where, for the callers' summaries.
dmesg | grep -E ': segfault at |: trap |: general protection fault ip' |
	sed 's/^/# mkioq-vm: kernel: /'
# A debug kernel: ask kmemleak for what the run left behind. Objects are
# reported once older than 5 s, and a scan needs a second one to settle.
if [ -f /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(cat /sys/kernel/debug/kmemleak)
	if [ -n "$leaks" ]; then
		log "FAIL: kmemleak found unreferenced objects:"
		echo "$leaks"
		dirty=1
	else
		log "kmemleak: no leaks"
	fi
fi
tainted=$(cat /proc/sys/kernel/tainted)
if [ $((tainted & ~TAINT_OK)) -ne 0 ]; then
	log "FAIL: kernel tainted $tainted (unexpected bits $((tainted & ~TAINT_OK)))"
	dirty=1
fi
# Inside fault-injection windows (marked in the log by the tests) the
# stack dumps of injected allocation failures are expected; KASAN,
# lockdep, BUG and WARNING lines are not.
bad=$(dmesg | awk '/mkioq-fault-injection: start/ { inj = 1 }
		/mkioq-fault-injection: stop/ { inj = 0 }
		!(inj && /Call Trace|page allocation failure|vmalloc error/)' |
	grep -E "$BAD_RE" | grep -vE "$BENIGN_RE")
if [ -n "$bad" ]; then
	log "FAIL: suspicious kernel log lines:"
	# Prefixed: the callers' summaries keep "# mkioq-vm" lines only.
	echo "$bad" | sed 's/^/# mkioq-vm: kernel: /'
	dirty=1
fi
if [ "$dirty" = 1 ]; then
	log "full kernel log follows"
	dmesg
	log "end of kernel log"
	[ "$result" -lt 2 ] && result=2
else
	log "kernel log clean (tainted=$tainted)"
fi

vm_exit "$result"
