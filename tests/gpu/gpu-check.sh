#!/bin/sh
# make gpu-check: build the GPU tests with nvcc when it is here, run them
# when a GPU is here, and say plainly which of the two is missing. Ends
# with "N passed, N failed" (the harness totals) when the tests ran.
set -u
B=${B:-build}
if [ -z "${NVCC:-}" ] || [ ! -x "$NVCC" ]; then
	echo "gpu-check: skipped: nvcc not found (PATH, /usr/local/cuda/bin): GPU code not built, not run"
	exit 0
fi
mkdir -p "$B/logs"
if ! make --no-print-directory gpu >"$B/logs/gpu-build.log" 2>&1; then
	tail -n 5 "$B/logs/gpu-build.log"
	# A GPU host without a package registry may lack what the build
	# needs (the kselftest headers): binaries built elsewhere
	# and copied here still run, and the log says so.
	if [ -x "$B/gpu/gpu_ring_test" ]; then
		echo "gpu-check: could not build here; running the GPU binaries already in $B/gpu"
	else
		echo "gpu-check: build FAILED"
		exit 1
	fi
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
	echo "gpu-check: built with $NVCC; skipped running: no GPU here (nvidia-smi finds none)"
	exit 0
fi
nvidia-smi -L
pass=0
fail=0
for t in "$B"/gpu/*_test; do
	log=$B/logs/$(basename "$t").log
	echo "== $(basename "$t")"
	"$t" >"$log" 2>&1
	status=$?
	grep -a -E '^(ok|not ok|# Totals|#.*FAIL|# .*:[0-9]+:|#  .*req)' "$log"
	tot=$(grep -a '^# Totals:' "$log" | tail -n 1)
	if [ -z "$tot" ]; then
		tail -n 20 "$log"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$tot" | sed -n 's/.* pass:\([0-9]*\).*/\1/p')
	f=$(echo "$tot" | sed -n 's/.* fail:\([0-9]*\).*/\1/p')
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && fail=$((fail + 1))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
