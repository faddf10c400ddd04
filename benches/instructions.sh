#!/usr/bin/env bash
# Instructions per request, yardstick against triage, counted by valgrind's callgrind: the same
# figure whatever else the host is doing (req/s on a shared 2-CPU machine moves by ±30% with
# hypervisor steal; this does not). Use it to judge a change; use compare.sh for the targets.
#
#   benches/instructions.sh                 # small 200 GET
#   SCENARIO=conflict benches/instructions.sh
#   CACHE_SIM=1 SCENARIO=conflict benches/instructions.sh   # also cache misses per request
#   UPSTREAM=1 benches/instructions.sh      # also the bench upstream's own count
#   NODASH=1 benches/instructions.sh        # also triage without its dashboard
#   TRIAGE_BIN=/tmp/old/triage benches/instructions.sh   # count another build of triage
#   KEEP=1 benches/instructions.sh          # keep the callgrind files (their directory is printed)
#
# Each proxy runs under callgrind in front of the bench upstream; wrk warms it up, the counters
# are zeroed, wrk sends SECONDS of requests at 4 connections, the counters are dumped and divided
# by the requests wrk counted. Contenders: the yardstick, triage with its features off ("core":
# no rules, no dashboard, no catalog fetch) and triage as shipped. Under each triage line, "of
# which" splits out the work the yardstick has no counterpart for: decoding the inspected body,
# diagnosing it, and the dashboard and metrics.
set -euo pipefail

SCENARIO="${SCENARIO:-small}"
SECONDS_RUN="${SECONDS_RUN:-5}"
# CACHE_SIM=1: callgrind's cache model too (slower): first-level instruction and data misses
# and last-level misses per request, in its simulated caches.
CACHE_SIM="${CACHE_SIM:-0}"
# UPSTREAM=1: also count the bench upstream itself (behind the yardstick), to size the budget
# a proxy shares its CPU with.
UPSTREAM="${UPSTREAM:-0}"
# NODASH=1: also triage as shipped but with --no-dashboard, to attribute what the dashboard's
# ring of recent exchanges costs.
NODASH="${NODASH:-0}"
UP2_PORT="${UP2_PORT:-18113}"
UP_PORT="${UP_PORT:-18111}"
PX_PORT="${PX_PORT:-18112}"
# triage at its default log level (one INFO line per exchange), as compare.sh runs it.
unset RUST_LOG

# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
needs "Debian: valgrind, wrk" valgrind callgrind_control callgrind_annotate wrk
build

work="$(mktemp -d "${TMPDIR:-/tmp}/triage-instr.XXXXXX")"
pids=()
# KEEP=1 keeps the callgrind files (for callgrind_annotate), which are removed otherwise.
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

case "$SCENARIO" in
    small) printf 'wrk.method = "GET"\nwrk.headers["Authorization"] = "Bearer bench-token"\n' >"$work/s.lua" ;;
    conflict | conflict-gz)
        printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer bench-token"\n' \
            "'{\"textBody\":\"hello from the benchmark\"}'" >"$work/s.lua"
        if [[ "$SCENARIO" == conflict-gz ]]; then echo 'wrk.headers["Accept-Encoding"] = "gzip"' >>"$work/s.lua"; fi
        ;;
    *) echo "unknown SCENARIO $SCENARIO (small, conflict, conflict-gz)" >&2; exit 1 ;;
esac

"$target/release/examples/bench-upstream" "127.0.0.1:$UP_PORT" 2>/dev/null & pids+=($!)
up="http://127.0.0.1:$UP_PORT"
# TRIAGE_BIN: another build of triage to count in place of this tree's (an older commit's,
# built with `git worktree add /tmp/old <commit> && cargo build --release` there), so that a
# change is judged against its base in the same run of the same script.
triage=("${TRIAGE_BIN:-$target/release/triage}" proxy --listen "127.0.0.1:$PX_PORT" --api-upstream "$up" --login-upstream "$up")

vg=(valgrind --tool=callgrind)
if [[ "$CACHE_SIM" == 1 ]]; then vg+=(--cache-sim=yes); fi

count() { # label command...
    local label="$1" v n total
    shift
    "${vg[@]}" --callgrind-out-file="$work/$label.out" "$@" 2>"$work/$label.err" >/dev/null &
    v=$!
    local port="$PX_PORT"
    if [[ "$label" == upstream ]]; then port="$UP2_PORT"; fi
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
    # The counted process is the one under valgrind; for the upstream, a yardstick in front.
    local front=""
    if [[ "$label" == upstream ]]; then
        "$target/release/examples/bench-yardstick" "127.0.0.1:$PX_PORT" "127.0.0.1:$UP2_PORT" 2>/dev/null &
        front=$!
        for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PX_PORT/" && break; sleep 0.1; done
    fi
    wrk -t1 -c4 -d3s -s "$work/s.lua" "http://127.0.0.1:$PX_PORT/api/v2/bench/$SCENARIO" >/dev/null
    callgrind_control -z "$v" >/dev/null 2>&1
    n="$(wrk -t1 -c4 -d"${SECONDS_RUN}s" -s "$work/s.lua" "http://127.0.0.1:$PX_PORT/api/v2/bench/$SCENARIO" | awk '/ requests in / { print $1 }')"
    callgrind_control -d "$v" >/dev/null 2>&1
    sleep 1
    kill "$v"; wait "$v" 2>/dev/null || true
    if [[ -n "$front" ]]; then kill "$front"; wait "$front" 2>/dev/null || true; fi
    # PROGRAM TOTALS: Ir, then (with the cache model) Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
    read -r -a t <<<"$(callgrind_annotate "$(ls "$work/$label".out.* | head -1)" 2>/dev/null \
        | awk '/PROGRAM TOTALS/ { gsub(/\([^)]*\)/, ""); gsub(",", ""); NF--; print }')"
    printf '%-10s %8d requests  %8.0f instructions/request' "$label" "$n" "$(awk -v t="${t[0]}" -v n="$n" 'BEGIN { print t / n }')"
    if [[ "$CACHE_SIM" == 1 ]]; then
        awk -v n="$n" -v i1="${t[3]}" -v d1r="${t[4]}" -v d1w="${t[5]}" -v l1="${t[6]}" -v l2="${t[7]}" -v l3="${t[8]}" \
            'BEGIN { printf "  I1 misses %6.0f  D1 misses %6.0f  LL misses %5.1f", i1 / n, (d1r + d1w) / n, (l1 + l2 + l3) / n }'
    fi
    echo
    if [[ "$label" != yardstick && "$label" != upstream ]]; then part_of "$label" "$n"; fi
}

# What triage spends per request in three parts that the yardstick has no counterpart for
# (callgrind's inclusive count of the function that does each): decoding the body for
# inspection, diagnosing (rules, evidence, headers, the diagnosis log line), and handing the
# finished exchange to the dashboard and metrics.
part_of() { # label requests
    callgrind_annotate --inclusive=yes "$(ls "$work/$1".out.* | head -1)" 2>/dev/null | awk -v n="$2" '
        function put(name, v) { printf "  %s %.0f", name, v / n }
        { c = $1; gsub(",", "", c) }
        / [^ ]*:triage::proxy::decode::decode_bytes \[/ { d = c }
        / [^ ]*:<triage::diagnose::pipeline::Pipeline as triage::inspect::Inspector>::inspect \[/ { g = c }
        / [^ ]*:<triage::diagnose::pipeline::Pipeline as triage::inspect::Inspector>::finished \[/ { f = c }
        END { printf "%-10s of which", ""; put("decoding", d); put("diagnosing", g); put("dashboard+metrics", f); print "" }'
}

echo "== $SCENARIO: instructions per request (callgrind; ${SECONDS_RUN}s of wrk -c4 after a 3s warm-up)"
if [[ "$UPSTREAM" == 1 ]]; then
    count upstream "$target/release/examples/bench-upstream" "127.0.0.1:$UP2_PORT"
fi
count yardstick "$target/release/examples/bench-yardstick" "127.0.0.1:$PX_PORT" "127.0.0.1:$UP_PORT"
count core "${triage[@]}" --no-builtin-rules --no-dashboard --no-spec-fetch
if [[ "$NODASH" == 1 ]]; then
    count nodash "${triage[@]}" --no-dashboard
fi
count triage "${triage[@]}"
if [[ "${KEEP:-0}" == 1 ]]; then echo "(callgrind files: $work)"; else echo "(KEEP=1 keeps the callgrind files)"; fi
