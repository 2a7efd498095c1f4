#!/usr/bin/env bash
# run.sh - runs the end-to-end tests: the real rostersync binary against the
# fake IdP on loopback, with a real SQLite roster per test.
#
#   tests/e2e/run.sh [PATTERN]   run the tests whose name contains PATTERN
#   KEEP=1 tests/e2e/run.sh      keep each failed test's directory
#   RS_WRAPPER="valgrind ..."    run rostersync under a wrapper
#
# A passing test's lines that start with "REPORT: " are printed under its
# name, for figures worth seeing such as the crash test's kill counts.
#
# After each test, every output, the roster files and any metrics file are
# searched for the API token the test used and for every secret it
# registered with secret_add: a secret must never be printed or stored.
set -u
cd "$(dirname "$0")/../.."
pattern=${1:-}
passed=0 failed=0 skipped=0
failed_names=()

run_one() {
	local file=$1 name=$2
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/rostersync-e2e.XXXXXX")
	(
		T=$dir
		# shellcheck source=tests/e2e/lib.sh
		. tests/e2e/lib.sh
		# shellcheck disable=SC1090
		. "$file"
		trap stop_fake EXIT
		"$name"
		stop_fake
		secret_add "$TOKEN"
		for f in "$T/all-output" "$T/roster.db" "$T/roster.db-wal" \
			"$T/roster.db-journal" $(find "$T" -name '*.prom' -type f); do
			[ -f "$f" ] || continue
			n=0
			while IFS= read -r secret; do
				n=$((n + 1))
				if grep -qaF -- "$secret" "$f"; then
					fail "secret $n of $T/secrets appears in $f"
				fi
			done < "$T/secrets"
		done
	) > "$dir/test.log" 2>&1
	local rc=$?
	if [ $rc = 0 ]; then
		passed=$((passed + 1)); echo "ok    $name"
		grep '^REPORT: ' "$dir/test.log" | sed 's/^REPORT: /      /'
		rm -rf "$dir"
	elif [ $rc = 77 ]; then
		skipped=$((skipped + 1)); echo "skip  $name: $(grep SKIP "$dir/test.log" | head -1)"
		rm -rf "$dir"
	else
		failed=$((failed + 1)); failed_names+=("$name")
		echo "FAIL  $name"
		sed 's/^/      /' "$dir/test.log" | tail -n 40
		if [ -n "${KEEP:-}" ]; then echo "      kept: $dir"; else rm -rf "$dir"; fi
	fi
}

for file in tests/e2e/test_*.sh; do
	for name in $(grep -o '^test_[a-z0-9_]*' "$file"); do
		case "$name" in *"$pattern"*) run_one "$file" "$name" ;; esac
	done
done

echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ] || { printf 'failed: %s\n' "${failed_names[@]}"; exit 1; }
