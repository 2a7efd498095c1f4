#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for SECONDS
# (default 60).  Seeds come from tests/fuzz/corpus/<target>; new inputs and
# crash files go to build/fuzz/, never into the repository.  A crash, an
# ASan or UBSan report, or a leak fails the target and the script.
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
#
# Targets: link_next retry_after rate_limit_reset app_users graph config.
set -eu

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-link_next retry_after rate_limit_reset app_users graph config}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/fuzz"
cc=${FUZZ_CC:-clang}
pkgs="libcurl libcjson yaml-0.1"
sources="error.c log.c logline.c progress.c identity.c sort.c unicode.c strpool.c secret.c http.c http_headers.c json_arena.c
json_field.c okta.c graph_parse.c config.c pagelog.c stop.c"

mkdir -p "$out"
agent=""
for source in $sources; do
	agent="$agent $root/agent/$source"
done

status=0
for target in $targets; do
	binary="$out/fuzz_$target"
	corpus="$out/corpus_$target"

	# shellcheck disable=SC2086 # word splitting of the flag lists is intended
	# reader_stubs.c replaces the credential functions that the readers
	# (okta_read(), graph_read()) call, so that the parsers link without them.
	$cc -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I"$root/include" -I"$root/tests/fuzz" \
		-DROSTERSYNC_VERSION='"fuzz"' $(pkg-config --cflags $pkgs) \
		-o "$binary" "$root/tests/fuzz/fuzz_$target.c" "$root/tests/fuzz/reader_stubs.c" $agent \
		$(pkg-config --libs $pkgs) -lm

	mkdir -p "$corpus"
	echo "== fuzz_$target for $seconds s"
	# -close_fd_mask=2 silences the parsers' log lines; crash reports still appear.
	if ! "$binary" -max_total_time="$seconds" -max_len=65536 -close_fd_mask=2 \
		-artifact_prefix="$out/crash_${target}_" "$corpus" \
		"$root/tests/fuzz/corpus/$target"; then
		echo "fuzz_$target failed: see $out/crash_${target}_*" >&2
		status=1
	fi
done
exit $status
