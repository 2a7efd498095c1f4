# graph_lib.sh - helpers for the end-to-end tests of the Microsoft Graph
# source: a Graph dataset for the fake IdP, a config for it, and a loopback
# token endpoint for the client-credentials grant.
#
# The fake IdP has an Entra token endpoint of its own, which test_oauth.sh
# tests (TOKEN_PORT=$PORT points the config at it).  start_graph uses a
# separate one, so that faults without a path and the fake's request log
# concern Graph requests only, and $T/token.log counts the token requests.
#
# Sourced by test_graph.sh, test_check.sh and test_faults.sh after lib.sh.

GRAPH_APP_ID=11111111-1111-1111-1111-111111111111
GRAPH_SP_ID=30000000-0000-4000-8000-000000000001
GRAPH_CLIENT_ID=00000000-0000-0000-0000-0000000000c1
GRAPH_ACCESS_TOKEN="e2e-access-$RANDOM$RANDOM-token"

# Starts a loopback token endpoint: POST /{tenant}/oauth2/v2.0/token issues
# GRAPH_ACCESS_TOKEN for the client secret $TOKEN (which write_graph_config
# stores in $T/secret), and returns Entra's AADSTS7000215 error for any
# other secret.  Each request is appended
# to $T/token.log.  Sets TOKEN_PORT.
start_token_server() {
	rm -f "$T/token.port"
	python3 - "$T/token.port" "$T/token.log" "$TOKEN" "$GRAPH_ACCESS_TOKEN" \
		2> "$T/token.err" <<'EOF' &
import http.server, json, sys, urllib.parse

port_file, log_file, secret, access_token = sys.argv[1:5]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        ok = (self.path.endswith("/oauth2/v2.0/token")
              and form.get("grant_type") == ["client_credentials"]
              and form.get("client_secret") == [secret])
        with open(log_file, "a") as log:
            log.write(json.dumps({"path": self.path,
                                  "scope": form.get("scope", [""])[0],
                                  "client_id": form.get("client_id", [""])[0],
                                  "ok": ok}) + "\n")
        if ok:
            status, body = 200, {"token_type": "Bearer", "expires_in": 3599,
                                 "ext_expires_in": 3599, "access_token": access_token}
        else:
            status, body = 401, {"error": "invalid_client",
                                 "error_description": "AADSTS7000215: Invalid client secret provided.",
                                 "error_codes": [7000215],
                                 "trace_id": "00000000-0000-0000-0000-0000000000a1",
                                 "correlation_id": "00000000-0000-0000-0000-0000000000b1"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
EOF
	TOKEN_PID=$!
	trap 'stop_token_server; stop_fake' EXIT
	for _ in $(seq 1 100); do
		[ -s "$T/token.port" ] && break
		sleep 0.05
	done
	[ -s "$T/token.port" ] || fail "token endpoint did not start: $(cat "$T/token.err")"
	TOKEN_PORT=$(cat "$T/token.port")
}

stop_token_server() {
	if [ -n "${TOKEN_PID:-}" ]; then
		kill "$TOKEN_PID" 2>/dev/null
		wait "$TOKEN_PID" 2>/dev/null
		TOKEN_PID=
	fi
}

# Writes $T/data.json with a "graph" object: the JSON given as $1 is merged
# into the defaults (the access token the fake accepts, the app).
write_graph() {
	jq -n --arg token "$GRAPH_ACCESS_TOKEN" --argjson extra "$1" \
		'{graph: ({token: $token, users: [], groups: [], assignments: []} + $extra)}' \
		> "$T/data.json.tmp" || fail "cannot write the Graph dataset"
	mv "$T/data.json.tmp" "$T/data.json"
}

# Prints a Graph user object: id, mail, and optional accountEnabled.
graph_user() {
	jq -n --arg id "$1" --arg mail "$2" --argjson enabled "${3:-true}" \
		'{id: $id, userPrincipalName: ($id + "@contoso.example"), mail: $mail,
		  givenName: ("Given " + $id), surname: ("Family " + $id),
		  displayName: ("User " + $id), accountEnabled: $enabled, userType: "Member"}'
}

# Starts the fake IdP on the Graph dataset and the token endpoint, and
# writes $T/config.yaml for source graph; extra YAML lines may follow.
start_graph() {
	start_fake --data "$T/data.json"
	start_token_server
	write_graph_config "$@"
}

write_graph_config() {
	printf '%s\n' "$TOKEN" > "$T/secret"
	chmod 600 "$T/secret"
	secret_add "$GRAPH_ACCESS_TOKEN"
	cat > "$T/config.yaml" <<EOF
tenant: e2e
source: graph
graph:
  tenant_id: contoso.example
  client_id: $GRAPH_CLIENT_ID
  client_secret_file: $T/secret
  app_id: ${GRAPH_CONFIG_APP_ID:-$GRAPH_APP_ID}
  login_url: http://127.0.0.1:${TOKEN_PORT:-9}
  graph_url: http://127.0.0.1:$PORT
  nested_groups: ${NESTED:-false}
team:
  name: E2E Team
  seats: ${SEATS:-100}
roster:
  path: $T/roster.db
sync:
  max_unassign: ${MAX_UNASSIGN:-50}
  max_unassign_percent: ${MAX_PERCENT:-0}
http:
  timeout: 5
  max_retries: ${MAX_RETRIES:-2}
  max_wait: 3
  retry_budget: 10
log:
  level: debug
EOF
	for line in "$@"; do
		printf '%s\n' "$line" >> "$T/config.yaml"
	done
	chmod 600 "$T/config.yaml"
}

# Counts the requests to the fake whose path starts with $1 and whose
# method is $2 (GET by default).
graph_requests() {
	jq -r --arg path "$1" --arg method "${2:-GET}" \
		'select(.method == $method and (.path | startswith($path))) | .path' \
		"$T/requests.log" | wc -l
}
