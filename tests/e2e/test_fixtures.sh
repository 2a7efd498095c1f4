# test_fixtures.sh - recorded Okta responses served by the fake IdP.
#
# The recordings live outside the repository (ROSTERSYNC_FIXTURES, default
# ../shared/fixtures); these tests skip when they are absent.

# Writes the fake's settings for replay mode: the token only.
replay_settings() {
	jq -n --arg token "$TOKEN" '{token: $token}' > "$T/data.json"
}

# Serves a recorded app-user list for the app id it was recorded with.
replay_app_users() {
	local file=$1
	APP=$(jq -r '.interactions[0].request.uri' "$file" | sed -n 's|.*/apps/\([^/?]*\)/users.*|\1|p')
	[ -n "$APP" ] || fail "no app id in $file"
	replay_settings
	start_fake --data "$T/data.json" --replay "$file"
	write_config
	sed -i "s/app_id: 0oaapp1/app_id: $APP/" "$T/config.yaml"
}

test_recorded_list_without_expand_is_rejected() {
	need_fixtures
	for f in app_users_list app_users_list_oidc_app; do
		replay_app_users "$FIXTURES/okta/$f.exchange.json"
		rs sync -c "$T/config.yaml"
		assert_rc 76
		assert_contains "$T/err" "expand=user"
		stop_fake
	done
}

test_recorded_expanded_user_is_synced() {
	need_fixtures
	local body="$FIXTURES/okta/app_users_list_expand_user.body.json"
	replay_settings
	echo '[]' > "$T/no-groups.json"
	start_fake --data "$T/data.json" --replay "$body" --replay-status 200 \
		--replay-path /api/v1/apps/0oaapp1/users \
		--replay "$T/no-groups.json" --replay-path /api/v1/apps/0oaapp1/groups
	write_config
	sync_ok

	assert_eq "$(sql "SELECT external_id, email, given_name, family_name, state FROM members")" \
		"$(jq -r '.[0] | "\(.id)|\(._embedded.user.profile.email)|\(._embedded.user.profile.firstName)|\(._embedded.user.profile.lastName)|active"' "$body")" \
		"member from the recorded app user"
}

test_recorded_error_bodies_are_reported() {
	need_fixtures
	for case in "error_401_E0000011_invalid_token 401 77" "error_403_E0000006_access_denied 403 77"; do
		set -- $case
		local body="$FIXTURES/okta/$1.body.json"
		replay_settings
		start_fake --data "$T/data.json" --replay "$body" --replay-status "$2" \
			--replay-path /api/v1/apps/0oaapp1/users
		write_config
		rs sync -c "$T/config.yaml"
		assert_rc "$3"
		assert_contains "$T/err" "$(jq -r .errorCode "$body")"
		assert_contains "$T/err" "$(jq -r .errorSummary "$body")"
		stop_fake
	done
}

# Syncs the recorded expanded app user into a new roster, then stops the
# fake so that the caller can serve another recording on the same port.
sync_recorded_member() {
	echo '[]' > "$T/no-groups.json"
	replay_settings
	start_fake --data "$T/data.json" \
		--replay "$FIXTURES/okta/app_users_list_expand_user.body.json" \
		--replay-path /api/v1/apps/0oaapp1/users \
		--replay "$T/no-groups.json" --replay-path /api/v1/apps/0oaapp1/groups
	write_config
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state = 'active'")" 1 "member"
	stop_fake
}

# Writes each recorded response of the Okta recordings as one line of JSON:
# {file, status, body}.  Body-only files take their status from a name
# such as error_401_..., and 200 otherwise.
okta_recorded_responses() {
	local f status
	for f in "$FIXTURES"/okta/*.exchange.json; do
		jq -c --arg file "${f##*/}" \
			'.interactions[].response | {file: $file, status, body}' "$f"
	done
	for f in "$FIXTURES"/okta/*.body.json; do
		status=$(printf '%s\n' "${f##*/}" | sed -n 's/^error_\([0-9][0-9][0-9]\)_.*/\1/p')
		jq -c --arg file "${f##*/}" --argjson status "${status:-200}" \
			'{file: $file, status: $status, body: .}' "$f"
	done
}

# Serves one recorded response as the app-user list on the port of the
# first sync, and runs a sync that must fail and leave the roster as it was.
sync_against_recording() {
	local line=$1 digest=$2 file status
	file=$(jq -r .file <<< "$line")
	status=$(jq -r .status <<< "$line")
	jq .body <<< "$line" > "$T/recorded.json"
	FAKE_PORT=$PORT start_fake --data "$T/data.json" --replay "$T/recorded.json" \
		--replay-status "$status" --replay-path /api/v1/apps/0oaapp1/users \
		--replay "$T/no-groups.json" --replay-path /api/v1/apps/0oaapp1/groups
	rs sync -c "$T/config.yaml"
	stop_fake

	assert_rejected_unchanged "$file ($status) served as app users" "$digest"
}

# Every recorded Okta error names its errorCode and changes nothing, and
# every recorded list that is not an expanded app-user list is rejected
# instead of being read as "nobody is assigned".
test_every_okta_recording_is_handled() {
	need_fixtures
	local digest line code tried=0
	sync_recorded_member
	digest=$(roster_digest)

	while IFS= read -r line; do
		jq -e '(.status >= 400 and (.body | type == "object" and has("errorCode")))
		       or (.status == 200 and (.body | type == "array" and length > 0)
			   and (.body[0]._embedded.user | not))' <<< "$line" > /dev/null || continue
		sync_against_recording "$line" "$digest"
		code=$(jq -r '.body | objects | .errorCode' <<< "$line")
		[ -z "$code" ] || assert_contains "$T/err" "$code"
		tried=$((tried + 1))
	done < <(okta_recorded_responses)
	[ "$tried" -gt 0 ] || fail "no recorded Okta error or list was found in $FIXTURES/okta"
	echo "REPORT: $tried recorded responses served as the app-user list, each refused"
}
