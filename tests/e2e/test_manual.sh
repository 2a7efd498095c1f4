# test_manual.sh - manual changes while the IdP manages the roster.

test_members_add_refused_while_managed() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)
	rs members add -c "$T/config.yaml" new@example.com

	assert_rc 77
	assert_contains "$T/err" "managed by Okta"
	assert_contains "$T/err" "rostersync release"
	rs members remove -c "$T/config.yaml" user0001@example.com
	assert_rc 77
	assert_eq "$(roster_digest)" "$before" "roster"
}

test_sqlite_shell_cannot_write_members() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)

	for stmt in \
		"INSERT INTO members (source, email, email_key, state, created_at, updated_at, state_since) VALUES ('manual', 'x@example.com', 'x@example.com', 'active', 0, 0, 0)" \
		"UPDATE members SET state='unassigned' WHERE id=1" \
		"DELETE FROM members WHERE id=1"; do
		if sqlite3 "$T/roster.db" "$stmt" 2> "$T/sqlite.err"; then
			fail "the sqlite3 shell could run: $stmt"
		fi
		assert_contains "$T/sqlite.err" "managed by Okta"
	done
	assert_eq "$(roster_digest)" "$before" "roster"
}

test_unchanged_sync_restores_triggers() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "DROP TRIGGER members_managed_update;
		DROP TRIGGER members_managed_delete" || fail "could not drop the triggers"
	sync_ok

	assert_contains "$T/err" "2 of the 5 triggers that block manual changes were dropped"
	assert_contains "$T/err" "no change"
	if sqlite3 "$T/roster.db" "DELETE FROM members WHERE id=1" 2> "$T/sqlite.err"; then
		fail "the sqlite3 shell could delete a member after the sync"
	fi
	assert_contains "$T/sqlite.err" "managed by Okta"
	sync_ok
	assert_not_contains "$T/err" "triggers that block"

	# A run that the deletion threshold stops repairs them too, and the
	# table that marks rostersync's own writes.
	sqlite3 "$T/roster.db" "DROP TRIGGER members_managed_insert; DROP TABLE agent_write" ||
		fail "could not drop the trigger and the table"
	edit_data '.assignments.users = []'
	rs sync -c "$T/config.yaml"
	assert_rc 65
	assert_contains "$T/err" "1 of the 5 triggers that block manual changes was dropped"
	assert_contains "$T/err" "the agent_write table was dropped outside rostersync; created it again"
	assert_eq "$(sql "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")" 5 "triggers"
}

# A row left in agent_write turns the triggers off.  The test command warns,
# and a sync that changes nothing deletes it.
test_leftover_agent_write_row_deleted() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "INSERT INTO agent_write VALUES (1)" || fail "could not insert the row"

	rs test -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "a row in its agent_write table, written outside rostersync, lets manual changes past the triggers"
	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "Warning:  a row in the agent_write table, written outside rostersync"
	sync_ok
	assert_contains "$T/err" "the agent_write table held a row written outside rostersync"
	assert_eq "$(sql "SELECT count(*) FROM agent_write")" 0 "rows in agent_write"
	if sqlite3 "$T/roster.db" "DELETE FROM members WHERE id=1" 2> "$T/sqlite.err"; then
		fail "the sqlite3 shell could delete a member after the sync"
	fi
	assert_contains "$T/sqlite.err" "managed by Okta"
}

# A team row deleted outside rostersync, with no release recorded: status
# explains it, and the manual commands reject changes as sync does.
test_deleted_team_row_rejected() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "DROP TRIGGER team_managed_delete; DELETE FROM team" ||
		fail "could not delete the team row"
	before=$(roster_digest)

	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "the team row was changed outside rostersync"
	rs members add -c "$T/config.yaml" hand@example.com
	assert_rc 77
	assert_contains "$T/err" "cannot add hand@example.com: the roster's team row names no IdP"
	rs members remove -c "$T/config.yaml" user0001@example.com
	assert_rc 77
	rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_eq "$(roster_digest)" "$before" "roster"
}

# An external id changed by hand is put back on the same row, so the person
# keeps one row and its history.
test_edited_external_id_restored() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	id=$(sql "SELECT id FROM members WHERE external_id = '00u0002'")
	sqlite3 "$T/roster.db" "DROP TRIGGER members_managed_update;
		UPDATE members SET external_id = '00uXXX' WHERE id = $id" ||
		fail "could not edit the row"
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 3 "member rows"
	assert_eq "$(sql "SELECT external_id || ' ' || state FROM members WHERE id = $id")" \
		"00u0002 active" "the edited row"
	assert_contains "$T/err" "has the external id 00uXXX in the roster, but rostersync last wrote 00u0002"
	assert_eq "$(sql "SELECT reason FROM events WHERE member_id = $id ORDER BY id DESC LIMIT 1")" \
		"manual change reverted" "reason of the repair"
}

# A seated row inserted past the triggers with the address of a newly
# assigned user is reverted, not adopted: the new user waits behind those
# who waited longer, and no member loses a seat.
test_inserted_row_not_adopted() {
	users 4 | write_users
	edit_data '.assignments.users -= ["00u0004"]'
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok
	edit_data '.assignments.users += ["00u0004"]'
	sqlite3 "$T/roster.db" "BEGIN; INSERT INTO agent_write VALUES (1);
		INSERT INTO members (source, external_id, email, email_key, state, created_at,
			updated_at, state_since)
		VALUES ('manual', NULL, 'user0004@example.com', 'user0004@example.com', 'active',
			1, 1, 1);
		DELETE FROM agent_write; COMMIT" || fail "could not insert the row"
	sync_ok

	assert_eq "$(sql "SELECT group_concat(external_id || ' ' || state, ', ') FROM
		(SELECT * FROM members WHERE source = 'okta' ORDER BY external_id)")" \
		"00u0001 active, 00u0002 active, 00u0003 waiting, 00u0004 waiting" "okta members"
	assert_eq "$(sql "SELECT state FROM members WHERE source = 'manual'")" unassigned \
		"the inserted row"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'wait' AND external_id = '00u0002'")" 0 \
		"events moving a seated member to the waiting list"
}

# A row deleted outside rostersync comes back with what the events recorded:
# a seat holder keeps the seat, and a waiting member keeps its place in the
# line, instead of the seat going to the next in line.
test_deleted_rows_keep_seat_and_place() {
	users 4 | write_users
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok
	edit_data '.users += [{"id":"00u0005","login":"x","email":"user0005@example.com",
		"status":"ACTIVE"}] | .assignments.users += ["00u0005"]'
	sleep 1.1
	sync_ok
	since3=$(sql "SELECT state_since FROM members WHERE external_id = '00u0003'")
	sqlite3 "$T/roster.db" "DROP TRIGGER members_managed_delete;
		DELETE FROM members WHERE external_id IN ('00u0001', '00u0003')" ||
		fail "could not delete the rows"
	sync_ok

	assert_eq "$(sql "SELECT group_concat(external_id || ' ' || state, ', ') FROM
		(SELECT * FROM members ORDER BY external_id)")" \
		"00u0001 active, 00u0002 active, 00u0003 waiting, 00u0004 waiting, 00u0005 waiting" \
		"members"
	assert_eq "$(sql "SELECT state_since FROM members WHERE external_id = '00u0003'")" "$since3" \
		"waiting since"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE reason =
		'manual change reverted: member row was deleted outside rostersync'")" 2 \
		"events of the restored rows"

	edit_data '.assignments.users -= ["00u0002"]'
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0003'")" active \
		"the member who waited longest"
}

test_slipped_change_is_reverted() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	sqlite3 "$T/roster.db" "
		BEGIN;
		INSERT INTO agent_write VALUES (1);
		UPDATE members SET state='unassigned' WHERE external_id='00u0002';
		INSERT INTO members (source, email, email_key, state, created_at, updated_at, state_since)
			VALUES ('manual', 'sneaky@example.com', 'sneaky@example.com', 'active', 0, 0, 0);
		DELETE FROM agent_write;
		COMMIT;" || fail "could not bypass the triggers for the test"
	sync_ok

	assert_eq "$(sql "SELECT state FROM members WHERE external_id='00u0002'")" active "reverted state"
	assert_eq "$(sql "SELECT state FROM members WHERE email='sneaky@example.com'")" unassigned \
		"inserted member"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE reason LIKE 'manual change reverted%'")" 2 \
		"revert events"
	before=$(roster_digest)
	sync_ok
	assert_eq "$(roster_digest)" "$before" "roster after the next run"
}

# Sets member $1's state to $2 past the triggers, as a hand edit would.
edit_state_by_hand() {
	sqlite3 "$T/roster.db" "
		BEGIN;
		INSERT INTO agent_write VALUES (1);
		UPDATE members SET state = '$2' ${3:+, state_since = $3} WHERE external_id = '$1';
		DELETE FROM agent_write;
		COMMIT;" || fail "could not bypass the triggers for the test"
}

# A seat taken by editing a waiting member's state is given back: the
# member waits again from the time of its wait event, and a freed seat
# goes to the member who waited longest.
test_seat_taken_by_hand_is_reverted() {
	users 4 | write_users
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok
	sleep 1
	edit_data '.users += [{"id": "00u0005", "login": "user0005@example.com",
		"email": "user0005@example.com", "firstName": "Dee", "lastName": "Five",
		"status": "ACTIVE"}] | .assignments.users += ["00u0005"]'
	sync_ok
	waited=$(sql "SELECT at FROM events WHERE external_id = '00u0005' AND op = 'wait'")
	edit_state_by_hand 00u0005 active
	edit_data '.assignments.users -= ["00u0001"]'
	sync_ok

	assert_eq "$(sql "SELECT external_id || ' ' || state FROM members ORDER BY external_id")" \
		"$(printf '%s\n' '00u0001 unassigned' '00u0002 active' '00u0003 active' \
			'00u0004 waiting' '00u0005 waiting')" "states"
	assert_eq "$(sql "SELECT state_since FROM members WHERE external_id = '00u0005'")" \
		"$waited" "waiting since"
	assert_eq "$(sql "SELECT json_extract(before, '$.state') || ' ' ||
		json_extract(after, '$.state') || ' ' || reason FROM events
		WHERE external_id = '00u0005' ORDER BY id DESC LIMIT 1")" \
		"active waiting manual change reverted" "revert event"
	assert_contains "$T/err" "is active in the roster, but rostersync last made it waiting"
	before=$(roster_digest)
	sync_ok
	assert_eq "$(roster_digest)" "$before" "roster after the next run"
}

# A seat given up by editing the state is taken back with the time of its
# assign event, and is no seat loss for the deletion threshold.
test_seat_given_up_by_hand_is_reverted() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	SEATS=3 MAX_UNASSIGN=1 write_config
	sync_ok
	since=$(sql "SELECT at FROM events WHERE external_id = '00u0002' AND op = 'assign'")
	sleep 1
	edit_state_by_hand 00u0002 waiting 0
	sync_ok

	assert_eq "$(sql "SELECT state || ' ' || state_since FROM members
		WHERE external_id = '00u0002'")" "active $since" "restored seat"
	assert_eq "$(sql "SELECT reason FROM events WHERE external_id = '00u0002'
		ORDER BY id DESC LIMIT 1")" "manual change reverted" "revert reason"
}

# A row changed or deleted by hand whose IdP user is skipped cannot be
# put back yet, so the warning about the skipped user names the change.
test_skipped_user_names_hand_edit() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	edit_data '(.users[] | select(.id=="00u0002")).email="bad email"
		| (.users[] | select(.id=="00u0003")).email="also bad"'
	sqlite3 "$T/roster.db" "
		BEGIN;
		INSERT INTO agent_write VALUES (1);
		UPDATE members SET given_name='Hacked' WHERE external_id='00u0002';
		DROP TRIGGER members_managed_delete;
		DELETE FROM members WHERE external_id='00u0003';
		DELETE FROM agent_write;
		COMMIT;" || fail "could not bypass the triggers for the test"
	sync_ok

	assert_contains "$T/err" "user 00u0002 skipped: invalid email address \"bad email\""
	assert_contains "$T/err" "correct it there; its roster row was changed outside rostersync and stays changed until this is fixed"
	assert_contains "$T/err" "its roster row was deleted outside rostersync and comes back once this is fixed"
}

test_typed_name_loses_bidi_override() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs members add -c "$T/config.yaml" g@example.com --given-name "$(printf '\342\200\256Evil')"
	assert_rc 0
	assert_eq "$(sql "SELECT given_name FROM members WHERE email='g@example.com'")" Evil "given name"
}

test_members_add_explains_invalid_email() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs members add -c "$T/config.yaml" ada@localhost
	assert_rc 64
	assert_contains "$T/err" "invalid email address: ada@localhost: the domain after the @ has no dot between two names; give the member's address as user@example.com"
	[ ! -s "$T/roster.db" ] || assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

# A manual command that fails is recorded with its error, as a sync is.
test_failed_manual_change_records_error() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	rs release -c "$T/config.yaml"
	rs members remove -c "$T/config.yaml" nobody@example.com
	assert_rc 64

	assert_eq "$(sql "SELECT outcome || ' ' || exit_status FROM runs WHERE command = 'members remove'")" \
		"failed 64" "run row"
	sql "SELECT error FROM runs WHERE command = 'members remove'" > "$T/run-error"
	assert_contains "$T/run-error" "usage: "
	assert_contains "$T/run-error" "nobody@example.com"
}

test_release_of_unmanaged_roster_changes_nothing() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs release -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/err" "the roster $T/roster.db does not exist yet: check roster.path"
	[ ! -e "$T/roster.db" ] || fail "release created the roster"
	[ ! -e "$T/roster.db.lock" ] || fail "release left a lock file"
	rs members remove -c "$T/config.yaml" hand@example.com
	assert_rc 74
	assert_contains "$T/err" "the roster $T/roster.db does not exist yet: check roster.path"
	[ ! -e "$T/roster.db" ] || fail "members remove created the roster"
	[ ! -e "$T/roster.db.lock" ] || fail "members remove left a lock file"

	rs members add -c "$T/config.yaml" hand@example.com
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "Team:     E2E Team"
	rs release -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "no IdP has managed this roster yet, so there is nothing to release"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'release'")" 0 "release events"
	rs status -c "$T/config.yaml" --json
	assert_eq "$(jq -r '.managed_by // "none"' "$T/out")" none "manager"
}

test_release_then_take_over() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	rs release -c "$T/config.yaml"
	assert_rc 0
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op='release'")" 1 "release event"
	rs release -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "already released"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op='release'")" 1 "release events"

	rs members add -c "$T/config.yaml" hand@example.com
	assert_rc 0
	sqlite3 "$T/roster.db" "UPDATE members SET given_name='Edited' WHERE email='hand@example.com'" ||
		fail "the sqlite3 shell cannot write after release"

	rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/err" "--take-over"
	assert_eq "$(sql "SELECT outcome || '|' || exit_status FROM runs
		ORDER BY started_at DESC, rowid DESC LIMIT 1")" "failed|77" "refused run"
	rs plan -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/err" "review its plan first with \"rostersync sync -c $T/config.yaml --take-over --dry-run\""
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "failed"

	sync_ok --take-over
	rs members add -c "$T/config.yaml" other@example.com
	assert_rc 77
	sync_ok
}

# A departed IdP member added back by hand after a release is a manual
# member: the take-over keeps it, as it keeps every member added by hand.
test_readded_member_is_manual() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0003"]'
	sync_ok
	rs release -c "$T/config.yaml"
	rs members add -c "$T/config.yaml" User0003@Example.com
	assert_rc 0
	assert_contains "$T/out" "User0003@Example.com added as active"
	assert_eq "$(sql "SELECT source || '|' || ifnull(external_id, '-') || '|' || state || '|'
		|| email || '|' || ifnull(user_name, '-')
		FROM members WHERE email_key='user0003@example.com'")" \
		"manual|-|active|User0003@Example.com|-" "re-added row"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='add'")" \
		"added again by hand as a manual member" "add event"

	sync_ok --take-over
	assert_eq "$(sql "SELECT state FROM members WHERE email_key='user0003@example.com'")" active \
		"manual member after the take-over"
	edit_data '.assignments.users += ["00u0003"]'
	sync_ok
	assert_eq "$(sql "SELECT source || '|' || external_id || '|' || state FROM members
		WHERE email='user0003@example.com'")" "okta|00u0003|active" "adopted again"
	assert_eq "$(sql "SELECT count(*) FROM members")" 3 "member rows"
}

# A seat freed by hand goes to the member waiting longest.  After a take
# over, a manual member still waiting gets the next seat a sync frees.
test_freed_seats_go_to_waiting_members() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	SEATS=3 MAX_PERCENT=0 write_config
	sync_ok
	rs release -c "$T/config.yaml"
	rs members add -c "$T/config.yaml" a@example.com
	rs members add -c "$T/config.yaml" b@example.com
	assert_contains "$T/out" "b@example.com added as waiting"
	rs members add -c "$T/config.yaml" c@example.com

	rs members remove -c "$T/config.yaml" a@example.com
	assert_rc 0
	assert_eq "$(sql "SELECT state FROM members WHERE email='b@example.com'")" active \
		"b after a was removed"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='assign' AND email='b@example.com'")" \
		"seat became free" "event of b"
	assert_eq "$(sql "SELECT state FROM members WHERE email='c@example.com'")" waiting \
		"c after a was removed"
	# The runs of manual commands count what they changed, as a sync does.
	assert_eq "$(sql "SELECT group_concat(command || ' ' || assigned || ' ' || unassigned || ' '
		|| waiting, ', ') FROM (SELECT * FROM runs WHERE source = 'manual' AND command LIKE
		'members%' ORDER BY started_at, rowid)")" \
		"members add 1 0 0, members add 0 0 1, members add 0 0 1, members remove 1 1 0" \
		"counts of the manual runs"

	edit_data '.assignments.users -= ["00u0001"]'
	sync_ok --take-over
	assert_eq "$(sql "SELECT state FROM members WHERE email='c@example.com'")" active \
		"c after the sync freed a seat"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
	sync_ok
	assert_contains "$T/err" "no change"
}

test_remove_twice_changes_nothing() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	rs release -c "$T/config.yaml"
	rs members add -c "$T/config.yaml" a@example.com
	rs members remove -c "$T/config.yaml" a@example.com
	assert_contains "$T/out" "a@example.com unassigned"
	events=$(sql "SELECT count(*) FROM events")

	rs members remove -c "$T/config.yaml" a@example.com
	assert_rc 0
	assert_contains "$T/out" "a@example.com was unassigned already; nothing changed"
	assert_not_contains "$T/out" "a@example.com unassigned"
	assert_eq "$(sql "SELECT count(*) FROM events")" "$events" "events"
}

test_foreign_database_is_refused() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sqlite3 "$T/roster.db" "CREATE TABLE products (id INTEGER); INSERT INTO products VALUES (7);"
	before=$(sqlite3 "$T/roster.db" ".dump" | sha256sum)
	rs sync -c "$T/config.yaml"

	assert_rc 74
	assert_contains "$T/err" "another program"
	assert_eq "$(sqlite3 "$T/roster.db" ".dump" | sha256sum)" "$before" "foreign database"
	assert_eq "$(sqlite3 "$T/roster.db" "PRAGMA journal_mode")" delete "journal mode"
}

# Host names do not depend on case: the same org spelled in other letters is
# the same manager, not a switch that needs --take-over.
test_org_url_case_ignored() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sed -i "s#http://127.0.0.1:#http://localhost:#" "$T/config.yaml"
	sync_ok --take-over
	sed -i "s#http://localhost:#http://LocalHost:#" "$T/config.yaml"
	sync_ok

	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "outcome"
}

# A take-over that only switches the org URL changes no member, but it
# writes its event and the team row, so the run is a success, not "no change".
test_take_over_without_operations_is_a_success() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sed -i "s#http://127.0.0.1:#http://localhost:#" "$T/config.yaml"
	sync_ok --take-over

	assert_eq "$(sql "SELECT count(*) FROM events WHERE op='take_over'")" 2 "take-over events"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		success "outcome of the take-over"
	sync_ok
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "outcome of the next run"
}

# A team row whose manager was cleared by hand (its trigger dropped first)
# is not taken over silently: the events show that the roster is managed.
test_cleared_team_source_needs_take_over() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "DROP TRIGGER team_managed_update;
		UPDATE team SET source = NULL, managed_since = NULL;
		INSERT INTO members (source, email, email_key, state, created_at, updated_at,
			state_since) VALUES ('manual', 'x@example.com', 'x@example.com', 'active', 1, 1, 1)"

	rs plan -c "$T/config.yaml"
	assert_rc 77
	rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/err" "the team row was changed outside rostersync"
	assert_eq "$(sql "SELECT state FROM members WHERE email = 'x@example.com'")" active \
		"the row added by hand before the take-over"

	sync_ok --take-over
	assert_eq "$(sql "SELECT source FROM team")" okta "manager after the take-over"
}

# Rewrites the roster's members table into the shape of early schema
# version 1: a UNIQUE email_key, no email indexes, the same triggers.
make_early_version_1() {
	sql "SELECT sql || ';' FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'members'" \
		> "$T/triggers.sql"
	sqlite3 "$T/roster.db" "BEGIN;
		CREATE TABLE early (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
		 external_id TEXT, email TEXT NOT NULL CHECK (email <> ''),
		 email_key TEXT NOT NULL UNIQUE CHECK (email_key = lower(email)), user_name TEXT,
		 given_name TEXT, family_name TEXT, display_name TEXT, provenance TEXT,
		 state TEXT NOT NULL CHECK (state IN ('active', 'waiting', 'unassigned')),
		 created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
		 state_since INTEGER NOT NULL, checksum INTEGER, UNIQUE (source, external_id));
		INSERT INTO early SELECT id, source, external_id, email, email_key, user_name,
		 given_name, family_name, display_name, provenance, state, created_at, updated_at,
		 state_since, checksum FROM members;
		DROP TABLE members;
		ALTER TABLE early RENAME TO members;
		$(cat "$T/triggers.sql")
		PRAGMA user_version = 1;
		COMMIT;" || fail "cannot rewrite the roster into the early shape"
}

# A roster whose members table still makes every address unique is
# rebuilt, so that a new account may take the address of an unassigned
# member, and keeps its rows, ids and triggers.
test_early_schema_rebuilt() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001"]'
	sync_ok
	make_early_version_1
	before=$(sql "SELECT id, external_id, email, state FROM members ORDER BY id")
	triggers=$(sql "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")

	edit_data '.users += [{"id": "00u0009", "login": "user0001@example.com",
		"email": "user0001@example.com", "firstName": "New", "lastName": "Account",
		"status": "ACTIVE"}] | .assignments.users += ["00u0009"]'
	sync_ok

	assert_contains "$T/err" "schema migrated from version 1 to 2"
	assert_contains "$T/err" "members table rebuilt"
	assert_eq "$(sql "SELECT id, external_id, email, state FROM members WHERE id <= 3 ORDER BY id")" \
		"$before" "rows kept by the rebuild"
	assert_eq "$(sql "SELECT id || ' ' || state FROM members WHERE external_id = '00u0009'")" \
		"4 active" "new account with the address of an unassigned member"
	assert_eq "$(sql "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")" \
		"$triggers" "triggers"
	assert_not_contains "$T/err" "trigger"
	assert_eq "$(sql "PRAGMA user_version")" 2 "schema version"
	assert_eq "$(sql "PRAGMA integrity_check")" ok "integrity check"
}

# Manual members that a take-over keeps hold seats beyond a lowered limit.
# The sync and status report it, instead of promising a move that no sync
# makes.
test_kept_members_over_limit_explained() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	SEATS=3 write_config
	for name in ada bob cy; do
		rs members add -c "$T/config.yaml" "$name@hand.example"
		assert_rc 0
	done
	SEATS=1 write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'active'")" 3 "active members"
	assert_contains "$T/err" "3 seats stay in use after this run, more than team.seats (1)"
	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "3 of them are held by members that the IdP does not manage"
	assert_not_contains "$T/out" "the next sync moves"
}
