#!/bin/sh
# source-layout.sh B KMOD_DIR: the layout promises, as tests with kselftest
# totals: no two source files share a name; no two driver files depend on
# each other, directly or in a circle (read off the symbols the module's
# objects in KMOD_DIR define and use); checkpatch --strict finds nothing.
set -u
B=$1
kmod=$2
. "$(dirname "$0")/test-results.sh"

if git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files)
else
	files=$(find . -path ./build -prune -o -type f -print)
fi
dups=$(printf '%s\n' "$files" | grep -E '\.(c|h|cu|cuh|sh)$' |
	sed 's|.*/||' | sort | uniq -d)
[ -n "$dups" ] && echo "# source files sharing a name: $dups"
result "$([ -z "$dups" ]; echo $?)" "source_names_unique"

# Edges "a b": driver file a calls a function that file b defines.
edges=$B/driver-deps.txt
defs=$B/driver-defs.txt
: >"$edges"
objs=
for c in driver/*.c; do
	o=$kmod/driver/$(basename "$c" .c).o
	[ -f "$o" ] && objs="$objs $o"
done
# "symbol file" for every global a driver object defines.
for o in $objs; do
	nm --defined-only "$o" | awk -v f="$(basename "$o" .o)" \
		'$2 ~ /[TDBR]/ {print $3, f}'
done | sort >"$defs"
for o in $objs; do
	nm -u "$o" | awk '{print $2}' | sort -u |
		join - "$defs" | awk -v f="$(basename "$o" .o)" \
			'$2 != f {print f, $2}' >>"$edges"
done
sort -u -o "$edges" "$edges"
echo "# driver call graph (caller callee):"
sed 's/^/#   /' "$edges"
# tsort reports a cycle on stderr and exits non-zero.
if [ -z "$objs" ]; then
	echo "# no driver objects under $kmod/driver"
	cyc=1
elif tsort "$edges" >/dev/null 2>"$B/driver-deps.err"; then
	cyc=0
else
	sed 's/^/# /' "$B/driver-deps.err"
	cyc=1
fi
result "$cyc" "driver_files_depend_without_cycles"

checkpatch=$B/linux-source-6.1/scripts/checkpatch.pl
out=$(perl "$checkpatch" --no-tree --strict --terse \
	-f driver/*.[ch] uapi/linux/mkioq.h 2>&1 | grep -v 'total: 0 errors, 0 warnings, 0 checks')
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
result "$([ -z "$out" ]; echo $?)" "checkpatch_strict_clean"

print_totals
[ "$fail" -eq 0 ]
