# Sourced by the check scripts (source-layout.sh, install-test.sh,
# dkms-test.sh): their results as kselftest-style tests, which
# tests/scripts/check.sh adds up from the "# Totals:" line.
pass=0
fail=0

# result STATUS NAME: "ok N NAME" if STATUS is 0, else "not ok N NAME".
result() {
	if [ "$1" -eq 0 ]; then
		echo "ok $((pass + fail + 1)) $2"
		pass=$((pass + 1))
	else
		echo "not ok $((pass + fail + 1)) $2"
		fail=$((fail + 1))
	fi
}

print_totals() {
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
}
