# test_faults.sh - the fault matrix, end to end against the fake IdP.
#
# Most cases start from a synced roster of 700 users (two pages of app
# users), then remove user 00u0001 in the IdP, so that a read wrongly taken
# as complete would unassign someone.  The fault is injected, and the case
# checks the exit status, that the roster digest did not change, and the one
# log line that names the failure.  Cases where the fault clears check that
# the removal is applied.  docs/faults.md lists every case.

APP_USERS=/api/v1/apps/0oaapp1/users
APP_GROUPS=/api/v1/apps/0oaapp1/groups

# Syncs N users (default 700), remembers the roster digest in BEFORE and
# removes user 00u0001 in the IdP.  Extra arguments are config lines.
synced_roster() {
	local count=${USER_COUNT:-700}
	users "$count" | write_users
	start_fake --data "$T/data.json"
	SEATS=1000 write_config "$@"
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" "$count" \
		"active members after the first sync"
	BEFORE=$(roster_digest)
	edit_data '.assignments.users -= ["00u0001"]'
}

# Replaces the fake's faults with the JSON array $1.
inject() {
	edit_data ".faults = $1"
}

# Sets an http: key of the config to a new value, e.g. set_http timeout 1.
set_http() {
	sed -i "s/^  $1: .*/  $1: $2/" "$T/config.yaml"
	grep -q "^  $1: $2\$" "$T/config.yaml" || fail "config has no http.$1 to set"
}

assert_log() {
	grep -qE -- "$1" "$T/err" || fail "stderr has no line matching /$1/"
}

# Runs a sync that must fail with status $1 before anything is applied:
# the roster digest is unchanged, stderr matches $2 on one line, and the
# run record has the outcome failed.
expect_failed_read() {
	rs sync -c "$T/config.yaml"
	assert_rc "$1"
	assert_eq "$(roster_digest)" "$BEFORE" "roster digest after the failed run"
	assert_log "$2"
	assert_contains "$T/err" "the read from ${SOURCE_TITLE:-Okta} was not complete; the roster is unchanged"
	assert_eq "$(sql "SELECT outcome || '|' || exit_status FROM runs ORDER BY rowid DESC LIMIT 1")" \
		"failed|$1" "run record"
	assert_run_error
}

# The last run record's error is the category, then the first error line
# the run logged (the first 120 bytes are compared).
assert_run_error() {
	local first
	first=$(sed -n 's/^[^ ]* error [^ ]* run=[^:]*: //p' "$T/err" | head -n 1)
	[ -n "$first" ] || fail "the run logged no error line"
	assert_eq "$(sql "SELECT substr(error, instr(error, ': ') + 2, 120) FROM runs
		ORDER BY rowid DESC LIMIT 1")" "${first:0:120}" "first error line in the run record"
	assert_eq "$(sql "SELECT length(error) <= 400 + 32 FROM runs ORDER BY rowid DESC LIMIT 1")" \
		1 "run record error length"
}

# Runs a sync that must succeed and apply the removal of user 00u0001.
expect_recovered() {
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id='00u0001'")" unassigned \
		"user 00u0001 after the run"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" \
		"$(( ${USER_COUNT:-700} - 1 ))" "active members after the run"
}

# Remembers the request log's length, so requests_since counts one run.
mark_requests() {
	MARK=$(wc -l < "$T/requests.log")
}

# Counts the requests since mark_requests whose JSON line contains $1.
requests_since() {
	tail -n +"$((MARK + 1))" "$T/requests.log" | grep -cF -- "$1" || true
}

# The second page of app users as the agent requests it (after the first).
page_two_requests() {
	requests_since "\"path\":\"$APP_USERS\",\"query\":\"after="
}

now_plus() {
	echo $(( $(date +%s) + $1 ))
}

elapsed_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# ---- 429 and rate limits ----

test_429_retry_after_seconds_is_waited() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"rate_limit\",\"reset_in\":30,\"retry_after\":\"2\"}]"
	start=$(date +%s.%N)
	expect_recovered

	assert_log "GET http://127.0.0.1:$PORT$APP_USERS returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in 2\.0 s"
	awk -v e="$(elapsed_since "$start")" 'BEGIN { exit !(e >= 1.9) }' ||
		fail "the retry came before Retry-After: 2"
}

test_429_retry_after_http_date_is_waited() {
	synced_roster
	set_http max_wait 10
	# The date lies 6 s ahead when the fault is set.  The run gets the 429 a
	# moment later (seconds later under valgrind), so the wait is 1 to 6 s.
	when=$(date -u -d "@$(now_plus 6)" '+%a, %d %b %Y %H:%M:%S GMT')
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"rate_limit\",\"reset_in\":30,\"retry_after\":\"$when\"}]"
	expect_recovered

	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in [1-6]\.0 s"
}

test_429_reset_header_is_waited() {
	synced_roster
	# Two X-Rate-Limit-Reset headers, the first 60 s later: the earliest counts.
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"rate_limit\",\"reset_in\":1,\"reset_header_repeat\":true}]"
	expect_recovered

	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in [12]\.0 s"
}

test_429_comma_joined_reset_is_waited() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":429,
		\"headers\":{\"X-Rate-Limit-Reset\":\"$(now_plus 90), $(now_plus 1)\"}}]"
	expect_recovered

	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in [12]\.0 s"
}

test_429_reset_measured_against_date() {
	synced_roster
	# The server's Date is months in the past, and the reset lies 2 s after
	# it.  The agent waits 3 s, although the reset time has long passed on
	# the local clock.
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":429,
		\"headers\":{\"Date\":\"Thu, 01 Jan 2026 00:00:00 GMT\",\"X-Rate-Limit-Reset\":\"1767225602\"}}]"
	expect_recovered

	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in 3\.0 s"
}

test_429_reset_in_the_past_waits_a_second() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":429,
		\"headers\":{\"X-Rate-Limit-Reset\":\"$(now_plus -100)\"}}]"
	expect_recovered

	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in 1\.0 s"
}

test_429_without_wait_headers_backs_off() {
	synced_roster
	# An empty reset header keeps the fake from adding its own.
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":2,\"kind\":\"status\",\"status\":429,
		\"headers\":{\"X-Rate-Limit-Reset\":\"\"}}]"
	expect_recovered

	# Full jitter: retry n waits a uniform time below min(max_wait, 2^(n-1)) s.
	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 1 of 2 in (0\.[0-9]|1\.0) s"
	assert_log "returned 429 \(request id [A-Za-z0-9]+\); retry 2 of 2 in [0-2]\.[0-9] s"
}

test_429_that_never_clears_exits_75() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"rate_limit\",\"reset_in\":0}]"
	mark_requests
	expect_failed_read 75 "returned 429 \(request id [A-Za-z0-9]+\): \"\{\"errorCode\":\"E0000047\".*; giving up after 2 retries \(http.max_retries\)"

	assert_eq "$(page_two_requests)" 3 "requests for page 2"
	assert_eq "$(grep -c 'retry [12] of 2 in' "$T/err")" 2 "logged retries"
}

test_429_past_retry_budget_exits_75() {
	synced_roster
	set_http max_retries 10
	set_http retry_budget 2
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"rate_limit\",\"reset_in\":0,\"retry_after\":\"1.5\"}]"
	mark_requests
	expect_failed_read 75 "giving up after 1 retry: waiting 1\.5 s more would exceed the retry budget of 2 s \(http.retry_budget\)"

	assert_eq "$(page_two_requests)" 2 "requests for page 2"
}

test_429_longer_than_max_wait_exits_75() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"rate_limit\",\"reset_in\":0,\"retry_after\":\"600\"}]"
	mark_requests
	expect_failed_read 75 "returned 429 \(request id [A-Za-z0-9]+\): \"\{\"errorCode\":\"E0000047\".*; giving up after 0 retries: the server requested a wait of 600\.0 s, longer than http.max_wait \(3 s\)"

	# One request and no retry line: the agent did not wait at all.
	assert_eq "$(page_two_requests)" 1 "requests for page 2"
	assert_not_contains "$T/err" "retry 1 of"
}

test_low_remaining_quota_paces_requests() {
	users 3 | write_users '.rate_limit = 3'
	start_fake --data "$T/data.json"
	write_config
	start=$(date +%s.%N)
	sync_ok

	# The first response leaves 2 of 3 requests: the agent pauses until the
	# window resets, cut to http.max_wait (3 s).
	assert_log "rate limit nearly used \(2 of 3 requests left\); pausing 3\.0 s \(http\.max_wait\); it resets in [0-9.]+ s"
	awk -v e="$(elapsed_since "$start")" 'BEGIN { exit !(e >= 2.9) }' ||
		fail "no pause before the second request"
	assert_eq "$(grep -c 'rate limit nearly used' "$T/err")" 1 "pauses (none after the last request)"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
}

# ---- 5xx ----

test_5xx_storm_that_clears_is_retried() {
	synced_roster
	set_http max_retries 4
	set_http max_wait 1
	inject "[
		{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":500},
		{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":502},
		{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":503},
		{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":504}]"
	mark_requests
	expect_recovered

	assert_eq "$(page_two_requests)" 5 "requests for page 2"
	for status in 500 502 503 504; do
		assert_log "returned $status \(request id [A-Za-z0-9]+\); retry [1-4] of 4 in [01]\.[0-9] s"
	done
}

test_5xx_storm_that_persists_exits_69() {
	synced_roster
	set_http max_wait 1
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"status\",\"status\":503}]"
	mark_requests
	expect_failed_read 69 "returned 503 \(request id [A-Za-z0-9]+\): \"\{\"errorCode\":\"E0000010\".*; giving up after 2 retries \(http.max_retries\)"

	assert_eq "$(page_two_requests)" 3 "requests for page 2"
}

# A proxy in front of the IdP returns its own error page.  The line that
# gives up quotes it, because the page names the hop that failed.
test_proxy_page_that_persists_is_quoted() {
	synced_roster
	set_http max_wait 1
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"body\",\"status\":502,
		\"body\":\"<html><title>502 Bad Gateway</title><body>upstream unreachable</body></html>\"}]"
	expect_failed_read 69 "returned 502 \(request id [A-Za-z0-9]+\): \"<html><title>502 Bad Gateway</title><body>upstream unreachable</body></html>\"; giving up after 2 retries \(http.max_retries\)"
}

test_final_statuses_are_not_retried() {
	synced_roster
	for row in "400 76 E0000001" "409 76 E0000001" "501 69 E0000009" "505 69 E0000009"; do
		set -- $row
		inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"status\",\"status\":$1}]"
		mark_requests
		expect_failed_read "$2" "returned $1 $3: "
		assert_eq "$(page_two_requests)" 1 "requests for page 2 after a $1"
		assert_not_contains "$T/err" "retry 1 of"
	done
}

test_redirect_is_final() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"status\",\"status\":302,
		\"headers\":{\"Location\":\"http://127.0.0.1:$PORT/elsewhere\"}}]"
	mark_requests
	expect_failed_read 76 "returned 302.* to http://127.0.0.1:$PORT/elsewhere.*redirects are not followed"

	assert_eq "$(page_two_requests)" 1 "requests for page 2"
	assert_eq "$(requests_since '/elsewhere')" 0 "requests to the redirect target"
}

# ---- the connection ----

test_reset_mid_body_is_retried() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":1,\"kind\":\"reset\"}]"
	expect_recovered

	assert_log "GET http://127.0.0.1:$PORT$APP_USERS failed: transfer closed with [0-9]+ bytes remaining to read; retry 1 of 2"
}

test_reset_mid_body_persists_exits_69() {
	synced_roster
	set_http max_wait 1
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"reset\"}]"
	expect_failed_read 69 "failed: transfer closed with [0-9]+ bytes remaining to read; giving up after 2 retries"
}

test_slow_server_past_timeout_exits_69() {
	synced_roster
	set_http timeout 1
	set_http max_retries 1
	set_http max_wait 1
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"slow\",\"delay_ms\":2500}]"
	mark_requests
	expect_failed_read 69 "failed: Operation timed out after [0-9]+ milliseconds with 0 bytes received; giving up after 1 retry"
}

test_slow_body_past_timeout_exits_69() {
	synced_roster
	set_http timeout 1
	set_http max_retries 1
	set_http max_wait 1
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"slow_body\",\"delay_ms\":2500}]"
	expect_failed_read 69 "failed: Operation timed out after [0-9]+ milliseconds with [1-9][0-9]* out of [0-9]+ bytes received; giving up after 1 retry"
}

test_slow_response_within_timeout_succeeds() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"slow_body\",\"delay_ms\":400},
		{\"path\":\"$APP_USERS\",\"page\":1,\"kind\":\"slow\",\"delay_ms\":400}]"
	expect_recovered

	assert_not_contains "$T/err" "retry 1 of"
}

test_connection_refused_exits_69() {
	synced_roster
	set_http max_wait 1
	stop_fake
	expect_failed_read 69 "GET http://127.0.0.1:$PORT$APP_USERS failed: Failed to connect to 127.0.0.1 port $PORT.*giving up after 2 retries"

	assert_log "failed: Failed to connect to 127.0.0.1 port $PORT.*; retry 2 of 2 in"
}

# ---- bodies ----

test_broken_page_two_exits_76() {
	synced_roster
	for row in "truncate:invalid JSON at byte [0-9]+" "malformed:invalid JSON at byte [0-9]+"; do
		inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"${row%%:*}\"}]"
		expect_failed_read 76 "app users page 2 \(request id [A-Za-z0-9]+\): .*${row#*:}"
	done
}

test_wrong_shapes_exit_76() {
	synced_roster
	local cases=(
		'"\"a string\""|the body is a string, expected a JSON array'
		'[1, 2]|app user 0: is a number, expected an object'
		'{"id": "00u1"}|the body is an object, expected a JSON array'
		'[{"id": "00u0002", "scope": "USER", "_embedded": {"user": {"id": "00u0002", "status": "ACTIVE", "profile": {"login": "user0002@example.com", "email": 42}}}}]|app user 0 \(00u0002\): _embedded.user.profile.email is a number, expected a string'
		'[{"id": "00u0002", "scope": "USER", "_embedded": {"user": {"id": "00u0002", "status": ["ACTIVE"], "profile": {"login": "user0002@example.com", "email": "user0002@example.com"}}}}]|app user 0 \(00u0002\): _embedded.user.status is an array, expected a string'
		'[{"scope": "USER"}]|app user 0: id is missing'
	)
	for row in "${cases[@]}"; do
		inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"body\",\"body\":${row%%|*}}]"
		expect_failed_read 76 "app users page 2 \(request id [A-Za-z0-9]+\): ${row#*|}"
	done
}

# A gateway page that quotes the request headers, token included: the
# error line quotes the body with the token redacted.  run.sh fails the
# test if the token appears in any output or in the roster.
test_error_body_echoing_token_is_redacted() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"body\",\"status\":400,
		\"body\":\"<html>Bad request. Authorization: SSWS $TOKEN; Host: idp</html>\"}]"
	expect_failed_read 76 'returned 400: "<html>Bad request. Authorization: SSWS \[redacted\]; Host: idp</html>"'
}

test_deep_nesting_exits_76() {
	synced_roster
	deep=$(printf '[%.0s' $(seq 1 100))$(printf ']%.0s' $(seq 1 100))
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"body\",\"body\":\"$deep\"}]"
	expect_failed_read 76 "app users page 2 \(request id [A-Za-z0-9]+\): JSON nested deeper than 64 levels"
}

test_long_string_exits_76() {
	synced_roster
	long=$(head -c 4200 /dev/zero | tr '\0' x)
	edit_data "(.users[] | select(.id == \"00u0600\")).firstName = \"$long\""
	expect_failed_read 76 "app users page 2 \(request id [A-Za-z0-9]+\): app user [0-9]+ \(00u0600\): _embedded.user.profile.firstName is longer than 4096 bytes: shorten it in the IdP"
}

test_oversize_body_exits_76() {
	synced_roster
	for chunked in false true; do
		inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"oversize\",\"chunked\":$chunked}]"
		mark_requests
		expect_failed_read 76 "GET http://127.0.0.1:$PORT$APP_USERS failed: response body larger than 67108864 bytes"
		assert_eq "$(page_two_requests)" 1 "requests for page 2 (chunked: $chunked)"
	done
}

# ---- paging ----

test_looping_cursor_exits_76() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"loop\"}]"
	mark_requests
	expect_failed_read 76 "app users page 2: repeated next link http://127.0.0.1:$PORT$APP_USERS\?after="

	assert_eq "$(page_two_requests)" 1 "requests for page 2"
}

# Next links that always carry a new cursor but serve page 2 again: the
# repeated link check cannot see it, the repeated users end the read.
test_looping_new_cursor_exits_76() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"count\":50,\"kind\":\"loop_new_cursor\"}]"
	mark_requests
	expect_failed_read 76 "app users page 3 \(request id [A-Za-z0-9]+\): lists the same 199 items as page 2"

	# Page 2, its repeat, and the next repeat requested before the first was parsed.
	assert_eq "$(page_two_requests)" 3 "requests for page 2"
}

# Runs a sync of 12,000 generated users, of whom the 1,200 of group 00g0001
# fill two member pages, with the fault $1 (JSON) on page 2 of that group.
sync_with_group_page_two_fault() {
	printf '{"faults": [%s]}\n' "$(jq -c --argjson fault "$1" \
		'{path: "/api/v1/groups/00g0001/users", page: 2} + $fault' <<< 'null')" \
		> "$T/settings.json"
	start_fake --synthetic 12000 --groups 1 --data "$T/settings.json"
	SEATS=20000 write_config
	rs sync -c "$T/config.yaml"
}

# The same loop on a group's member listing.
test_group_members_new_cursor_loop_exits_76() {
	sync_with_group_page_two_fault '{"count": 50, "kind": "loop_new_cursor"}'

	assert_rc 76
	assert_log "members of group Group 1 \(00g0001\) page 3 \(request id [A-Za-z0-9]+\): lists the same 200 items as page 2"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members after the failed run"
}

# A group deleted between two pages of its member listing: page 2 returns
# 404.  The run fails as temporary (75), not as a config error (78).
test_group_deleted_during_read_exits_75() {
	sync_with_group_page_two_fault '{"kind": "status", "status": 404}'

	assert_rc 75
	assert_log "members of group Group 1 \(00g0001\) page 2 returned 404: the group was deleted during the read; run again"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members after the failed run"
}

test_first_page_linking_to_itself_exits_76() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":1,\"kind\":\"loop\"}]"
	mark_requests
	expect_failed_read 76 "app users page 1: repeated next link http://127.0.0.1:$PORT$APP_USERS\?limit=500&expand=user"

	assert_eq "$(requests_since "\"path\":\"$APP_USERS\"")" 1 "app user requests"
}

test_next_link_to_other_origin_exits_76() {
	synced_roster
	local other_port=$((PORT == 65535 ? PORT - 1 : PORT + 1))
	for target in "https://127.0.0.1:$PORT$APP_USERS?after=x" \
		"http://127.0.0.1:$other_port$APP_USERS?after=x" \
		"http://localhost:$PORT$APP_USERS?after=x" \
		"$APP_USERS?after=x"; do
		inject "[{\"path\":\"$APP_USERS\",\"page\":1,\"kind\":\"headers\",
			\"headers\":{\"Link\":\"<$target>; rel=\\\"next\\\"\"}}]"
		rs sync -c "$T/config.yaml"
		assert_rc 76
		assert_eq "$(roster_digest)" "$BEFORE" "roster after a next link to $target"
		assert_log "app users page 1: (rejected the next link .* because it is not on http://127.0.0.1:$PORT|malformed Link header)"
	done
}

test_malformed_link_header_exits_76() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":1,\"kind\":\"headers\",
		\"headers\":{\"Link\":\"http://127.0.0.1:$PORT/x; rel=next\"}}]"
	expect_failed_read 76 "app users page 1: malformed Link header \".* \\| http://127.0.0.1:$PORT/x; rel=next\": each link must be <URL> without spaces"
}

# A 404 on a later page of the app's users, after page 1 of the same app
# was read, is temporary: the app or the cursor went away during the read.
test_404_on_page_two_exits_75() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"status\",\"status\":404}]"
	expect_failed_read 75 "page 2 returned 404 after page 1 was read: the listing was deleted or its paging cursor expired during the read; run again"
}

# ---- credentials and permissions ----

test_401_on_page_two_exits_77() {
	synced_roster
	inject "[{\"path\":\"$APP_USERS\",\"page\":2,\"kind\":\"status\",\"status\":401}]"
	mark_requests
	expect_failed_read 77 "returned 401 E0000011: Invalid token provided .*create a new token"

	assert_eq "$(page_two_requests)" 1 "requests for page 2"
}

test_403_after_permission_removed_exits_77() {
	synced_roster
	edit_data '.forbidden = true'
	expect_failed_read 77 "returned 403 E0000006: You do not have permission"
}

test_403_on_group_listing_exits_77() {
	synced_roster
	inject "[{\"path\":\"$APP_GROUPS\",\"kind\":\"status\",\"status\":403}]"
	expect_failed_read 77 "GET http://127.0.0.1:$PORT$APP_GROUPS returned 403 E0000006"
}

# ---- the HTTP client ----

test_user_agent_and_encodings_sent() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	jq -e 'select(.path | startswith("/api/v1/apps/"))
		| .headers["user-agent"] | test("^rostersync/[0-9]+\\.[0-9]+\\.[0-9]+ libcurl/")' \
		"$T/requests.log" > /dev/null || fail "no User-Agent with the version"
	jq -e 'select(.path | startswith("/api/v1/apps/"))
		| .headers["accept-encoding"] | test("gzip")' "$T/requests.log" > /dev/null ||
		fail "gzip is not accepted"
	[ "$(jq -r '.headers.accept' "$T/requests.log" | sort -u)" = "application/json" ] ||
		fail "a request without Accept: application/json"
}

test_http_url_off_loopback_rejected() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sed -i "s|org_url: .*|org_url: http://example.com|" "$T/config.yaml"
	rs sync -c "$T/config.yaml"

	assert_rc 78
	assert_log "http:// is only accepted for loopback hosts"
	[ ! -s "$T/requests.log" ] || fail "a request was sent"
}

need_python() {
	command -v python3 > /dev/null || skip "python3 is needed for the loopback relay"
}

# Starts tests/e2e/relay.py with the arguments given; sets RELAY_PORT.
start_relay() {
	python3 "$ROOT/tests/e2e/relay.py" --port-file "$T/relay.port" --log "$T/relay.log" "$@" \
		2> "$T/relay.err" &
	RELAY_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$T/relay.port" ] && break
		sleep 0.05
	done
	[ -s "$T/relay.port" ] || fail "relay did not start: $(cat "$T/relay.err")"
	RELAY_PORT=$(cat "$T/relay.port")
}

stop_relay() {
	if [ -n "${RELAY_PID:-}" ]; then
		kill "$RELAY_PID" 2> /dev/null
		wait "$RELAY_PID" 2> /dev/null
		RELAY_PID=
	fi
	stop_fake
}

test_gzip_body_is_decoded() {
	need_python
	users 700 | write_users
	start_fake --data "$T/data.json"
	trap stop_relay EXIT
	start_relay --target "http://127.0.0.1:$PORT" --gzip
	SEATS=1000 write_config
	sed -i "s|org_url: .*|org_url: http://127.0.0.1:$RELAY_PORT|" "$T/config.yaml"
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 700 "active members"
	assert_eq "$(jq -r 'select(.target | startswith("'"$APP_USERS"'")) | .content_encoding' \
		"$T/relay.log" | sort -u)" gzip "encoding of the app user pages"
}

test_proxy_setting_is_honoured() {
	need_python
	users 700 | write_users
	start_fake --data "$T/data.json"
	trap stop_relay EXIT
	start_relay --proxy
	SEATS=1000 write_config
	sed -i "s|^  max_retries: .*|&\n  proxy: http://127.0.0.1:$RELAY_PORT|" "$T/config.yaml"
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 700 "active members"
	assert_eq "$(grep -c "\"target\": \"http://127.0.0.1:$PORT$APP_USERS" "$T/relay.log")" 2 \
		"app user pages through the proxy"
	assert_eq "$(wc -l < "$T/relay.log")" "$(wc -l < "$T/requests.log")" \
		"requests that bypassed the proxy"
}

# A proxy that refuses connections is named as the proxy, without its
# password.
test_dead_proxy_is_named() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	MAX_RETRIES=0 write_config
	sed -i "s|^  max_retries: .*|&\n  proxy: http://ops:proxy-secret-1@127.0.0.1:9|" "$T/config.yaml"
	rs sync -c "$T/config.yaml"

	assert_rc 69
	assert_contains "$T/err" "(the proxy in http.proxy: check that it runs and accepts connections)"
	assert_not_contains "$T/err" "proxy-secret-1"
}

# Writes a self-signed certificate for $1 (an IP address or a DNS name).
make_certificate() {
	local san
	case "$1" in
	*[a-z]*) san="DNS:$1" ;;
	*) san="IP:$1" ;;
	esac
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-addext "subjectAltName=$san" -keyout "$T/tls.key" -out "$T/tls.crt" \
		2> "$T/openssl.err" || fail "openssl failed: $(cat "$T/openssl.err")"
}

test_tls_is_verified_with_ca_file() {
	need_python
	command -v openssl > /dev/null || skip "openssl is needed for a test certificate"
	users 3 | write_users
	start_fake --data "$T/data.json"
	trap stop_relay EXIT
	make_certificate 127.0.0.1
	start_relay --target "http://127.0.0.1:$PORT" --tls "$T/tls.crt" "$T/tls.key"
	write_config
	sed -i "s|org_url: .*|org_url: https://127.0.0.1:$RELAY_PORT|" "$T/config.yaml"
	cp "$T/config.yaml" "$T/config-no-ca.yaml"

	rs sync -c "$T/config-no-ca.yaml"
	assert_rc 69
	assert_log "GET https://127.0.0.1:$RELAY_PORT$APP_USERS failed: SSL certificate problem"
	[ ! -e "$T/roster.db" ] || [ "$(sql "SELECT count(*) FROM members")" = 0 ] ||
		fail "members written over an unverified connection"

	sed -i "s|^  max_retries: .*|&\n  ca_file: $T/tls.crt|" "$T/config.yaml"
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
}

test_tls_host_name_is_verified() {
	need_python
	command -v openssl > /dev/null || skip "openssl is needed for a test certificate"
	users 3 | write_users
	start_fake --data "$T/data.json"
	trap stop_relay EXIT
	# A certificate for another name, trusted through ca_file.
	make_certificate idp.example.com
	start_relay --target "http://127.0.0.1:$PORT" --tls "$T/tls.crt" "$T/tls.key"
	write_config
	sed -i "s|org_url: .*|org_url: https://127.0.0.1:$RELAY_PORT|" "$T/config.yaml"
	sed -i "s|^  max_retries: .*|&\n  ca_file: $T/tls.crt|" "$T/config.yaml"

	rs sync -c "$T/config.yaml"
	assert_rc 69
	assert_log "GET https://127.0.0.1:$RELAY_PORT$APP_USERS failed: .*(does not match|no alternative certificate subject name matches)"
}

test_unreadable_ca_file_exits_78() {
	need_python
	command -v openssl > /dev/null || skip "openssl is needed for a test certificate"
	users 3 | write_users
	start_fake --data "$T/data.json"
	trap stop_relay EXIT
	make_certificate 127.0.0.1
	start_relay --target "http://127.0.0.1:$PORT" --tls "$T/tls.crt" "$T/tls.key"
	write_config
	sed -i "s|org_url: .*|org_url: https://127.0.0.1:$RELAY_PORT|" "$T/config.yaml"
	sed -i "s|^  max_retries: .*|&\n  ca_file: $T/missing.crt|" "$T/config.yaml"

	# A file that is not there, or a directory, fails the config check.
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_log "http.ca_file: cannot read \"$T/missing.crt\": No such file or directory"
	[ ! -e "$T/roster.db" ] || fail "a sync with an invalid config created the roster"
	mkdir "$T/missing.crt"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_log "http.ca_file: cannot read \"$T/missing.crt\": not a regular file"
	rmdir "$T/missing.crt"

	# A file that is there but contains no certificate fails the request.
	echo "not a certificate" > "$T/missing.crt"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_log "GET https://127.0.0.1:$RELAY_PORT$APP_USERS failed: "
	rs test -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/out" "the request could not be made: see the error above, and check http.ca_file and http.proxy"
}

# ---- secrets ----

test_token_file_readable_by_others_warns() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	chmod 644 "$T/token"
	sync_ok

	assert_log "secret file $T/token is readable by group or others \(mode 0644\): run chmod 600 $T/token"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 2 "active members"
}

test_config_writable_by_others_exits_78() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	chmod 666 "$T/config.yaml"
	rs sync -c "$T/config.yaml"

	assert_rc 78
	assert_log "the file is writable by group or others \(mode 0666\); run chmod go-w"
	[ ! -s "$T/requests.log" ] || fail "a request was sent"
}

test_registered_secret_is_searched() {
	# A second credential-like value that the agent must never print: the
	# secret search after every test covers it like the API token.
	secret_add "not-the-token-but-also-secret-$RANDOM$RANDOM"
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	[ -s "$T/secrets" ] || fail "secret_add stored nothing"
}

# ---- Microsoft Graph ----
#
# The same faults on a Graph read: six users assigned directly, and two
# assignments per page, so appRoleAssignedTo has three pages.  The cases
# that tests/e2e/test_graph.sh already covers (a decimal Retry-After, a 503
# that clears, a failing page, a throttled $batch step, a next link
# elsewhere or to itself, 401 and 403) are not repeated here.

# shellcheck source=tests/e2e/graph_lib.sh
. "$ROOT/tests/e2e/graph_lib.sh"

GRAPH_ASSIGNED=/v1.0/servicePrincipals/$GRAPH_SP_ID/appRoleAssignedTo
GRAPH_TITLE="Microsoft Entra ID"

# Syncs the six Graph users, remembers the digest in BEFORE and removes the
# assignment of u1.  Extra arguments are config lines.
graph_synced_roster() {
	write_graph "$(jq -n '{
		users: [range(1; 7) | tostring | {id: ("u" + .),
			userPrincipalName: ("u" + . + "@contoso.example"),
			mail: ("u" + . + "@contoso.example"), givenName: "Given", surname: "Family",
			displayName: ("User " + .), accountEnabled: true, userType: "Member"}],
		assignments: [range(1; 7) | {principalId: ("u" + tostring)}],
		page_size_max: 2}')"
	start_graph "$@"
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 6 \
		"active members after the first sync"
	BEFORE=$(roster_digest)
	edit_data '.graph.assignments -= [{principalId: "u1"}]'
	SOURCE_TITLE=$GRAPH_TITLE
	USER_COUNT=6
}

graph_recovered() {
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id='u1'")" unassigned \
		"u1 after the run"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 5 \
		"active members after the run"
}

# Counts the requests for appRoleAssignedTo pages after the first, which
# carry a $skiptoken.
graph_later_page_requests() {
	requests_since "\"path\":\"$GRAPH_ASSIGNED\",\"query\":\"\$select=id,principalId,principalType,principalDisplayName&\$top=999&\$skiptoken="
}

test_graph_429_without_retry_after_backs_off() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":2,\"kind\":\"status\",\"status\":429}]"
	graph_recovered

	assert_log "GET http://127.0.0.1:$PORT$GRAPH_ASSIGNED returned 429 \(request id [0-9a-f-]{36}\); retry 1 of 2 in (0\.[0-9]|1\.0) s"
	assert_log "returned 429 \(request id [0-9a-f-]{36}\); retry 2 of 2 in [0-2]\.[0-9] s"
}

test_graph_429_that_never_clears_exits_75() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"rate_limit\",\"reset_in\":0,\"retry_after\":\"0.2\"}]"
	mark_requests
	expect_failed_read 75 "returned 429 \(request id [0-9a-f-]{36}\): \"\{\"error\":\{\"code\":\"TooManyRequests\".*; giving up after 2 retries \(http.max_retries\)"

	assert_eq "$(graph_later_page_requests)" 3 "requests for page 2"
}

test_graph_429_longer_than_max_wait_exits_75() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"rate_limit\",\"reset_in\":0,\"retry_after\":\"120\"}]"
	mark_requests
	expect_failed_read 75 "giving up after 0 retries: the server requested a wait of 120\.0 s, longer than http.max_wait \(3 s\)"

	assert_eq "$(graph_later_page_requests)" 1 "requests for page 2"
}

test_graph_5xx_storm_that_clears_is_retried() {
	graph_synced_roster
	set_http max_retries 3
	set_http max_wait 1
	inject "[
		{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":500},
		{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":502},
		{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":504}]"
	mark_requests
	graph_recovered

	# Four requests for page 2, then one for page 3.
	assert_eq "$(graph_later_page_requests)" 5 "requests for pages 2 and 3"
	for status in 500 502 504; do
		assert_log "returned $status \(request id [0-9a-f-]{36}\); retry [1-3] of 3 in [01]\.[0-9] s"
	done
}

test_graph_batch_step_failing_exits_69() {
	graph_synced_roster
	set_http max_wait 1
	inject '[{"path":"/v1.0/users/u3","kind":"status","status":503}]'
	expect_failed_read 69 'users \$batch 1: 1 of 5 users were throttled or failed \(first: 503, request id [0-9a-f-]{36}\); giving up after 2 retries \(http.max_retries\)'
}

test_graph_batch_step_throttled_exits_75() {
	graph_synced_roster
	set_http max_wait 1
	inject '[{"path":"/v1.0/users/u3","kind":"rate_limit","retry_after":"0.2"}]'
	expect_failed_read 75 'users \$batch 1: 1 of 5 users were throttled or failed \(first: 429, request id [0-9a-f-]{36}\); giving up after 2 retries \(http.max_retries\)'
}

test_graph_final_statuses_are_not_retried() {
	graph_synced_roster
	for row in "400 76" "302 76" "501 69"; do
		set -- $row
		inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"status\",\"status\":$1,
			\"headers\":{\"Location\":\"http://127.0.0.1:$PORT/elsewhere\"}}]"
		mark_requests
		expect_failed_read "$2" "GET http://127.0.0.1:$PORT$GRAPH_ASSIGNED returned $1 "
		assert_eq "$(graph_later_page_requests)" 1 "requests for page 2 after a $1"
		assert_eq "$(requests_since '/elsewhere')" 0 "requests to the Location after a $1"
	done
}

test_graph_reset_mid_body_is_retried() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":1,\"kind\":\"reset\"}]"
	graph_recovered

	assert_log "GET http://127.0.0.1:$PORT$GRAPH_ASSIGNED failed: transfer closed with [0-9]+ bytes remaining to read; retry 1 of 2"
}

test_graph_slow_body_past_timeout_exits_69() {
	graph_synced_roster
	set_http timeout 1
	set_http max_retries 1
	set_http max_wait 1
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"slow_body\",\"delay_ms\":2500}]"
	expect_failed_read 69 "failed: Operation timed out after [0-9]+ milliseconds with [1-9][0-9]* out of [0-9]+ bytes received; giving up after 1 retry"
}

test_graph_connection_refused_exits_69() {
	graph_synced_roster
	set_http max_wait 1
	stop_fake
	expect_failed_read 69 "failed: Failed to connect to 127.0.0.1 port $PORT.*giving up after 2 retries"
}

test_graph_broken_bodies_exit_76() {
	graph_synced_roster
	local cases=(
		'{"kind":"truncate"}|invalid JSON at byte [0-9]+'
		'{"kind":"malformed"}|invalid JSON at byte [0-9]+'
		'{"kind":"body","body":[]}|the body is an array, expected a JSON object'
		'{"kind":"body","body":{"value":"x"}}|"value" is a string, expected the array of a collection'
		'{"kind":"body","body":{"value":[{"principalId":5,"principalType":"User"}]}}|assignment 0: principalId is a number, expected a string'
	)
	for row in "${cases[@]}"; do
		inject "[$(jq -c --arg path "$GRAPH_ASSIGNED" '. + {path: $path, page: 2}' <<< "${row%%|*}")]"
		expect_failed_read 76 "app role assignments page 2 \(request id [0-9a-f-]{36}\): ${row#*|}"
	done
}

test_graph_oversize_body_exits_76() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"oversize\",\"chunked\":true}]"
	expect_failed_read 76 "GET http://127.0.0.1:$PORT$GRAPH_ASSIGNED failed: response body larger than 67108864 bytes"
}

test_graph_looping_cursor_exits_76() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"kind\":\"loop\"}]"
	mark_requests
	expect_failed_read 76 "app role assignments page 2: repeated @odata.nextLink http://127.0.0.1:$PORT$GRAPH_ASSIGNED\?"

	assert_eq "$(graph_later_page_requests)" 1 "requests for page 2"
}

# Page 2's @odata.nextLink has a new value each time but serves page 2 again.
test_graph_looping_new_cursor_exits_76() {
	graph_synced_roster
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":50,\"kind\":\"loop_new_cursor\"}]"
	expect_failed_read 76 "app role assignments page 3 \(request id [-a-f0-9]+\): lists the same 2 items as page 2"
}

test_graph_token_expiring_mid_run_is_renewed() {
	graph_synced_roster
	: > "$T/token.log"
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":1,\"kind\":\"status\",\"status\":401}]"
	graph_recovered

	assert_eq "$(wc -l < "$T/token.log")" 2 "token requests of the run"
}

test_graph_403_after_permission_removed_exits_77() {
	graph_synced_roster
	edit_data '.graph.forbidden_permissions = ["Application.Read.All"]'
	expect_failed_read 77 "returned 403 Authorization_RequestDenied"
}

# A $batch step follows the retry policy of a plain request: a Retry-After
# longer than http.max_wait (3 s) fails at once, without an early retry.
test_graph_batch_step_wait_too_long_exits_75() {
	graph_synced_roster
	inject '[{"path":"/v1.0/users/u3","kind":"rate_limit","retry_after":"10"}]'
	mark_requests
	start=$(date +%s.%N)
	expect_failed_read 75 'users \$batch 1: 1 of 5 users were throttled or failed \(first: 429, request id [0-9a-f-]{36}\); giving up after 0 retries: the server requested a wait of 10\.0 s, longer than http.max_wait \(3 s\)'

	assert_eq "$(requests_since '"path":"/v1.0/$batch"')" 1 "batch requests"
	awk -v s="$(elapsed_since "$start")" 'BEGIN { exit !(s < 3) }' ||
		fail "the failed run took $(elapsed_since "$start") s, expected no wait"
}

# The waits of $batch step retries count against the same http.retry_budget
# as those of plain requests.  Page 2 of the assignments waits 2 s and a
# throttled step 1 s, so the budget of 3 s leaves no time for a second
# retry of the step.
test_graph_batch_retries_share_retry_budget() {
	graph_synced_roster
	set_http max_retries 5
	set_http retry_budget 3
	inject "[{\"path\":\"$GRAPH_ASSIGNED\",\"page\":2,\"count\":2,\"kind\":\"rate_limit\",\"reset_in\":0,\"retry_after\":\"1\"},
		{\"path\":\"/v1.0/users/u3\",\"count\":2,\"kind\":\"rate_limit\",\"retry_after\":\"1\"}]"
	expect_failed_read 75 'users \$batch 1: 1 of 5 users were throttled or failed \(first: 429, request id [0-9a-f-]{36}\); giving up after 1 retry: waiting 1\.0 s more would exceed the retry budget of 3 s \(http.retry_budget\)'

	assert_log "users \\\$batch 1: 1 of 5 users were throttled or failed \(first: 429, request id [0-9a-f-]{36}\); retry 1 of 5 in 1\.0 s"
}
