#!/bin/sh
# In the guest (see tests/bench/profile.sh): profile each named small-request
# case of mkioq-bench (or "storage: WAY, PARAM", a point of its storage
# section) with perf, system-wide, only while the case runs, and print
# where the CPU time went: per thread, then per symbol.
#   profile-guest.sh SECONDS CASE...
set -u
seconds=$1
shift
mkfifo /tmp/perf-ctl /tmp/perf-ack || exit 1
n=0
status=0
for case in "$@"; do
	n=$((n + 1))
	data=/tmp/profile-$n.data
	echo "profile: ==== $case"
	# -D -1: recording starts disabled; the bench enables it around the
	# case itself (--perf-ctl), not around the baselines it measures first.
	# "storage: WAY, PARAM" names a point of the storage section.
	section=small
	filter=$case
	case $case in
	storage:*)
		section=storage
		filter=${case#storage: }
		;;
	esac
	perf record -q -a -g -e cpu-clock -F 4000 -D -1 \
		--control fifo:/tmp/perf-ctl,/tmp/perf-ack -o "$data" -- \
		mkioq-bench --only "$section" --seconds "$seconds" \
		--filter "$filter" --perf-ctl /tmp/perf-ctl,/tmp/perf-ack |
		grep -a -e "^  small.*mkioq" -e "^  storage" || status=1
	echo "profile: -- CPU time by thread"
	perf report -i "$data" --stdio --no-children --sort comm -g none \
		2>/dev/null | grep -a '%' | head -8
	echo "profile: -- by symbol (self time, top 40)"
	perf report -i "$data" --stdio --no-children --sort comm,sym -g none \
		--percent-limit 0.3 2>/dev/null | grep -a '%' | head -40
	echo "profile: -- inclusive (self + callees), kernel, top 30"
	perf report -i "$data" --stdio --children --sort sym -g none \
		--percent-limit 1 2>/dev/null | grep -a '%.*\[k\]' |
		grep -av native_safe_halt | head -30
done
exit $status
