# test_oauth.sh - OAuth 2.0 credentials against the fake IdP's token
# endpoints: an Okta service app with a private_key_jwt client assertion,
# with and without DPoP, and Microsoft Entra ID with a client secret or a
# certificate.  Keys and certificates are made with the openssl command.
#
# Every private key, client secret, issued access token, client assertion
# and DPoP proof is registered with secret_add, so run.sh fails the test
# when any of them shows up in rostersync's output or roster.

# shellcheck source=tests/e2e/graph_lib.sh
. "$ROOT/tests/e2e/graph_lib.sh"

OKTA_CLIENT_ID=0oaclient1

# Creates an RSA key $T/$1.pem (mode 0600) and its public key $T/$1.pub.
make_rsa_key() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$1.pem" 2>/dev/null ||
		fail "openssl genpkey failed"
	chmod 600 "$T/$1.pem"
	openssl pkey -in "$T/$1.pem" -pubout -out "$T/$1.pub" 2>/dev/null || fail "openssl pkey failed"
	secret_add "$(cat "$T/$1.pem")"
}

# Creates an EC P-256 key $T/$1.pem and its public key $T/$1.pub.
make_ec_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.pem" 2>/dev/null ||
		fail "openssl genpkey failed"
	chmod 600 "$T/$1.pem"
	openssl pkey -in "$T/$1.pem" -pubout -out "$T/$1.pub" 2>/dev/null || fail "openssl pkey failed"
	secret_add "$(cat "$T/$1.pem")"
}

# Writes an Okta dataset of $1 users whose "oauth" object is the jq
# expression $2, in which $pub is the public key $T/okta.pub.  An optional
# jq filter $3 changes the dataset further.
write_okta_oauth_data() {
	users "$1" | write_users --rawfile pub "$T/okta.pub" \
		--arg client "$OKTA_CLIENT_ID" ".oauth = ($2) | ${3:-.}"
}

# Writes the Okta config with okta.oauth instead of the API token; each
# argument is one more line of the oauth mapping, such as "dpop: false".
write_okta_oauth_config() {
	local extra=""
	write_config
	for line in "$@"; do
		extra="$extra    $line"$'\n'
	done
	awk -v key="$T/okta.pem" -v client="$OKTA_CLIENT_ID" -v extra="$extra" '
		/^  api_token_file:/ { next }
		{ print }
		/^  app_id:/ {
			print "  oauth:"
			print "    client_id: " client
			print "    private_key_file: " key
			printf "%s", extra
		}' "$T/config.yaml" > "$T/config.yaml.tmp" || fail "cannot write the config"
	mv "$T/config.yaml.tmp" "$T/config.yaml"
	chmod 600 "$T/config.yaml"
}

# Registers what the agent sent the fake as secrets: access tokens, client
# assertions, client secrets and DPoP proofs, from the request log.
register_sent_secrets() {
	local value
	while IFS= read -r value; do
		secret_add "$value"
	done < <(jq -r '
		(.headers.authorization // empty | sub("^(DPoP|Bearer) "; "")),
		(.headers.dpop // empty),
		(.body // empty | split("&")[] | select(test("^(client_assertion|client_secret)="))
		 | sub("^[^=]*="; ""))' "$T/requests.log")
	while IFS= read -r value; do
		secret_add "$value"
	done < <(grep -o '"access_token":"[^"]*"' "$T/requests.log" | cut -d'"' -f4)
}

token_requests() {
	jq -r --arg path "$1" 'select(.path == $path) | .status' "$T/requests.log"
}

test_okta_oauth_dpop_with_nonce() {
	make_rsa_key okta
	write_okta_oauth_data 5 '{client_id: $client, public_key_pem: $pub, require_dpop: true,
		nonce: "n-1"}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 5 "active members"
	# The first token request has no nonce and gets use_dpop_nonce; the second succeeds.
	assert_eq "$(token_requests /oauth2/v1/token | tr '\n' ' ')" "400 200 " "token responses"
	assert_contains "$T/err" "returned use_dpop_nonce; sending it once more with the nonce"
	assert_contains "$T/err" "(DPoP, valid for 3600 s)"
	# Every API request carried the DPoP-bound token and a proof, never SSWS.
	assert_eq "$(jq -r 'select(.path | startswith("/api/v1/")) |
		select((.headers.authorization | startswith("DPoP ")) and .headers.dpop != null | not)
		| .path' "$T/requests.log")" "" "API requests without DPoP"
	assert_eq "$(jq -r 'select(.path | startswith("/api/v1/")) | .status' "$T/requests.log" |
		sort -u)" 200 "API statuses"
	assert_not_contains "$T/requests.log" "SSWS"
}

test_okta_oauth_api_asks_nonce() {
	make_ec_key okta
	write_okta_oauth_data 3 '{client_id: $client, public_key_pem: $pub, require_dpop: true,
		api_nonce: "api-n-7"}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "key_id: kid-ignored"
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
	assert_eq "$(token_requests /oauth2/v1/token)" 200 "one token request"
	# The first API call is challenged for a nonce once, then sent again with it.
	assert_eq "$(jq -r 'select(.path | startswith("/api/v1/apps/0oaapp1/users")) | .status' \
		"$T/requests.log" | tr '\n' ' ')" "401 200 " "app-user responses"
	assert_contains "$T/err" "the API asked for a DPoP nonce"
}

# An API request that Okta challenges for a nonce again after it was sent
# once more with one ends the run with 75 and "run again later", not with
# advice about the service app's key.
test_okta_oauth_api_nonce_requested_again() {
	make_rsa_key okta
	write_okta_oauth_data 3 '{client_id: $client, public_key_pem: $pub, require_dpop: true}' \
		'.faults = [{path: "/api/v1/apps/0oaapp1/users", count: 2, kind: "status", status: 401,
			errorCode: "E0000011", errorSummary: "Invalid token provided",
			headers: {"WWW-Authenticate": "DPoP error=\"use_dpop_nonce\"",
				  "DPoP-Nonce": "nonce-xyz"}}]'
	start_fake --data "$T/data.json"
	write_okta_oauth_config
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 75
	assert_contains "$T/err" "Okta asked for a new DPoP nonce again after the request was sent once more with one: run again later"
	assert_not_contains "$T/err" "public key is registered"
}

# The values of one credential the agent sent, one per line: the DPoP
# header ($1 = dpop) or the client assertion of the token form ($1 = assertion).
sent_values() {
	if [ "$1" = dpop ]; then
		jq -r '.headers.dpop // empty' "$T/requests.log"
	else
		jq -r '.body // empty | split("&")[] | select(startswith("client_assertion="))' \
			"$T/requests.log"
	fi
}

# A connection reset after the fake processed the request (it keeps every
# jti it saw) is retried with a new client assertion and new DPoP proofs:
# the token request with the nonce, and the first app-user page.
test_okta_oauth_retry_sends_new_assertion_and_proof() {
	make_rsa_key okta
	write_okta_oauth_data 3 '{client_id: $client, public_key_pem: $pub, require_dpop: true,
		nonce: "n-2"}' '.faults = [
		{path: "/oauth2/v1/token", skip: 1, count: 1, kind: "reset"},
		{path: "/api/v1/apps/0oaapp1/users", count: 1, kind: "reset"}]'
	start_fake --data "$T/data.json"
	write_okta_oauth_config
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 3 "active members"
	assert_eq "$(token_requests /oauth2/v1/token | wc -l)" 3 "token requests"
	assert_eq "$(jq -r 'select(.path == "/api/v1/apps/0oaapp1/users") | .path' \
		"$T/requests.log" | wc -l)" 2 "app-user page 1 requests"
	assert_eq "$(sent_values dpop | sort | uniq -d)" "" "DPoP proofs sent twice"
	assert_eq "$(sent_values assertion | sort | uniq -d)" "" "client assertions sent twice"
	assert_not_contains "$T/err" "already been used"
}

test_okta_oauth_without_dpop() {
	make_rsa_key okta
	write_okta_oauth_data 4 '{client_id: $client, public_key_pem: $pub, key_id: "kid-1"}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "key_id: kid-1" "dpop: false"
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 4 "active members"
	assert_contains "$T/err" "(Bearer, valid for 3600 s)"
	assert_eq "$(jq -r 'select(.headers.dpop != null) | .path' "$T/requests.log")" "" \
		"requests with a DPoP proof"
	assert_eq "$(jq -r 'select(.path | startswith("/api/v1/")) | .headers.authorization' \
		"$T/requests.log" | cut -c1-7 | sort -u)" "Bearer " "API authorization scheme"
}

test_okta_oauth_dpop_required_but_off() {
	make_rsa_key okta
	write_okta_oauth_data 2 '{client_id: $client, public_key_pem: $pub, require_dpop: true}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "dpop: false"
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "invalid_dpop_proof: The DPoP proof JWT header is missing."
	assert_contains "$T/err" "set okta.oauth.dpop: true"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members after a rejected run"
}

test_okta_oauth_token_expires_mid_run() {
	make_rsa_key okta
	# The fake accepts each token for 2 s but reports 3600 s, and delays the
	# first page by 2.5 s, so the second page is requested with an expired token.
	write_okta_oauth_data 501 '{client_id: $client, public_key_pem: $pub, require_dpop: true,
		token_lifetime: 2, expires_in: 3600}' \
		'.faults = [{path: "/api/v1/apps/0oaapp1/users", page: 1, kind: "slow", delay_ms: 2500}]'
	start_fake --data "$T/data.json"
	SEATS=600 write_okta_oauth_config
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 501 "active members"
	assert_eq "$(token_requests /oauth2/v1/token | tr '\n' ' ')" "200 200 " "token requests"
	assert_eq "$(jq -r 'select(.path | startswith("/api/v1/apps/0oaapp1/users")) | .status' \
		"$T/requests.log" | tr '\n' ' ')" "200 401 200 " "app-user responses"
	assert_contains "$T/err" "returned 401; sending it once more with new credentials"
}

# A run renews its token once: a second 401 fails the run with a message
# that fits a token lifetime shorter than expires_in, as well as a wrong key.
test_okta_oauth_second_expiry_explained() {
	make_rsa_key okta
	write_okta_oauth_data 1001 '{client_id: $client, public_key_pem: $pub, require_dpop: true,
		token_lifetime: 2, expires_in: 3600}' \
		'.faults = [{path: "/api/v1/apps/0oaapp1/users", page: 1, kind: "slow", delay_ms: 2500},
			    {path: "/api/v1/apps/0oaapp1/users", page: 2, kind: "slow", delay_ms: 2500}]'
	start_fake --data "$T/data.json"
	SEATS=2000 write_okta_oauth_config
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "if earlier requests of this run succeeded, Okta stopped accepting its tokens before their expires_in ran out"
	assert_eq "$(sql "SELECT count(*) FROM members")" 0 "members"
}

test_okta_oauth_wrong_key() {
	make_rsa_key okta
	make_rsa_key other
	users 2 | write_users --rawfile pub "$T/other.pub" --arg client "$OKTA_CLIENT_ID" \
		'.oauth = {client_id: $client, public_key_pem: $pub}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "dpop: false"
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "returned 401 invalid_client: The client_assertion signature is invalid."
	assert_contains "$T/err" "that the public key of okta.oauth.private_key_file is registered"
	assert_eq "$(requests_to /api/v1/)" 0 "API requests"
}

# A token endpoint that echoes a JWT in its error (a client assertion or a
# DPoP proof) does not get it into the log or the run record.
test_okta_oauth_echoed_jwt_redacted() {
	local jwt=eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiIwb2FjbGllbnQifQ.c2lnbmF0dXJlYnl0ZXM
	make_rsa_key okta
	users 2 | write_users --rawfile pub "$T/okta.pub" --arg client "$OKTA_CLIENT_ID" \
		--arg jwt "$jwt" '.oauth = {client_id: $client, public_key_pem: $pub}
		| .faults = [{path: "/oauth2/v1/token", kind: "body", status: 400,
			body: {error: "invalid_client",
			       error_description: ("rejected client_assertion " + $jwt)}}]'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "dpop: false"
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "rejected client_assertion [redacted]"
	assert_not_contains "$T/err" "c2lnbmF0dXJlYnl0ZXM"
	assert_eq "$(sql "SELECT instr(error, 'c2lnbmF0dXJl') FROM runs")" 0 "run error"
}

# An assertion that Okta finds outside its valid time range points at the
# clock of this machine.
test_okta_oauth_clock_skew_named() {
	make_rsa_key okta
	users 2 | write_users --rawfile pub "$T/okta.pub" --arg client "$OKTA_CLIENT_ID" \
		'.oauth = {client_id: $client, public_key_pem: $pub}
		| .faults = [{path: "/oauth2/v1/token", kind: "body", status: 401,
			body: {error: "invalid_client",
			       error_description: "Client assertion is not within its valid time range."}}]'
	start_fake --data "$T/data.json"
	write_okta_oauth_config "dpop: false"
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "check that this machine's clock is correct (timedatectl, NTP)"
	assert_not_contains "$T/err" "that the public key of okta.oauth.private_key_file is registered"
}

test_okta_oauth_missing_scope() {
	make_rsa_key okta
	write_okta_oauth_data 2 '{client_id: $client, public_key_pem: $pub,
		scopes: ["okta.apps.read", "okta.users.read"]}'
	start_fake --data "$T/data.json"
	write_okta_oauth_config
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "not allowed: [okta.groups.read]"
	assert_contains "$T/err" "in its Okta API Scopes tab"
}

test_okta_oauth_403_names_admin_role() {
	make_rsa_key okta
	write_okta_oauth_data 2 '{client_id: $client, public_key_pem: $pub}' '.forbidden = true'
	start_fake --data "$T/data.json"
	write_okta_oauth_config
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "returned 403 E0000006"
	assert_contains "$T/err" "an admin role such as Read-only Administrator"
}

# ---- Microsoft Entra ID ----

# Writes a Graph dataset with one assigned user and the "oauth" JSON in $1
# (jq, with $origin set to the fake's origin and $pub to $T/graph.pub when
# it exists).
write_graph_oauth_data() {
	write_graph "$(jq -n --argjson u1 "$(graph_user u1 ada@contoso.example)" \
		'{users: [$u1], assignments: [{principalId: "u1"}]}')"
	jq --rawfile pub "${GRAPH_PUB:-/dev/null}" --arg client "$GRAPH_CLIENT_ID" \
		--arg s256 "${S256:-}" --arg sha1 "${SHA1:-}" --arg secret "$TOKEN" \
		".oauth = ($1)" "$T/data.json" > "$T/data.json.tmp" || fail "jq failed"
	mv "$T/data.json.tmp" "$T/data.json"
}

# Starts the fake and points graph.login_url at its Entra token endpoint.
start_graph_oauth() {
	start_fake --data "$T/data.json"
	TOKEN_PORT=$PORT write_graph_config "$@"
}

# Replaces the client secret of the config with the certificate.
use_certificate() {
	sed -i '/^  client_secret_file:/d' "$T/config.yaml"
	sed -i "/^  client_id:/a\\
  certificate_file: $T/graph.crt\\
  private_key_file: $T/graph.pem\\
  assertion_algorithm: $1" "$T/config.yaml"
}

# Creates $T/graph.pem, its certificate $T/graph.crt and the thumbprints.
make_graph_certificate() {
	make_rsa_key graph
	openssl req -new -x509 -key "$T/graph.pem" -subj /CN=rostersync-e2e -days 30 \
		-out "$T/graph.crt" 2>/dev/null || fail "openssl req failed"
	GRAPH_PUB=$T/graph.pub
	S256=$(openssl x509 -in "$T/graph.crt" -outform DER | openssl dgst -sha256 -binary |
		basenc --base64url | tr -d '=')
	SHA1=$(openssl x509 -in "$T/graph.crt" -outform DER | openssl dgst -sha1 -binary |
		basenc --base64url | tr -d '=')
}

test_graph_oauth_client_secret() {
	write_graph_oauth_data '{client_id: $client, client_secret: $secret, tenant: "contoso.example"}'
	start_graph_oauth
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT email FROM members WHERE state='active'")" "ada@contoso.example" \
		"members"
	assert_eq "$(token_requests /contoso.example/oauth2/v2.0/token)" 200 "token request"
	assert_contains "$T/err" "(Bearer, valid for 3600 s)"
}

test_graph_oauth_wrong_secret() {
	write_graph_oauth_data '{client_id: $client, client_secret: "the-right-secret-value"}'
	start_graph_oauth
	rs sync -c "$T/config.yaml"
	register_sent_secrets
	secret_add "the-right-secret-value"

	assert_rc 77
	assert_contains "$T/err" "returned 401 invalid_client: AADSTS7000215: Invalid client secret"
	assert_contains "$T/err" "not its Secret ID"
	assert_contains "$T/err" "the client secret was read from graph.client_secret_file ($T/secret)"
	assert_contains "$T/err" "correlation id "
	assert_eq "$(graph_requests /v1.0/)" 0 "Graph requests"

	# The line names the variable when the secret came from one.
	sed -i "s#^  client_secret_file: .*#  client_secret_env: E2E_GRAPH_SECRET#" "$T/config.yaml"
	E2E_GRAPH_SECRET=wrong-secret-value rs sync -c "$T/config.yaml"
	assert_rc 77
	assert_contains "$T/err" \
		"the client secret was read from graph.client_secret_env (environment variable E2E_GRAPH_SECRET)"
	assert_not_contains "$T/err" "client_secret_file"
}

test_graph_oauth_certificate_ps256() {
	make_graph_certificate
	write_graph_oauth_data '{client_id: $client, public_key_pem: $pub,
		certificate_thumbprint_s256: $s256}'
	start_graph_oauth
	use_certificate PS256
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 1 "active members"
	assert_eq "$(jq -r 'select(.path | endswith("/oauth2/v2.0/token")) | .body' \
		"$T/requests.log" | grep -c 'client_assertion=')" 1 "assertions sent"
}

# The token request is reset after the fake took its assertion; the retry
# signs a new one.
test_graph_oauth_certificate_retry_signs_new_assertion() {
	make_graph_certificate
	write_graph_oauth_data '{client_id: $client, public_key_pem: $pub,
		certificate_thumbprint_s256: $s256}'
	jq '.faults = [{method: "POST", count: 1, kind: "reset"}]' \
		"$T/data.json" > "$T/data.json.tmp" && mv "$T/data.json.tmp" "$T/data.json"
	start_graph_oauth
	use_certificate PS256
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 1 "active members"
	assert_eq "$(sent_values assertion | wc -l)" 2 "assertions sent"
	assert_eq "$(sent_values assertion | sort -u | wc -l)" 2 "different assertions"
}

test_graph_oauth_certificate_rs256() {
	make_graph_certificate
	write_graph_oauth_data '{client_id: $client, public_key_pem: $pub,
		certificate_thumbprint_sha1: $sha1}'
	start_graph_oauth
	use_certificate RS256
	sync_ok
	register_sent_secrets

	assert_eq "$(sql "SELECT count(*) FROM members WHERE state='active'")" 1 "active members"
}

test_graph_oauth_certificate_not_uploaded() {
	make_graph_certificate
	write_graph_oauth_data '{client_id: $client, public_key_pem: $pub,
		certificate_thumbprint_s256: "another-certificate"}'
	start_graph_oauth
	use_certificate PS256
	rs sync -c "$T/config.yaml"
	register_sent_secrets

	assert_rc 77
	assert_contains "$T/err" "AADSTS700027"
	assert_contains "$T/err" "upload the certificate in graph.certificate_file"
}
