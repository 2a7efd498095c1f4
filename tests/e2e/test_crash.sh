# test_crash.sh - crash consistency: a sync killed with SIGKILL at any
# moment leaves the roster as it was before the run or as it is after it.
#
# The plan changes thousands of members at once (assigns, updates and
# unassigns, with the deletion threshold off).  Each run starts from a copy
# of the same roster and is killed after a random delay.  Four delays in
# five start when the agent logs that it is applying the plan and spread
# over the time a clean apply takes.  The fifth falls anywhere before that.
# After every kill the case checks:
#   - PRAGMA integrity_check is ok and no foreign key is broken;
#   - the roster's digest equals the digest before the run or after a clean
#     run (members, events, team, sync state and approvals, without times);
#   - the next sync converges to the after state.
#
#   CRASH_RUNS=N        runs (default 200; 30 for a sanitizer build and 5
#                       under RS_WRAPPER such as valgrind, which are many
#                       times slower)
#   CRASH_USERS=N       users assigned before the change (default 6000;
#                       1500 under RS_WRAPPER)
#
# A line starting with "REPORT:" gives the counts of kills before, during
# and after the apply, and run.sh prints it.

# The roster without anything that depends on the clock: the same plan
# applied twice gives the same digest.  The blocked-plan keys of sync_state
# are written outside the plan's transaction on purpose, so they are left out.
crash_digest() {
	sqlite3 -batch -noheader "$1" "
		SELECT id, source, external_id, email, user_name, given_name, family_name,
		       display_name, provenance, state, checksum FROM members ORDER BY id;
		SELECT id, run_id IS NOT NULL, op, member_id, email, external_id, source, reason
		       FROM events ORDER BY id;
		SELECT name, seats, source, org, app, managed_since FROM team;
		SELECT key, value FROM sync_state WHERE key NOT LIKE 'blocked_plan%' ORDER BY key;
		SELECT plan_id FROM approvals ORDER BY plan_id;" | sha256sum | cut -d' ' -f1
}

restore_base() {
	rm -f "$T/roster.db" "$T/roster.db-wal" "$T/roster.db-shm"
	cp -p "$T/base.db" "$T/roster.db"
}

# Prints a uniform random number of seconds in [$1, $2).
random_between() {
	awk -v lo="$1" -v hi="$2" -v r="$RANDOM$RANDOM" \
		'BEGIN { srand(r); printf "%.4f", lo + (hi - lo) * rand() }'
}

# Waits until $2 appears in $3 while process $1 runs.  Returns 1 when the
# process ended first.
wait_for_text() {
	while ! grep -q -- "$2" "$3"; do
		kill -0 "$1" 2> /dev/null || return 1
		sleep 0.002
	done
}

seconds_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.4f", b - a }'
}

APPLYING="applying [0-9]* operations in one transaction"

# Runs a clean sync from the base roster three times and keeps the shortest
# times in READ_SECONDS (start to the "applying" line) and APPLY_SECONDS
# (from there to the end of the process), so that one slow run does not
# push the kills past the end of the apply.
measure_apply() {
	local pid start read apply
	READ_SECONDS=
	APPLY_SECONDS=
	for _ in 1 2 3; do
		restore_base
		${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" > "$T/ref.out" 2> "$T/ref.err" &
		pid=$!
		start=$(date +%s.%N)
		wait_for_text "$pid" "$APPLYING" "$T/ref.err" || fail "the reference run logged no apply"
		read=$(seconds_since "$start")
		start=$(date +%s.%N)
		wait "$pid" || fail "the reference run failed: $(tail -n 5 "$T/ref.err")"
		apply=$(seconds_since "$start")
		cat "$T/ref.out" "$T/ref.err" >> "$T/all-output"
		READ_SECONDS=$(awk -v a="$read" -v b="${READ_SECONDS:-$read}" \
			'BEGIN { print (a < b ? a : b) }')
		APPLY_SECONDS=$(awk -v a="$apply" -v b="${APPLY_SECONDS:-$apply}" \
			'BEGIN { print (a < b ? a : b) }')
	done
}

# Starts a sync from the base roster and kills it.  An early kill falls
# anywhere before the apply starts; a late one lands after the "applying"
# line, within 1.3 times the measured apply time.  Sets KILL_CLASS.
kill_one_run() {
	local mode=$1 pid delay
	restore_base
	: > "$T/kill.err"
	${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" > "$T/kill.out" 2> "$T/kill.err" &
	pid=$!
	if [ "$mode" = early ]; then
		sleep "$(random_between 0 "$READ_SECONDS")"
	elif wait_for_text "$pid" "$APPLYING" "$T/kill.err"; then
		delay=$(random_between 0 "$(awk -v a="$APPLY_SECONDS" 'BEGIN { print a * 1.3 }')")
		sleep "$delay"
	fi
	kill -KILL "$pid" 2> /dev/null
	wait "$pid" 2> /dev/null
	local rc=$?
	cat "$T/kill.out" "$T/kill.err" >> "$T/all-output"

	assert_eq "$(sql "PRAGMA integrity_check")" ok "integrity check after a kill"
	assert_eq "$(sql "PRAGMA foreign_key_check")" "" "foreign key check after a kill"
	local digest
	digest=$(crash_digest "$T/roster.db")
	if [ "$rc" = 0 ]; then
		KILL_CLASS=finished
		assert_eq "$digest" "$AFTER" "roster after a run that ended before the kill"
	elif [ "$digest" = "$AFTER" ]; then
		KILL_CLASS=after
	elif [ "$digest" = "$BEFORE" ]; then
		if grep -q -- "$APPLYING" "$T/kill.err"; then
			KILL_CLASS=during
		else
			KILL_CLASS=before
		fi
	else
		cp "$T/roster.db" "$T/torn.db"
		fail "after a kill ($mode, exit $rc) the roster is neither the before nor the after state"
	fi
}

# Kills $1 runs, one in five early unless $2 is "apply", and checks that the
# sync after each kill converges to the after state.  Sets KILLS to the
# counts of kills before, during and after the apply.
kill_runs() {
	local runs=$1 only=${2:-} mode
	local before=0 during=0 after=0 finished=0
	for i in $(seq 1 "$runs"); do
		if [ -z "$only" ] && [ $((i % 5)) = 0 ]; then mode=early; else mode=apply; fi
		kill_one_run "$mode"
		case "$KILL_CLASS" in
		before) before=$((before + 1)) ;;
		during) during=$((during + 1)) ;;
		after) after=$((after + 1)) ;;
		finished) finished=$((finished + 1)) ;;
		esac

		rs sync -c "$T/config.yaml"
		[ "$RC" = 0 ] || fail "the sync after a kill ($KILL_CLASS) exited $RC"
		assert_eq "$(crash_digest "$T/roster.db")" "$AFTER" \
			"roster after the sync that followed kill $i ($KILL_CLASS)"
	done
	KILLS="$before before the apply, $during during it, $after after the commit,"
	KILLS="$KILLS $finished finished before the kill"
	[ "$during" -gt 0 ] || [ "$runs" -lt 20 ] || fail "no kill landed during the apply"
}

test_crash_leaves_before_or_after() {
	local runs=${CRASH_RUNS:-}
	local count=${CRASH_USERS:-}
	[ -n "$count" ] || count=$([ -n "${RS_WRAPPER:-}" ] && echo 1500 || echo 6000)
	if [ -z "$runs" ]; then
		runs=200
		if [ -n "${RS_WRAPPER:-}" ]; then
			runs=5
		elif grep -qa __asan_init "$RS_BIN"; then
			runs=30
		fi
	fi
	local total=$((count * 5 / 3))
	local removed=$((count / 3))
	local suspended=$((count / 20))
	local start_all
	start_all=$(date +%s)

	# Before: users 1..count.  After: the first third removed, a twentieth
	# suspended, every third remaining one renamed, and users count+1..total
	# added.  With 6000 users that is about 7500 operations.
	# The rate limit is far above the run's requests, so no run pauses for it.
	users "$total" | write_users ".assignments.users |= .[0:$count] | .rate_limit = 1000000000"
	start_fake --data "$T/data.json"
	SEATS=$((total * 2)) MAX_UNASSIGN=0 MAX_PERCENT=0 write_config
	sync_ok
	sql ".backup '$T/base.db'"
	chmod 600 "$T/base.db"
	BEFORE=$(crash_digest "$T/base.db")
	edit_data ".assignments.users = ([.users[].id] | .[$removed:$total])
		| (.users[$removed:$((removed + suspended))][]).status = \"SUSPENDED\"
		| (.users[$((removed + suspended)):$count][]
		   | select((.id | ltrimstr(\"00u\") | tonumber) % 3 == 0))
		  .firstName |= \"Renamed \" + ."

	measure_apply
	AFTER=$(crash_digest "$T/roster.db")
	[ "$AFTER" != "$BEFORE" ] || fail "the reference run changed nothing"
	operations=$(sed -n 's/.*applying \([0-9]*\) operations.*/\1/p' "$T/ref.err")
	[ "${operations:-0}" -ge "$count" ] || fail "the plan has only ${operations:-0} operations"

	kill_runs "$runs"

	echo "REPORT: $runs kills of a $operations-operation sync" \
		"(read ${READ_SECONDS} s, apply ${APPLY_SECONDS} s):" \
		"$KILLS; $(( $(date +%s) - start_all )) s"
}

# The same for a bulk write, which runs with a rollback journal instead of
# the WAL: 12,000 members added to a roster of 100.  Every kill lands
# during or after the apply.
test_crash_during_bulk_write() {
	[ -z "${RS_WRAPPER:-}" ] || skip "a sync of 12,000 users takes minutes under a wrapper"
	local runs=${CRASH_RUNS:-}
	if [ -z "$runs" ]; then
		runs=40
		grep -qa __asan_init "$RS_BIN" && runs=10
	fi

	users 12100 | write_users ".assignments.users |= .[0:100] | .rate_limit = 1000000000"
	start_fake --data "$T/data.json"
	SEATS=20000 MAX_UNASSIGN=0 MAX_PERCENT=0 write_config
	sync_ok
	sql ".backup '$T/base.db'"
	chmod 600 "$T/base.db"
	BEFORE=$(crash_digest "$T/base.db")
	edit_data ".assignments.users = [.users[].id]"

	measure_apply
	AFTER=$(crash_digest "$T/roster.db")
	grep -q "writing with a rollback journal" "$T/ref.err" ||
		fail "the reference run did not write with a rollback journal"

	kill_runs "$runs" apply
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode after the last sync"
	echo "REPORT: $runs kills of a bulk write (apply ${APPLY_SECONDS} s): $KILLS"
}
