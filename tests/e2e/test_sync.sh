# test_sync.sh - the main job: reading Okta and making the roster match.

test_first_sync_of_25_users() {
	users 25 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 25 "active members"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op='assign'")" 25 "assign events"
	assert_eq "$(sql "SELECT email, given_name, family_name, source, external_id FROM members
		WHERE external_id='00u0007'")" \
		"user0007@example.com|Given 00u0007|Family 00u0007|okta|00u0007" "member row"
	assert_eq "$(stat -c %a "$T/roster.db")" 600 "roster file mode"
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode"
	assert_eq "$(sql "SELECT outcome, exit_status FROM runs")" "success|0" "run record"
	assert_contains "$T/err" "assigned 25"

	# One page: limit=500 and the user embedded; the token sent as SSWS.
	assert_eq "$(requests_to /api/v1/apps/0oaapp1/users)" 1 "app-user requests"
	grep '/api/v1/apps/0oaapp1/users' "$T/requests.log" | head -1 > "$T/first"
	assert_contains "$T/first" "limit=500"
	assert_contains "$T/first" "expand=user"
	assert_contains "$T/first" "\"authorization\":\"SSWS $TOKEN\""
	assert_contains "$T/first" "rostersync/"
}

test_second_run_writes_nothing() {
	users 25 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)
	sync_ok

	assert_eq "$(roster_digest)" "$before" "members, events and team after a second run"
	assert_eq "$(sql "SELECT count(*) FROM runs")" 2 "runs recorded"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "second run outcome"
}

test_paging_follows_next_links() {
	users 1201 | write_users
	start_fake --data "$T/data.json"
	SEATS=2000 write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 1201 "members"
	assert_eq "$(requests_to /api/v1/apps/0oaapp1/users)" 3 "pages requested"
	grep -c 'after=' "$T/requests.log" | grep -qx 2 || fail "two requests should carry a cursor"
}

test_unassigned_user_frees_seat() {
	users 25 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0003"]'
	sync_ok

	assert_eq "$(sql "SELECT state FROM members WHERE external_id='00u0003'")" unassigned "state"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 24 "seats used"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='unassign'")" \
		"removed from the app in Okta" "event reason"
}

test_rename_is_update_not_reassign() {
	users 5 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	id_before=$(sql "SELECT id FROM members WHERE external_id='00u0002'")
	edit_data '(.users[] | select(.id=="00u0002")) |= (.email="renamed@example.com" | .login="renamed@example.com" | .lastName="Newname")'
	sync_ok

	assert_eq "$(sql "SELECT id, email, user_name, family_name, state FROM members
		WHERE external_id='00u0002'")" \
		"$id_before|renamed@example.com|renamed@example.com|Newname|active" "renamed member"
	assert_eq "$(sql "SELECT op FROM events WHERE member_id=$id_before ORDER BY id")" \
		"$(printf 'assign\nupdate')" "events of the member"
	assert_eq "$(sql "SELECT count(*) FROM members")" 5 "member rows"
}

test_status_rules_for_seats() {
	write_users <<EOF
00u1 active@example.com ACTIVE
00u2 suspended@example.com ACTIVE
00u3 deprov@example.com ACTIVE
00u4 locked@example.com ACTIVE
00u5 expired@example.com ACTIVE
00u6 recovery@example.com ACTIVE
00u7 staged@example.com STAGED
EOF
	start_fake --data "$T/data.json"
	MAX_PERCENT=0 write_config
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 6 "active at first"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE external_id='00u7'")" 0 "staged user row"

	edit_data '(.users[] | select(.id=="00u2")).status="SUSPENDED"
		| (.users[] | select(.id=="00u3")).status="DEPROVISIONED"
		| (.users[] | select(.id=="00u4")).status="LOCKED_OUT"
		| (.users[] | select(.id=="00u5")).status="PASSWORD_EXPIRED"
		| (.users[] | select(.id=="00u6")).status="RECOVERY"'
	sync_ok

	assert_eq "$(sql "SELECT external_id || ':' || state FROM members ORDER BY external_id")" \
		"$(printf '00u1:active\n00u2:unassigned\n00u3:unassigned\n00u4:active\n00u5:active\n00u6:active')" \
		"states"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='unassign' ORDER BY email")" \
		"$(printf 'user deactivated in Okta (DEPROVISIONED)\nuser suspended in Okta (SUSPENDED)')" \
		"unassign reasons"
}

# A contractor account deactivated and an employee account created with the
# same address: the new account gets the seat in the same run.
test_new_account_takes_address_of_deactivated() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok

	edit_data '(.users[] | select(.id=="00u0001")).status="DEPROVISIONED"
		| .users += [{"id":"00u0009","login":"user0001@example.com","email":"user0001@example.com",
			      "firstName":"Pat","lastName":"Doe","status":"ACTIVE"}]
		| .assignments.users += ["00u0009"]'
	sync_ok

	assert_not_contains "$T/err" "email conflict"
	assert_eq "$(sql "SELECT external_id || ':' || state FROM members ORDER BY id")" \
		"$(printf '00u0001:unassigned\n00u0002:active\n00u0009:active')" "states"
}

test_direct_and_group_is_one_member() {
	write_users '.groups=[{"id":"00g1","name":"Engineering","members":["00u1","00u2"]}]
		| .assignments.groups=["00g1"] | .duplicate_group_entries=true' <<EOF
00u1 both@example.com ACTIVE
00u2 grouponly@example.com ACTIVE group-only
00u3 direct@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 3 "member rows"
	assert_eq "$(sql "SELECT provenance FROM members WHERE external_id='00u1'")" \
		"direct,group:Engineering" "provenance of both"
	assert_eq "$(sql "SELECT provenance FROM members WHERE external_id='00u2'")" \
		"group:Engineering" "provenance of group-only"
	assert_eq "$(grep -c 'groups assigned to Okta app 0oaapp1: 1 page, 1 group$' "$T/err")" 1 \
		"log line of the app's groups"

	edit_data '.assignments.users -= ["00u1"]'
	sync_ok
	assert_eq "$(sql "SELECT state, provenance FROM members WHERE external_id='00u1'")" \
		"active|group:Engineering" "after the direct assignment is removed"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op='unassign'")" 0 "unassign events"
}

# A member granted only through a group whose listing is gone keeps the
# group it had: Okta still lists the app user with scope GROUP.
test_unlabelled_grant_keeps_provenance() {
	write_users '.groups=[{"id":"00g1","name":"Engineering","members":["00u2"]}]
		| .assignments.groups=["00g1"]' <<EOF
00u1 direct@example.com ACTIVE
00u2 grouponly@example.com ACTIVE group-only
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	assert_eq "$(sql "SELECT provenance FROM members WHERE external_id='00u2'")" \
		"group:Engineering" "provenance after the first sync"

	edit_data '.faults = [{"path": "/api/v1/groups/00g1/users", "kind": "status", "status": 404,
		"errorCode": "E0000007", "errorSummary": "Not found: Resource not found: 00g1 (UserGroup)"}]'
	sync_ok

	assert_eq "$(sql "SELECT state || '|' || provenance FROM members WHERE external_id='00u2'")" \
		"active|group:Engineering" "member whose group listing is gone"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'update'")" 0 "update events"
	assert_contains "$T/err" "app user 00u2 (grouponly@example.com) is assigned neither directly"
}

test_waiting_list_order_and_promotion() {
	users 12 | write_users
	start_fake --data "$T/data.json"
	SEATS=10 write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 10 "active"
	assert_eq "$(sql "SELECT email FROM members WHERE state='waiting' ORDER BY email")" \
		"$(printf 'user0011@example.com\nuser0012@example.com')" "waiting members"
	sync_ok
	assert_eq "$(sql "SELECT email FROM members WHERE state='waiting' ORDER BY email")" \
		"$(printf 'user0011@example.com\nuser0012@example.com')" "waiting after a rerun"

	edit_data '.assignments.users -= ["00u0001"]'
	sync_ok
	assert_eq "$(sql "SELECT email FROM members WHERE state='waiting'")" \
		"user0012@example.com" "still waiting"
	assert_eq "$(sql "SELECT state FROM members WHERE email='user0011@example.com'")" active \
		"promoted member"

	SEATS=20 write_config
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 11 "active after more seats"
}

test_manual_member_adopted_by_email() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs members add -c "$T/config.yaml" USER0002@Example.COM --given-name Hand
	assert_rc 0
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 3 "member rows"
	assert_eq "$(sql "SELECT source, external_id, email FROM members WHERE id=1")" \
		"okta|00u0002|user0002@example.com" "adopted member"
}

# Addresses that differ only in the case of accented, Greek or Cyrillic
# letters are one person: the IdP user adopts the manual member, and a
# manual add of the same person is refused.  An address written with a
# combining accent (NFD) is skipped.
test_accented_email_case_is_one_person() {
	write_users '.users[0].email = "\u00c5SA@EXAMPLE.COM"
		| .users[1].email = "jo\u0308rg@example.com"' <<EOF
00u1 placeholder1@example.com ACTIVE
00u2 placeholder2@example.com ACTIVE
00u3 user3@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	rs members add -c "$T/config.yaml" "$(printf '\303\245sa@example.com')" --given-name Hand
	assert_rc 0
	rs members add -c "$T/config.yaml" "$(printf '\303\205SA@example.com')"
	assert_rc 64
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 2 "member rows"
	assert_eq "$(sql "SELECT source || ' ' || external_id FROM members WHERE id = 1")" \
		"okta 00u1" "adopted member"
	assert_contains "$T/err" "written as two characters (Unicode NFD)"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE external_id = '00u2'")" 0 \
		"member with a decomposed address"
}

# A manual member adopted by email in the run that also moves it to the
# waiting list has a reason that names the adoption.
test_adopted_member_demoted_reason_names_adoption() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	SEATS=3 MAX_PERCENT=0 write_config
	for n in 1 2 3; do
		rs members add -c "$T/config.yaml" "user000$n@example.com"
		assert_rc 0
		sleep 1.1
	done
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok

	assert_eq "$(sql "SELECT source || ' ' || state FROM members WHERE email = 'user0003@example.com'")" \
		"okta waiting" "the newest seat"
	assert_eq "$(sql "SELECT reason FROM events WHERE email = 'user0003@example.com' AND op = 'wait'")" \
		"seat limit lowered to 2; existing member adopted by email" "reason"
}

# A suspended IdP user is matched by its id only, so a manual member with
# its address keeps the seat.  The sync warns, for an admin to check.
test_suspended_namesake_of_manual_member_reported() {
	users 3 | write_users
	edit_data '(.users[] | select(.id == "00u0001")).status = "SUSPENDED"'
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	rs members add -c "$T/config.yaml" user0001@example.com
	assert_rc 0
	sync_ok

	assert_eq "$(sql "SELECT source || ' ' || state FROM members WHERE email = 'user0001@example.com'")" \
		"manual active" "the manual member"
	assert_contains "$T/err" "user 00u0001 skipped: user suspended in Okta, while the member user0001@example.com, which the IdP does not manage, holds a seat with the same address"
}

test_shared_email_is_a_conflict() {
	write_users <<EOF
00u1 same@example.com ACTIVE
00u2 SAME@example.com ACTIVE
00u3 other@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE email_key='same@example.com'")" 1 "rows"
	assert_eq "$(sql "SELECT external_id FROM members WHERE email_key='same@example.com'")" \
		00u1 "kept identity"
	assert_contains "$T/err" "email conflict"
	assert_contains "$T/err" "00u2"
}

# Addresses typed or pasted into a profile can carry characters that print
# as nothing: they must not make one person look like two.
test_invisible_characters_in_email() {
	write_users '.users[1].email += "\u00a0" | .users[2].email = "v\u200b@example.com"
		| .users[3].email = "\ufeffw@example.com"' <<EOF
00u1 v@example.com ACTIVE
00u2 v@example.com ACTIVE
00u3 v3@example.com ACTIVE
00u4 w@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	assert_eq "$(sql "SELECT group_concat(external_id || ' ' || email, ', ') FROM
		(SELECT * FROM members ORDER BY external_id)")" \
		"00u1 v@example.com, 00u4 w@example.com" "members"
	assert_contains "$T/err" "email conflict"
	assert_contains "$T/err" "invalid email address"
}

test_invalid_email_skips_only_that_user() {
	write_users <<EOF
00u1 good@example.com ACTIVE
00u2 good2@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	edit_data '(.users[] | select(.id=="00u2")).email="not-an-email"
		| .users += [{"id":"00u3","login":"x","email":"also bad@","status":"ACTIVE"}]
		| .assignments.users += ["00u3"]'
	sync_ok

	assert_eq "$(sql "SELECT state, email FROM members WHERE external_id='00u2'")" \
		"active|good2@example.com" "member with a now invalid email"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE external_id='00u3'")" 0 "invalid newcomer"
	assert_contains "$T/err" "invalid email address \"not-an-email\" in Okta (it has no @): correct it there"
}

# An address on the reserved .invalid domain, such as the one a sync gives a
# member for a moment while two members swap addresses, is skipped, and the
# swap goes through.
test_reserved_invalid_domain_skipped() {
	write_users <<EOF
00u1 one@example.com ACTIVE
00u2 two@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	id=$(sql "SELECT id FROM members WHERE external_id = '00u1'")
	edit_data "(.users[] | select(.id==\"00u1\")).email=\"two@example.com\"
		| (.users[] | select(.id==\"00u2\")).email=\"one@example.com\"
		| .users += [{\"id\":\"00u3\",\"login\":\"x\",
			\"email\":\"member-$id@email-change.invalid\",\"status\":\"ACTIVE\"}]
		| .assignments.users += [\"00u3\"]"
	sync_ok

	assert_eq "$(sql "SELECT group_concat(external_id || ' ' || email, ', ') FROM
		(SELECT * FROM members ORDER BY external_id)")" \
		"00u1 two@example.com, 00u2 one@example.com" "members"
	assert_contains "$T/err" "its domain ends with .invalid, which no mail can reach"
}

test_plan_and_dry_run_match_sync() {
	users 6 | write_users
	start_fake --data "$T/data.json"
	SEATS=4 MAX_PERCENT=0 write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001"] | (.users[] | select(.id=="00u0002")).lastName="Changed"'
	before=$(roster_digest)

	rs plan -c "$T/config.yaml" --json
	assert_rc 0
	cp "$T/out" "$T/plan.json"
	rs sync -c "$T/config.yaml" --dry-run --json
	assert_rc 0
	cp "$T/out" "$T/dry.json"
	assert_eq "$(roster_digest)" "$before" "roster after plan and dry run"
	assert_eq "$(jq -c . "$T/plan.json")" "$(jq -c . "$T/dry.json")" "plan and dry run"

	sync_ok
	planned=$(jq -r '.operations[] | "\(.op) \(.email) \(.reason)"' "$T/plan.json" | sort)
	applied=$(sql "SELECT op || ' ' || email || ' ' || reason FROM events
		WHERE run_id=(SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1)" | sort)
	assert_eq "$applied" "$planned" "applied operations"
	assert_eq "$(jq -r '.counts.unassign' "$T/plan.json")" 1 "planned unassigns"
	assert_eq "$(jq -r '.counts.assign' "$T/plan.json")" 1 "planned assigns (a waiting member)"
}

test_plan_table_lists_reasons() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs plan -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "assigned to the app in Okta"
	assert_contains "$T/out" "user0003@example.com"
	[ ! -e "$T/roster.db" ] || fail "plan created the roster file"
}

# The fake's --churn 3 on 3000 generated users unassigns 30 of them, renames
# the 30 that follow and assigns 30 new ones.  The sync writes those 90 rows.
test_generated_churn_is_applied() {
	start_fake --synthetic 3000 --groups 5
	SEATS=5000 write_config
	sync_ok

	assert_churn_applied 3000 5 3 30
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3000 "active"
}

# The group listings are read on a second connection while app-user pages
# are on their way, and members read before the app-user list is complete
# still get their group label.
test_groups_read_between_app_user_pages() {
	start_fake --synthetic 2500 --groups 3
	SEATS=5000 write_config
	sync_ok

	local paths first_group last_app_users
	paths=$(jq -r '.path' "$T/requests.log")
	first_group=$(grep -n -m 1 '^/api/v1/groups/' <<< "$paths" | cut -d: -f1)
	last_app_users=$(grep -n '^/api/v1/apps/0oaapp1/users$' <<< "$paths" | tail -n 1 | cut -d: -f1)
	[ -n "$first_group" ] || fail "no group member request in the request log"
	[ "$first_group" -lt "$last_app_users" ] ||
		fail "group members were read only after the last app-user page: $(tr '\n' ' ' <<< "$paths")"
	assert_eq "$(grep -c '^/api/v1/apps/0oaapp1/users$' <<< "$paths")" 5 "app-user pages"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 250 \
		"members through a group"
	assert_contains "$T/err" "in 9 requests over 2 connections"
}

# The text status lists the first 20 waiting members in the order they get
# a seat and counts the rest; status --json lists every one.
# A clock set back behind the roster's newest event does not let a later
# arrival pass those already waiting: the run records that event's time.
# Here the events and the waiting member are moved an hour ahead instead.
test_clock_set_back_keeps_waiting_order() {
	users 4 | write_users
	edit_data '.assignments.users -= ["00u0004"]'
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0003'")" waiting \
		"third member"
	sqlite3 "$T/roster.db" "DROP TRIGGER members_managed_update;
		UPDATE members SET state_since = state_since + 3600 WHERE state = 'waiting';
		UPDATE events SET at = at + 3600" || fail "could not move the times"

	edit_data '.assignments.users += ["00u0004"]'
	sync_ok
	assert_contains "$T/err" "this machine's clock is"
	assert_contains "$T/err" "s behind the newest event of the roster"
	edit_data '.assignments.users -= ["00u0001"]'
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0003'")" active \
		"the member who waited first"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0004'")" waiting \
		"the member who came later"
}

test_status_caps_waiting_list() {
	users 30 | write_users
	start_fake --data "$T/data.json"
	SEATS=5 write_config
	sync_ok
	rs status -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "Waiting:  25"
	assert_eq "$(grep -c ' waiting for ' "$T/out")" 20 "waiting members listed"
	assert_eq "$(grep ' waiting for ' "$T/out" | head -n 1 | awk '{ print $1 }')" \
		user0006@example.com "first in line for a seat"
	assert_eq "$(grep ' waiting for ' "$T/out" | tail -n 1 | awk '{ print $1 }')" \
		user0025@example.com "last one listed"
	assert_contains "$T/out" "... and 5 more"
	rs status -c "$T/config.yaml" --json
	assert_eq "$(jq '.waiting_members | length' "$T/out")" 25 "waiting members in JSON"

	# user0005 loses its seat a second later, so it waits behind the others.
	sleep 1.1
	SEATS=4 write_config
	sync_ok
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "... and 6 more"
	assert_eq "$(grep ' waiting for ' "$T/out" | head -n 1 | awk '{ print $1 }')" \
		user0006@example.com "first in line after the demotion"
	assert_not_contains "$T/out" "user0005@example.com"
}

# A group page that is rate-limited twice for 3 s keeps the side connection
# waiting 6 s, longer than http.timeout (5 s), while the next app-user page
# is under way on the main connection.  That page is still read without a
# timeout or a retry.
test_side_wait_keeps_app_user_page() {
	echo '{"faults": [{"path": "/api/v1/groups/00g0001/users", "kind": "rate_limit",
		"retry_after": "3", "count": 2}]}' > "$T/data.json"
	start_fake --synthetic 2500 --groups 3 --data "$T/data.json"
	SEATS=5000 write_config
	sync_ok

	assert_not_contains "$T/err" "timed out"
	assert_eq "$(requests_to /api/v1/apps/0oaapp1/users)" 5 "app-user requests"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 250 \
		"members through a group"
	assert_contains "$T/err" "in 11 requests over 2 connections"
}

# A first sync of more than 10,000 new members writes with a rollback
# journal instead of the WAL, and leaves the roster in WAL mode.
test_bulk_write_uses_rollback_journal() {
	start_fake --synthetic 12000 --groups 2
	SEATS=20000 write_config
	sync_ok

	assert_contains "$T/err" "writing with a rollback journal"
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode after the sync"
	assert_eq "$(sql "PRAGMA integrity_check")" ok "integrity check"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'active'")" 12000 "active members"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'assign'")" 12000 "assign events"
	[ ! -e "$T/roster.db-journal" ] || fail "the rollback journal was left behind"

	sync_ok
	assert_not_contains "$T/err" "rollback journal"
}

# Another program holding the roster open keeps a large write in WAL mode,
# and the sync does not wait for it to close.
test_bulk_write_beside_reader_keeps_wal() {
	start_fake --synthetic 12000 --groups 2
	SEATS=20000 write_config
	python3 - "$T/roster.db" "$T/reader.ready" "$T/reader.stop" > "$T/reader.out" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode = WAL")
db.execute("SELECT count(*) FROM sqlite_master").fetchall()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
print(db.execute("SELECT count(*) FROM members").fetchone()[0])
PY
	local reader=$!
	for _ in $(seq 1 500); do
		[ -e "$T/reader.ready" ] && break
		sleep 0.01
	done
	[ -e "$T/reader.ready" ] || fail "the reader did not open the roster"

	local start=$SECONDS
	sync_ok
	touch "$T/reader.stop"
	wait "$reader" || fail "the reader failed"

	assert_contains "$T/err" "another connection has the roster open; writing to the WAL"
	# A wait for the reader would last the 5 s busy timeout; a wrapper such
	# as valgrind makes the sync itself take longer than that.
	if [ -z "${RS_WRAPPER:-}" ]; then
		[ $((SECONDS - start)) -lt 5 ] || fail "the sync waited for the reader"
	fi
	assert_eq "$(cat "$T/reader.out")" 12000 "members the reader sees"
	assert_eq "$(sql "PRAGMA journal_mode")" wal "journal mode after the sync"
}

# A run whose write fails changed nothing, so its run row counts nothing.
test_failed_write_records_no_counts() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sqlite3 "$T/roster.db" "CREATE TRIGGER reject_new BEFORE INSERT ON members
		WHEN NEW.external_id = '00u0003' BEGIN SELECT RAISE(ABORT, 'rejected by a test'); END"
	edit_data '.users += [{"id":"00u0003","login":"user0003@example.com",
		"email":"user0003@example.com","status":"ACTIVE"}] | .assignments.users += ["00u0003"]'
	rs sync -c "$T/config.yaml"

	[ "$RC" != 0 ] || fail "the sync succeeded"
	assert_eq "$(sql "SELECT outcome || ' ' || assigned || ' ' || updated || ' ' || unassigned
		|| ' ' || waiting || ' ' || skipped FROM runs ORDER BY started_at DESC, rowid DESC
		LIMIT 1")" "failed 0 0 0 0 0" "run row"
	assert_eq "$(sql "SELECT count(*) FROM members")" 2 "members"
}

# An account deleted and created again with the same address keeps the
# person's row and seat, instead of putting the person behind those waiting.
test_recreated_account_keeps_seat() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	SEATS=2 MAX_PERCENT=0 write_config
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '00u0003'")" waiting "third"

	edit_data 'del(.users[] | select(.id == "00u0001")) | .assignments.users -= ["00u0001"]
		| .users += [{"id":"00u0009","login":"user0001@example.com",
			      "email":"user0001@example.com","status":"ACTIVE"}]
		| .assignments.users += ["00u0009"]'
	sync_ok

	assert_eq "$(sql "SELECT id || ' ' || external_id || ' ' || state FROM members ORDER BY id")" \
		"$(printf '1 00u0009 active\n2 00u0002 active\n3 00u0003 waiting')" "members"
	assert_eq "$(sql "SELECT op || ': ' || reason FROM events WHERE member_id = 1 ORDER BY id DESC
		LIMIT 1")" \
		"update: Okta user 00u0009 has the address of the member linked to user 00u0001, which is no longer assigned: member linked to the new user" \
		"event"
}
