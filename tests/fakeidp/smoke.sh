#!/usr/bin/env bash
# Smoke test of fakeidp.  It starts the server on a free port with a small
# dataset in a temporary directory.  Then it checks paging, token errors,
# faults, reload after the file changes, the request log, and replay of a
# recorded exchange and of body-only files, with curl and jq.  Exits 1 at
# the first failed check.
#
#   tests/fakeidp/smoke.sh
#   FAKEIDP=build-san/fakeidp tests/fakeidp/smoke.sh
#   FAKEIDP_WRAPPER="valgrind --leak-check=full --error-exitcode=99" tests/fakeidp/smoke.sh
#
# KEEP=1 keeps the temporary directory (datasets, logs, stderr) for a look.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
fakeidp=${FAKEIDP:-$repo/build/fakeidp}
wrapper=${FAKEIDP_WRAPPER:-}
# Recorded Okta responses live outside the repository (third-party data).
fixtures=${OKTA_FIXTURES:-$repo/../shared/fixtures/okta}
token=test-token
app=0oaapp1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fakeidp-smoke.XXXXXX")
pids=()
checks=0

cleanup() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "smoke: files kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

fail() {
	echo "smoke: FAIL: $*" >&2
	for err in "$tmp"/*.err; do
		[ -e "$err" ] && { echo "--- $err" >&2; tail -n 20 "$err" >&2; }
	done
	exit 1
}

pass() {
	checks=$((checks + 1))
	echo "smoke: ok - $*"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
	pass "$3"
}

# start_server NAME ARGS...: starts fakeidp, waits for its port file and
# sets $port and $pid.
start_server() {
	local name=$1
	shift
	rm -f "$tmp/$name.port"
	$wrapper "$fakeidp" --port 0 --port-file "$tmp/$name.port" "$@" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 600); do
		[ -s "$tmp/$name.port" ] && break
		kill -0 "$pid" 2>/dev/null || fail "$name: fakeidp exited before listening"
		sleep 0.1
	done
	[ -s "$tmp/$name.port" ] || fail "$name: no port file after 60 s"
	port=$(cat "$tmp/$name.port")
}

# stop_server NAME PID: sends SIGTERM and expects exit status 0.
stop_server() {
	local status=0
	kill -TERM "$2"
	wait "$2" || status=$?
	expect_eq "$status" 0 "$1: exit status after SIGTERM"
	grep -q "stopped after [0-9]* requests; cpu" "$tmp/$1.err" ||
		fail "$1: no CPU and request count line on stderr"
	pass "$1: CPU and request count reported"
}

# fetch URL [AUTHORIZATION]: body to $tmp/body, headers to $tmp/headers;
# prints the status code.
fetch() {
	local auth=${2-SSWS $token}
	curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' \
		${auth:+-H "Authorization: $auth"} "$1" || true
}

header_values() {
	tr -d '\r' <"$tmp/headers" | awk -v name="$1" \
		'tolower(substr($0, 1, length(name) + 1)) == tolower(name) ":" { sub(/^[^:]*: */, ""); print }'
}

next_link() {
	header_values link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p'
}

write_dataset() {
	jq . >"$tmp/data.json.tmp"
	mv "$tmp/data.json.tmp" "$tmp/data.json"
}

# ---- dataset ---------------------------------------------------------------

write_dataset <<EOF
{
  "app_id": "$app",
  "token": "$token",
  "users": [
    {"id": "00u001", "login": "ada@example.com", "email": "ada@example.com",
     "firstName": "Ada", "lastName": "Lovelace", "displayName": "Ada Lovelace",
     "status": "ACTIVE", "profile": {"department": "R&D"}},
    {"id": "00u002", "login": "grace@example.com", "email": "grace@example.com",
     "firstName": "Grace", "lastName": "Hopper", "status": "SUSPENDED"},
    {"id": "00u003", "login": "alan@example.com", "email": 42, "firstName": null},
    {"id": "00u004", "login": "edsger@example.com", "email": "edsger@example.com"},
    {"id": "00u005", "login": "barbara@example.com", "email": "barbara@example.com"}
  ],
  "groups": [ {"id": "00g001", "name": "Engineering", "members": ["00u001", "00u004", "00u005"]} ],
  "assignments": { "users": ["00u001", "00u002", "00u003"], "groups": ["00g001"] },
  "faults": [
    {"path": "/api/v1/apps/$app/users", "page": 2, "count": 1, "kind": "status", "status": 500}
  ]
}
EOF

start_server main --data "$tmp/data.json" --log "$tmp/requests.jsonl"
main_pid=$pid
base="http://127.0.0.1:$port"
first_page="$base/api/v1/apps/$app/users?limit=2&expand=user"

# ---- a fault fires once ----------------------------------------------------

expect_eq "$(fetch "$first_page")" 200 "page 1 status"
page2=$(next_link)
expect_eq "$(fetch "$page2")" 500 "page 2 returns the injected 500"
expect_eq "$(jq -r .errorCode "$tmp/body")" E0000009 "injected 500 has an Okta error body"
expect_eq "$(fetch "$page2")" 200 "page 2 returns 200 after the fault"

# ---- paging ----------------------------------------------------------------

url=$first_page
ids=""
pages=0
while [ -n "$url" ]; do
	pages=$((pages + 1))
	[ "$pages" -le 10 ] || fail "paging does not end"
	expect_eq "$(fetch "$url")" 200 "page $pages status"
	links=$(header_values link | wc -l)
	url=$(next_link)
	if [ -n "$url" ]; then
		expect_eq "$links" 2 "page $pages has two Link headers"
		case $url in
		"$base/api/v1/apps/$app/users?after="*"&expand=user&limit=2") pass "page $pages next link is absolute and keeps limit and expand" ;;
		*) fail "page $pages next link: $url" ;;
		esac
	else
		expect_eq "$links" 1 "last page has only the self link"
		header_values link | grep -q 'rel="self"$' || fail "last page lacks rel=\"self\""
	fi
	ids="$ids $(jq -r '[.[] | .id + ":" + .scope] | join(" ")' "$tmp/body")"
	expect_eq "$(jq '(map(select(._embedded.user.id == .id)) | length) == length' "$tmp/body")" true \
		"page $pages embeds each user"
done
expect_eq "$pages" 3 "five app users with limit=2 take three pages"
expect_eq "$(echo $ids)" "00u001:USER 00u002:USER 00u003:USER 00u004:GROUP 00u005:GROUP" \
	"app users by id with their scope"

expect_eq "$(fetch "$first_page")" 200 "page 1 again"
expect_eq "$(jq -c '.[1]._embedded.user.status' "$tmp/body")" '"SUSPENDED"' "user status is rendered"
expect_eq "$(header_values x-rate-limit-limit)" 100 "X-Rate-Limit-Limit default"
remaining=$(header_values x-rate-limit-remaining)
fetch "$first_page" >/dev/null
expect_eq "$(header_values x-rate-limit-remaining)" $((remaining - 1)) "X-Rate-Limit-Remaining decrements"
[ -n "$(header_values x-okta-request-id)" ] || fail "no X-Okta-Request-Id"
pass "X-Okta-Request-Id is set"

expect_eq "$(fetch "$base/api/v1/users/00u003")" 200 "single user status"
expect_eq "$(jq -c '[.profile.email, .profile.firstName]' "$tmp/body")" '[42,null]' \
	"bad field values are rendered as given"

# ---- token and path errors -------------------------------------------------

expect_eq "$(fetch "$first_page" "SSWS wrong")" 401 "wrong token gets 401"
expect_eq "$(jq -c '[.errorCode, .errorSummary, .errorLink, .errorCauses]' "$tmp/body")" \
	'["E0000011","Invalid token provided","E0000011",[]]' "401 body"
expect_eq "$(fetch "$first_page" "")" 401 "missing Authorization gets 401"
expect_eq "$(fetch "$base/api/v1/apps/0oaother/users")" 404 "unknown app gets 404"
expect_eq "$(jq -r .errorSummary "$tmp/body")" \
	"Not found: Resource not found: 0oaother (AppInstance)" "unknown app summary"
expect_eq "$(fetch "$base/api/v1/apps/$app/users?after=bogus")" 400 "invalid cursor gets 400"
expect_eq "$(jq -c '[.errorCode, .errorCauses[0].errorSummary]' "$tmp/body")" \
	'["E0000029","Invalid cursor."]' "invalid cursor body"

# ---- reload after the file changes -----------------------------------------

jq --arg app "$app" '
	.users[0].lastName = "King"
	| .assignments.users = ["00u001"]
	| .forbidden = false
	| .faults = [
		{"path": "/api/v1/users/00u001", "count": 1, "kind": "reset"},
		{"path": "/api/v1/users/00u001", "count": 1, "kind": "rate_limit", "retry_after": "3"}
	]' "$tmp/data.json" | write_dataset
expect_eq "$(fetch "$base/api/v1/apps/$app/users?expand=user")" 200 "listing after reload"
expect_eq "$(jq -c '[.[] | .id]' "$tmp/body")" '["00u001","00u004","00u005"]' "unassigned users are gone"
expect_eq "$(jq -r '.[0]._embedded.user.profile.lastName' "$tmp/body")" King "renamed user"

status=0
curl -sS -o /dev/null -H "Authorization: SSWS $token" "$base/api/v1/users/00u001" 2>/dev/null || status=$?
expect_eq "$status" 18 "reset fault breaks the transfer (curl: partial file)"
expect_eq "$(fetch "$base/api/v1/users/00u001")" 429 "rate_limit fault"
expect_eq "$(header_values retry-after)/$(header_values x-rate-limit-remaining)" 3/0 "429 headers"
expect_eq "$(jq -r .errorCode "$tmp/body")" E0000047 "429 body"

echo '{"users": [' >"$tmp/data.json"
expect_eq "$(fetch "$first_page")" 500 "malformed dataset gets 500"
grep -q "^fakeidp: invalid JSON at line" "$tmp/body" || fail "500 body does not give the reason"
pass "malformed dataset reason in the body"
jq -n --arg app "$app" --arg token "$token" '{app_id: $app, token: $token}' | write_dataset
expect_eq "$(fetch "$first_page")" 200 "fixed dataset is served again"
expect_eq "$(jq length "$tmp/body")" 0 "empty dataset has no app users"

# ---- request log -----------------------------------------------------------

log=$tmp/requests.jsonl
jq -e . "$log" >/dev/null || fail "request log is not JSON lines"
first=$(head -n 1 "$log")
expect_eq "$(jq -c '[.method, .path, .query, .status]' <<<"$first")" \
	"[\"GET\",\"/api/v1/apps/$app/users\",\"limit=2&expand=user\",200]" "first log line"
expect_eq "$(jq -r '.headers.authorization' <<<"$first")" "SSWS $token" "log keeps the Authorization header"
jq -e '.headers["user-agent"] | startswith("curl/")' <<<"$first" >/dev/null || fail "log lacks user-agent"
pass "log keeps lower-cased header names"
expect_eq "$(jq -c 'select(.status == 500 and .fault == "status") | .path' "$log" | head -n 1)" \
	"\"/api/v1/apps/$app/users\"" "log marks the fault"
expect_eq "$(jq -s '[.[] | select(.status == 401)] | length' "$log")" 2 "log has both 401 requests"
stop_server main "$main_pid"

# ---- replay of a recorded exchange -----------------------------------------

recording=$fixtures/app_users_list.exchange.json
if [ ! -r "$recording" ]; then
	echo "smoke: skip - replay: $recording is not readable (set OKTA_FIXTURES)"
else
	start_server replay --replay "$recording"
	replay_pid=$pid
	path=$(jq -r '.interactions[0].request.uri' "$recording" | sed 's|^[a-z]*://[^/]*||')
	for round in first repeated; do
		expect_eq "$(fetch "http://127.0.0.1:$port$path")" 200 "replay: $round status"
		expect_eq "$(jq -c . "$tmp/body")" "$(jq -c '.interactions[0].response.body' "$recording")" \
			"replay: $round body is the recorded one"
	done
	expect_eq "$(header_values link)" "<http://127.0.0.1:$port$path?limit=50>; rel=\"self\"" \
		"replay: Link points back to the fake"
	[ -z "$(header_values transfer-encoding)$(header_values content-encoding)" ] ||
		fail "replay: recorded transfer or content encoding was sent"
	pass "replay: recorded encodings dropped"
	expect_eq "$(fetch "http://127.0.0.1:$port/api/v1/unknown")" 404 "replay: unknown path"
	expect_eq "$(jq -r .errorCode "$tmp/body")" E0000007 "replay: unknown path body"
	stop_server replay "$replay_pid"
fi

# ---- replay of body-only files at two paths --------------------------------

denied=$fixtures/error_403_E0000006_access_denied.body.json
if [ ! -r "$denied" ]; then
	echo "smoke: skip - body replay: $denied is not readable (set OKTA_FIXTURES)"
else
	echo '[]' >"$tmp/empty-list.json"
	start_server bodies --replay "$tmp/empty-list.json" --replay-path "/api/v1/apps/$app/groups" \
		--replay "$denied" --replay-status 403 --replay-path "/api/v1/apps/$app/users"
	bodies_pid=$pid
	expect_eq "$(fetch "http://127.0.0.1:$port/api/v1/apps/$app/groups?limit=20")" 200 \
		"body replay: first path status"
	expect_eq "$(jq -c . "$tmp/body")" "[]" "body replay: first path body"
	expect_eq "$(fetch "http://127.0.0.1:$port/api/v1/apps/$app/users")" 403 \
		"body replay: second path status"
	expect_eq "$(jq -c . "$tmp/body")" "$(jq -c . "$denied")" "body replay: second path body"
	expect_eq "$(header_values content-type)" application/json "body replay: Okta headers added"
	stop_server bodies "$bodies_pid"
fi

echo "smoke: all $checks checks passed"
