#!/bin/sh
# Run every test and end with one line "N passed, N failed": the sums of
# the kselftest harness totals ("# Totals: pass:X fail:Y ...") of each
# binary, native and in QEMU. A step without harness totals (the fuzz
# smoke, a binary that died before printing its totals) that fails counts
# as one failure. Exits non-zero if anything failed.
#
# The QEMU suite runs once per lane of MKIOQ_VM_LANES (make check sets it):
# space-separated NAME:KVER:MODULE, e.g. "6.1:6.1.0-57-amd64:build/kmod/
# 6.1.0-57-amd64/driver/mkioq.ko", each in its own $B/vm-NAME, with a
# fresh ext4 image (tests/vm/make-disk.sh) attached as a virtio-blk disk
# for storage_disk_test. A lane whose kernel or module is missing, whose
# disk cannot be made or mounted, or whose VM does not report, fails.
set -u

B=${B:-build}
LOGS=$B/logs
mkdir -p "$LOGS"
pass=0
fail=0

# add_totals LOG STATUS: add the harness totals of LOG to the sums.
add_totals() {
	t=$(grep -a '^# Totals:' "$1" | tail -n 1)
	if [ -z "$t" ]; then
		fail=$((fail + 1))
		return
	fi
	p=$(echo "$t" | sed -n 's/.* pass:\([0-9]*\).*/\1/p')
	f=$(echo "$t" | sed -n 's/.* fail:\([0-9]*\).*/\1/p')
	e=$(echo "$t" | sed -n 's/.* error:\([0-9]*\).*/\1/p')
	pass=$((pass + p))
	fail=$((fail + f + ${e:-0}))
	# A binary that exits non-zero with clean totals still failed.
	[ "$2" -ne 0 ] && [ "$f" -eq 0 ] && fail=$((fail + 1))
	return 0
}

run_native() {
	name=$1
	shift
	log=$LOGS/$name.log
	echo "== $name"
	"$@" >"$log" 2>&1
	status=$?
	grep -a -E '^(ok|not ok|# Totals|#.*FAIL|# .*:[0-9]+:)' "$log"
	add_totals "$log" $status
}

for t in "$B"/tests/lib/*_test; do
	[ -x "$t" ] || continue
	run_native "$(basename "$t")" "$t"
done

# The layout: unique file names, an acyclic driver, checkpatch-clean.
run_native source-layout sh tests/scripts/source-layout.sh "$B" \
	"${MKIOQ_KMOD:-$B/kmod/none}"

# Installing: make install and uninstall into a staging DESTDIR, with a
# program built on the staged tree alone through pkg-config (the module
# for the first kernel of MKIOQ_KVERS); dkms add, build and install for
# every kernel of MKIOQ_KVERS, in a scratch DKMS tree (make check sets it).
kvers=${MKIOQ_KVERS:-}
run_native install-test sh tests/scripts/install-test.sh "$B" "${kvers%% *}"
run_native dkms-test sh tests/scripts/dkms-test.sh "$B" "$kvers"

# The race test again under ThreadSanitizer; 10^5 requests keep CI short,
# `make tsan` runs the full 10^6.
MKIOQ_RACE_REQUESTS=${MKIOQ_TSAN_REQUESTS:-100000} \
TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	run_native race_test-tsan "$B"/tsan/race_test

echo "== ring_fuzz (${FUZZ_SMOKE_SECONDS:-20} s smoke)"
mkdir -p "$B"/fuzz/corpus
if "$B"/fuzz/ring_fuzz -max_total_time="${FUZZ_SMOKE_SECONDS:-20}" \
		"$B"/fuzz/corpus >"$LOGS/ring_fuzz.log" 2>&1; then
	grep -a -E '^(stat::number_of_executed_units|Done)' "$LOGS/ring_fuzz.log"
	echo "ring_fuzz: no finding"
else
	tail -n 30 "$LOGS/ring_fuzz.log"
	echo "ring_fuzz: FINDING"
	fail=$((fail + 1))
fi

# GPU code must build everywhere CI runs (nvcc, no GPU); make gpu-check
# runs it on a GPU.
echo "== GPU code: the CUDA device header, tests and benchmark (nvcc)"
if [ -z "${NVCC:-}" ]; then
	echo "GPU code: nvcc not found (PATH, /usr/local/cuda/bin): FAILED to build"
	fail=$((fail + 1))
elif make --no-print-directory gpu >"$LOGS/gpu-build.log" 2>&1; then
	echo "GPU code: built with $NVCC: $(cd "$B/gpu" && ls -d *_test mkioq-gpu-bench | tr '\n' ' ')"
else
	tail -n 30 "$LOGS/gpu-build.log"
	echo "GPU code: build FAILED"
	fail=$((fail + 1))
fi

# run_lane NAME KVER MODULE: the VM suite on one kernel.
run_lane() {
	name=$1 kver=$2 ko=$3
	wd=$B/vm-$name
	log=$LOGS/vm-$name.log
	echo "== QEMU lane $name: kernel ${kver:-(none)}, $ko: selftests, then a benchmark smoke"
	if [ -z "$kver" ] || [ ! -r "/boot/vmlinuz-$kver" ] || [ ! -f "$ko" ]; then
		echo "lane $name: FAIL: kernel '${kver}' or module '$ko' missing (make deps, make modules)"
		fail=$((fail + 1))
		return
	fi
	lane_start=$(date +%s)
	rm -f "$wd/totals"
	if ! sh tests/vm/make-disk.sh "$wd/disk.img" >"$log" 2>&1; then
		cat "$log"
		echo "lane $name: FAIL: no disk image (tests/vm/make-disk.sh)"
		fail=$((fail + 1))
		return
	fi
	# shellcheck disable=SC2086
	if bash tests/vm/run-vm.sh --ko "$ko" --kver "$kver" --workdir "$wd" \
			--disk-image "$wd/disk.img" \
			--mem 3G --timeout 1800 -- "$B/demo/mkioq-stat" $vm_tests \
			"$B/demo/mkioq-bench --smoke" >"$log" 2>&1; then
		vm_status=0
	else
		vm_status=$?
	fi
	grep -a -E '^(ok|not ok|# Totals|#.*FAIL|# [a-z].*:|# mkioq-vm|mkioq-vm|run-vm)' \
		"$log" | grep -av '^#  RUN'
	p=0
	f=0
	[ -f "$wd/totals" ] && read -r p f <"$wd/totals"
	# Kernel splat, lost VM or timeout: a failure the totals may not show.
	[ "$vm_status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	echo "lane $name ($kver): $p passed, $f failed, $(($(date +%s) - lane_start)) s"
	pass=$((pass + p))
	fail=$((fail + f))
}

if [ -z "${MKIOQ_SKIP_VM:-}" ]; then
	vm_tests=$(ls "$B"/tests/vm/*_test)
	# The CPU examples (make examples): each counts by its exit status.
	for ex in "$B"/examples/*; do
		case ${ex##*/} in gpu_*) continue ;; esac
		[ -f "$ex" ] && [ -x "$ex" ] && vm_tests="$vm_tests $ex"
	done
	if [ -z "${MKIOQ_VM_LANES:-}" ]; then
		echo "check: MKIOQ_VM_LANES is not set (run make check): no VM lane ran"
		fail=$((fail + 1))
	fi
	for lane in ${MKIOQ_VM_LANES:-}; do
		lane_name=${lane%%:*}
		rest=${lane#*:}
		run_lane "$lane_name" "${rest%%:*}" "${rest#*:}"
	done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
