#!/bin/bash
# make bench: run mkioq-bench in one boot of one QEMU VM, then write its
# figures as a CSV and plot bandwidth against request size (PNG).
#   tests/bench/run-bench.sh KO BENCH OUTDIR [bench options...]
set -euo pipefail

ko=$1 bench=$2 out=$3
shift 3
mkdir -p "$out"

bash tests/vm/run-vm.sh --ko "$ko" --workdir "$out/vm" --mem 3G \
	--timeout 3000 -- "$bench $*" | tee "$out/bench.log" |
	grep -av '^csv,'
status=${PIPESTATUS[0]}

{
	echo "section,name,param,value,unit,ratio,peer"
	grep -a '^csv,' "$out/bench.log" | tr -d '\r' | cut -d, -f2-
} >"$out/bench.csv"
echo "run-bench: figures in $out/bench.csv"

# Bandwidth against size: one column per series, sizes in KiB.
{
	echo "# KiB memcpy mkioq pump"
	awk -F, '$1 == "bandwidth" {
		kib = $3; sub(/KiB/, "", kib)
		v[kib, $2] = $4; sizes[kib] = 1
	} END {
		for (k in sizes)
			print k, v[k, "memcpy"], v[k, "mkioq doorbell"],
			      v[k, "userspace pump"]
	}' "$out/bench.csv" | sort -n
} >"$out/bandwidth.dat"

if command -v gnuplot >/dev/null && [ "$(wc -l <"$out/bandwidth.dat")" -gt 1 ]; then
	gnuplot <<GP
set terminal pngcairo size 900,560
set output "$out/bandwidth.png"
set title "DMA read bandwidth between vgem dma-bufs (QEMU TCG, one boot)"
set xlabel "request size (KiB)"
set ylabel "MiB/s"
set logscale x 2
set key left top
set grid
plot "$out/bandwidth.dat" using 1:2 with linespoints title "memcpy (userspace)", \
     "" using 1:3 with linespoints title "mkioq (doorbell)", \
     "" using 1:4 with linespoints title "userspace pump"
GP
	echo "run-bench: plot in $out/bandwidth.png"
fi
exit "$status"
