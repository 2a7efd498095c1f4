# test_service.sh - rostersync as a system service: the metrics textfile,
# status for operators, repeated warnings, the terminal progress line, the
# systemd units, make install and the Debian package.

PROM="$T/metrics/rostersync-e2e.prom"

# Writes the config with a metrics textfile in $T/metrics.
write_metrics_config() {
	mkdir -p "$T/metrics"
	write_config "metrics:" "  textfile: $PROM" "$@"
}

# Prints the value of the sample whose name and labels start with $1.
prom_value() {
	grep -F -- "$1" "$PROM" | head -1 | awk '{print $NF}'
}

test_metrics_after_success_and_failure() {
	users 5 | write_users
	start_fake --data "$T/data.json"
	SEATS=4 write_metrics_config
	sync_ok
	[ -f "$PROM" ] || fail "no textfile after a successful sync"

	assert_eq "$(stat -c %a "$PROM")" 644 "textfile mode"
	assert_eq "$(prom_value 'rostersync_last_run_outcome{tenant="e2e",source="okta",outcome="success"}')" 1 "success outcome"
	assert_eq "$(prom_value 'rostersync_last_run_exit_status{')" 0 "exit status"
	assert_eq "$(prom_value 'rostersync_members{tenant="e2e",source="okta",state="active"}')" 4 "active members"
	assert_eq "$(prom_value 'rostersync_members{tenant="e2e",source="okta",state="waiting"}')" 1 "waiting members"
	assert_eq "$(prom_value 'rostersync_seats{')" 4 "seats"
	assert_eq "$(prom_value 'rostersync_seats_used{')" 4 "seats used"
	assert_eq "$(prom_value 'rostersync_last_run_operations{tenant="e2e",source="okta",op="assign"}')" 4 "assigns"
	assert_eq "$(prom_value 'rostersync_last_run_users_read{')" 5 "users read"
	[ "$(prom_value 'rostersync_last_run_idp_requests{')" -ge 1 ] || fail "no IdP requests counted"
	assert_contains "$PROM" "# TYPE rostersync_last_success_timestamp_seconds gauge"
	success=$(prom_value 'rostersync_last_success_timestamp_seconds{')
	[ "$success" -gt 0 ] || fail "last success not set: $success"
	assert_eq "$(ls "$T/metrics")" rostersync-e2e.prom "files in the textfile directory"

	sleep 1
	edit_data '.faults = [{"kind":"status","status":401}]'
	rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_eq "$(prom_value 'rostersync_last_run_outcome{tenant="e2e",source="okta",outcome="failed"}')" 1 "failed outcome"
	assert_eq "$(prom_value 'rostersync_last_run_outcome{tenant="e2e",source="okta",outcome="success"}')" 0 "success outcome after failure"
	assert_eq "$(prom_value 'rostersync_last_run_exit_status{')" 77 "exit status after failure"
	assert_eq "$(prom_value 'rostersync_last_success_timestamp_seconds{')" "$success" "last success after failure"
	[ "$(prom_value 'rostersync_last_run_timestamp_seconds{')" -gt "$success" ] ||
		fail "last run time did not advance"
	assert_eq "$(prom_value 'rostersync_members{tenant="e2e",source="okta",state="active"}')" 4 \
		"active members after failure"
}

test_metrics_when_lock_is_held() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_metrics_config
	sync_ok
	success=$(prom_value 'rostersync_last_success_timestamp_seconds{')

	flock "$T/roster.db.lock" sleep 30 &
	holder=$!
	sleep 0.3
	rs sync -c "$T/config.yaml"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null

	assert_rc 75
	assert_eq "$(prom_value 'rostersync_last_run_exit_status{')" 75 "exit status"
	assert_eq "$(prom_value 'rostersync_last_success_timestamp_seconds{')" "$success" \
		"last success read back from the previous textfile"
	assert_not_contains "$PROM" "rostersync_members{"
}

test_metrics_write_failure_keeps_exit_status() {
	users 2 | write_users
	start_fake --data "$T/data.json" --latency-ms 500
	mkdir "$T/prom"
	write_config "metrics:" "  textfile: $T/prom/rostersync-e2e.prom"

	# The directory goes away after the config check, while the run reads:
	# the run record exists, and the fake delays each response by 500 ms.
	${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" > "$T/out" 2> "$T/err" &
	pid=$!
	wait_for_run_record
	rmdir "$T/prom"
	RC=0
	wait "$pid" || RC=$?
	cat "$T/out" "$T/err" >> "$T/all-output"

	assert_rc 0
	assert_contains "$T/err" "metrics textfile $T/prom/rostersync-e2e.prom not written"
}

# A textfile whose directory is missing, or that names a directory, fails
# the config check, so that the metrics do not go stale unnoticed.
test_metrics_textfile_place_checked() {
	PORT=1 write_config "metrics:" "  textfile: $T/missing-dir/rostersync-e2e.prom"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "metrics.textfile: the directory \"$T/missing-dir\" of \"$T/missing-dir/rostersync-e2e.prom\" does not exist"

	mkdir "$T/dir.prom"
	PORT=1 write_config "metrics:" "  textfile: $T/dir.prom"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "metrics.textfile: \"$T/dir.prom\" is a directory"
}

# A roster.path that names a directory or a device fails the config check,
# before any lock file is created beside it.
test_special_roster_path_rejected() {
	mkdir "$T/rosterdir"
	PORT=1 write_config
	sed -i "s#^  path: .*#  path: $T/rosterdir#" "$T/config.yaml"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "roster.path: \"$T/rosterdir\" is a directory, not a roster file"
	[ ! -e "$T/rosterdir.lock" ] || fail "a lock file was created beside the directory"

	sed -i "s#^  path: .*#  path: $T/config.yaml#" "$T/config.yaml"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "roster.path: \"$T/config.yaml\" is this config file"
	[ ! -e "$T/config.yaml.lock" ] || fail "a lock file was created beside the config"
}

test_status_json_contract_and_drift() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	sqlite3 "$T/roster.db" "
		BEGIN;
		INSERT INTO agent_write VALUES (1);
		UPDATE members SET state='unassigned' WHERE external_id='00u0002';
		DELETE FROM agent_write;
		COMMIT;" || fail "could not bypass the triggers for the test"
	sync_ok

	rs status -c "$T/config.yaml" --json
	assert_rc 0
	jq -e . "$T/out" > /dev/null || fail "status --json is not JSON: $(cat "$T/out")"
	assert_eq "$(jq -r .tenant "$T/out")" e2e "tenant"
	assert_eq "$(jq -r .source "$T/out")" okta "source"
	assert_eq "$(jq -r .seats "$T/out")" 100 "seats"
	assert_eq "$(jq -r .seats_used "$T/out")" 3 "seats_used"
	assert_eq "$(jq -r .waiting "$T/out")" 0 "waiting"
	assert_eq "$(jq -r .last_run.outcome "$T/out")" success "last_run.outcome"
	assert_eq "$(jq -r .last_run.exit_status "$T/out")" 0 "last_run.exit_status"
	jq -r .last_run.started_at "$T/out" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' ||
		fail "last_run.started_at is not a UTC time: $(jq -c .last_run "$T/out")"
	jq -r .last_run.finished_at "$T/out" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' ||
		fail "last_run.finished_at is not a UTC time: $(jq -c .last_run "$T/out")"
	assert_eq "$(jq -r '.drift | length' "$T/out")" 1 "drift events"
	assert_eq "$(jq -r '.drift[0].email' "$T/out")" user0002@example.com "drift email"
	assert_eq "$(jq -r '.drift[0].reason' "$T/out")" "manual change reverted" "drift reason"
	jq -r '.drift[0].at' "$T/out" | grep -qE 'Z$' || fail "drift time missing"

	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "Reverted manual changes (last 1):"
	assert_contains "$T/out" "user0002@example.com"
}

test_status_json_lists_waiting_members() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	SEATS=2 write_config
	sync_ok
	rs status -c "$T/config.yaml" --json
	assert_rc 0
	assert_eq "$(jq -r .waiting "$T/out")" 1 "waiting"
	assert_eq "$(jq -r '.waiting_members[0].email' "$T/out")" user0003@example.com "waiting email"
	[ "$(jq -r '.waiting_members[0].waited_seconds' "$T/out")" -ge 0 ] || fail "waited_seconds"
	assert_eq "$(jq -r '.drift | length' "$T/out")" 0 "no drift events"
}

test_repeated_warnings_are_summarised() {
	for i in $(seq 1 30); do
		printf '00u%04d not-an-email-%d ACTIVE\n' "$i" "$i"
	done | write_users
	start_fake --data "$T/data.json"
	write_config
	rs sync -c "$T/config.yaml"
	assert_rc 0

	assert_eq "$(grep -c 'run=[^ ]*: user 00u[0-9]* skipped: ' "$T/err")" 10 "skipped lines written"
	assert_contains "$T/err" "message repeated 20 more times, not logged"
	assert_contains "$T/err" "not-an-email-30"
	assert_eq "$(grep -c 'message repeated' "$T/err")" 1 "summary lines"
}

test_progress_line_only_on_terminal() {
	command -v script > /dev/null || skip "script(1) not installed (bsdutils)"
	users 20 | write_users
	start_fake --data "$T/data.json"
	# Replaces the debug level of write_config, so that only the progress
	# line can reach the terminal.
	write_config "log:" "  level: warn"
	sed -i '/^log:$/,/^  level: debug$/d' "$T/config.yaml"

	script -qec "${RS_WRAPPER:-} $RS_BIN plan -c $T/config.yaml" "$T/typescript" > /dev/null 2>&1 ||
		fail "plan under script failed: $(cat "$T/typescript")"
	grep -aqE 'reading Okta: [0-9]+ requests?, [0-9]+ users?' "$T/typescript" ||
		fail "no progress line on the terminal: $(cat -v "$T/typescript")"
	grep -aq $'\r\033\\[K' "$T/typescript" || fail "the progress line is never erased"

	rs plan -c "$T/config.yaml"
	assert_rc 0
	assert_not_contains "$T/err" "reading Okta"
	if grep -q $'\r' "$T/err"; then
		fail "a carriage return reached stderr that is not a terminal"
	fi
}

# Copies the units with ExecStart pointed at the build and the man pages
# where man(1) finds them, as systemd-analyze checks Documentation= too.
stage_units() {
	mkdir -p "$T/units" "$T/man/man5" "$T/man/man8"
	sed "s|/usr/bin/rostersync|$RS_BIN|" "$ROOT/packaging/rostersync@.service" \
		> "$T/units/rostersync@.service"
	cp "$ROOT/packaging/rostersync@.timer" "$T/units/"
	cp "$ROOT/packaging/rostersync.8" "$T/man/man8/"
	cp "$ROOT/packaging/rostersync.yaml.5" "$T/man/man5/"
}

test_units_pass_systemd_analyze() {
	command -v systemd-analyze > /dev/null || skip "systemd-analyze not installed (package systemd)"
	stage_units
	(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify \
		rostersync@acme.service rostersync@acme.timer) > "$T/verify" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/verify")"
	[ ! -s "$T/verify" ] || fail "systemd-analyze verify printed: $(cat "$T/verify")"

	systemd-analyze security --offline=true --no-pager "$T/units/rostersync@acme.service" \
		> "$T/security" 2>&1 || fail "systemd-analyze security: $(tail -5 "$T/security")"
	score=$(sed -n 's/.*Overall exposure level for rostersync@acme.service: \([0-9.]*\) .*/\1/p' \
		"$T/security")
	[ -n "$score" ] || fail "no exposure level in: $(tail -3 "$T/security")"
	awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
		fail "exposure level $score is above 2.0: $(grep '✗' "$T/security")"
}

test_timer_elapses_every_quarter_hour() {
	command -v systemd-analyze > /dev/null || skip "systemd-analyze not installed (package systemd)"
	calendar=$(sed -n 's/^OnCalendar=//p' "$ROOT/packaging/rostersync@.timer")
	systemd-analyze calendar --iterations=2 "$calendar" > "$T/calendar" 2>&1 ||
		fail "invalid OnCalendar=$calendar: $(cat "$T/calendar")"
	assert_contains "$T/calendar" "Normalized form: *-*-* *:00/15:00"
}

# Expands a systemd syscall group, such as @system-service, into names.
expand_syscalls() {
	systemd-analyze syscall-filter "$1" | sed -n 's/^    \([@a-z0-9_-][a-z0-9_-]*\)$/\1/p' |
		while read -r name; do
			case "$name" in
			@*) expand_syscalls "$name" ;;
			*) echo "$name" ;;
			esac
		done
}

test_sync_syscalls_pass_unit_filter() {
	command -v strace > /dev/null || skip "strace not installed"
	command -v systemd-analyze > /dev/null || skip "systemd-analyze not installed (package systemd)"
	[ -z "${RS_WRAPPER:-}" ] || skip "the wrapper's own system calls would be traced"
	case "$BUILD" in *san*) skip "the sanitizer runtime makes system calls of its own" ;; esac
	users 5 | write_users
	start_fake --data "$T/data.json"
	write_metrics_config
	sync_ok

	strace -f -qq -o "$T/strace" "$RS_BIN" sync -c "$T/config.yaml" > /dev/null 2>&1 ||
		fail "sync under strace failed"
	sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$T/strace" | sort -u > "$T/used"
	expand_syscalls @system-service | sort -u > "$T/allowed"
	{ expand_syscalls @privileged; expand_syscalls @resources; } | sort -u > "$T/denied"
	[ -s "$T/used" ] && [ -s "$T/allowed" ] || fail "empty system call lists"

	# SQLite gives its -wal and -shm files the roster's owner with fchown(2)
	# only when it runs as root, which the unit never does.
	if [ "$(id -u)" = 0 ]; then
		grep -vx 'fchown' "$T/used" > "$T/used.nonroot"
		mv "$T/used.nonroot" "$T/used"
	fi
	outside=$(comm -23 "$T/used" "$T/allowed" | grep -vx 'execve' | tr '\n' ' ')
	[ -z "$outside" ] || fail "system calls outside @system-service: $outside"
	denied=$(comm -12 "$T/used" "$T/denied" | tr '\n' ' ')
	[ -z "$denied" ] || fail "system calls in @privileged or @resources: $denied"
}

test_make_install_honours_destdir() {
	make -s -C "$ROOT" install BUILD="$BUILD" DESTDIR="$T/root" > "$T/make.out" 2>&1 ||
		fail "make install failed: $(cat "$T/make.out")"
	(cd "$T/root" && find . -type f | sort) > "$T/files"
	cat > "$T/expected" <<'EOF'
./usr/local/bin/rostersync
./usr/local/lib/systemd/system/rostersync@.service
./usr/local/lib/systemd/system/rostersync@.timer
./usr/local/share/doc/rostersync/examples/graph.example.yaml
./usr/local/share/doc/rostersync/examples/okta.example.yaml
./usr/local/share/doc/rostersync/examples/rostersync.cron.d
./usr/local/share/man/man5/rostersync.yaml.5
./usr/local/share/man/man8/rostersync.8
EOF
	diff -u "$T/expected" "$T/files" > "$T/diff" || fail "installed files differ: $(cat "$T/diff")"
	assert_contains "$T/root/usr/local/lib/systemd/system/rostersync@.service" \
		"ExecStart=/usr/local/bin/rostersync sync -c /etc/rostersync/%i.yaml"
	[ -x "$T/root/usr/local/bin/rostersync" ] || fail "the installed binary is not executable"
}

test_deb_package_contents() {
	command -v dpkg-deb > /dev/null || skip "dpkg-deb not installed"
	command -v dpkg-shlibdeps > /dev/null || skip "dpkg-shlibdeps not installed (package dpkg-dev)"
	make -s -C "$ROOT" deb BUILD="$T/debbuild" > "$T/deb.out" 2>&1 ||
		fail "make deb failed: $(tail -20 "$T/deb.out")"
	deb=$(ls "$T"/debbuild/rostersync_*.deb) || fail "no .deb in $T/debbuild"

	dpkg-deb -x "$deb" "$T/pkg"
	(cd "$T/pkg" && find . -type f | sort) > "$T/files"
	cat > "$T/expected" <<'EOF'
./lib/systemd/system/rostersync@.service
./lib/systemd/system/rostersync@.timer
./usr/bin/rostersync
./usr/share/doc/rostersync/changelog.Debian.gz
./usr/share/doc/rostersync/copyright
./usr/share/doc/rostersync/examples/graph.example.yaml
./usr/share/doc/rostersync/examples/okta.example.yaml
./usr/share/doc/rostersync/examples/rostersync.cron.d
./usr/share/man/man5/rostersync.yaml.5.gz
./usr/share/man/man8/rostersync.8.gz
EOF
	diff -u "$T/expected" "$T/files" > "$T/diff" || fail "packaged files differ: $(cat "$T/diff")"
	[ -d "$T/pkg/etc/rostersync" ] || fail "/etc/rostersync is not in the package"
	"$T/pkg/usr/bin/rostersync" version > "$T/version" || fail "the packaged binary does not run"

	dpkg-deb -f "$deb" Depends > "$T/depends"
	for lib in libcurl4 libcjson1 libyaml-0-2 libsqlite3-0 adduser; do
		assert_contains "$T/depends" "$lib"
	done
	dpkg-deb -e "$deb" "$T/control"
	assert_contains "$T/control/postinst" "adduser --system --group"

	if command -v lintian > /dev/null; then
		lintian --no-tag-display-limit "$deb" > "$T/lintian" 2>&1
		if grep -q '^E:' "$T/lintian"; then
			fail "lintian errors: $(grep '^E:' "$T/lintian")"
		fi
	fi
}

test_cron_example_is_a_system_crontab_line() {
	cron="$ROOT/packaging/rostersync.cron.d"
	line=$(grep -v '^#' "$cron" | grep -v '^[A-Z]*=' | grep -v '^$')
	assert_eq "$(printf '%s\n' "$line" | wc -l)" 1 "job lines"
	assert_eq "$(printf '%s\n' "$line" | awk '{print $6}')" rostersync "user field"
	case "$line" in *"flock -n"*) ;; *) fail "the job does not use flock -n: $line" ;; esac
	case "$line" in *%*) fail "an unescaped % ends the command in crontab: $line" ;; esac
	[ "$(tail -c 1 "$cron" | od -An -c | tr -d ' ')" = '\n' ] || fail "no newline at the end"
}

# systemd passes credentials named after the unit's instance.  When the one
# the tenant needs is missing (the config's tenant: differs from the
# instance name), the run logs a warning and reads the config's token file.
test_credential_named_after_other_instance_warns() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	mkdir "$T/creds"
	cp "$T/token" "$T/creds/acme.token"
	CREDENTIALS_DIRECTORY=$T/creds rs sync -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/err" "\$CREDENTIALS_DIRECTORY ($T/creds) has no credential e2e.token"
	assert_contains "$T/err" "set tenant: in $T/config.yaml to the instance name"
	assert_contains "$T/err" "$T/config.yaml: read the Okta API token from okta.api_token_file ($T/token)"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 2 "active members"

	cp "$T/token" "$T/creds/e2e.token"
	CREDENTIALS_DIRECTORY=$T/creds rs sync -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/err" "read the Okta API token from systemd credential e2e.token"
}

# Sends signal $1 to a sync during the read: the run stops at once, records
# itself as failed, writes the metrics, changes nothing, and the process
# ends by the signal, with exit status $2 in a shell.
stop_during_read() {
	users 3 | write_users '.faults = [{"path":"/api/v1/apps/0oaapp1/users","kind":"slow","delay_ms":5000}]'
	start_fake --data "$T/data.json"
	write_metrics_config
	${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" > "$T/out" 2> "$T/err" &
	pid=$!
	wait_for_run_record
	sleep 0.3
	started=$(date +%s)
	kill -"$1" "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$T/out" "$T/err" >> "$T/all-output"

	assert_eq "$rc" "$2" "exit status (killed by SIG$1)"
	[ $(($(date +%s) - started)) -le 3 ] || fail "the run did not stop at once"
	assert_contains "$T/err" "stopped by SIG$1"
	assert_eq "$(sql "SELECT outcome FROM runs")" failed "run outcome"
	assert_eq "$(sql "SELECT finished_at IS NOT NULL FROM runs")" 1 "run finished"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
	assert_eq "$(prom_value 'rostersync_last_run_outcome{tenant="e2e",source="okta",outcome="failed"}')" 1 "failed outcome"
}

# SIGTERM: systemctl stop, or a start timeout.
test_sigterm_during_read_is_recorded() {
	stop_during_read TERM 143
}

# SIGHUP: the terminal of a run started by hand was closed.
test_sighup_during_read_is_recorded() {
	stop_during_read HUP 129
}
