# test_safety.sh - incomplete reads, IdP errors and the deletion threshold.

test_empty_answer_trips_threshold() {
	users 5 | write_users
	start_fake --data "$T/data.json"
	MAX_UNASSIGN=0 MAX_PERCENT=0 write_config
	sync_ok
	before=$(roster_digest)
	edit_data '.assignments.users = []'
	rs sync -c "$T/config.yaml"

	assert_rc 65
	assert_eq "$(roster_digest)" "$before" "roster after a tripped run"
	assert_contains "$T/out" "Plan id:"
	assert_contains "$T/out" "user0001@example.com"
	assert_contains "$T/err" "returned no assigned users"
	assert_eq "$(sql "SELECT outcome, exit_status FROM runs ORDER BY rowid DESC LIMIT 1")" \
		"blocked|65" "run record"
}

test_approval_applies_plan_once() {
	users 10 | write_users
	start_fake --data "$T/data.json"
	MAX_UNASSIGN=2 write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001","00u0002","00u0003"]'
	rs sync -c "$T/config.yaml"
	assert_rc 65
	plan_id=$(sed -n 's/^Plan id: //p' "$T/out")
	[ -n "$plan_id" ] || fail "no plan id printed"

	rs sync -c "$T/config.yaml" --approve 0000000000000000
	assert_rc 65
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='unassigned'")" 0 "after a wrong id"

	rs sync -c "$T/config.yaml" --approve "$plan_id"
	assert_rc 0
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='unassigned'")" 3 "after approval"
	assert_eq "$(sql "SELECT count(*) FROM approvals WHERE plan_id='$plan_id'")" 1 "approval row"

	rs sync -c "$T/config.yaml" --approve "$plan_id"
	assert_rc 65
}

test_approval_refused_after_change() {
	users 10 | write_users
	start_fake --data "$T/data.json"
	MAX_UNASSIGN=1 write_config
	sync_ok
	edit_data '.assignments.users -= ["00u0001","00u0002"]'
	rs sync -c "$T/config.yaml"
	plan_id=$(sed -n 's/^Plan id: //p' "$T/out")
	edit_data '.assignments.users -= ["00u0003"]'
	before=$(roster_digest)
	rs sync -c "$T/config.yaml" --approve "$plan_id"

	assert_rc 65
	assert_eq "$(roster_digest)" "$before" "roster"
	assert_contains "$T/err" "is not the current plan"
}

test_server_error_on_page_two_changes_nothing() {
	users 700 | write_users
	start_fake --data "$T/data.json"
	SEATS=1000 MAX_RETRIES=0 write_config
	sync_ok
	before=$(roster_digest)
	edit_data '.assignments.users -= ["00u0001"]
		| .faults = [{"path":"/api/v1/apps/0oaapp1/users","page":2,"kind":"status","status":500}]'
	rs sync -c "$T/config.yaml"

	[ "$RC" != 0 ] || fail "sync succeeded on a failed page"
	assert_rc 69
	assert_eq "$(roster_digest)" "$before" "roster"
	assert_contains "$T/err" "500"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY rowid DESC LIMIT 1")" failed "run outcome"
}

test_transient_server_error_is_retried() {
	users 700 | write_users
	start_fake --data "$T/data.json"
	SEATS=1000 write_config
	edit_data '.faults = [{"path":"/api/v1/apps/0oaapp1/users","page":2,"count":1,"kind":"status","status":503}]'
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 700 "members"
	assert_contains "$T/err" "503"
}

test_rate_limit_waits_for_reset() {
	users 3 | write_users '.faults = [{"path":"/api/v1/apps/0oaapp1/users","count":1,"kind":"rate_limit","reset_in":1}]'
	start_fake --data "$T/data.json"
	write_config
	start=$(date +%s.%N)
	sync_ok
	elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

	assert_eq "$(sql "SELECT count(*) FROM members")" 3 "members"
	assert_contains "$T/err" "429"
	awk -v e="$elapsed" 'BEGIN { exit !(e >= 0.5) }' || fail "no wait before the retry ($elapsed s)"
}

test_truncated_page_changes_nothing() {
	users 4 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)
	for kind in truncate malformed; do
		edit_data ".assignments.users -= [\"00u0001\"]
			| .faults = [{\"path\":\"/api/v1/apps/0oaapp1/users\",\"kind\":\"$kind\"}]"
		rs sync -c "$T/config.yaml"
		assert_rc 76
		assert_eq "$(roster_digest)" "$before" "roster after a $kind page"
	done
}

test_wrong_shape_changes_nothing() {
	users 4 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	before=$(roster_digest)
	edit_data '.assignments.users -= ["00u0001"]
		| .faults = [{"path":"/api/v1/apps/0oaapp1/users","kind":"body","body":"{\"not\":\"an array\"}"}]'
	rs sync -c "$T/config.yaml"
	assert_rc 76
	assert_eq "$(roster_digest)" "$before" "roster after an object page"

	edit_data '.faults = [] | (.users[] | select(.id=="00u0002")).email = 42'
	rs sync -c "$T/config.yaml"
	assert_rc 76
	assert_contains "$T/err" "email"
	assert_eq "$(roster_digest)" "$before" "roster after a number email"
}

test_invalid_token_exits_77() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	printf 'wrong-token\n' > "$T/token"
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "E0000011"
	assert_contains "$T/err" "Invalid token provided"
	[ ! -e "$T/roster.db" ] || [ "$(sql "SELECT count(*) FROM members")" = 0 ] ||
		fail "members written after a rejected token"
}

test_forbidden_exits_77() {
	users 2 | write_users '.forbidden = true'
	start_fake --data "$T/data.json"
	write_config
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "E0000006"
}

test_unknown_app_is_config_error() {
	users 2 | write_users '.app_id = "0oaother"'
	start_fake --data "$T/data.json"
	write_config
	rs sync -c "$T/config.yaml"

	assert_rc 78
	assert_contains "$T/err" "okta.app_id"
}

test_foreign_next_link_is_refused() {
	users 3 | write_users '.faults = [{"path":"/api/v1/apps/0oaapp1/users","kind":"headers","headers":{"Link":"<https://elsewhere.invalid/api/v1/apps/0oaapp1/users?after=x>; rel=\"next\""}}]'
	start_fake --data "$T/data.json"
	write_config
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/err" "elsewhere.invalid"
	[ ! -e "$T/roster.db" ] || [ "$(sql "SELECT count(*) FROM members")" = 0 ] ||
		fail "members written after a refused link"
}

test_unreachable_idp_exits_69() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	MAX_RETRIES=1 write_config
	stop_fake
	rs sync -c "$T/config.yaml"

	assert_rc 69
}
