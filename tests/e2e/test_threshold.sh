# test_threshold.sh - the deletion threshold: both limits, what counts as an
# unassign, and approvals that are single-use, tied to one plan and audited.
#
# A tripped run applies nothing and exits 65.  sync.max_unassign is a count
# and sync.max_unassign_percent a share of the active members; either one
# trips the run, and 0 disables it.

# Syncs N users, all active, and remembers the roster digest in BEFORE.
threshold_roster() {
	users "$1" | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	BEFORE=$(roster_digest)
}

# Removes the users with the given ids from the app in the fake IdP.
remove_users() {
	local ids
	ids=$(printf '"%s",' "$@")
	edit_data ".assignments.users -= [${ids%,}]"
}

expect_tripped() {
	rs sync -c "$T/config.yaml"
	assert_rc 65
	assert_eq "$(roster_digest)" "$BEFORE" "roster after the tripped run"
	assert_contains "$T/err" "deletion threshold: $1; nothing was applied"
	assert_contains "$T/out" "The deletion threshold stopped this run: $1."
	# The summary gives the seats used now, not those the plan would leave.
	assert_contains "$T/err" "blocked: not applied: assigned "
	assert_contains "$T/err" \
		"$(sql "SELECT count(*) FROM members WHERE state='active'") of ${SEATS:-100} seats used now"
}

unassigned_count() {
	sql "SELECT count(*) FROM members WHERE state = 'unassigned'"
}

test_count_limit_trips_alone() {
	MAX_UNASSIGN=2 MAX_PERCENT=0 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003
	expect_tripped "3 unassigns exceed sync.max_unassign (2)"
}

test_percent_limit_trips_alone() {
	MAX_UNASSIGN=0 MAX_PERCENT=20 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003
	expect_tripped "3 unassigns are more than sync.max_unassign_percent (20%) of 10 active members"
}

test_both_limits_named_when_both_trip() {
	MAX_UNASSIGN=2 MAX_PERCENT=20 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003
	expect_tripped "3 unassigns exceed sync.max_unassign (2) and are more than sync.max_unassign_percent (20%) of 10 active members"
}

test_either_limit_trips_with_both_set() {
	# 3 of 100 is under 20 %, but over the count of 2.
	MAX_UNASSIGN=2 MAX_PERCENT=20 threshold_roster 100
	remove_users 00u0001 00u0002 00u0003
	expect_tripped "3 unassigns exceed sync.max_unassign (2)"

	# 3 of 10 is over 20 %, but under the count of 50.
	stop_fake
	rm -f "$T/roster.db" "$T/roster.db-wal" "$T/roster.db-shm" "$T/requests.log"
	MAX_UNASSIGN=50 MAX_PERCENT=20 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003
	expect_tripped "3 unassigns are more than sync.max_unassign_percent (20%) of 10 active members"
}

# Lowering team.seats moves active members to the waiting list; they lose
# their seat, so they count and are listed.
test_lowered_seat_limit_lists_members_losing_seats() {
	users 8 | write_users
	start_fake --data "$T/data.json"
	SEATS=5 write_config
	sync_ok
	BEFORE=$(roster_digest)
	sed -i 's/^  seats: 5$/  seats: 3/' "$T/config.yaml"
	SEATS=3 expect_tripped "2 seat losses (0 unassigns, 2 members moved to the waiting list) are more than sync.max_unassign_percent (20%) of 5 active members"

	assert_eq "$(grep -c '^  wait  .*(seat limit lowered to 3)$' "$T/out")" 2 "members listed"
	assert_contains "$T/out" "Members who would lose their seat:"
	assert_contains "$T/err" "5 of 3 seats used now"
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "Seats:    5 of 3 used (team.seats is lower than the seats in use: the next sync moves up to 2 members to the waiting list"
}

# Waiting members hold no seat, so their unassigns do not count.  When
# seat losses stop a run, the output lists the waiting members apart.
test_waiting_unassigns_do_not_trip() {
	users 8 | write_users
	start_fake --data "$T/data.json"
	SEATS=4 MAX_UNASSIGN=0 MAX_PERCENT=20 write_config
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'waiting'")" 4 "waiting"

	remove_users 00u0007 00u0008
	sync_ok
	assert_eq "$(sql "SELECT group_concat(external_id) FROM members WHERE state = 'unassigned'")" \
		"00u0007,00u0008" "unassigned members"

	BEFORE=$(roster_digest)
	remove_users 00u0001 00u0002 00u0005
	SEATS=4 expect_tripped "2 unassigns are more than sync.max_unassign_percent (20%) of 4 active members"
	assert_eq "$(sed -n '/^Members who would lose their seat:/,/^[A-Z]/p' "$T/out" |
		grep -c '^  unassign  user000[12]@example.com')" 2 "seat losses listed"
	assert_eq "$(sed -n '/^Waiting members who would be unassigned:/,/^[A-Z]/p' "$T/out" |
		grep -c '^  unassign  user0005@example.com')" 1 "waiting member listed"
}

test_limits_are_inclusive() {
	# Exactly at both limits: 2 unassigns, 20 % of 10 members.
	MAX_UNASSIGN=2 MAX_PERCENT=20 threshold_roster 10
	remove_users 00u0001 00u0002
	sync_ok

	assert_eq "$(unassigned_count)" 2 "unassigned members"
}

test_zero_disables_both_limits() {
	MAX_UNASSIGN=0 MAX_PERCENT=0 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003 00u0004 00u0005 00u0006 00u0007 00u0008 00u0009
	sync_ok

	assert_eq "$(unassigned_count)" 9 "unassigned members"
}

test_suspended_and_deactivated_count() {
	MAX_UNASSIGN=2 MAX_PERCENT=0 threshold_roster 10
	edit_data '(.users[] | select(.id == "00u0001" or .id == "00u0002")).status = "SUSPENDED"
		| (.users[] | select(.id == "00u0003")).status = "DEPROVISIONED"'
	expect_tripped "3 unassigns exceed sync.max_unassign (2)"
	assert_contains "$T/out" "user suspended in Okta"
}

test_already_unassigned_do_not_count() {
	MAX_UNASSIGN=2 MAX_PERCENT=0 threshold_roster 10
	remove_users 00u0001 00u0002
	sync_ok
	assert_eq "$(unassigned_count)" 2 "unassigned members after the first removal"

	# Two more leave, and the two who left before are still gone: only the
	# two new ones count, so the run stays within the limit of 2.
	remove_users 00u0003 00u0004
	edit_data '(.users[] | select(.id == "00u0001")).status = "SUSPENDED"'
	sync_ok
	assert_eq "$(unassigned_count)" 4 "unassigned members after the second removal"
}

test_empty_idp_trips_with_limits_off() {
	MAX_UNASSIGN=0 MAX_PERCENT=0 threshold_roster 3
	edit_data '.assignments.users = []'
	expect_tripped "Okta returned no assigned users, which would unassign 3 members"
}

# Trips a plan of three unassigns and sets PLAN_ID.
tripped_plan() {
	MAX_UNASSIGN=2 MAX_PERCENT=0 threshold_roster 10
	remove_users 00u0001 00u0002 00u0003
	rs sync -c "$T/config.yaml"
	assert_rc 65
	PLAN_ID=$(sed -n 's/^Plan id: //p' "$T/out")
	[ -n "$PLAN_ID" ] || fail "no plan id printed"
}

test_approval_writes_approve_event() {
	tripped_plan
	rs sync -c "$T/config.yaml" --approve "$PLAN_ID"
	assert_rc 0

	assert_eq "$(unassigned_count)" 3 "unassigned members"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'approve'")" 1 "approve events"
	assert_eq "$(sql "SELECT json_extract(after, '$.plan_id') || ' ' ||
		json_extract(after, '$.unassigns') FROM events WHERE op = 'approve'")" \
		"$PLAN_ID 3" "approved plan in the event"
	assert_contains <(sql "SELECT reason FROM events WHERE op = 'approve'") \
		"plan $PLAN_ID approved with sync --approve"
	# The approval, its event and the unassigns belong to one run.
	run_id=$(sql "SELECT run_id FROM approvals WHERE plan_id = '$PLAN_ID'")
	[ -n "$run_id" ] || fail "no approval row"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE run_id = '$run_id'")" 4 \
		"events of the approving run (3 unassigns and the approval)"
	assert_eq "$(sql "SELECT plan_id FROM runs WHERE id = '$run_id'")" "$PLAN_ID" \
		"plan id of the approving run"
	assert_eq "$(sql "SELECT group_concat(value, '|') FROM sync_state
		WHERE key IN ('blocked_plan_id', 'blocked_plan_detail')")" "|" \
		"blocked plan and its detail once approved"
}

# An approval is for a plan past the threshold: on a plan within it, the
# run applies as usual and records no approval.
test_approval_within_threshold_not_recorded() {
	users 3 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	sed -i "s#http://127.0.0.1:#http://localhost:#" "$T/config.yaml"
	rs sync -c "$T/config.yaml" --dry-run --json --take-over
	assert_rc 0
	plan_id=$(jq -r '.plan_id' "$T/out")
	rs sync -c "$T/config.yaml" --approve "$plan_id" --take-over
	assert_rc 0

	assert_contains "$T/err" "needs no approval"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'approve'")" 0 "approve events"
	assert_eq "$(sql "SELECT count(*) FROM approvals")" 0 "approvals"
}

test_mistyped_approval_is_not_a_block() {
	threshold_roster 3
	rs sync -c "$T/config.yaml" --approve 0123456789abcdef
	assert_rc 65
	assert_contains "$T/err" "the current plan is within the deletion threshold: it needs no approval"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		failed "outcome"
	assert_eq "$(roster_digest)" "$BEFORE" "roster"
}

# A take-over past the threshold is reviewed and approved with --take-over.
test_take_over_block_names_take_over() {
	users 8 | write_users
	start_fake --data "$T/data.json"
	MAX_UNASSIGN=2 MAX_PERCENT=0 write_config
	sync_ok
	rs release -c "$T/config.yaml"
	remove_users 00u0001 00u0002 00u0003 00u0004 00u0005
	rs sync -c "$T/config.yaml" --take-over
	assert_rc 65
	plan_id=$(sed -n 's/^Plan id: //p' "$T/out")
	assert_contains "$T/out" "rostersync sync -c $T/config.yaml --take-over --dry-run"
	assert_contains "$T/out" "rostersync sync -c $T/config.yaml --take-over --approve $plan_id"

	rs sync -c "$T/config.yaml" --take-over --dry-run --json
	assert_rc 0
	assert_eq "$(jq -r '.plan_id' "$T/out")" "$plan_id" "plan id of the review"
	rs sync -c "$T/config.yaml" --take-over --approve "$plan_id"
	assert_rc 0
	assert_eq "$(unassigned_count)" 5 "unassigned members"
}

test_release_voids_blocked_plan() {
	threshold_roster 10
	MAX_UNASSIGN=1 write_config
	remove_users 00u0001 00u0002
	rs sync -c "$T/config.yaml"
	assert_rc 65
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "awaits approval"
	rs release -c "$T/config.yaml"
	assert_rc 0
	rs status -c "$T/config.yaml" --json
	assert_eq "$(jq -r '.blocked_plan_id' "$T/out")" null "blocked plan after the release"
}

test_approval_is_single_use() {
	tripped_plan
	rs sync -c "$T/config.yaml" --approve "$PLAN_ID"
	assert_rc 0
	after=$(roster_digest)

	rs sync -c "$T/config.yaml" --approve "$PLAN_ID"
	assert_rc 65
	assert_contains "$T/err" "plan $PLAN_ID was approved and applied before, and an approval is used once"
	assert_eq "$(roster_digest)" "$after" "roster after a reused approval"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'approve'")" 1 "approve events"
}

test_approval_of_changed_plan_refused() {
	tripped_plan
	remove_users 00u0004
	rs sync -c "$T/config.yaml" --approve "$PLAN_ID"

	assert_rc 65
	assert_eq "$(roster_digest)" "$BEFORE" "roster after approving a stale plan"
	assert_contains "$T/err" "plan $PLAN_ID is not the current plan"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'approve'")" 0 "approve events"
	assert_eq "$(sql "SELECT count(*) FROM approvals")" 0 "approval rows"

	# status names the plan that can still be approved, not the stale one.
	rs plan -c "$T/config.yaml" --json
	current=$(jq -r .plan_id "$T/out")
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "Blocked:  plan $current awaits approval"
	assert_eq "$(grep -c "^Blocked:.*$PLAN_ID" "$T/out")" 0 "blocked lines naming the stale plan"
}

test_new_trip_needs_new_approval() {
	tripped_plan
	rs sync -c "$T/config.yaml" --approve "$PLAN_ID"
	assert_rc 0

	remove_users 00u0004 00u0005 00u0006
	rs sync -c "$T/config.yaml"
	assert_rc 65
	second=$(sed -n 's/^Plan id: //p' "$T/out")
	[ "$second" != "$PLAN_ID" ] || fail "a different plan got the same id"
	rs sync -c "$T/config.yaml" --approve "$second"
	assert_rc 0
	assert_eq "$(unassigned_count)" 6 "unassigned members"
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'approve'")" 2 "approve events"
}

test_plan_json_shows_tripped_plan_id() {
	tripped_plan
	rs plan -c "$T/config.yaml" --json
	assert_rc 0
	assert_eq "$(jq -r .plan_id "$T/out")" "$PLAN_ID" "plan id of plan --json"
	assert_eq "$(jq -r .counts.unassign "$T/out")" 3 "unassigns in plan --json"
}
