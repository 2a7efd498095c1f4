# test_check.sh - rostersync test: the connection and permission check.

# shellcheck source=tests/e2e/graph_lib.sh
. "$ROOT/tests/e2e/graph_lib.sh"

write_check_graph() {
	write_graph "$(jq -n \
		--argjson u1 "$(graph_user u1 ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		'{users: [$u1, $u2],
		  groups: [{id: "g-sales", displayName: "Sales", members: ["u2"]}],
		  assignments: [{principalId: "u1"}, {principalId: "g-sales"}]}')"
}

test_check_okta_healthy() {
	write_users '.groups=[{"id":"00g1","name":"Engineering","members":["00u1"]}]
		| .assignments.groups=["00g1"]' <<EOF
00u1 ada@example.com ACTIVE
00u2 bob@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	rs test -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "ok   credentials: read from okta.api_token_file ($T/token)"
	assert_contains "$T/out" "ok   app: "
	assert_contains "$T/out" "(0oaapp1), status ACTIVE"
	assert_contains "$T/out" "ok   assignments: app users readable"
	assert_contains "$T/out" "ok   group members: readable (the first assigned group, Engineering; a sync reads the members of every assigned group)"
	assert_contains "$T/out" "result: a sync can run"
	assert_not_contains "$T/out" "FAIL"
	[ ! -e "$T/roster.db" ] || fail "test created the roster file"
}

# The test also checks the roster: it fails like sync on a released
# roster, and passes before the first sync without creating the file.
test_check_okta_names_released_roster() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	rs test -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "ok   roster: $T/roster.db does not exist yet; the first sync creates it"
	[ ! -e "$T/roster.db" ] || fail "the test created the roster"

	sync_ok
	rs test -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "ok   roster: $T/roster.db can be synced from Okta"
	rs release -c "$T/config.yaml"
	rs test -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/out" "FAIL roster: the roster was released to manual management; run \"rostersync sync -c $T/config.yaml --take-over\""
	assert_contains "$T/out" "result: 1 check failed"

	sed -i "s#path: .*roster.db#path: $T/missing/roster.db#" "$T/config.yaml"
	rs test -c "$T/config.yaml"
	assert_rc 74
	assert_contains "$T/out" "FAIL roster: the directory $T/missing of roster.path does not exist"
}

test_check_okta_html_app_page_fails() {
	users 2 | write_users '.faults = [{"path":"/api/v1/apps/0oaapp1","kind":"body",
		"body":"<html>Sign in</html>","headers":{"Content-Type":"text/html"}}]'
	start_fake --data "$T/data.json"
	write_config
	rs test -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/out" "FAIL app: http://127.0.0.1:$PORT/api/v1/apps/0oaapp1 returned 200 with a body that is not an Okta app (Content-Type text/html): check that okta.org_url is the Okta org itself"
	assert_not_contains "$T/out" "ok   assignments"
}

test_check_okta_bad_token_exits_77() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	printf 'not-the-token\n' > "$T/token"
	rs test -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/out" "FAIL token: Okta rejected the credential: check okta.api_token_file ($T/token)"
	assert_contains "$T/err" "E0000011"
}

test_check_okta_unknown_app_exits_78() {
	users 2 | write_users '.app_id = "0oaother"'
	start_fake --data "$T/data.json"
	write_config
	rs test -c "$T/config.yaml"

	assert_rc 78
	assert_contains "$T/out" "FAIL app: not found: check okta.app_id and okta.org_url"
}

test_check_graph_healthy() {
	write_check_graph
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 0
	assert_eq "$(grep -c '^ok   ' "$T/out")" 7 "ok lines"
	assert_contains "$T/out" "ok   token: access token fetched"
	assert_contains "$T/out" "ok   app: enterprise app Roster App (appId $GRAPH_APP_ID, service principal $GRAPH_SP_ID)"
	assert_contains "$T/out" "ok   assignments: 2 on the first page: 1 user, 1 group"
	assert_contains "$T/out" "ok   group members: readable (group Sales)"
	assert_contains "$T/out" "ok   users: readable (u1@contoso.example)"
	assert_contains "$T/out" "result: a sync can run"
	[ ! -e "$T/roster.db" ] || fail "test created the roster file"
}

test_check_graph_names_missing_permission() {
	write_check_graph
	edit_data '.graph.forbidden_permissions = ["GroupMember.Read.All"]'
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/out" "FAIL permission: the app needs GroupMember.Read.All (application permission) with admin consent"
	assert_contains "$T/out" "ok   users: readable"
	assert_contains "$T/out" "result: 1 check failed"
	assert_contains "$T/err" "Authorization_RequestDenied"
}

test_check_graph_names_every_missing_permission() {
	write_check_graph
	edit_data '.graph.forbidden_permissions = ["Application.Read.All", "User.Read.All"]'
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/out" "FAIL permission: the app needs Application.Read.All (application permission) with admin consent"
	assert_contains "$T/out" "FAIL permission: group members come back with limited information: the app needs User.Read.All"
	assert_contains "$T/out" "result: 2 checks failed"
}

test_check_graph_bad_secret_exits_77() {
	write_check_graph
	start_graph
	printf 'wrong-secret-value\n' > "$T/secret"
	rs test -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/out" "FAIL token: no access token from http://127.0.0.1:$TOKEN_PORT"
	assert_contains "$T/err" "AADSTS7000215"
	assert_not_contains "$T/out" "ok   app"
}

test_check_graph_bad_token_exits_77() {
	write_check_graph
	edit_data '.graph.token = "another-token"'
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/out" "FAIL token: Microsoft Graph rejected the access token"
}

test_check_graph_unknown_app_exits_78() {
	write_check_graph
	start_fake --data "$T/data.json"
	start_token_server
	GRAPH_CONFIG_APP_ID=22222222-2222-2222-2222-222222222222 write_graph_config
	rs test -c "$T/config.yaml"

	assert_rc 78
	assert_contains "$T/out" "FAIL app: no enterprise app with appId 22222222-2222-2222-2222-222222222222"
}

test_check_graph_assignment_not_required_warns() {
	write_check_graph
	edit_data '.graph.app_role_assignment_required = false'
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "warn app: assignment is not required"
}

test_check_graph_unreachable_exits_69() {
	write_check_graph
	start_graph
	stop_fake
	MAX_RETRIES=0 write_graph_config
	rs test -c "$T/config.yaml"

	assert_rc 69
	assert_contains "$T/out" "FAIL app: Microsoft Graph could not be reached"
}

# An assigned group that was deleted fails the check with the exit status
# of a sync (69), and the message names the group and the fix.
test_check_graph_deleted_group_exits_69() {
	write_graph "$(jq -n --argjson u1 "$(graph_user u1 ada@contoso.example)" \
		'{users: [$u1],
		  assignments: [{principalId: "g-gone", principalType: "Group",
				 principalDisplayName: "Old Sales"}, {principalId: "u1"}]}')"
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 69
	assert_contains "$T/out" "FAIL group members: group Old Sales (g-gone) is assigned to the app but was not found: if it was deleted, remove its assignment from the enterprise app"
	assert_contains "$T/err" "GET http://127.0.0.1:$PORT/v1.0/groups/g-gone/members returned 404 Request_ResourceNotFound"
	assert_contains "$T/err" "group g-gone was not found"
	assert_not_contains "$T/err" "graph.app_id"

	rs sync -c "$T/config.yaml"
	assert_rc 69
	assert_not_contains "$T/err" "graph.app_id"
}

# When the assigned user that the check reads was deleted, the check lists
# the tenant's users instead and names the user it read there.
test_check_graph_deleted_user_reads_another() {
	write_graph "$(jq -n --argjson u2 "$(graph_user u2 bob@contoso.example)" \
		'{users: [$u2], assignments: [{principalId: "u-gone", principalType: "User"}]}')"
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "warn users: assigned user u-gone was not found, perhaps deleted"
	assert_contains "$T/out" "ok   users: readable (u2@contoso.example, the first user of the tenant)"
	assert_contains "$T/err" "user u-gone was not found"
	assert_not_contains "$T/err" "graph.app_id"
}

test_check_graph_no_user_to_read() {
	write_graph '{"assignments": [{"principalId": "u-gone", "principalType": "User"}]}'
	start_graph
	rs test -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "ok   users: readable, but the tenant's user list is empty"
}
