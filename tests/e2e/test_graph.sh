# test_graph.sh - reading Microsoft Entra ID through the fake Microsoft
# Graph and making the roster match.

# shellcheck source=tests/e2e/graph_lib.sh
. "$ROOT/tests/e2e/graph_lib.sh"

# Three users assigned directly, two through the group Sales (one of them
# also directly), a nested group and a device in Sales.
write_basic_graph() {
	write_graph "$(jq -n \
		--argjson u1 "$(graph_user u1 ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		--argjson u3 "$(graph_user u3 cy@contoso.example)" \
		--argjson u4 "$(graph_user u4 dee@contoso.example)" \
		--argjson u5 "$(graph_user u5 eve@contoso.example)" \
		'{users: [$u1, $u2, $u3, $u4, $u5],
		  groups: [{id: "g-sales", displayName: "Sales", members: ["u2", "u4", "g-inner", "d1"]},
			   {id: "g-inner", displayName: "Inner", members: ["u5"]}],
		  others: [{id: "d1", "@odata.type": "#microsoft.graph.device", displayName: "Laptop"}],
		  assignments: [{principalId: "u1"}, {principalId: "u2"}, {principalId: "u3"},
				{principalId: "g-sales"}]}')"
}

test_graph_first_sync() {
	write_basic_graph
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT external_id || ' ' || email || ' ' || state || ' ' || provenance
		FROM members ORDER BY external_id")" \
		"$(printf '%s\n' 'u1 ada@contoso.example active direct' \
			'u2 bob@contoso.example active direct,group:Sales' \
			'u3 cy@contoso.example active direct' \
			'u4 dee@contoso.example active group:Sales')" "members"
	assert_eq "$(sql "SELECT user_name, given_name, family_name, display_name, source FROM members
		WHERE external_id='u1'")" \
		"u1@contoso.example|Given u1|Family u1|User u1|graph" "attributes of u1"
	assert_contains "$T/err" "ignored 1 nested group"
	assert_contains "$T/err" "skipped group members that are not users (devices, contacts, service principals): 1"

	# The token came from the tenant's v2.0 endpoint for the Graph scope.
	assert_eq "$(jq -r '.path + " " + .scope' "$T/token.log")" \
		"/contoso.example/oauth2/v2.0/token http://127.0.0.1:$PORT/.default" "token request"
	# Every Graph request carried the token and a client-request-id.
	assert_eq "$(jq -r "select(.headers.authorization != \"Bearer $GRAPH_ACCESS_TOKEN\") | .path" \
		"$T/requests.log")" "" "requests without the access token"
	assert_eq "$(jq -r 'select(.headers["client-request-id"] == null) | .path' \
		"$T/requests.log")" "" "requests without a client-request-id"
	grep '/appRoleAssignedTo' "$T/requests.log" > "$T/first"
	assert_contains "$T/first" '$top=999'
	assert_contains "$T/first" 'principalType'
	grep '/groups/g-sales/members' "$T/requests.log" > "$T/members"
	assert_contains "$T/members" 'accountEnabled'
	# u1 and u3 were read in one $batch; u2 came with the group's members.
	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 1 "batch requests"
	assert_eq "$(jq -r 'select(.path == "/v1.0/$batch") | .body | fromjson | .requests | length' \
		"$T/requests.log")" 2 "users in the batch"
	assert_eq "$(graph_requests /v1.0/groups/g-inner)" 0 "requests for the nested group"
}

test_graph_second_run_writes_nothing() {
	write_basic_graph
	start_graph
	sync_ok
	before=$(roster_digest)
	sync_ok

	assert_eq "$(roster_digest)" "$before" "members, events and team after a second run"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "second run outcome"
}

test_graph_group_member_removed_unassigns() {
	write_basic_graph
	start_graph
	sync_ok
	edit_data '(.graph.groups[] | select(.id == "g-sales")).members -= ["u4"]'
	sync_ok

	assert_eq "$(sql "SELECT state FROM members WHERE external_id='u4'")" unassigned "u4"
	assert_eq "$(sql "SELECT state, provenance FROM members WHERE external_id='u2'")" \
		"active|direct,group:Sales" "u2, still in Sales"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='unassign'")" \
		"no longer assigned to the app in Microsoft Entra ID through group Sales" \
		"unassign reason"
}

test_graph_nested_groups_with_cycle() {
	write_basic_graph
	# Inner also contains Sales: a cycle.
	edit_data '(.graph.groups[] | select(.id == "g-inner")).members += ["g-sales"]'
	start_fake --data "$T/data.json"
	start_token_server
	NESTED=true write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT state, provenance FROM members WHERE external_id='u5'")" \
		"active|group:Sales" "member of the nested group"
	assert_eq "$(graph_requests /v1.0/groups/g-inner/members)" 1 "listings of the nested group"
	assert_eq "$(graph_requests /v1.0/groups/g-sales/members)" 1 "listings of Sales"
	assert_contains "$T/err" "expanded 2 groups, nested ones included"
}

test_graph_other_app_principal_rejected() {
	write_basic_graph
	edit_data '.faults = [{"path":"/v1.0/servicePrincipals","kind":"body","body":{"value":[
		{"id":"30000000-0000-4000-8000-000000000009","appId":"22222222-2222-2222-2222-222222222222",
		 "displayName":"Other App","appRoleAssignmentRequired":true}]}}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/err" "has appId 22222222-2222-2222-2222-222222222222: the \$filter was not applied"
	assert_eq "$(graph_requests /v1.0/servicePrincipals/30000000-0000-4000-8000-000000000009)" 0 \
		"requests for the other app"
}

test_graph_missing_nested_group_names_holder() {
	write_basic_graph
	edit_data '.faults = [{"path":"/v1.0/groups/g-inner/members","kind":"status","status":404}]'
	start_fake --data "$T/data.json"
	start_token_server
	NESTED=true write_graph_config
	rs sync -c "$T/config.yaml"

	assert_rc 69
	assert_contains "$T/err" "(g-inner) nested in an assigned group was not found"
	assert_contains "$T/err" "remove it from the group that holds it"
}

# A group deleted while its member pages are read returns 404 on a later
# page: the run fails as unavailable (69), as for a 404 on its first page.
test_graph_group_gone_on_page_two() {
	write_basic_graph
	edit_data '.graph.page_size_max = 2 |
		.faults = [{"path":"/v1.0/groups/g-sales/members","page":2,"kind":"status","status":404}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 69
	assert_contains "$T/err" "group Sales (g-sales)"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

# A 404 on a later page of the app's assignments, after page 1 was read, is
# temporary (75), not a wrong app id (78).
test_graph_assignments_gone_on_page_two() {
	write_basic_graph
	edit_data '.graph.page_size_max = 2 |
		.faults = [{path: "/v1.0/servicePrincipals/'"$GRAPH_SP_ID"'/appRoleAssignedTo",
			page: 2, kind: "status", status: 404}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 75
	assert_contains "$T/err" "page 2 returned 404 after page 1 was read"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

# An @odata.nextLink on the Graph host but with another path than the
# listing's is rejected, so objects of another listing never count as
# members of a group.
test_graph_next_link_to_other_path_rejected() {
	write_basic_graph
	start_graph
	edit_data --arg next "http://127.0.0.1:$PORT/v1.0/users?\$top=999" \
		'.faults = [{path: "/v1.0/groups/g-sales/members", kind: "body",
			body: {value: [], "@odata.nextLink": $next}}]'
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/err" "because its path differs from the listing's"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

# A 403 on the members of one group, after other groups were read, points at
# hidden membership rather than at a permission the app evidently has.
test_graph_hidden_group_membership_named() {
	write_graph "$(jq -n \
		--argjson u1 "$(graph_user u1 ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		'{users: [$u1, $u2],
		  groups: [{id: "g-open", displayName: "Open", members: ["u1"]},
			   {id: "g-hidden", displayName: "Hidden", members: ["u2"]}],
		  assignments: [{principalId: "g-open"}, {principalId: "g-hidden"}]}')"
	edit_data '.faults = [{path: "/v1.0/groups/g-hidden/members", kind: "status", status: 403}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "members of group Hidden (g-hidden) returned 403 while the members of other groups were read"
	assert_contains "$T/err" "Member.Read.Hidden"
}

test_graph_disabled_account_unassigned() {
	write_basic_graph
	start_graph
	sync_ok
	edit_data '(.graph.users[] | select(.id == "u3")).accountEnabled = false'
	sync_ok

	assert_eq "$(sql "SELECT state FROM members WHERE external_id='u3'")" unassigned "u3"
	assert_eq "$(sql "SELECT reason FROM events WHERE op='unassign'")" \
		"account disabled in Microsoft Entra ID (disabled)" "unassign reason"
}

test_graph_guest_email_rules() {
	write_graph "$(jq -n '{
		users: [
		  {id: "gst1", userPrincipalName: "ann_fabrikam.example#EXT#@contoso.onmicrosoft.com",
		   mail: "ann@fabrikam.example", otherMails: [], accountEnabled: true, userType: "Guest"},
		  {id: "gst2", userPrincipalName: "ben_fabrikam.example#EXT#@contoso.onmicrosoft.com",
		   mail: null, otherMails: ["ben@fabrikam.example"], accountEnabled: true, userType: "Guest"},
		  {id: "gst3", userPrincipalName: "cid_fabrikam.example#EXT#@contoso.onmicrosoft.com",
		   mail: null, otherMails: [], accountEnabled: true, userType: "Guest"}],
		assignments: [{principalId: "gst1"}, {principalId: "gst2"}, {principalId: "gst3"}]}')"
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT external_id || ' ' || email FROM members ORDER BY external_id")" \
		"$(printf 'gst1 ann@fabrikam.example\ngst2 ben@fabrikam.example')" "guest members"
	assert_not_contains "$T/all-output" "#EXT#@contoso.onmicrosoft.com|"
	assert_contains "$T/err" "user gst3 (cid_fabrikam.example#EXT#@contoso.onmicrosoft.com) has no mail"
	assert_contains "$T/err" "user gst3 skipped: user has no email address in Microsoft Entra ID"
}

test_graph_user_without_mail_skipped() {
	write_basic_graph
	edit_data '(.graph.users[] | select(.id == "u3")) |= (.mail = null | del(.otherMails))'
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE external_id='u3'")" 0 "rows of u3"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
	assert_contains "$T/err" "user u3 skipped"
}

test_graph_service_principal_skipped() {
	write_basic_graph
	edit_data '.graph.service_principals = [{id: "sp-other", appId: "x", displayName: "Robot"}]
		| .graph.assignments += [{principalId: "sp-other"}]'
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 4 "member rows"
	assert_contains "$T/err" "skipped 1 service principal assigned to the app, because only users hold seats"
	assert_not_contains "$T/err" "whose principalType is not User"

	# A principalType that Graph does not document is warned about.
	edit_data '(.graph.assignments[] | select(.principalId == "u3")) += {principalType: "Robot"}'
	sync_ok
	assert_contains "$T/err" "warn"
	assert_contains "$T/err" "skipped 1 assignment whose principalType is not User, Group or ServicePrincipal"
}

test_graph_deleted_principals_handled() {
	write_basic_graph
	edit_data '.graph.assignments += [{principalId: "u-gone", principalType: "User"}]'
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members")" 4 "member rows"
	assert_contains "$T/err" "user u-gone is assigned to the app but was not found"
}

# A user deleted while its assignment is still listed: $batch returns 404.
test_graph_deleted_member_unassigned_with_reason() {
	write_basic_graph
	start_graph
	sync_ok
	edit_data 'del(.graph.users[] | select(.id == "u3"))
		| (.graph.assignments[] | select(.principalId == "u3")) += {principalType: "User"}'
	sync_ok

	assert_contains "$T/err" "user u3 is assigned to the app but was not found in the directory, perhaps deleted"
	assert_contains "$T/err" "user u3 skipped: assigned to the app, but not found in Microsoft Entra ID: member kept as it is, and unassigned if the next run does not find the user either"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u3'")" active \
		"u3 after the first run that missed it"

	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u3'")" unassigned \
		"u3 after the second run"
	assert_eq "$(sql "SELECT reason FROM events WHERE external_id = 'u3' AND op = 'unassign'")" \
		"still assigned to the app, but the user no longer exists in Microsoft Entra ID (deleted)" \
		"reason"
}

# One read that misses an assigned user (a replica behind) costs no seat,
# and the seat does not go to a waiting member meanwhile.
test_graph_user_missing_once_keeps_seat() {
	write_basic_graph
	start_graph
	SEATS=3 write_graph_config
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u1'")" active "u1"
	waiting=$(sql "SELECT external_id FROM members WHERE state = 'waiting'")
	[ -n "$waiting" ] || fail "no member waits for a seat"
	events=$(sql "SELECT count(*) FROM events")

	edit_data '(.graph.assignments[] | select(.principalId == "u1")) += {principalType: "User"}
		| .faults = [{"path":"/v1.0/users/u1","kind":"status","status":404,"count":1}]'
	sync_ok
	assert_contains "$T/err" "user u1 skipped: assigned to the app, but not found"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u1'")" active "u1 after the miss"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = '$waiting'")" waiting \
		"the waiting member"
	assert_eq "$(sql "SELECT count(*) FROM events")" "$events" "events"
	assert_eq "$(sql "SELECT value FROM sync_state WHERE key = 'users_missing'")" u1 "missing ids"

	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u1'")" active "u1 found again"
	assert_eq "$(sql "SELECT value FROM sync_state WHERE key = 'users_missing'")" "" "missing ids"
	assert_eq "$(sql "SELECT count(*) FROM events")" "$events" "events"
}

# The list of missing users is stored whole after each applied run: a user
# found again leaves it, so a later single miss of that user costs no seat.
# u1 and u3 are assigned directly, and read by id.
test_graph_user_found_again_leaves_missing_list() {
	write_basic_graph
	start_graph
	SEATS=10 MAX_PERCENT=0 write_graph_config
	sync_ok
	missing_users() {
		edit_data "(.graph.assignments[] | select(.principalId == \"u1\" or .principalId == \"u3\"))
			+= {principalType: \"User\"} | .faults = [$1]"
	}
	gone='{"path":"/v1.0/users/u1","kind":"status","status":404}'
	gone2='{"path":"/v1.0/users/u3","kind":"status","status":404}'

	missing_users "$gone,$gone2"
	sync_ok
	assert_eq "$(sql "SELECT replace(value, char(10), ',') FROM sync_state WHERE key = 'users_missing'")" \
		"u1,u3" "missing after the first miss"
	missing_users "$gone"
	sync_ok
	assert_eq "$(sql "SELECT value FROM sync_state WHERE key = 'users_missing'")" u1 \
		"missing once u3 is back"
	missing_users "$gone,$gone2"
	sync_ok
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u3'")" active \
		"u3 after one more miss"
	assert_eq "$(sql "SELECT state FROM members WHERE external_id = 'u1'")" unassigned \
		"u1 after three misses"
}

test_graph_missing_group_exits_69() {
	write_basic_graph
	start_graph
	sync_ok
	before=$(roster_digest)
	edit_data '.graph.assignments += [{principalId: "g-gone", principalType: "Group",
		principalDisplayName: "Gone"}]'
	rs sync -c "$T/config.yaml"

	assert_rc 69
	assert_eq "$(roster_digest)" "$before" "roster after the failed read"
	assert_contains "$T/err" "group Gone (g-gone) assigned to the app was not found"
	assert_contains "$T/err" "Request_ResourceNotFound"
	assert_contains "$T/err" "group g-gone was not found, perhaps deleted: if an assignment of the enterprise app names it, remove that assignment"
	assert_not_contains "$T/err" "graph.app_id"
}

test_graph_retry_after_decimal() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/servicePrincipals/", count: 1, kind: "rate_limit",
		retry_after: "0.5"}]'
	start_graph
	start=$(date +%s%N)
	sync_ok
	elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 4 "active members"
	assert_contains "$T/err" "returned 429"
	assert_contains "$T/err" "in 0.5 s"
	[ "$elapsed_ms" -ge 500 ] || fail "the run took $elapsed_ms ms, less than the 0.5 s wait"
	assert_eq "$(graph_requests /v1.0/servicePrincipals/$GRAPH_SP_ID/appRoleAssignedTo)" 2 \
		"assignment requests"
}

test_graph_503_then_success() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/groups/g-sales/members", count: 1, kind: "status",
		status: 503}]'
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 4 "active members"
	assert_contains "$T/err" "returned 503"
}

test_graph_batch_step_throttled_then_read() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/users/u3", count: 1, kind: "rate_limit",
		retry_after: "0.2"}]'
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT state FROM members WHERE external_id='u3'")" active "u3"
	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 2 "batch requests"
	assert_contains "$T/err" "users \$batch 1: 1 of 2 users were throttled or failed (first: 429, request id "
	assert_contains "$T/err" "); retry 1 of 2 in 0.2 s"
}

# A $batch step sent again counts as a retry, like a retried request.
test_graph_batch_retries_in_metrics() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/users/u3", count: 2, kind: "rate_limit",
		retry_after: "0.2"}]'
	start_graph "metrics:" "  textfile: $T/metrics.prom"
	sync_ok

	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 3 "batch requests"
	assert_eq "$(grep '^rostersync_last_run_idp_retries{' "$T/metrics.prom" | awk '{print $NF}')" \
		2 "retries in the metrics"
}

# A $batch step that returns 200 with another user than the one it requested
# would leave the requested user unread, and the plan would unassign it.
test_graph_batch_step_other_user_exits_76() {
	write_basic_graph
	start_graph
	sync_ok
	before=$(roster_digest)
	edit_data --argjson u3 "$(graph_user u3 cy@contoso.example)" \
		'.faults = [{path: "/v1.0/users/u1", kind: "body", body: $u3}]'
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_eq "$(roster_digest)" "$before" "roster after the failed read"
	assert_contains "$T/err" "step 1 requested user u1, but its body is the object u3"
	assert_not_contains "$T/err" "not found in the directory"
}

test_graph_batch_step_without_id_exits_76() {
	write_basic_graph
	start_graph
	sync_ok
	before=$(roster_digest)
	edit_data --argjson u1 "$(graph_user u1 ada@contoso.example)" \
		'.faults = [{path: "/v1.0/users/u1", kind: "body", body: ($u1 | del(.id))}]'
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_eq "$(roster_digest)" "$before" "roster after the failed read"
	assert_contains "$T/err" "step 1 requested user u1, but its body has no id"
}

test_graph_failing_page_exits_69() {
	write_basic_graph
	edit_data '.graph.page_size_max = 2'
	start_graph
	sync_ok
	before=$(roster_digest)
	edit_data '.graph.assignments -= [{principalId: "u1"}]
		| .faults = [{path: "/v1.0/servicePrincipals/", page: 2, kind: "status", status: 503}]'
	rs sync -c "$T/config.yaml"

	assert_rc 69
	assert_eq "$(roster_digest)" "$before" "roster after the failed read"
	assert_eq "$(sql "SELECT outcome, exit_status FROM runs ORDER BY started_at DESC, rowid DESC
		LIMIT 1")" "failed|69" "run record"
}

# Graph lists one assignment per app role, so a person with two roles is
# listed twice, and two pages may hold the same people.
test_graph_two_roles_not_a_loop() {
	write_graph "$(jq -n \
		--argjson u1 "$(graph_user u1 ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		'{users: [$u1, $u2], page_size_max: 2,
		  assignments: [{principalId: "u1"}, {principalId: "u2"},
				{principalId: "u1"}, {principalId: "u2"}]}')"
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT group_concat(external_id || ' ' || state, ', ') FROM
		(SELECT * FROM members ORDER BY external_id)")" "u1 active, u2 active" "members"
}

# Object ids are GUIDs: the same user read in upper case keeps its member.
test_graph_object_id_case_ignored() {
	local id=8a7c3e2f-4b1d-4c6e-9f0a-1b2c3d4e5f60 upper=8A7C3E2F-4B1D-4C6E-9F0A-1B2C3D4E5F60
	write_graph "$(jq -n --arg id "$id" \
		--argjson u1 "$(graph_user "$id" ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		'{users: [$u1, $u2], assignments: [{principalId: $id}, {principalId: "u2"}]}')"
	start_graph
	sync_ok
	edit_data --arg id "$id" --arg upper "$upper" '
		(.graph.users[] | select(.id == $id)).id = $upper
		| (.graph.assignments[] | select(.principalId == $id)).principalId = $upper'
	sync_ok

	assert_eq "$(sql "SELECT external_id || ' ' || state FROM members WHERE email='ada@contoso.example'")" \
		"$id active" "member of the upper-case id"
	assert_eq "$(sql "SELECT count(*) FROM members")" 2 "member rows"
	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "outcome"
}

test_graph_tenant_id_case_ignored() {
	write_basic_graph
	start_graph
	sync_ok
	since=$(sql "SELECT managed_since FROM team")
	sed -i "s#tenant_id: contoso.example#tenant_id: Contoso.Example#" "$T/config.yaml"
	sync_ok

	assert_eq "$(sql "SELECT outcome FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")" \
		"no change" "outcome"

	# A run that writes is no take-over either.
	edit_data '.graph.assignments += [{principalId: "u5"}]'
	sleep 1
	sync_ok
	assert_eq "$(sql "SELECT count(*) FROM events WHERE op = 'take_over'")" 1 "take-over events"
	assert_eq "$(sql "SELECT managed_since FROM team")" "$since" "managed since"

	# Another form of the tenant id needs a take-over, which the message explains.
	sed -i "s#tenant_id: Contoso.Example#tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47#" \
		"$T/config.yaml"
	rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/err" "when both name one tenant, by its GUID and by a domain, --take-over keeps every member and its seat"
}

test_graph_forbidden_names_permission() {
	write_basic_graph
	edit_data '.graph.forbidden_permissions = ["GroupMember.Read.All"]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "403 Authorization_RequestDenied"
	assert_contains "$T/err" "the app needs the application permission GroupMember.Read.All with admin consent"
	assert_contains "$T/err" "request id "
	[ ! -s "$T/roster.db" ] || assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

test_graph_limited_information_exits_77() {
	write_basic_graph
	edit_data '.graph.forbidden_permissions = ["User.Read.All"]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "userPrincipalName is missing"
	assert_contains "$T/err" "User.Read.All"
}

test_graph_next_link_elsewhere_rejected() {
	write_basic_graph
	body=$(jq -nc --arg link "http://127.0.0.2:1/v1.0/x?\$skiptoken=AB" \
		'{value: [{principalId: "u1", principalType: "User"}], "@odata.nextLink": $link}')
	edit_data --argjson body "$body" '.faults = [{path: "/v1.0/servicePrincipals/'"$GRAPH_SP_ID"'/appRoleAssignedTo",
		kind: "body", body: $body}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/err" "rejected the @odata.nextLink http://127.0.0.2:1/v1.0/x"
}

test_graph_repeated_next_link_rejected() {
	write_basic_graph
	start_fake --data "$T/data.json"
	body=$(jq -nc --arg link "http://127.0.0.1:$PORT/v1.0/servicePrincipals/$GRAPH_SP_ID/appRoleAssignedTo?\$skiptoken=LOOP" \
		'{value: [], "@odata.nextLink": $link}')
	edit_data --argjson body "$body" '.faults = [{path: "/v1.0/servicePrincipals/'"$GRAPH_SP_ID"'/appRoleAssignedTo",
		kind: "body", body: $body}]'
	start_token_server
	write_graph_config
	rs sync -c "$T/config.yaml"

	assert_rc 76
	assert_contains "$T/err" "repeated @odata.nextLink"
}

test_graph_unknown_app_exits_78() {
	write_basic_graph
	start_fake --data "$T/data.json"
	start_token_server
	GRAPH_CONFIG_APP_ID=22222222-2222-2222-2222-222222222222 write_graph_config
	rs sync -c "$T/config.yaml"

	assert_rc 78
	assert_contains "$T/err" "no enterprise app (service principal) with appId 22222222-2222-2222-2222-222222222222 in tenant contoso.example"
}

test_graph_401_fetches_new_token_once() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/servicePrincipals", count: 1, kind: "status",
		status: 401}]'
	start_graph
	sync_ok

	assert_eq "$(wc -l < "$T/token.log")" 2 "token requests"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 4 "active members"
}

test_graph_401_twice_exits_77() {
	write_basic_graph
	edit_data '.faults = [{path: "/v1.0/servicePrincipals", kind: "status", status: 401}]'
	start_graph
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_eq "$(wc -l < "$T/token.log")" 2 "token requests"
	assert_contains "$T/err" "InvalidAuthenticationToken"
}

test_graph_assignment_not_required_warns() {
	write_basic_graph
	edit_data '.graph.app_role_assignment_required = false'
	start_graph
	sync_ok

	assert_contains "$T/err" "does not require assignment (appRoleAssignmentRequired is false)"
}

test_graph_many_direct_users_list_tenant() {
	write_graph "$(jq -n '{
		users: [range(1; 121) | {id: ("u" + (. | tostring)), userPrincipalName: "x@contoso.example",
			mail: ("user\(.)@contoso.example"), accountEnabled: true}],
		assignments: [range(1; 101) | {principalId: ("u" + (. | tostring))}]}')"
	start_graph
	SEATS=200 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 100 "active members"
	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 0 "batch requests"
	assert_eq "$(jq -r 'select(.path == "/v1.0/users" and (.query | contains("count=true")))
		| .headers.consistencylevel' "$T/requests.log")" eventual "count request header"
	assert_contains "$T/err" "read 100 of 100 directly assigned users by listing the tenant's users"
}

# A listing of the tenant's users that misses assigned users (a replica
# behind, a page lost on the way) is not taken as their deletion: they are
# read by id, and only a 404 would count.
test_graph_users_missing_from_listing_read_by_id() {
	write_graph "$(jq -n '{
		users: [range(1; 61) | {id: ("u" + (. | tostring)), userPrincipalName: "x@contoso.example",
			mail: ("user\(.)@contoso.example"), accountEnabled: true}],
		assignments: [range(1; 46) | {principalId: ("u" + (. | tostring))}]}')"
	edit_data '.faults = [{path: "/v1.0/users", method: "GET", page: 1, skip: 1, count: 1, kind: "body",
		body: {value: [.graph.users[0:40][] | {id, userPrincipalName, mail, accountEnabled}]}}]'
	start_graph
	SEATS=200 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 45 "active members"
	assert_contains "$T/err" "read 40 of 45 directly assigned users by listing the tenant's users"
	assert_contains "$T/err" "the listing of the tenant's users did not return 5 directly assigned users; reading them by id"
	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 1 "batch requests"
}

# A count of the tenant's users that keeps failing only costs the choice of
# the tenant listing: the assigned users are read by id.
test_graph_failed_count_falls_back_to_batch() {
	write_graph "$(jq -n '{
		users: [range(1; 61) | {id: ("u" + (. | tostring)), userPrincipalName: "x@contoso.example",
			mail: ("user\(.)@contoso.example"), accountEnabled: true}],
		assignments: [range(1; 51) | {principalId: ("u" + (. | tostring))}]}')"
	edit_data '.faults = [{path: "/v1.0/users", method: "GET", count: 2, kind: "status",
		status: 503}]'
	start_graph
	SEATS=200 MAX_RETRIES=1 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 50 "active members"
	assert_contains "$T/err" "counting the tenant's users failed (see above), so the assigned users are read by id"
	assert_eq "$(graph_requests '/v1.0/$batch' POST)" 3 "batch requests"
}

# When the tenant's users are listed, a user who is not assigned is not
# read, so a field the agent would reject (a number for givenName) does not
# fail the run.  A tab pasted into an assigned user's name becomes a space.
test_graph_tenant_listing_skips_unassigned_users() {
	write_graph "$(jq -n '{
		users: ([range(1; 61) | {id: ("u" + (. | tostring)), userPrincipalName: "x@contoso.example",
			mail: ("user\(.)@contoso.example"), accountEnabled: true}]
			| .[0].displayName = "Ada\tLovelace\n" | .[59].givenName = 42),
		assignments: [range(1; 51) | {principalId: ("u" + (. | tostring))}]}')"
	start_graph
	SEATS=200 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 50 "active members"
	assert_contains "$T/err" "read 50 of 50 directly assigned users by listing the tenant's users"
	assert_eq "$(sql "SELECT display_name FROM members WHERE external_id = 'u1'")" \
		"Ada Lovelace" "display name with a tab"
}

test_graph_replayed_error_body() {
	[ -f "$FIXTURES/graph/error-authorization-requestdenied.json" ] ||
		skip "recorded Graph responses not found at $FIXTURES (set ROSTERSYNC_FIXTURES)"
	start_fake --replay "$FIXTURES/graph/error-authorization-requestdenied.json" \
		--replay-status 403 --replay-path /v1.0/
	start_token_server
	write_graph_config
	rs sync -c "$T/config.yaml"

	assert_rc 77
	assert_contains "$T/err" "returned 403 Authorization_RequestDenied: Insufficient privileges"
	assert_contains "$T/err" "request id 096361b2-75be-479b-b421-078610030949"
	assert_contains "$T/err" "Application.Read.All"
}

# Prints the HTTP status that Graph sends with an error code, or 400 for an
# unknown code.
graph_error_status() {
	case $1 in
	Authorization_RequestDenied) echo 403 ;;
	Request_ResourceNotFound) echo 404 ;;
	syncStateNotFound) echo 410 ;;
	TooManyRequests) echo 429 ;;
	*) echo 400 ;;
	esac
}

# Restarts the fake on the port of the first sync, serving $1 with status
# $2 to GETs of paths starting with $3 (or with an exchange file, to the
# requests it records), runs a sync that must fail, and checks that the
# roster is still $4 and that the error names $5.  $6 names the recording.
sync_against_graph_recording() {
	local body=$1 status=$2 path=$3 digest=$4 code=$5 name=$6
	if [ -n "$path" ]; then
		FAKE_PORT=$PORT start_fake --replay "$body" --replay-status "$status" \
			--replay-path "$path"
	else
		FAKE_PORT=$PORT start_fake --replay "$body"
	fi
	rs sync -c "$T/config.yaml"
	stop_fake

	assert_rejected_unchanged "$name" "$digest"
	assert_contains "$T/err" "$code"
}

# Every recorded Graph error and token error, served in place of the
# responses of a tenant synced before, fails the run with its code named and
# leaves the roster as it was.
test_graph_every_recorded_error_is_handled() {
	[ -d "$FIXTURES/graph" ] ||
		skip "recorded Graph responses not found at $FIXTURES (set ROSTERSYNC_FIXTURES)"
	local f code digest tried=0
	write_graph "$(jq -n --argjson u1 "$(graph_user u1 ada@contoso.example)" \
		'{users: [$u1], assignments: [{principalId: "u1"}]}')"
	start_graph
	sync_ok
	stop_fake
	digest=$(roster_digest)

	for f in "$FIXTURES"/graph/*.json; do
		code=$(jq -r '.error | objects | .code // empty' "$f")
		[ -n "$code" ] || continue
		sync_against_graph_recording "$f" "$(graph_error_status "$code")" /v1.0/ \
			"$digest" "$code" "${f##*/}"
		tried=$((tried + 1))
	done

	TOKEN_PORT=$PORT write_graph_config
	for f in "$FIXTURES"/graph/*.json; do
		code=$(jq -r '.error | strings' "$f")
		[ -n "$code" ] || continue
		jq --argjson status "$([ "$code" = invalid_client ] && echo 401 || echo 400)" \
			'{interactions: [{request: {method: "POST",
					  uri: "/contoso.example/oauth2/v2.0/token"},
				response: {status: $status,
					   headers: {"Content-Type": ["application/json"]},
					   body: .}}]}' "$f" > "$T/token-error.exchange.json"
		sync_against_graph_recording "$T/token-error.exchange.json" "" "" "$digest" \
			"$(jq -r '.error_codes[0] // empty | "AADSTS\(.)"' "$f")" "${f##*/}"
		tried=$((tried + 1))
	done
	[ "$tried" -gt 0 ] || fail "no recorded Graph error was found in $FIXTURES/graph"
	echo "REPORT: $tried recorded errors served in place of Graph's responses, each refused"
}

test_graph_synthetic_users() {
	start_fake --synthetic 2500 --groups 5
	start_token_server
	SEATS=5000 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 2500 "active members"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 250 \
		"members through a group"
	assert_eq "$(graph_requests /v1.0/users)" 4 "count and tenant user pages"
}

# --churn 3 changes 3% of the 2700 direct assignments of 3000 generated
# users: 27 unassigned, the 27 after them renamed, 27 new ones assigned.
test_graph_synthetic_churn() {
	start_fake --synthetic 3000 --groups 5
	start_token_server
	SEATS=5000 write_graph_config
	sync_ok

	assert_churn_applied 3000 5 3 27
	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 300 \
		"members through a group"
}

# Up to four group member listings are under way at once, each on its own
# connection: the main one and three more, beside the token's.
test_graph_group_listings_overlap() {
	start_fake --synthetic 600 --groups 6
	start_token_server
	SEATS=1000 write_graph_config
	sync_ok

	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 60 \
		"members through a group"
	assert_eq "$(graph_requests /v1.0/groups/)" 6 "member listings"
	assert_contains "$T/err" "over 5 connections"
}

# While the first group's page is rate-limited twice for 3 s, 6 s in all
# and longer than http.timeout (5 s), the first pages of the next three
# groups are under way on their own connections.  They are still read
# without a timeout or a retry.
test_graph_group_wait_keeps_other_lanes() {
	jq -n --arg token "$GRAPH_ACCESS_TOKEN" '{graph: {token: $token},
		faults: [{path: "/v1.0/groups/20000000-0000-4000-8000-000000000001/members",
			  kind: "rate_limit", retry_after: "3", count: 2}]}' > "$T/data.json"
	start_fake --synthetic 600 --groups 6 --data "$T/data.json"
	start_token_server
	SEATS=1000 write_graph_config
	sync_ok

	assert_not_contains "$T/err" "timed out"
	assert_eq "$(graph_requests /v1.0/groups/)" 8 "member listing requests"
	assert_eq "$(sql "SELECT count(*) FROM members WHERE provenance LIKE 'group:%'")" 60 \
		"members through a group"
	assert_contains "$T/err" "over 5 connections"
}

# Groups B and C are nested in the assigned group A, and B is assigned
# too.  B's members hold seats through its own assignment, so only C is
# logged as an ignored nested group.
test_graph_nested_assigned_group_not_ignored() {
	write_graph "$(jq -n \
		--argjson u1 "$(graph_user u1 ada@contoso.example)" \
		--argjson u2 "$(graph_user u2 bob@contoso.example)" \
		--argjson u3 "$(graph_user u3 cy@contoso.example)" \
		'{users: [$u1, $u2, $u3],
		  groups: [{id: "g-a", displayName: "A", members: ["g-b", "g-c", "u1"]},
			   {id: "g-b", displayName: "B", members: ["u2"]},
			   {id: "g-c", displayName: "C", members: ["u3"]}],
		  assignments: [{principalId: "g-a"}, {principalId: "g-b"}]}')"
	start_graph
	sync_ok

	assert_eq "$(sql "SELECT external_id || ' ' || provenance FROM members ORDER BY external_id")" \
		"$(printf '%s\n' 'u1 group:A' 'u2 group:B')" "members"
	assert_contains "$T/err" "ignored 1 nested group in assigned groups"
}
