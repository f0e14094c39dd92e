#!/bin/bash
# make bench: run mkioq-bench in BOOTS boots of a QEMU VM, one after the
# other, then write each boot's figures as a CSV, the headline ratios over
# the boots (median, min, max, spread) as a table and a CSV, and a plot of
# bandwidth against request size (PNG, medians over the boots).
#   [BOOTS=N] tests/bench/run-bench.sh KO BENCH OUTDIR [bench options...]
#
# BOOTS: how many boots (default 1; `make bench` asks for 3). Figures move
# between boots of the same code (host load, vCPU placement): a ratio is
# worth quoting only as the median of several, with its spread.
#
# In OUTDIR:
#   boot-N.log, boot-N.csv  one boot's console and figures
#   disk.img                the ext4 image each boot attaches (made afresh
#                           by tests/vm/make-disk.sh): the storage section
#                           reads its bench.bin
#   bench.log, bench.csv    every boot's, one after the other; bench.csv has
#                           the boot's number as its last column
#   summary.csv             the headline ratios (HEADLINES below)
#   summary-all.csv         every ratio the bench printed, the same way
#   bandwidth.dat, .png     bandwidth against size, medians over the boots
#
# spread: the largest distance of a boot's ratio from the median, in % of
# the median; over 10% the ratio is marked "!" (in the CSV: flag "noisy").
set -euo pipefail

ko=$1 bench=$2 out=$3
shift 3
boots=${BOOTS:-1}
[[ $boots =~ ^[1-9][0-9]*$ ]] || { echo "run-bench: BOOTS=$boots: want a positive number" >&2; exit 64; }
mkdir -p "$out"

# The ratios the README quotes, as the bench's CSV names them (section,
# name, param), each with the performance issue's target for it, if any
# (">= X" or "<= X", after a "|").
HEADLINES='bandwidth,mkioq doorbell,1024KiB|>= 0.9
bandwidth,mkioq doorbell,4096KiB|>= 0.9
bandwidth,mkioq doorbell,16384KiB|>= 0.9
bandwidth,mkioq doorbell,65536KiB|>= 0.9
bandwidth,mkioq doorbell vs rep movsq,1024KiB|
bandwidth,mkioq doorbell vs rep movsq,65536KiB|
bandwidth,userspace pump,1024KiB|
small,mkioq poll spin,64B qd64|>= 1.0
small,mkioq poll spin p50,64B qd1|<= 1.5
small,mkioq doorbell spin p50,64B qd1|<= 2.0
small,mkioq doorbell uring_cmd p50,64B qd1|<= 3.0
small,mkioq doorbell read p50,64B qd1|<= 3.0
small,mkioq poll uring_cmd p50,64B qd1|<= 3.0
small,mkioq poll read p50,64B qd1|<= 3.0
small,mkioq doorbell spin vs poll spin,64B qd64|>= 0.8
small,mkioq doorbell uring_cmd vs poll spin,64B qd64|>= 0.8
small,mkioq doorbell mshot_poll vs poll spin,64B qd64|>= 0.8
small,mkioq doorbell read vs poll spin,64B qd64|>= 0.8
small,mkioq poll uring_cmd vs poll spin,64B qd64|>= 0.8
small,mkioq poll mshot_poll vs poll spin,64B qd64|>= 0.8
small,mkioq poll read vs poll spin,64B qd64|>= 0.8
scaling,two queues,4KiB qd64|>= 1.7
workers,mkioq poll 2 workers,1MiB qd64|>= 1.7
queues,256 queues 1 thread,64B qd4/queue|
queues,256 queues 2 threads,64B qd4/queue|
queues,256 queues 1 thread wake-up,after idle|
storage,mkioq doorbell,4KiB rand qd64|>= 0.9
storage,mkioq doorbell,1MiB seq qd64|>= 0.9
storage,mkioq doorbell,4KiB rand qd64 cold|>= 0.9
storage,mkioq doorbell,1MiB seq qd64 cold|>= 0.9
storage,mkioq doorbell,4KiB rand qd1|
storage,mkioq doorbell,1MiB seq qd1|
storage,pread + memcpy,4KiB rand qd1|
storage,pread + memcpy,1MiB seq qd1|'

status=0
start=$(date +%s)
: >"$out/bench.log"
for ((b = 1; b <= boots; b++)); do
	[ "$boots" -gt 1 ] && echo "run-bench: boot $b of $boots"
	# A failed boot does not stop the others; the first failure is the
	# exit status.
	sh tests/vm/make-disk.sh "$out/disk.img"
	set +e
	bash tests/vm/run-vm.sh --ko "$ko" --workdir "$out/vm" --mem 3G \
		--disk-image "$out/disk.img" \
		--timeout 3000 -- "$bench $*" 2>&1 | tee "$out/boot-$b.log" |
		grep -av '^csv,'
	rc=${PIPESTATUS[0]}
	set -e
	cat "$out/boot-$b.log" >>"$out/bench.log"
	[ "$rc" -ne 0 ] && [ "$status" -eq 0 ] && status=$rc
	{
		echo "section,name,param,value,unit,ratio,peer"
		grep -a '^csv,' "$out/boot-$b.log" | tr -d '\r' | cut -d, -f2-
	} >"$out/boot-$b.csv"
done
{
	echo "section,name,param,value,unit,ratio,peer,boot"
	for ((b = 1; b <= boots; b++)); do
		tail -n +2 "$out/boot-$b.csv" | sed "s/\$/,$b/"
	done
} >"$out/bench.csv"
echo "run-bench: $boots boot(s) in $(($(date +%s) - start)) s; figures in $out/bench.csv"

# Ratios over the boots: one line per section,name,param with a ratio.
# Fields of bench.csv: 1 section, 2 name, 3 param, 4 value, 5 unit,
# 6 ratio, 7 peer, 8 boot. (No field holds a comma.)
summarise() { # $1: file of wanted "section,name,param|target" lines, or "" for all
	awk -F, -v want="$1" -v boots="$boots" '
	BEGIN {
		if (want != "")
			while ((getline l <want) > 0) {
				t = l; sub(/^[^|]*\|?/, "", t); sub(/\|.*/, "", l)
				order[++nw] = l; w[l] = 1; target[l] = t
			}
		OFS = ","
	}
	FNR == 1 { next }
	$6 > 0 {
		k = $1 "," $2 "," $3
		if (want != "" && !(k in w)) next
		if (!(k in n)) { if (want == "") order[++nw] = k; peer[k] = $7 }
		v[k, ++n[k]] = $6
	}
	END {
		print "section,name,param,peer,boots,median,min,max,spread_pct,flag,target,verdict"
		for (i = 1; i <= nw; i++) {
			k = order[i]
			if (!(k in n)) continue
			m = n[k]
			for (a = 1; a <= m; a++) s[a] = v[k, a]
			for (a = 2; a <= m; a++)	# insertion sort
				for (c = a; c > 1 && s[c - 1] > s[c]; c--) {
					t = s[c]; s[c] = s[c - 1]; s[c - 1] = t
				}
			med = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
			lo = s[1]; hi = s[m]
			d = hi - med > med - lo ? hi - med : med - lo
			sp = med > 0 ? 100 * d / med : 0
			t = target[k]; verdict = ""
			if (t ~ /^>= /) verdict = med >= substr(t, 4) + 0 ? "met" : "not met"
			if (t ~ /^<= /) verdict = med <= substr(t, 4) + 0 ? "met" : "not met"
			print k, peer[k], m, sprintf("%.4f", med), sprintf("%.4f", lo),
			      sprintf("%.4f", hi), sprintf("%.1f", sp),
			      (sp > 10 ? "noisy" : m < boots ? "missing" : ""), t, verdict
		}
	}' "$out/bench.csv"
}
wanted=$(mktemp)
trap 'rm -f "$wanted"' EXIT
printf '%s\n' "$HEADLINES" >"$wanted"
summarise "$wanted" >"$out/summary.csv"
summarise "" >"$out/summary-all.csv"

echo
echo "run-bench: headline ratios over $boots boot(s): median [min .. max]," \
	"spread = farthest boot from the median; ! = spread over 10%"
awk -F, 'NR > 1 {
	printf "  %-9s %-40s %-9s %7.3fx [%6.3f .. %6.3f] +-%5.1f%% %s  %-12s %s%s\n",
	       $1, $2, $3, $6, $7, $8, $9, ($10 == "noisy" ? "!" : " "), $4,
	       ($11 == "" ? "" : "target " $11 ": "), $12
}' "$out/summary.csv"
[ "$(wc -l <"$out/summary.csv")" -gt 1 ] || echo "  (none of them in this run)"
echo "run-bench: summary in $out/summary.csv, every ratio in $out/summary-all.csv"

# The end of both series programs below: v[x, name, i] holds the boots'
# values, n[x, name] how many; print x and each series' median.
SERIES_END_AWK='
	function med(x, nm,   m, a, c, t, s) {
		m = n[x, nm]
		if (!m) return "NaN"
		for (a = 1; a <= m; a++) s[a] = v[x, nm, a]
		for (a = 2; a <= m; a++)
			for (c = a; c > 1 && s[c - 1] > s[c]; c--) {
				t = s[c]; s[c] = s[c - 1]; s[c - 1] = t
			}
		return m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
	}
	END {
		for (x in xs) {
			line = x
			for (i = 1; i <= ns; i++) line = line " " med(x, name[i])
			print line
		}
	}'

# A plot's data: medians over the boots of the values of the series
# named (one column each, in order), against the number that follows
# PREFIX in the param of SECTION's rows: one line per such number.
#   series_dat SECTION PREFIX NAME... >FILE
series_dat() {
	local section=$1 prefix=$2
	shift 2
	echo "# x $*"
	awk -F, -v section="$section" -v prefix="$prefix" -v names="$(printf '%s;' "$@")" '
	BEGIN { ns = split(names, name, ";") - 1 }
	NR > 1 && $1 == section && index($3, prefix) == 1 {
		x = substr($3, length(prefix) + 1) + 0
		v[x, $2, ++n[x, $2]] = $4; xs[x] = 1
	}
	'"$SERIES_END_AWK" "$out/bench.csv" | sort -n
}

# The same against the number in the rows' names: a series is a name
# with its first number written N (and plurals made singular), e.g.
# "mkioq poll N worker" for "mkioq poll 2 workers".
#   series_named SECTION SERIES... >FILE
series_named() {
	local section=$1
	shift
	echo "# x $*"
	awk -F, -v section="$section" -v names="$(printf '%s;' "$@")" '
	BEGIN { ns = split(names, name, ";") - 1 }
	NR > 1 && $1 == section && match($2, /[0-9]+/) {
		x = substr($2, RSTART, RLENGTH) + 0
		k = substr($2, 1, RSTART - 1) "N" substr($2, RSTART + RLENGTH)
		gsub(/workers/, "worker", k); gsub(/threads/, "thread", k)
		gsub(/queues/, "queue", k)
		v[x, k, ++n[x, k]] = $4; xs[x] = 1
	}
	'"$SERIES_END_AWK" "$out/bench.csv" | sort -n
}

# One PNG per plot: plot NAME TITLE XLABEL YLABEL LOGX TITLES...; the
# series come from $out/NAME.dat, one column each after x.
plot() {
	local name=$1 title=$2 xlabel=$3 ylabel=$4 logx=$5 spec= col=2 t
	shift 5
	[ "$(grep -vc '^#' "$out/$name.dat")" -gt 0 ] || return 0
	command -v gnuplot >/dev/null || return 0
	for t in "$@"; do
		spec="$spec${spec:+, }\"$out/$name.dat\" using 1:$col with linespoints title \"$t\""
		col=$((col + 1))
	done
	gnuplot <<GP
set terminal pngcairo size 900,560
set output "$out/$name.png"
set title "$title (QEMU TCG, median of $boots boot(s))"
set xlabel "$xlabel"
set ylabel "$ylabel"
$([ "$logx" = log ] && echo "set logscale x 2")
set key below
set grid
set datafile missing "NaN"
plot $spec
GP
	echo "run-bench: plot in $out/$name.png"
}

series_dat bandwidth "" "user copy best" "mkioq doorbell" "userspace pump" \
	"userspace pump 2cpu" "memcpy old layout" >"$out/bandwidth.dat"
plot bandwidth "DMA read bandwidth between vgem dma-bufs" \
	"request size (KiB)" "MiB/s" log "best userspace copy" \
	"mkioq (doorbell)" "userspace pump (client's CPU)" \
	"userspace pump (own CPU)" "memcpy, maps 64 MiB apart (old baseline)"

series_dat small "64B qd" "userspace pump p50" "mkioq poll spin p50" \
	"mkioq doorbell spin p50" "mkioq doorbell uring_cmd p50" \
	"mkioq poll uring_cmd p50" "mkioq doorbell read p50" \
	"mkioq poll read p50" >"$out/latency.dat"
plot latency "64 B requests: median latency, submit to completion seen" \
	"requests in flight" "us" log "userspace pump (spin)" \
	"POLL, spin" "DOORBELL, spin" "DOORBELL, uring_cmd WAIT" \
	"POLL, uring_cmd WAIT" "DOORBELL, read()" "POLL, read()"

series_named workers "mkioq poll N worker" "user copy N thread" >"$out/workers.dat"
plot workers "1 MiB READs, depth 64, POLL: copy workers (target: 2 >= 1.7x of 1)" \
	"copy workers (copy_workers) / threads" "MiB/s" lin \
	"mkioq, producer asleep in poll()" "userspace memcpy threads (the ceiling)"

series_named queues "N queue 1 thread" "N queue 2 thread" \
	"N queue 1 thread p99" "N queue 2 thread p99" >"$out/queues.dat"
plot queues "64 B READs, 4 in flight per queue: POLL queues on shared threads" \
	"POLL queues" "completions/s" log "1 poll thread" "2 poll threads"

exit "$status"
