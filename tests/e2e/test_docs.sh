# test_docs.sh - the man pages against the program: every config key, every
# command, option and exit status that the binary lists must be documented.
# The lists come from the binary ("rostersync help config-keys" prints the
# key table of agent/config.c, "rostersync help" the command table), so a
# new key or command fails here until its man page entry is written.

MAN8="$ROOT/packaging/rostersync.8"
MAN5="$ROOT/packaging/rostersync.yaml.5"

# Prints the first line of the entry ".TP / .B HEADING" in a man page.
entry_body() {
	awk -v heading=".B $2" '
		prev == ".TP" && $0 == heading { found = 1; prev = $0; next }
		found { print; exit }
		{ prev = $0 }' "$1"
}

# Writes a man(7) escaped form of an option: -- and - become \-.
man_escape() {
	printf '%s' "$1" | sed 's/-/\\-/g'
}

test_man_pages_pass_mandoc_lint() {
	command -v mandoc >/dev/null || skip "mandoc not installed (apt-get install mandoc)"
	mandoc -T lint -W warning "$MAN8" "$MAN5" > "$T/lint" 2>&1 ||
		fail "mandoc -T lint reported: $(cat "$T/lint")"
	[ ! -s "$T/lint" ] || fail "mandoc -T lint reported: $(cat "$T/lint")"
}

test_man5_documents_every_config_key() {
	"$RS_BIN" help config-keys > "$T/keys" || fail "rostersync help config-keys failed"
	[ "$(wc -l < "$T/keys")" -ge 40 ] || fail "too few keys listed: $(wc -l < "$T/keys")"

	while IFS=$'\t' read -r key type default bounds need; do
		body=$(entry_body "$MAN5" "$key")
		[ -n "$body" ] || fail "rostersync.yaml(5) has no entry for $key"
		case "$body" in "$type"*) ;; *) fail "$key: entry does not start with its type '$type': $body" ;; esac
		if [ "$default" != "-" ]; then
			case "$body" in *"default $default"*) ;; *) fail "$key: default $default missing: $body" ;; esac
		fi
		if [ "$bounds" != "-" ]; then
			case "$body" in *"$bounds"*) ;; *) fail "$key: bounds $bounds missing: $body" ;; esac
		fi
		if [ "$need" = required ]; then
			case "$body" in *required*) ;; *) fail "$key: 'required' missing: $body" ;; esac
		fi
	done < "$T/keys"
}

test_man8_documents_every_command() {
	"$RS_BIN" help > "$T/help" || fail "rostersync help failed"
	sed -n 's/^  rostersync \([a-z][a-z ]*[a-z]\).*/\1/p' "$T/help" |
		sed 's/ -c.*//; s/ [A-Z].*//' | sort -u > "$T/commands"
	[ "$(wc -l < "$T/commands")" -ge 10 ] || fail "too few commands parsed: $(cat "$T/commands")"

	while read -r command; do
		[ -n "$(entry_body "$MAN8" "$command")" ] ||
			fail "rostersync(8) COMMANDS has no entry for '$command'"
		grep -qx "\\.B rostersync $command" "$MAN8" ||
			fail "rostersync(8) SYNOPSIS lacks 'rostersync $command'"
	done < "$T/commands"
}

test_man8_documents_every_option() {
	"$RS_BIN" help > "$T/help" || fail "rostersync help failed"
	grep -o -- '--[a-z][a-z-]*' "$T/help" | sort -u > "$T/options"
	[ "$(wc -l < "$T/options")" -ge 7 ] || fail "too few options parsed: $(cat "$T/options")"

	while read -r option; do
		grep -qF -- "$(man_escape "$option")" "$MAN8" ||
			fail "rostersync(8) does not mention $option"
	done < "$T/options"
}

test_man8_documents_every_exit_status() {
	"$RS_BIN" help > "$T/help" || fail "rostersync help failed"
	sed -n '/^Exit status:/,/^$/p' "$T/help" | grep -oE '\b[0-9]{1,3} [A-Za-z]' | cut -d' ' -f1 |
		sort -u > "$T/statuses"
	[ "$(wc -l < "$T/statuses")" -ge 8 ] || fail "too few statuses parsed: $(cat "$T/statuses")"

	while read -r status; do
		[ -n "$(entry_body "$MAN8" "$status")" ] ||
			fail "rostersync(8) EXIT STATUS has no entry for $status"
	done < "$T/statuses"
}

# True while a program listens on the demo's port.
demo_port_open() {
	(exec 3<> /dev/tcp/127.0.0.1/18457) 2> /dev/null
}

# The demo of the README runs to its end, and stops its fake Okta also when
# a signal ends it: SIGHUP here, as a closed terminal or pipe would.
test_demo_runs_and_stops_its_fake() {
	demo_port_open && skip "another program listens on 127.0.0.1:18457"
	(cd "$ROOT" && BUILD=$BUILD sh scripts/demo) > "$T/demo.out" 2>&1 ||
		fail "the demo failed: $(tail -n 5 "$T/demo.out")"
	assert_contains "$T/demo.out" "The roster is $BUILD/demo/roster.db"

	(cd "$ROOT" && exec env BUILD="$BUILD" sh scripts/demo) > "$T/demo2.out" 2>&1 &
	demo=$!
	for _ in $(seq 1 200); do
		demo_port_open && break
		sleep 0.01
	done
	kill -HUP "$demo" 2> /dev/null || skip "the demo ended before the signal"
	wait "$demo" 2> /dev/null
	for _ in $(seq 1 100); do
		demo_port_open || break
		sleep 0.05
	done
	demo_port_open && fail "the fake Okta of the demo still listens after SIGHUP"
	true
}
