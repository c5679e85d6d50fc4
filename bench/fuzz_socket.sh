#!/usr/bin/env bash
# Long fuzz run of Kiln's socket argument handling (tests/fuzz/socket_targets.py), compared
# against CPython, in a private network namespace (root).  Usage (also `make fuzz`):
#     bench/fuzz_socket.sh [seconds per target, default 200]
# The corpus grows in $FUZZ_DIR/corpus-<target> (default /tmp/kiln-fuzz), findings are written
# to $FUZZ_DIR/findings/; the summary prints executions per target.  Exit status 1 on a finding.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-200}
FUZZ_DIR=${FUZZ_DIR:-/tmp/kiln-fuzz}
mkdir -p "$FUZZ_DIR/findings"
status=0
for target in address inet getaddrinfo; do
    mkdir -p "$FUZZ_DIR/corpus-$target"
    log="$FUZZ_DIR/$target.log"
    .venv/bin/python tests/fuzz/fuzz_socket.py "$target" "$FUZZ_DIR/corpus-$target" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/findings/$target-" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    corpus=$(ls "$FUZZ_DIR/corpus-$target" | wc -l)
    echo "$target: exit $rc, ${runs:-?} executions (${speed:-?}/s) in ${SECONDS_PER_TARGET}s, corpus $corpus"
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -E "AssertionError|Error:" "$log" | tail -3
    fi
done
echo "findings: $(ls "$FUZZ_DIR/findings" | wc -l) (in $FUZZ_DIR/findings)"
exit $status
