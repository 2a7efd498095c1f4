# test_cli.sh - the command line, config errors and exit statuses.

test_usage_errors_exit_64() {
	rs
	assert_rc 64
	rs frobnicate
	assert_rc 64
	assert_contains "$T/err" "unknown command"
	rs sync
	assert_rc 64
	assert_contains "$T/err" "-c FILE"
	rs sync -c x.yaml --bogus
	assert_rc 64
	assert_contains "$T/err" "invalid option: --bogus"
	rs status -c x.yaml -jz
	assert_rc 64
	assert_contains "$T/err" "invalid option: -j"
	rs sync -c
	assert_rc 64
	assert_contains "$T/err" "option -c needs a value"
	rs sync -c x.yaml --approve
	assert_rc 64
	assert_contains "$T/err" "option --approve needs a value"
	rs members add -c x.yaml
	assert_rc 64
	assert_contains "$T/err" "EMAIL"
	rs sync -c a.yaml -c b.yaml
	assert_rc 64
	assert_contains "$T/err" "option --config given twice; give it once"
	rs members list -c x.yaml --given-name Ada
	assert_rc 64
	assert_contains "$T/err" "option not accepted by this command: --given-name"
	rs sync --approve -c x.yaml
	assert_rc 64
	assert_contains "$T/err" "option --approve needs a value, but the next argument is the option -c"
	rs members add -c x.yaml y@example.com --given-name --family-name Lee
	assert_rc 64
	assert_contains "$T/err" "option --given-name needs a value, but the next argument is the option --family-name"
	rs status -c ""
	assert_rc 64
	assert_contains "$T/err" "option --config needs a value, not an empty string"
	rs members add -c x.yaml ""
	assert_rc 64
	assert_contains "$T/err" "missing EMAIL"
	rs members add -c x.yaml y@example.com --family-name "$(printf 'a\tb')"
	assert_rc 64
	assert_contains "$T/err" "invalid value of --family-name"
	rs status -c --json
	assert_rc 64
	assert_contains "$T/err" "option --config needs a value, but the next argument is the option --json"
}

test_version_and_help() {
	rs version
	assert_rc 0
	assert_contains "$T/out" "rostersync 0."
	rs version --json
	assert_rc 64
	assert_contains "$T/err" "version takes no options or arguments: --json"
	rs help
	assert_rc 0
	assert_contains "$T/out" "members add"
	rs sync --help
	assert_rc 0
	assert_contains "$T/out" "usage: rostersync sync -c FILE"
	rs members --help
	assert_rc 0
	assert_contains "$T/out" "members add"
	rs members
	assert_rc 64
	assert_contains "$T/err" "missing members subcommand"
	rs help members add
	assert_rc 0
	assert_contains "$T/out" "usage: rostersync members add -c FILE EMAIL"
	rs help bogus
	assert_rc 64
	assert_contains "$T/err" "no help for \"bogus\""
}

# Applies one change to a good config; the run must exit 78 naming expect.
config_case() {
	cp "$T/good.yaml" "$T/config.yaml"
	eval "$1"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "$2"
}

test_config_errors_name_position() {
	PORT=1 write_config
	cp "$T/config.yaml" "$T/good.yaml"
	config_case "sed -i 's/seats: 100/seats: lots/' \"\$T/config.yaml\"" "config.yaml:9:"
	config_case "sed -i 's/max_unassign_percent: 20/max_unassign_percent: 150/' \"\$T/config.yaml\"" \
		"max_unassign_percent"
	config_case "echo 'surprise: 1' >> \"\$T/config.yaml\"" "surprise"
	config_case "echo 'tenant: again' >> \"\$T/config.yaml\"" "tenant"
	config_case "sed -i 's/^  name: E2E Team/  name: \&a E2E Team\\n  extra: *a/' \"\$T/config.yaml\"" \
		"alias"
	config_case "echo 'http: {timeout: 5}' >> \"\$T/config.yaml\"" "http"
	config_case "sed -i '/app_id/d' \"\$T/config.yaml\"" "app_id"
	config_case "sed -i 's#http://127.0.0.1:1#http://example.com#' \"\$T/config.yaml\"" "org_url"
	config_case "printf 'tenant: [\\n' > \"\$T/config.yaml\"" "config.yaml:"
	config_case "sed -i 's/max_retries: 2/max_retries: yes/' \"\$T/config.yaml\"" "max_retries"

	rs sync -c "$T/missing.yaml"
	assert_rc 78
	assert_contains "$T/err" "missing.yaml"
}

test_missing_token_is_config_error() {
	PORT=1 write_config
	rm "$T/token"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "token"
}

# A token file that contains the header's "SSWS " scheme, or a space inside the
# token, is named with what to remove.
test_token_file_with_scheme_named() {
	PORT=1 write_config
	printf 'SSWS 00abcdefghijklmnop\n' > "$T/token"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "the Okta API token starts with \"SSWS \", the scheme of the Authorization header: remove it from okta.api_token_file"

	printf '00abcdefghij klmnop\n' > "$T/token"
	rs sync -c "$T/config.yaml"
	assert_rc 78
	assert_contains "$T/err" "character at byte 12 of 19"
	assert_contains "$T/err" "remove any space or line break around or inside the token"
}

test_status_and_members_json() {
	users 4 | write_users
	start_fake --data "$T/data.json"
	SEATS=3 write_config
	sync_ok
	rs status -c "$T/config.yaml" --json
	assert_rc 0
	assert_eq "$(jq -r '[.tenant, .source, .seats, .seats_used, .waiting, .last_run.outcome, .last_run.exit_status] | join(",")' "$T/out")" \
		"e2e,okta,3,3,1,success,0" "status fields"
	rs members list -c "$T/config.yaml" --json
	assert_rc 0
	assert_eq "$(jq -r 'length' "$T/out")" 4 "members listed"
	assert_eq "$(jq -r '.[] | select(.state=="waiting") | .email' "$T/out")" \
		"user0004@example.com" "waiting member"
	assert_eq "$(jq -r '.[0] | [has("external_id"), has("user_name"), has("given_name"), has("family_name"), has("display_name"), has("source")] | all' "$T/out")" \
		true "member fields"
	rs status -c "$T/config.yaml"
	assert_rc 0
	assert_contains "$T/out" "3 of 3 used"
	assert_contains "$T/out" "user0004@example.com"
}

# members show prints every stored field of the member, found whatever the
# case of the address, and exits 64 for an address the roster lacks.
test_members_show_whole_record() {
	write_users '.groups=[{"id":"00g1","name":"Sales","members":["00u2"]}]
		| .assignments.groups=["00g1"]' <<EOF
00u1 ada@example.com
00u2 bob@example.com ACTIVE group-only
EOF
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	rs members show -c "$T/config.yaml" BOB@Example.com
	assert_rc 0
	assert_eq "$(sed -n 's/^email: *//p' "$T/out")" "bob@example.com" "email line"
	assert_eq "$(sed -n 's/^state: *//p' "$T/out")" \
		"active since $(sql "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', state_since, 'unixepoch') FROM members WHERE external_id = '00u2'")" \
		"state line"
	assert_eq "$(sed -n 's/^provenance: *//p' "$T/out")" "group:Sales" "provenance line"
	assert_eq "$(sed -n 's/^external id: *//p' "$T/out")" "00u2" "external id line"
	assert_eq "$(sed -n 's/^display name: *//p' "$T/out")" "-" "missing display name"
	assert_not_contains "$T/out" "ada@example.com"

	rs members show -c "$T/config.yaml" bob@example.com --json
	assert_rc 0
	assert_eq "$(jq -r '[length, .[0].provenance, .[0].state_since != null] | join(",")' "$T/out")" \
		"1,group:Sales,true" "JSON record"

	rs members show -c "$T/config.yaml" cy@example.com
	assert_rc 64
	assert_contains "$T/err" "no member with email cy@example.com"
	rs members show -c "$T/config.yaml" cy@example.com --json
	assert_rc 64
	assert_eq "$(jq -c . "$T/out")" "[]" "JSON output without a match"
}

# Names and addresses with accents, combining marks, CJK and emoji must not
# shift the columns after them.
test_tables_align_non_ascii_text() {
	write_users '.users[0].firstName = "\u00c9mile" | .users[1].firstName = "E\u0301mile"
		| .users[2].firstName = "\u5c71\u7530" | .users[3].firstName = "\ud83d\ude00 Ada"
		| .users[3].email = "j\u00f6rg@b\u00fccher.example"' <<EOF
00u1 emile@example.com ACTIVE
00u2 emile2@example.com ACTIVE
00u3 yamada@example.com ACTIVE
00u4 jorg@example.com ACTIVE
EOF
	start_fake --data "$T/data.json"
	write_config
	rs plan -c "$T/config.yaml"
	assert_rc 0
	cp "$T/out" "$T/plan.out"
	sync_ok
	rs members list -c "$T/config.yaml"
	assert_rc 0

	# Prints the display columns at which the text $2 starts in the file $1.
	columns() {
		python3 -c 'import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
for line in open(sys.argv[1], encoding="utf-8"):
    at = line.find(sys.argv[2])
    if at >= 0:
        print(width(line[:at]))' "$@" | sort -u | tr '\n' ' '
	}
	assert_eq "$(columns "$T/out" " okta ")" "68 " "SOURCE column of members list"
	assert_eq "$(columns "$T/plan.out" " 00u")" "42 " "EXTERNAL ID column of plan"
}

test_killed_run_is_not_a_success() {
	users 3 | write_users '.faults = [{"path":"/api/v1/apps/0oaapp1/users","kind":"slow","delay_ms":3000}]'
	start_fake --data "$T/data.json"
	write_config
	"$RS_BIN" sync -c "$T/config.yaml" > /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 50); do
		[ -e "$T/roster.db" ] && [ "$(sql "SELECT count(*) FROM runs")" = 1 ] && break
		sleep 0.1
	done
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null

	rs status -c "$T/config.yaml" --json
	assert_rc 0
	assert_eq "$(jq -r '.last_run.outcome' "$T/out")" unfinished "outcome of a killed run"
	assert_eq "$(jq -r '.last_run.exit_status' "$T/out")" null "exit status of a killed run"
	rs status -c "$T/config.yaml"
	assert_contains "$T/out" "unfinished"
}

# A FIFO given as the config or as the token file is rejected at once
# instead of blocking the run until something writes to it.
test_fifo_config_and_token_are_rejected() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	mkfifo "$T/fifo.yaml"
	timeout 10 "$RS_BIN" sync -c "$T/fifo.yaml" > "$T/out" 2> "$T/err" && RC=0 || RC=$?
	assert_rc 78
	assert_contains "$T/err" "not a regular file; give the path of a YAML file"

	rm "$T/token"
	mkfifo "$T/token"
	timeout 10 "$RS_BIN" sync -c "$T/config.yaml" > "$T/out" 2> "$T/err" && RC=0 || RC=$?
	assert_rc 78
	assert_contains "$T/err" "not a regular file"
}

# Output that cannot be written (a full disk) fails the command, so that a
# script does not read an empty file as the result.
test_unwritable_output_exits_74() {
	users 2 | write_users
	start_fake --data "$T/data.json"
	write_config
	sync_ok

	RC=0
	${RS_WRAPPER:-} "$RS_BIN" status -c "$T/config.yaml" --json > /dev/full 2> "$T/err" || RC=$?
	assert_rc 74
	assert_contains "$T/err" "writing the output to stdout failed: No space left on device"
}

# A reader that closes the pipe early does not stop a sync before it records
# its run, and a command whose output it cut short ends without an error.
test_closed_output_pipe_keeps_run() {
	users 40 | write_users
	start_fake --data "$T/data.json" --latency-ms 300
	write_config

	# The first line comes at once, and the next ones after the fake's delay,
	# when head has gone.
	${RS_WRAPPER:-} "$RS_BIN" sync -c "$T/config.yaml" 2>&1 | head -n 1 > /dev/null
	rc=${PIPESTATUS[0]}
	assert_eq "$rc" 0 "exit status of sync"
	assert_eq "$(sql "SELECT outcome FROM runs")" success "outcome of the run"
	assert_eq "$(sql "SELECT count(*) FROM members")" 40 "members"

	rc=0
	${RS_WRAPPER:-} "$RS_BIN" members list -c "$T/config.yaml" 2> "$T/err" | head -n 1 > /dev/null
	rc=${PIPESTATUS[0]}
	assert_eq "$rc" 0 "exit status of members list"
	assert_not_contains "$T/err" "writing the output to stdout failed"
}

test_keylog_variable_is_ignored() {
	users 1 | write_users
	start_fake --data "$T/data.json"
	write_config
	SSLKEYLOGFILE="$T/keys.log" rs sync -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/err" "ignoring SSLKEYLOGFILE so that TLS session keys are not written to disk"
	[ ! -e "$T/keys.log" ] || fail "the key log file was created"
}

# A long name is listed whole and stays valid UTF-8: a cut in the middle
# of a character would break every tool that reads the output.
test_members_list_long_name_whole() {
	name=$(python3 -c 'print("\u5c71" * 300)')
	write_users ".users[0].displayName = \"$name\"" <<EOF2
00u1 yamada@example.com ACTIVE
EOF2
	start_fake --data "$T/data.json"
	write_config
	sync_ok
	rs members list -c "$T/config.yaml"

	assert_rc 0
	assert_contains "$T/out" "$name"
	python3 -c 'import sys; open(sys.argv[1], encoding="utf-8").read()' "$T/out" ||
		fail "the output is not valid UTF-8"
}
