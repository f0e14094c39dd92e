#!/bin/sh
# Draw mkioq-gpu-bench's CSV: GiB/s against request size with all 64 slots
# in flight, one line per engine worker count, beside host memcpy with as
# many threads. Usage: tools/gpu-bench-plot.sh CSV PNG
set -eu
csv=$1
png=$2
dat=$(mktemp -d)
trap 'rm -rf "$dat"' EXIT
for t in 1 2 4 8; do
	awk -F, -v t="$t" '$1 == "depth64" && $2 == "engine" && $4 == t { print $3, $7 }' "$csv" >"$dat/engine$t"
	awk -F, -v t="$t" '$1 == "memcpy" && $2 == "host memcpy" && $4 == t { print $3, $7 }' "$csv" >"$dat/memcpy$t"
done
gnuplot <<GP
set terminal pngcairo size 1000,600
set output "$png"
set title "GPU-driven mkioq ring (userspace engine), 64 slots in flight"
set logscale x 2
set logscale y 10
set xlabel "request bytes"
set ylabel "GiB/s"
set key left top
plot for [t in "1 2 4 8"] "$dat/engine".t using 1:2 with linespoints title "engine, ".t." workers", \
     for [t in "1 2 4 8"] "$dat/memcpy".t using 1:2 with lines dashtype 2 title "host memcpy, ".t." threads"
GP
