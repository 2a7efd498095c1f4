#!/usr/bin/env bash
# bench.sh - measures rostersync against the fake IdP's synthetic users and
# checks the performance targets.  `make bench` runs it; docs/benchmarks.md
# explains the output.
#
# For each source, user count and added latency it measures, BENCH_REPEAT
# times each and in turn:
#   full      a sync into an empty roster
#   resync    a sync of the same users into the roster the full sync left
#   churn     a sync into that roster after --churn BENCH_CHURN percent
#   transfer  floor transfer: the full sync's GETs, fetched over one connection
#   read      floor read: the same GETs, fetched and parsed with cJSON
# Each run gets a fresh fake IdP, so the fake's CPU time is per run.
#
# Settings (environment):
#   BUILD            build directory with rostersync, fakeidp, bench/ (build)
#   BENCH_SOURCES    sources to measure (default "okta graph")
#   BENCH_USERS      user counts (default "10000 100000")
#   BENCH_1M=1       adds 1000000 to the user counts
#   BENCH_LATENCIES  added latency per response in ms (default "0 50")
#   BENCH_REPEAT     runs of each kind; the report shows medians (default 3)
#   BENCH_GROUPS     synthetic groups (default 50)
#   BENCH_CHURN      percent of users changed for the churn run (default 1)
#   BENCH_DIR        scratch directory (default $BUILD/bench/work)
#
# Exits 0 when every target passes, 1 when one fails, 2 when a run fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
RS_BIN="$ROOT/$BUILD/rostersync"
FAKE_BIN="$ROOT/$BUILD/fakeidp"
MEASURE="$ROOT/$BUILD/bench/measure"
FLOOR="$ROOT/$BUILD/bench/floor"

USERS=${BENCH_USERS:-"10000 100000"}
if [ "${BENCH_1M:-0}" = 1 ]; then
	USERS="$USERS 1000000"
fi
LATENCIES=${BENCH_LATENCIES:-"0 50"}
REPEAT=${BENCH_REPEAT:-3}
GROUP_COUNT=${BENCH_GROUPS:-50}
CHURN=${BENCH_CHURN:-1}
WORK=${BENCH_DIR:-$ROOT/$BUILD/bench/work}
SOURCES=${BENCH_SOURCES:-"okta graph"}
TOKEN="bench-token-$RANDOM$RANDOM"
GRAPH_SECRET="bench-secret-$RANDOM$RANDOM"
GRAPH_CLIENT_ID=bench-client
SOURCE=okta

# Page sizes the Okta source requests: app users, app groups, group members.
APP_USERS_PAGE=500
APP_GROUPS_PAGE=200
GROUP_USERS_PAGE=1000
# Graph: $top of every listing, and users per $batch request.
GRAPH_PAGE=999
GRAPH_BATCH=20

RESULTS="$WORK/results.tsv"
FAKE_PID=""
FAKE_CPU=""
PORT=""

die() {
	echo "bench: $*" >&2
	exit 2
}

for tool in "$RS_BIN" "$FAKE_BIN" "$MEASURE" "$FLOOR"; do
	[ -x "$tool" ] || die "$tool is missing; run make bench"
done
command -v sqlite3 > /dev/null || die "the sqlite3 shell is missing (Debian package sqlite3)"

cleanup() {
	if [ -n "$FAKE_PID" ]; then
		kill -TERM "$FAKE_PID" 2> /dev/null || true
		wait "$FAKE_PID" 2> /dev/null || true
	fi
}
trap cleanup EXIT

# ---- the fake IdP ----------------------------------------------------------

# fake_start USERS LATENCY CHURN DIR: starts the fake and sets FAKE_PID.
# The first start picks a free port and sets PORT; later ones reuse it,
# because the roster records the org URL and a new one is a take-over.
fake_start() {
	local users=$1 latency=$2 churn=$3 dir=$4
	rm -f "$dir/port" "$dir/requests.log"
	"$FAKE_BIN" --port "${PORT:-0}" --synthetic "$users" --groups "$GROUP_COUNT" --churn "$churn" \
		--latency-ms "$latency" --data "$WORK/settings.json" \
		--port-file "$dir/port" --log "$dir/requests.log" 2> "$dir/fake.err" &
	FAKE_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$dir/port" ] && break
		kill -0 "$FAKE_PID" 2> /dev/null || die "fakeidp did not start: $(cat "$dir/fake.err")"
		sleep 0.05
	done
	[ -s "$dir/port" ] || die "fakeidp wrote no port file within 10 s"
	PORT=$(cat "$dir/port")
}

# fake_stop DIR: stops the fake and sets FAKE_CPU to the CPU seconds it
# reported.  Not for a subshell, which cannot wait for the fake.
fake_stop() {
	local dir=$1 status=0
	kill -TERM "$FAKE_PID"
	wait "$FAKE_PID" || status=$?
	FAKE_PID=""
	[ "$status" -eq 0 ] || die "fakeidp exited with status $status: $(tail -n 3 "$dir/fake.err")"
	FAKE_CPU=$(sed -n 's/.*; cpu \([0-9.]*\) s .*/\1/p' "$dir/fake.err" | tail -n 1)
}

# ---- counting requests -----------------------------------------------------

# min_requests ASSIGNED USERS ADDED: the fewest requests one full read of
# ASSIGNED users needs, when the fake generated USERS and the churn ADDED
# new ones.
# Okta: one per page of every listing: app users, app groups and the member
# list of each group (a group's first page is needed even when it is empty).
# Graph: the token, the service principal, every page of the assignments
# (the users not in a group, and the groups) and of each group's members,
# then the attributes of the directly assigned users: $batch requests of 20,
# or the tenant's user count and every page of its users, whichever is
# fewer.  Group g has the members 10 m for m = g, g + G, ... up to the users.
min_requests() {
	awk -v source="$SOURCE" -v assigned="$1" -v users="$2" -v added="$3" \
		-v groups="$GROUP_COUNT" \
		-v p_users=$APP_USERS_PAGE -v p_groups=$APP_GROUPS_PAGE \
		-v p_members=$GROUP_USERS_PAGE -v p_graph=$GRAPH_PAGE -v batch=$GRAPH_BATCH '
		function pages(n, size) { return n <= 0 ? 1 : int((n + size - 1) / size) }
		function member_pages(size,    g, granted, members, total) {
			granted = int(users / 10)
			for (g = 1; g <= groups; g++) {
				members = granted >= g ? int((granted - g) / groups) + 1 : 0
				total += pages(members, size)
			}
			return total
		}
		BEGIN {
			if (source == "graph") {
				direct = groups > 0 ? assigned - int(users / 10) : assigned
				listing = 1 + pages(users + added, p_graph)
				batches = int((direct + batch - 1) / batch)
				total = 2 + pages(direct + groups, p_graph) + member_pages(p_graph)
				print total + (batches < listing ? batches : listing)
				exit
			}
			total = pages(assigned, p_users)
			if (assigned > 0 && groups > 0)
				total += pages(groups, p_groups) + member_pages(p_members)
			print total
		}'
}

# churn_counts USERS: prints "unassigned renamed added" for BENCH_CHURN.
# The fake churns Okta's app-user list, and Graph's direct assignments
# only: every tenth user is assigned through a group.
churn_counts() {
	if [ "$SOURCE" = graph ] && [ "$GROUP_COUNT" -gt 0 ]; then
		set -- $(( $1 - $1 / 10 ))
	fi
	local changes=$(( $1 * CHURN / 100 ))
	local third=$(( changes / 3 ))
	echo "$third $third $(( changes - 2 * third ))"
}

# request_stats DIR: prints "requests repeated" from the fake's request log.
request_stats() {
	local log=$1/requests.log
	local requests repeated
	requests=$(wc -l < "$log")
	repeated=$(sed -n 's/.*"path":"\([^"]*\)","query":"\([^"]*\)".*/\1?\2/p' "$log" |
		sort | uniq -d | wc -l)
	echo "$requests $repeated"
}

# page_urls DIR: prints path?query of every GET the agent sent, in order,
# from the fake's request log.
page_urls() {
	sed -n 's/.*"method":"GET","path":"\([^"]*\)","query":"\([^"]*\)".*/\1?\2/p' \
		"$1/requests.log"
}

# ---- the agent -------------------------------------------------------------

write_config() {
	local dir=$1
	if [ "$SOURCE" = graph ]; then
		cat > "$dir/config.yaml" <<-EOF
			tenant: bench
			source: graph
			graph:
			  tenant_id: contoso.example
			  client_id: $GRAPH_CLIENT_ID
			  client_secret_file: $WORK/graph-secret
			  app_id: 11111111-1111-1111-1111-111111111111
			  login_url: http://127.0.0.1:$PORT
			  graph_url: http://127.0.0.1:$PORT
		EOF
	else
		cat > "$dir/config.yaml" <<-EOF
			tenant: bench
			source: okta
			okta:
			  org_url: http://127.0.0.1:$PORT
			  app_id: 0oaapp1
			  api_token_file: $WORK/token
		EOF
	fi
	cat >> "$dir/config.yaml" <<-EOF
		team:
		  name: Bench
		  seats: 10000000
		roster:
		  path: $dir/roster.db
		sync:
		  max_unassign: 0
		  max_unassign_percent: 0
		log:
		  level: debug
	EOF
}

# roster_writes DIR BASELINE: prints "changed_rows new_events" of the
# roster against BASELINE (an empty roster when BASELINE is "-").
roster_writes() {
	local db=$1/roster.db base=$2
	if [ "$base" = "-" ]; then
		sqlite3 "$db" "SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM events)" |
			tr '|' ' '
		return
	fi
	sqlite3 "$db" "ATTACH '$base' AS base;
		SELECT (SELECT count(*) FROM (SELECT * FROM main.members EXCEPT SELECT * FROM base.members)),
		       (SELECT count(*) FROM main.events) - (SELECT count(*) FROM base.events)" | tr '|' ' '
}

# agent_stats DIR: prints "bytes connections" from the agent's log line
# about the read, or "- -" for a build that does not log them.
agent_stats() {
	local line
	line=$(grep -m 1 'assigned users from' "$1/agent.err" || true)
	local bytes connections
	bytes=$(sed -n 's/.* \([0-9][0-9]*\) bytes.*/\1/p' <<< "$line")
	connections=$(sed -n 's/.* \([0-9][0-9]*\) connections\{0,1\}.*/\1/p' <<< "$line")
	echo "${bytes:--} ${connections:--}"
}

# write_seconds DIR: prints how long the agent's roster write took, or 0 when
# it wrote nothing: its debug line "applied N operations in S s" plus every
# "closed in S s", because closing the roster copies the WAL into it and
# syncs both files.
write_seconds() {
	local applied closed
	applied=$(sed -n 's/.*: applied [0-9]* operations in \([0-9.]*\) s$/\1/p' "$1/agent.err" |
		tail -n 1)
	if [ -z "$applied" ]; then
		echo 0
		return
	fi
	closed=$(sed -n 's/.*: closed in \([0-9.]*\) s$/\1/p' "$1/agent.err")
	echo "$applied" $closed | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.3f", s }'
}

# record USERS LATENCY KIND REP DIR REQUESTS REPEATED MINIMUM BYTES CONNECTIONS
#        FAKE_CPU WRITES EXPECTED_WRITES WRITE_SECONDS
record() {
	local dir=$5 cost
	cost=$(sed 's/[a-z_]*=//g' "$dir/cost")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$SOURCE" "$1" "$2" "$3" "$4" \
		"$(echo "$cost ${*:6}" | tr ' ' '\t')" >> "$RESULTS"
}

# Writes back the pages that earlier runs left dirty (a roster of 1,000,000
# members and each copy of it are about 660 MB), so that the kernel does not
# throttle the next run's writes while it catches up.
settle() {
	sync
}

# run_agent USERS LATENCY KIND REP
run_agent() {
	local users=$1 latency=$2 kind=$3 rep=$4
	local dir="$WORK/$SOURCE-$users-$latency-$kind-$rep"
	local baseline="$WORK/baseline-$SOURCE-$users.db"
	local churn=0 assigned=$users added=0 expected_writes
	rm -rf "$dir"
	mkdir -p "$dir"

	case $kind in
	full)
		expected_writes="$users $(( users + 1 ))"
		;;
	resync)
		cp "$baseline" "$dir/roster.db"
		expected_writes="0 0"
		;;
	churn)
		cp "$baseline" "$dir/roster.db"
		churn=$CHURN
		read -r unassigned renamed added <<< "$(churn_counts "$users")"
		assigned=$(( users - unassigned + added ))
		expected_writes="$(( unassigned + renamed + added )) $(( unassigned + renamed + added ))"
		;;
	esac

	fake_start "$users" "$latency" "$churn" "$dir"
	write_config "$dir"
	settle
	"$MEASURE" "$dir/cost" -- "$RS_BIN" sync -c "$dir/config.yaml" \
		> "$dir/agent.out" 2> "$dir/agent.err" ||
		die "rostersync sync ($kind, $users users) failed: $(tail -n 5 "$dir/agent.err")"
	fake_stop "$dir"

	if [ "$kind" = full ] && [ ! -f "$baseline" ]; then
		sqlite3 "$dir/roster.db" ".backup '$baseline'"
		page_urls "$dir" > "$WORK/pages-$SOURCE-$users"
	fi

	local writes
	if [ "$kind" = full ]; then
		writes=$(roster_writes "$dir" -)
	else
		writes=$(roster_writes "$dir" "$baseline")
	fi
	record "$users" "$latency" "$kind" "$rep" "$dir" $(request_stats "$dir") \
		"$(min_requests "$assigned" "$users" "$added")" $(agent_stats "$dir") "$FAKE_CPU" \
		"$(tr ' ' / <<< "$writes")" "$(tr ' ' / <<< "$expected_writes")" \
		"$(write_seconds "$dir")"
	rm -f "$dir/roster.db" "$dir/roster.db-wal" "$dir/roster.db-shm"
}

# run_floor USERS LATENCY MODE REP
run_floor() {
	local users=$1 latency=$2 mode=$3 rep=$4
	local dir="$WORK/$SOURCE-$users-$latency-$mode-$rep"
	rm -rf "$dir"
	mkdir -p "$dir"

	fake_start "$users" "$latency" 0 "$dir"
	local urls=()
	while IFS= read -r path; do
		urls+=("http://127.0.0.1:$PORT$path")
	done < "$WORK/pages-$SOURCE-$users"
	settle
	"$MEASURE" "$dir/cost" -- "$FLOOR" "$mode" "$WORK/headers-$SOURCE" "${urls[@]}" \
		> "$dir/floor.out" 2> "$dir/floor.err" ||
		die "floor $mode ($users users) failed: $(tail -n 3 "$dir/floor.err")"
	local bytes connections
	fake_stop "$dir"
	bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$dir/floor.out")
	connections=$(sed -n 's/.*connections=\([0-9]*\).*/\1/p' "$dir/floor.out")
	record "$users" "$latency" "$mode" "$rep" "$dir" $(request_stats "$dir") \
		"$(min_requests "$users" "$users" 0)" "$bytes" "$connections" "$FAKE_CPU" - - 0
}

# ---- the report ------------------------------------------------------------

# Prints the medians of every (source, users, latency, kind) as a Markdown
# table, then the ratios and the targets.  Columns of results.tsv:
#  1 source 2 users 3 latency 4 kind 5 rep 6 wall 7 user 8 sys 9 rss_kb
#  10 status 11 requests 12 repeated 13 minimum 14 bytes 15 connections
#  16 fake_cpu 17 writes 18 expected_writes 19 write_seconds
report() {
	awk -F '\t' -v churn="$CHURN" -v groups="$GROUP_COUNT" '
	function median(list,    n, a, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		if (n % 2)
			return a[(n + 1) / 2]
		return (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(name, key, value) { values[name, key] = values[name, key] " " value }
	function verdict(ok, text) {
		printf "%s  %s\n", ok ? "PASS" : "FAIL", text
		if (!ok)
			failed++
		checked++
	}
	{
		key = $1 SUBSEP $2 SUBSEP $3 SUBSEP $4
		if (!(key in seen)) {
			seen[key] = 1
			order[++keys] = key
		}
		add("wall", key, $6); add("user", key, $7); add("sys", key, $8)
		add("rss", key, $9); add("fake", key, $16); add("write", key, $19)
		requests[key] = $11 > requests[key] ? $11 : requests[key]
		repeated[key] = $12 > repeated[key] ? $12 : repeated[key]
		minimum[key] = $13
		bytes[key] = $14
		if (!(key in connections) || $15 > connections[key])
			connections[key] = $15
		if ($17 != "-" && $17 != $18)
			bad_writes[key] = bad_writes[key] " " $17 "(expected " $18 ")"
		writes[key] = $17
	}
	END {
		print "| source | users | latency | run | wall s | user s | sys s | peak RSS MiB | requests | MB received | connections | fake CPU s | roster write s |"
		print "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		for (i = 1; i <= keys; i++) {
			k = order[i]
			split(k, f, SUBSEP)
			wall[k] = median(values["wall", k]); rss[k] = median(values["rss", k]) / 1024
			write[k] = median(values["write", k])
			printf "| %s | %d | %d ms | %s | %.2f | %.2f | %.2f | %.1f | %d | %s | %s | %.2f | %.2f |\n",
				f[1], f[2], f[3], f[4], wall[k], median(values["user", k]),
				median(values["sys", k]), rss[k], requests[k],
				bytes[k] == "-" ? "-" : sprintf("%.1f", bytes[k] / 1e6),
				connections[k], median(values["fake", k]), write[k]
			users_seen[f[2]] = 1; lat_seen[f[3]] = 1; sources_seen[f[1]] = 1
		}

		print ""
		print "Ratios (medians):"
		for (i = 1; i <= keys; i++) {
			split(order[i], f, SUBSEP)
			if (f[4] != "full")
				continue
			b = f[1] SUBSEP f[2] SUBSEP f[3] SUBSEP
			printf "  %s %d users, %d ms: full/transfer %.2f  full/read %.2f  resync/full %.2f",
				f[1], f[2], f[3], wall[b "full"] / wall[b "transfer"],
				wall[b "full"] / wall[b "read"], wall[b "resync"] / wall[b "full"]
			if ((b "churn") in wall)
				printf "  churn/resync %.2f", wall[b "churn"] / wall[b "resync"]
			printf "\n"
		}

		print ""
		print "Targets:"
		for (i = 1; i <= keys; i++) {
			k = order[i]
			split(k, f, SUBSEP)
			if (f[4] == "transfer" || f[4] == "read")
				continue
			what = sprintf("%s %d users, %d ms, %s", f[1], f[2], f[3], f[4])
			# One connection per HTTP client.  Okta reads the group listings on
			# a second one while app-user pages are on their way.  Graph fetches
			# its token on its own, and has up to 4 group member listings under
			# way at once, the first on the main connection.
			if (f[1] == "okta")
				clients = groups == 0 ? 1 : 2
			else
				clients = 2 + (groups < 4 ? (groups > 0 ? groups - 1 : 0) : 3)
			verdict(requests[k] == minimum[k] && repeated[k] == 0 && connections[k] == clients,
				sprintf("requests: %s: %d requests (minimum %d), %d repeated, connections: %s (expected %d)",
					what, requests[k], minimum[k], repeated[k], connections[k], clients))
		}
		for (i = 1; i <= keys; i++) {
			k = order[i]
			split(k, f, SUBSEP)
			b = f[1] SUBSEP f[2] SUBSEP f[3] SUBSEP
			if (f[4] == "full" && f[2] == 100000 && f[3] == 50)
				verdict(wall[k] <= 1.05 * wall[b "transfer"],
					sprintf("latency: %s 100000 users, 50 ms: full sync %.2f s <= 1.05 x transfer floor %.2f s (ratio %.2f)",
						f[1], wall[k], wall[b "transfer"], wall[k] / wall[b "transfer"]))
			if (f[4] == "full" && f[2] == 100000 && f[3] == 0)
				verdict(wall[k] <= 1.25 * wall[b "read"],
					sprintf("cpu: %s 100000 users, 0 ms: full sync %.2f s <= 1.25 x read floor %.2f s (ratio %.2f)",
						f[1], wall[k], wall[b "read"], wall[k] / wall[b "read"]))
		}
		for (i = 1; i <= keys; i++) {
			k = order[i]
			split(k, f, SUBSEP)
			b = f[1] SUBSEP f[2] SUBSEP f[3] SUBSEP
			if (f[4] == "resync" || f[4] == "churn")
				verdict(!(k in bad_writes),
					sprintf("writes: %s %d users, %d ms, %s: %s member rows/events written%s",
						f[1], f[2], f[3], f[4], writes[k],
						k in bad_writes ? ", wrong in runs:" bad_writes[k] : ""))
			if (f[4] != "churn")
				continue
			# The churn run may cost its own roster write on top of the resync.
			allowed = wall[b "resync"] * 1.05 + write[k]
			verdict(wall[k] <= allowed,
				sprintf("churn cost: %s %d users, %d ms: churn %.2f s <= resync %.2f s x 1.05 + its write %.2f s = %.2f s",
					f[1], f[2], f[3], wall[k], wall[b "resync"], write[k], allowed))
		}
		for (src in sources_seen) {
			for (u in users_seen) {
				peak = 0
				for (i = 1; i <= keys; i++) {
					split(order[i], f, SUBSEP)
					if (f[1] == src && f[2] == u && f[4] != "transfer" && f[4] != "read" &&
					    rss[order[i]] > peak)
						peak = rss[order[i]]
				}
				if (u == 100000)
					verdict(peak <= 64, sprintf("memory: %s %d users: peak RSS %.1f MiB <= 64 MiB",
								    src, u, peak))
				if (u == 1000000)
					verdict(peak <= 200, sprintf("memory: %s %d users: peak RSS %.1f MiB <= 200 MiB",
								     src, u, peak))
			}
			if (!((1000000 in users_seen) && (100000 in users_seen)))
				continue
			for (l in lat_seen) {
				big = src SUBSEP 1000000 SUBSEP l SUBSEP "full"
				small = src SUBSEP 100000 SUBSEP l SUBSEP "full"
				verdict(wall[big] <= 11 * wall[small],
					sprintf("scaling: %s, %d ms: 1M full sync %.2f s <= 11 x 100k %.2f s (ratio %.2f)",
						src, l, wall[big], wall[small], wall[big] / wall[small]))
			}
		}
		printf "\n%d of %d targets pass\n", checked - failed, checked
		exit failed > 0 ? 1 : 0
	}' "$RESULTS"
}

# ---- main ------------------------------------------------------------------

# measure_round USERS LATENCY REP: one run of each kind for SOURCE.
measure_round() {
	local users=$1 latency=$2 rep=$3
	for kind in full resync churn; do
		run_agent "$users" "$latency" "$kind" "$rep"
	done
	for mode in transfer read; do
		run_floor "$users" "$latency" "$mode" "$rep"
	done
	echo "bench: $SOURCE, $users users, $latency ms, round $rep of $REPEAT done" >&2
}

machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, $cpu"
	echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
}

main() {
	mkdir -p "$WORK"
	rm -f "$RESULTS" "$WORK"/baseline-*.db "$WORK"/pages-*
	printf '{"token": "%s", "rate_limit": 1000000000, "oauth": {"client_id": "%s",
		"client_secret": "%s", "tenant": "contoso.example"}}\n' \
		"$TOKEN" "$GRAPH_CLIENT_ID" "$GRAPH_SECRET" > "$WORK/settings.json"
	printf '%s\n' "$TOKEN" > "$WORK/token"
	printf '%s\n' "$GRAPH_SECRET" > "$WORK/graph-secret"
	chmod 600 "$WORK/token" "$WORK/graph-secret"
	printf 'Authorization: SSWS %s\n' "$TOKEN" > "$WORK/headers-okta"
	# The fake checks no Graph token without graph.token in its settings.
	printf 'Authorization: Bearer %s\nConsistencyLevel: eventual\n' "$TOKEN" \
		> "$WORK/headers-graph"

	machine
	echo "sources: $SOURCES; users: $USERS; latencies: $LATENCIES ms; repeat: $REPEAT;" \
		"groups: $GROUP_COUNT; churn: $CHURN%"
	for SOURCE in $SOURCES; do
		for users in $USERS; do
			for latency in $LATENCIES; do
				for rep in $(seq 1 "$REPEAT"); do
					measure_round "$users" "$latency" "$rep"
				done
			done
		done
	done
	echo
	report | tee "$WORK/report.txt"
}

main "$@"
