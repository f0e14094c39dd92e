#!/bin/bash
# make profile: where the per-request time goes. Boots the VM once and runs
# the small-request cases that the performance targets name under perf in
# the guest (tests/bench/profile-guest.sh), recording only while each case
# runs ("storage: WAY, PARAM" names a storage point, e.g. "storage: mkioq
# doorbell, 4KiB rand qd64 cold"); prints each case's figure, its CPU time
# by thread and its hottest symbols, and keeps the console in
# OUTDIR/profile.log.
#   tests/bench/profile.sh KO BENCH OUTDIR [SECONDS [CASE...]]
set -euo pipefail

ko=$1 bench=$2 out=$3
seconds=${4:-2}
shift $(($# < 4 ? $# : 4))
if [ $# -eq 0 ]; then
	set -- "poll spin 64 B qd1" "doorbell spin 64 B qd1" \
		"doorbell uring_cmd 64 B qd1" "doorbell read 64 B qd1" \
		"poll spin 64 B qd64"
fi
perf=$(type -P perf) || { echo "profile: perf not found (apt-get install linux-perf)" >&2; exit 64; }
mkdir -p "$out"
cases=
for c in "$@"; do
	cases="$cases '${c//\'/}'"
done
# The storage cases read bench.bin from this disk (as make bench does).
sh tests/vm/make-disk.sh "$out/disk.img"
bash tests/vm/run-vm.sh --ko "$ko" --workdir "$out/vm" --mem 3G \
	--disk-image "$out/disk.img" --timeout 1800 -- \
	"$bench --help >/dev/null" "$perf --version" \
	"tests/bench/profile-guest.sh $seconds$cases" 2>&1 |
	tee "$out/profile.log" | grep -a -e '^profile:' -e '^  *[0-9.]*%' \
	-e '^  small' -e '^  storage' -e 'mkioq-vm:'
