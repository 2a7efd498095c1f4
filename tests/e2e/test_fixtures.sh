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
