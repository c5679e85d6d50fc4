#!/usr/bin/env bash
# Long fuzz run of Kiln's socket argument handling (tests/fuzz/socket_targets.py), compared
# against CPython, and of the TLS layer's certificate and key loading (tests/fuzz/tls_targets.py),
# in a private network namespace (root).  Usage (also `make fuzz`):
#     bench/fuzz_socket.sh [seconds per target, default 200]
# When clang is installed, kiln.net is first rebuilt from its generated C sources with
# -fsanitize=fuzzer-no-link into $FUZZ_DIR/native, so that libFuzzer is guided by the coverage of
# the Cython core and not only of the Python harness (without clang it runs uninstrumented).
# The corpus grows in $FUZZ_DIR/corpus-<target> (default /tmp/kiln-fuzz), findings are written to
# $FUZZ_DIR/findings/; the summary prints executions and coverage per target.  Exit 1 on a finding.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-200}
FUZZ_DIR=${FUZZ_DIR:-/tmp/kiln-fuzz}
mkdir -p "$FUZZ_DIR/findings"
PY=.venv/bin/python

if command -v clang >/dev/null && ls sdk/kiln/net/*.c >/dev/null 2>&1; then
    native="$FUZZ_DIR/native"
    rm -rf "$native" && mkdir -p "$native" && cp -r sdk "$native/"
    include=$($PY -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    suffix=$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    for c in sdk/kiln/net/*.c; do
        clang -O1 -g -fPIC -shared -fsanitize=fuzzer-no-link -fno-strict-aliasing -w \
            -I"$include" "$c" -o "$native/sdk/kiln/net/$(basename "$c" .c)$suffix" || exit 2
    done
    export PYTHONPATH="$native/sdk"
    echo "kiln.net instrumented for coverage (clang $(clang -dumpversion)) in $native"
else
    echo "clang not found (or kiln.net not built): fuzzing without coverage of the Cython core"
fi

status=0
for target in address inet getaddrinfo cadata cert-chain zssl-context; do
    mkdir -p "$FUZZ_DIR/corpus-$target"
    log="$FUZZ_DIR/$target.log"
    $PY tests/fuzz/fuzz_socket.py "$target" "$FUZZ_DIR/corpus-$target" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/findings/$target-" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    corpus=$(ls "$FUZZ_DIR/corpus-$target" | wc -l)
    echo "$target: exit $rc, ${runs:-?} executions (${speed:-?}/s) in ${SECONDS_PER_TARGET}s, ${cov:-cov: ?} edges, corpus $corpus"
    if [ "$rc" -ne 0 ]; then
        status=1
        grep -E "AssertionError|Error:" "$log" | tail -3
    fi
done
echo "findings: $(ls "$FUZZ_DIR/findings" | wc -l) (in $FUZZ_DIR/findings)"
exit $status
