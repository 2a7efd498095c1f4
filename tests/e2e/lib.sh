# lib.sh - helpers for the end-to-end tests: a scratch directory per test,
# the fake IdP on a loopback port, the real rostersync binary, a real
# SQLite roster, and assertions that name what differed.
#
# Each test is a shell function named test_* in a tests/e2e/test_*.sh file.
# run.sh calls it in a subshell with $T set to a fresh directory.

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RS_BIN="$ROOT/$BUILD/rostersync"
FAKE_BIN="$ROOT/$BUILD/fakeidp"
FIXTURES=${ROSTERSYNC_FIXTURES:-$ROOT/../shared/fixtures}
TOKEN="e2e-$RANDOM$RANDOM-secret-token"

# Registers VALUE as a secret: after the test, run.sh fails it when VALUE
# appears in anything rostersync printed or wrote (outputs, roster files,
# metrics).  The fake's request log is not searched, because it records the
# credentials the agent sent.  Each line of VALUE is searched on its own;
# lines shorter than 8 bytes and PEM armour lines are left out, so that a
# key file can be registered whole.
secret_add() {
	local line
	while IFS= read -r line; do
		case "$line" in -----*) continue ;; esac
		[ ${#line} -ge 8 ] && printf '%s\n' "$line" >> "$T/secrets"
	done <<< "$1"
	return 0
}

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/err" ]; then
		echo "--- last stderr of rostersync:" >&2
		tail -n 20 "$T/err" >&2
	fi
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# Writes a dataset from a compact user list: one "id email status [groups]"
# line per user on stdin.  Users are assigned directly unless their fourth
# field says "group-only".  Extra jq filters may follow as arguments.
write_users() {
	local out="$T/data.json"
	jq -R -s --arg token "$TOKEN" '
		[split("\n")[] | select(length > 0) | split(" ")] as $rows |
		{
			app_id: "0oaapp1",
			token: $token,
			users: [$rows[] | {
				id: .[0], login: .[1], email: .[1],
				firstName: ("Given " + .[0]), lastName: ("Family " + .[0]),
				status: (.[2] // "ACTIVE")
			}],
			groups: [],
			assignments: {
				users: [$rows[] | select((.[3] // "") != "group-only") | .[0]],
				groups: []
			}
		}' > "$out.tmp" || fail "cannot write dataset"
	if [ $# -gt 0 ]; then
		jq "$@" "$out.tmp" > "$out.tmp2" || fail "jq filter failed: $*"
		mv "$out.tmp2" "$out.tmp"
	fi
	mv "$out.tmp" "$out"
}

# Applies a jq filter to the current dataset (the fake reloads it).
edit_data() {
	jq "$@" "$T/data.json" > "$T/data.json.tmp" || fail "jq filter failed: $*"
	# A new mtime within the same second must still be seen: change the size too.
	mv "$T/data.json.tmp" "$T/data.json"
	touch -d "@$(( $(date +%s) + ${EDIT_TICK:=1} ))" "$T/data.json"
	EDIT_TICK=$((EDIT_TICK + 1))
}

# Prints N users "00uNNNN userNNNN@example.com ACTIVE".
users() {
	local n=$1
	for i in $(seq 1 "$n"); do
		printf '00u%04d user%04d@example.com ACTIVE\n' "$i" "$i"
	done
}

# Waits until a run record exists: the run is then past its start.
wait_for_run_record() {
	for _ in $(seq 1 200); do
		if [ -s "$T/roster.db" ] && [ "$(sql "SELECT count(*) FROM runs" 2> /dev/null)" = 1 ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "the run recorded no start within 10 s"
}

start_fake() {
	rm -f "$T/port"
	"$FAKE_BIN" --port "${FAKE_PORT:-0}" --port-file "$T/port" --log "$T/requests.log" "$@" \
		2> "$T/fake.err" &
	FAKE_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$T/port" ] && break
		sleep 0.05
	done
	[ -s "$T/port" ] || fail "fake IdP did not start: $(cat "$T/fake.err")"
	PORT=$(cat "$T/port")
}

# Restarts the generated fake on the same port with --churn PERCENT, syncs,
# and checks that the sync unassigned, renamed and added COUNT members each
# and wrote one event per change.  USERS and GROUPS are the fake's first
# --synthetic and --groups.
assert_churn_applied() {
	local users=$1 groups=$2 percent=$3 count=$4 before
	before=$(sql "SELECT count(*) FROM events")
	stop_fake
	FAKE_PORT=$PORT start_fake --synthetic "$users" --groups "$groups" --churn "$percent"
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM events")" "$((before + 3 * count))" \
		"events of the churn"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='unassigned'")" "$count" \
		"unassigned"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE email LIKE 'renamed%'")" "$count" \
		"renamed"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE email LIKE 'new%' AND state='active'")" \
		"$count" "added"
}

stop_fake() {
	if [ -n "${FAKE_PID:-}" ]; then
		kill "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
		FAKE_PID=
	fi
}

# Writes $T/config.yaml for the fake Okta; extra YAML lines may follow.
write_config() {
	printf '%s\n' "$TOKEN" > "$T/token"
	chmod 600 "$T/token"
	cat > "$T/config.yaml" <<EOF
tenant: e2e
source: okta
okta:
  org_url: http://127.0.0.1:$PORT
  app_id: 0oaapp1
  api_token_file: $T/token
team:
  name: E2E Team
  seats: ${SEATS:-100}
roster:
  path: $T/roster.db
sync:
  max_unassign: ${MAX_UNASSIGN:-50}
  max_unassign_percent: ${MAX_PERCENT:-20}
http:
  timeout: 5
  max_retries: ${MAX_RETRIES:-2}
  max_wait: 3
  retry_budget: 10
log:
  level: debug
EOF
	for line in "$@"; do
		printf '%s\n' "$line" >> "$T/config.yaml"
	done
	chmod 600 "$T/config.yaml"
}

# Runs rostersync with the test config; sets RC, keeps stdout in $T/out
# and stderr in $T/err (appended to $T/all-output for the secret check).
rs() {
	RC=0
	${RS_WRAPPER:-} "$RS_BIN" "$@" > "$T/out" 2> "$T/err" || RC=$?
	cat "$T/out" "$T/err" >> "$T/all-output"
	if [ "$RC" = 99 ] && [ -n "${RS_WRAPPER:-}" ]; then
		fail "valgrind reported errors: $(cat "$T/err")"
	fi
}

sync_ok() {
	rs sync -c "$T/config.yaml" "$@"
	[ "$RC" = 0 ] || fail "sync exited $RC, expected 0"
}

sql() {
	sqlite3 -batch -noheader "$T/roster.db" "$1"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_rc() {
	[ "$RC" = "$1" ] || fail "exit status: expected $1, got $RC"
}

assert_contains() {
	grep -qF -- "$2" "$1" || fail "$1 does not contain '$2'"
}

assert_not_contains() {
	if grep -qF -- "$2" "$1"; then
		fail "$1 contains '$2'"
	fi
}

# A digest of everything a run may change but the run records.
roster_digest() {
	sql "SELECT * FROM members ORDER BY id; SELECT count(*) FROM events;
	     SELECT * FROM team;" | sha256sum | cut -d' ' -f1
}

requests_to() {
	grep -c "\"path\":\"$1" "$T/requests.log" || true
}

# Checks that the last rs run failed as a handled error (not 0, not 70 for
# an internal error, not a signal) and left the roster digest at $2.  $1
# names the case in the messages.
assert_rejected_unchanged() {
	local name=$1 digest=$2
	[ "$RC" -ne 0 ] || fail "$name: the sync succeeded"
	case $RC in
	70 | 1[2-9][0-9] | 2[0-9][0-9]) fail "$name: exit $RC: $(cat "$T/err")" ;;
	esac
	assert_eq "$(roster_digest)" "$digest" "roster after $name"
}

need_fixtures() {
	[ -d "$FIXTURES/okta" ] ||
		skip "recorded IdP responses not found at $FIXTURES (set ROSTERSYNC_FIXTURES)"
}
