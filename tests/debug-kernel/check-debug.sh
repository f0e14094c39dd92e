#!/bin/sh
# make check-debug: the selftests and the reliability tests on a debug
# kernel (KASAN, lockdep, kmemleak, atomic-sleep and list debugging, fault
# injection) with three dma-buf exporters. Ends with "N passed, N failed"
# from the harness totals; any KASAN, lockdep, kmemleak, WARN or BUG line
# fails the run (tests/vm/init.sh).
set -eu

B=${B:-build}
tree=$(bash tests/debug-kernel/build.sh)
echo "check-debug: kernel tree $tree"

# The module, built against the debug tree in a tree of its own (links to
# the sources), so the objects do not mix with the Debian kernels' builds
# in $B/kmod/<kver>/.
mod=$B/debug-module
rm -rf "$mod"
sh tests/scripts/kmod-tree.sh "$mod"
make -s -C "$tree" M="$(pwd)/$mod" W=1 modules

vm_tests=$(ls "$B"/tests/vm/*_test)
# mkioq-stat runs first, so that observe_test finds it in the guest's /bin.
cmds="$B/demo/mkioq-stat"
for t in $vm_tests; do
	cmds="$cmds $t"
done
# The selftests that move data, again with the two other exporters.
for exporter in udmabuf heap; do
	for t in device service uring; do
		cmds="$cmds MKIOQ_EXPORTER=$exporter:$B/tests/vm/${t}_test"
	done
done

# Word-split the list, then turn NAME=value:path back into one argument.
set --
for c in $cmds; do
	case $c in
	*=*:*) set -- "$@" "${c%%:*} ${c#*:}" ;;
	*) set -- "$@" "$c" ;;
	esac
done

mkdir -p "$B/logs"
status=0
bash tests/vm/run-vm.sh --kernel "$tree/arch/x86/boot/bzImage" \
	--ko "$mod/driver/mkioq.ko" --workdir "$B/vm-debug" --mem 3G \
	--timeout 3000 -- "$@" >"$B/logs/vm-debug.log" 2>&1 || status=$?
grep -a -E '^(ok|not ok|# Totals|#.*FAIL|# [a-z].*:|# mkioq-vm|mkioq-vm|run-vm|KASAN|BUG|WARNING)' \
	"$B/logs/vm-debug.log" | grep -av '^#  RUN'
pass=0
fail=0
if [ -f "$B/vm-debug/totals" ]; then
	read -r pass fail <"$B/vm-debug/totals"
fi
[ "$status" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
