# test_lock.sh - one run per tenant: the flock(2) on "<roster.path>.lock"
# (symbolic links in roster.path resolved).
#
# A sync waits up to 10 seconds for another run of the same tenant, then
# exits 75 with a message that names the lock file.  The kernel releases the
# lock when its holder dies, so a killed run never blocks the next one.

LOCK_WAIT_SECONDS=10

# Starts a sync in the background with its own output files; sets BG_PID.
sync_in_background() {
	local name=$1
	shift
	${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" "$@" > "$T/$name.out" 2> "$T/$name.err" &
	BG_PID=$!
}

# Waits until the lock file exists and some process holds it.
wait_for_lock_held() {
	for _ in $(seq 1 200); do
		if [ -e "$T/roster.db.lock" ] && ! flock -n "$T/roster.db.lock" true; then
			return 0
		fi
		sleep 0.05
	done
	fail "no run took the lock within 10 s"
}

lock_is_free() {
	flock -n "$T/roster.db.lock" true
}

collect_background() {
	cat "$T/$1.out" "$T/$1.err" >> "$T/all-output"
}

# Syncs 5 users with $T/config.yaml in the background (a slow fake) and,
# while that run holds the lock, syncs with the config $1 in the foreground.
# A config $1 other than $T/config.yaml is written with roster.path $2.
# Checks that both exit 0 and that the second waited for the first.
second_run_during_first() {
	users 5 | write_users
	start_fake --data "$T/data.json" --latency-ms 1000
	write_config
	[ "$1" = "$T/config.yaml" ] || sed "s#^  path: .*#  path: $2#" "$T/config.yaml" > "$1"
	chmod 600 "$1"
	sync_in_background first
	first_pid=$BG_PID
	wait_for_lock_held

	rs sync -c "$1"
	second_rc=$RC
	wait "$first_pid"
	first_rc=$?
	collect_background first

	assert_eq "$first_rc" 0 "exit status of the first run"
	assert_eq "$second_rc" 0 "exit status of the second run"
	assert_contains "$T/err" "waiting for another run of tenant e2e to finish"
}

test_second_run_waits_for_first() {
	second_run_during_first "$T/config.yaml"

	assert_not_contains "$T/first.err" "waiting for another run"
	assert_eq "$(sql "SELECT count(*) FROM runs WHERE exit_status = 0 AND finished_at > 0")" 2 \
		"finished runs"
	# The second run started after the first had applied: it had nothing to do.
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'assign'")" 5 "assign events"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "outcome of the second run"
}

# A config that reaches the roster through a symbolic link shares its lock:
# the lock file is named after the resolved path.
test_symlinked_roster_path_shares_lock() {
	ln -s "$T/roster.db" "$T/alias.db"
	second_run_during_first "$T/alias.yaml" "$T/alias.db"

	[ ! -e "$T/alias.db.lock" ] || fail "the run through the link made its own lock file"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'assign'")" 5 "assign events"
}

test_held_lock_exits_75_after_bound() {
	users 5 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)
	edit_data '.assignments.users -= ["00u0001"]'

	# -o: only flock itself holds the lock, so killing it releases the lock.
	flock -o "$T/roster.db.lock" sleep $((LOCK_WAIT_SECONDS + 20)) &
	holder=$!
	wait_for_lock_held
	start=$(date +%s)
	rs sync -c "$T/config.yaml"
	waited=$(( $(date +%s) - start ))
	kill "$holder"
	wait "$holder" 2> /dev/null

	assert_rc 75
	assert_contains "$T/err" "another rostersync run for tenant e2e holds $T/roster.db.lock; waited $LOCK_WAIT_SECONDS s, try again when it has finished"
	# The upper bound leaves room for a slow start under valgrind.
	[ "$waited" -ge $((LOCK_WAIT_SECONDS - 1)) ] && [ "$waited" -le $((LOCK_WAIT_SECONDS + 10)) ] ||
		fail "gave up after $waited s, expected about $LOCK_WAIT_SECONDS s"
	assert_eq "$(roster_digest)" "$before" "roster after the refused run"
	[ "$(grep -c '"path":"/api/v1/apps/0oaapp1/users"' "$T/requests.log")" = 1 ] ||
		fail "the refused run read the IdP"

	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0001'")" unassigned \
		"user 00u0001 once the lock is free"
}

test_killed_run_leaves_no_lock() {
	users 5 | write_users
	start_fake --data "$T/data.json" --latency-ms 5000
	write_config
	sync_in_background killed
	killed_pid=$BG_PID
	wait_for_lock_held
	wait_for_run_record
	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "unfinished (still running, or killed before it ended)"
	kill -KILL "$killed_pid"
	wait "$killed_pid" 2> /dev/null
	collect_background killed

	[ -e "$T/roster.db.lock" ] || fail "the lock file is gone"
	lock_is_free || fail "the lock is still held after its holder was killed"
	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "unfinished (ended without a record: killed, or the machine stopped)"
	stop_fake
	start_fake --data "$T/data.json"
	sed -i "s|org_url: .*|org_url: http://127.0.0.1:$PORT|" "$T/config.yaml"

	start=$(date +%s)
	sync_ok
	[ $(( $(date +%s) - start )) -lt $LOCK_WAIT_SECONDS ] ||
		fail "the next run waited for a dead run's lock"
	assert_not_contains "$T/err" "waiting for another run"
	assert_eq "$(sql "PRAGMA integrity_check")" ok "integrity check"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'active'")" 5 "active members"
	assert_eq "$(sql "SELECT count(*) FROM runs WHERE finished_at IS NULL")" 1 \
		"unfinished run records (the killed run)"
}

test_other_tenant_is_not_blocked() {
	users 5 | write_users
	start_fake --data "$T/data.json" --latency-ms 1500
	write_config
	sed -e "s|^tenant: e2e|tenant: other|" -e "s|$T/roster.db|$T/other.db|" \
		"$T/config.yaml" > "$T/other.yaml"
	chmod 600 "$T/other.yaml"
	sync_in_background first
	first_pid=$BG_PID
	wait_for_lock_held

	rs sync -c "$T/other.yaml"
	wait "$first_pid"
	first_rc=$?
	collect_background first

	assert_rc 0
	assert_eq "$first_rc" 0 "exit status of the first tenant's run"
	assert_not_contains "$T/err" "waiting for another run"
	[ -e "$T/other.db.lock" ] || fail "the second tenant has no lock file of its own"
}

test_plan_runs_while_sync_holds_lock() {
	users 5 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001"]'

	flock -o "$T/roster.db.lock" sleep 30 &
	holder=$!
	wait_for_lock_held
	rs plan -c "$T/config.yaml"
	kill "$holder"
	wait "$holder" 2> /dev/null

	# A plan only reads: it does not wait for the lock and changes nothing.
	assert_rc 0
	assert_contains "$T/out" "user0001@example.com"
	assert_not_contains "$T/err" "waiting for another run"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0001'")" active \
		"user 00u0001 after the plan"
}

# Skips the test unless it can run rostersync as another user, then starts
# the fake with $1 users and lets user 65534 read $T, the config and token.
service_user_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root to run as another user"
	command -v setpriv > /dev/null || skip "setpriv (util-linux) not installed"
	users "$1" | write_users
	start_fake --data "$T/data.json"
	write_config
	chmod 755 "$T"
	chmod 644 "$T/config.yaml" "$T/token"
}

# Runs rostersync as the unprivileged user 65534, as a service user would.
rs_as_service_user() {
	RC=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$RS_BIN" "$@" > "$T/out" 2> "$T/err" ||
		RC=$?
	cat "$T/out" "$T/err" >> "$T/all-output"
}

# A run by hand as root that creates the lock file gives it the roster's
# owner, so the service user's next run still gets the lock.  A lock file
# the service user cannot open is reported with its owner and the fix.
test_root_run_keeps_lock_usable_for_service_user() {
	service_user_setup 3
	mkdir "$T/state"
	chown 65534:65534 "$T/state"
	sed -i "s#^  path: .*#  path: $T/state/roster.db#" "$T/config.yaml"

	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 0
	rm "$T/state/roster.db.lock"
	rs sync -c "$T/config.yaml"
	assert_rc 0
	assert_eq "$(stat -c %u "$T/state/roster.db.lock")" 65534 "owner of the lock file"
	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 0

	chown 0:0 "$T/state/roster.db.lock"
	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "it belongs to uid 0 (mode 600), not to uid 65534 that runs this command"
	assert_contains "$T/err" "chown 65534:65534 $T/state/roster.db*"
}

# A user who may read the roster but not write beside it cannot open it,
# because the WAL journal needs the -shm file.  The error names that cause.
test_status_by_reader_without_write_access_explains() {
	service_user_setup 2
	sync_ok
	chmod 644 "$T/roster.db"
	rm -f "$T/roster.db-shm" "$T/roster.db-wal"

	rs_as_service_user status -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "$T/roster.db belongs to uid 0 (mode 644), not to uid 65534 that runs this command: run the command as uid 0"
}

# A read-only command on a roster of mode 0400 leaves -wal and -shm files
# of that mode.  Once the roster is writable again, a sync names the -shm
# file and the chmod that fixes it, and so does the test command.
test_read_only_shm_file_named() {
	service_user_setup 2
	mkdir "$T/state"
	chown 65534:65534 "$T/state"
	sed -i "s#^  path: .*#  path: $T/state/roster.db#" "$T/config.yaml"
	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 0
	chmod 400 "$T/state/roster.db"
	rs_as_service_user status -c "$T/config.yaml"
	assert_rc 0
	[ -e "$T/state/roster.db-shm" ] || skip "SQLite left no -shm file after a read"
	chmod 600 "$T/state/roster.db"

	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "$T/state/roster.db-shm has mode 400, which does not let its owner, uid 65534 that runs this command, write it: run \"chmod 600 $T/state/roster.db-shm\""
	rs_as_service_user test -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/out" "a sync cannot write the roster: $T/state/roster.db-shm has mode 400"

	chmod 600 "$T/state/roster.db-shm" "$T/state/roster.db-wal"
	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 0
}

# Holds the write lock of the roster for $1 seconds, then ends the
# transaction and closes.  With $2 "rollback", it first switches the roster
# to a rollback journal and writes a row, as a bulk write does.  With "wal",
# it only takes the lock, as BEGIN IMMEDIATE in a sqlite3 shell does.
# Writes $T/holder.ready once it holds the lock and sets HOLDER.
hold_write_lock() {
	python3 - "$T/roster.db" "$1" "$T/holder.ready" "$2" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[4] == "rollback":
    assert db.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
db.execute("BEGIN IMMEDIATE")
if sys.argv[4] == "rollback":
    db.execute("UPDATE sync_state SET updated_at = updated_at")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
db.close()
PY
	HOLDER=$!
	for _ in $(seq 1 500); do
		[ -e "$T/holder.ready" ] && return
		sleep 0.01
	done
	fail "the holder did not take the write lock"
}

# Runs rs with the arguments while the holder keeps the lock, then waits
# for the holder; RC stays the status of rs.
rs_while_held() {
	rs "$@"
	local rc=$RC
	wait "$HOLDER" || fail "the holder failed"
	RC=$rc
}

# status waits while a bulk write of another run keeps the roster in a
# rollback journal, and opens it once the write has ended.
test_status_waits_for_bulk_write() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	hold_write_lock 1 rollback
	rs_while_held status -c "$T/config.yaml"

	assert_rc 0
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode after status"
}

# A bulk write that outlasts the busy timeout makes status exit 75
# (temporary), not 74 (the roster cannot be opened).
test_status_during_long_bulk_write_exits_75() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	hold_write_lock 15 rollback
	rs_while_held status -c "$T/config.yaml"
	assert_rc 75
	assert_contains "$T/err" "another connection kept the roster locked for 5 s"
}

# A reader that starts during a bulk write cannot hold the run up for long.
# The write takes the exclusive lock before its first row.  When a reader
# got in first, the write gives up after the 5 s busy timeout (exit 75),
# and recording the run's end waits 5 s more.
test_reader_cannot_stall_bulk_write() {
	[ -z "${RS_WRAPPER:-}" ] || skip "the check measures the sync's own duration"
	start_fake --synthetic 100000 --groups 5
	SEATS=200000 write_config
	: > "$T/sync.err"
	python3 - "$T/roster.db" "$T/sync.err" "$T/write.start" > "$T/reader.out" <<'PY' &
import sqlite3, sys, time
deadline = time.time() + 60
while time.time() < deadline:
    if "writing with a rollback journal" in open(sys.argv[2]).read():
        break
    time.sleep(0.001)
open(sys.argv[3], "w").write("%.3f" % time.time())
while time.time() < deadline:
    try:
        db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
        db.execute("BEGIN")
        db.execute("SELECT count(*) FROM members").fetchone()
    except sqlite3.OperationalError:
        print("locked", flush=True)
        break
    print("held", flush=True)
    time.sleep(30)
    db.execute("ROLLBACK")
    break
PY
	local reader=$! rc=0
	"$RS_BIN" sync -c "$T/config.yaml" > /dev/null 2> "$T/sync.err" || rc=$?
	local seconds
	seconds=$(awk -v a="$(cat "$T/write.start")" -v b="$(date +%s.%N)" \
		'BEGIN { printf "%d", b - a }')
	kill "$reader" 2> /dev/null
	wait "$reader" 2> /dev/null

	[ "$rc" = 0 ] || [ "$rc" = 75 ] || fail "the sync exited $rc: $(tail -n 3 "$T/sync.err")"
	[ "$seconds" -lt 13 ] || fail "the sync ended $seconds s after its write began, while a reader held the roster"
	assert_eq "$(sql "PRAGMA integrity_check")" ok "integrity check"

	sync_ok
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode after the next sync"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'active'")" 100000 "active members"
	echo "REPORT: the reader $(cat "$T/reader.out"); the sync exited $rc $seconds s after its write began"
}

# A damaged roster and one that another program keeps locked each get an
# error that names the next step, and the run changes nothing.
test_damaged_or_locked_roster_explained() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	hold_write_lock 8 wal
	rs_while_held sync -c "$T/config.yaml"
	assert_rc 75
	assert_contains "$T/err" "another program (a sqlite3 shell, a backup) holds a transaction on the roster"

	sqlite3 "$T/roster.db" "PRAGMA journal_mode = DELETE" > /dev/null
	dd if=/dev/zero of="$T/roster.db" bs=4096 seek=2 count=3 conv=notrunc 2> /dev/null
	rs sync -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "malformed; the roster file is damaged: restore it from a backup"
}

# A damaged page that SQLite reads without an error, so that a member row
# comes back with no state, is reported as damage.  The test command runs
# SQLite's quick check and fails too.
test_damaged_page_found_by_quick_check() {
	users 10 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "PRAGMA journal_mode = DELETE" > /dev/null
	page=$(sqlite3 "$T/roster.db" "SELECT rootpage FROM sqlite_master WHERE name = 'members'")
	printf 'GARBAGEGARBAGEGARBAGE%.0s' 1 2 3 4 5 6 |
		dd of="$T/roster.db" bs=1 seek=$(( (page - 1) * 4096 + 8 )) conv=notrunc 2> /dev/null

	rs test -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/out" "$T/roster.db fails SQLite's quick check ("
	grep "fails SQLite's quick check" "$T/out" | grep -q "Backup and restore" ||
		fail "the quick check result broke the line"
	rs status -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "the roster file is damaged"
}

# A state that the CHECK constraint forbids, written with the constraints
# off, is named with the states allowed.
test_forbidden_state_named() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "PRAGMA ignore_check_constraints = 1; DROP TRIGGER members_managed_update;
		UPDATE members SET state = 'deleted' WHERE id = 2"
	rs status -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "member 2 has the state \"deleted\", which the members table does not allow (active, waiting or unassigned)"
	rs test -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/out" "$T/roster.db fails SQLite's quick check (CHECK constraint failed in members)"
}

# A roster file left to root, with a lock the service user may open, is
# reported with its owner and the chown that fixes it.
test_root_owned_roster_names_owner() {
	service_user_setup 1
	mkdir "$T/state"
	chown 65534:65534 "$T/state"
	sed -i "s#^  path: .*#  path: $T/state/roster.db#" "$T/config.yaml"
	rs sync -c "$T/config.yaml"
	assert_rc 0
	chown 65534:65534 "$T/state/roster.db.lock"
	chmod 0600 "$T/state/roster.db"
	chown 0:0 "$T/state/roster.db"

	rs_as_service_user sync -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "the file belongs to uid 0, not to uid 65534 that runs this command"
	assert_contains "$T/err" "chown 65534:65534 $T/state/roster.db*"
}

# A roster on a file system mounted read-only cannot be opened even to read
# it, because of the WAL journal, and the error names the cause.  Needs root for
# the read-only bind mount.
test_read_only_mount_named() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	mkdir -p "$T/rw" "$T/ro"
	write_config
	sed -i "s|^  path: .*|  path: $T/ro/roster.db|" "$T/config.yaml"
	mount --bind "$T/rw" "$T/ro" 2> /dev/null || skip "cannot bind-mount (needs root)"
	trap 'umount "$T/ro" 2> /dev/null; stop_fake' EXIT
	rs sync -c "$T/config.yaml"
	assert_rc 0
	mount -o remount,ro,bind "$T/ro" || fail "cannot remount read-only"

	for command in status plan "members list"; do
		rs $command -c "$T/config.yaml"
		assert_rc 74
		assert_contains "$T/err" "the file system of the roster is mounted read-only"
	done
	umount "$T/ro"
}

# Sends SIGTERM to the background run $BG_PID after 1 s, and checks that it
# ended within 3 s of the signal, by the signal, with a message naming it.
# $1 is a phrase of that message.
stop_waiting_run() {
	local rc=0 started

	sleep 1
	started=$(date +%s)
	kill -TERM "$BG_PID"
	wait "$BG_PID" || rc=$?
	collect_background waiting

	assert_eq "$rc" 143 "exit status (ended by SIGTERM)"
	[ $(($(date +%s) - started)) -le 3 ] || fail "the run kept waiting after SIGTERM"
	assert_contains "$T/waiting.err" "$1"
}

# SIGTERM ends the wait for another run's lock at once.
test_sigterm_ends_lock_wait() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	flock -o "$T/roster.db.lock" sleep 30 &
	holder=$!
	wait_for_lock_held

	sync_in_background waiting
	stop_waiting_run "stopped by SIGTERM while waiting for another rostersync run of tenant e2e"
	kill "$holder"
	wait "$holder" 2> /dev/null
}

# SIGTERM ends the wait for a transaction of another program at once.
test_sigterm_ends_busy_wait() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001"]'
	before=$(roster_digest)
	hold_write_lock 8 wal

	sync_in_background waiting
	stop_waiting_run "stopped by SIGTERM while another connection held the roster"
	wait "$HOLDER" || fail "the holder failed"
	assert_eq "$(roster_digest)" "$before" "roster after the stopped run"
}

# A file size limit (ulimit -f) that stops the roster from growing fails the
# write like a full disk: exit 74, a message that names the limit, and the
# roster as it was.  The process is not killed by SIGXFSZ.
test_file_size_limit_fails_write_cleanly() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	users 3000 | write_users
	before=$(roster_digest)
	limit_kib=$(( $(stat -c %s "$T/roster.db") / 1024 + 64 ))

	rc=0
	(ulimit -f "$limit_kib"; exec ${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml") \
		> "$T/out" 2> "$T/err" || rc=$?
	cat "$T/out" "$T/err" >> "$T/all-output"

	assert_eq "$rc" 74 "exit status"
	assert_contains "$T/err" "the file size limit of this process ($((limit_kib * 1024)) bytes"
	assert_eq "$(roster_digest)" "$before" "roster after the failed write"
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members")" 3000 "members once the limit is gone"
}

# A schema version that rostersync never writes, newer or negative, is
# named, and the roster is left as it is.
test_unknown_schema_version_named() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	for version in 99 -1; do
		sqlite3 "$T/roster.db" "PRAGMA user_version = $version"
		rs status -c "$T/config.yaml"
		assert_rc 74
		assert_contains "$T/err" "schema version $version"
		assert_eq "$(sql "PRAGMA user_version")" "$version" "schema version after the refusal"
	done
}
