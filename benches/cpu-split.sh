#!/usr/bin/env bash
# Where a proxy's CPU per request goes: user and system time, minor page faults and context
# switches (from /proc/PID/stat and each thread's status, around a wrk run) and, with STRACE=1,
# the system calls per request (strace -c -f, a separate run, since strace slows the process it
# counts). For the yardstick, triage with its features off (core) and triage as shipped, each
# pinned to CPU 0 beside the bench upstream, wrk on CPU 1.
#
#   benches/cpu-split.sh                       # 409 POST (SCENARIO=conflict), 2 rounds
#   SCENARIO=small ROUNDS=3 benches/cpu-split.sh
#   STRACE=1 benches/cpu-split.sh              # also the system calls per request
#
# docs/benchmarks.md quotes its figures. Rounds of one proxy differ by up to 30% on a shared
# host: read several.
set -euo pipefail

SCENARIO="${SCENARIO:-conflict}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-4}"
STRACE="${STRACE:-0}"
UP_PORT="${UP_PORT:-18211}"

# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
needs "Debian: wrk, util-linux" wrk taskset
if [[ "$STRACE" == 1 ]]; then needs "Debian: strace" strace; fi
build

work="$(mktemp -d "${TMPDIR:-/tmp}/triage-split.XXXXXX")"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

case "$SCENARIO" in
    small) path=/api/v2/bench/small; printf 'wrk.method = "GET"\n' >"$work/s.lua" ;;
    conflict)
        path=/api/v2/bench/conflict
        printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
            "'{\"textBody\":\"hello from the benchmark\"}'" >"$work/s.lua"
        ;;
    *) echo "unknown SCENARIO $SCENARIO (small, conflict)" >&2; exit 1 ;;
esac
echo 'wrk.headers["Authorization"] = "Bearer bench-token"' >>"$work/s.lua"

taskset -c 0 "$target/release/examples/bench-upstream" "127.0.0.1:$UP_PORT" 2>/dev/null & pids+=($!)
up="http://127.0.0.1:$UP_PORT"
names=(yardstick core triage)
ports=(18212 18213 18214)
start() { # name port [strace output]
    local pre=(taskset -c 0)
    if [[ -n "${3:-}" ]]; then pre+=(strace -c -f -o "$3"); fi
    case "$1" in
        yardstick) "${pre[@]}" "$target/release/examples/bench-yardstick" "127.0.0.1:$2" "127.0.0.1:$UP_PORT" 2>/dev/null & ;;
        core) "${pre[@]}" "$target/release/triage" proxy --listen "127.0.0.1:$2" --api-upstream "$up" \
            --login-upstream "$up" --no-builtin-rules --no-dashboard --no-spec-fetch 2>/dev/null & ;;
        triage) "${pre[@]}" "$target/release/triage" proxy --listen "127.0.0.1:$2" --api-upstream "$up" \
            --login-upstream "$up" 2>/dev/null & ;;
    esac
    pids+=($!)
}
# The server's own PID (taskset and strace exec or fork it): the process listening on the port.
server_pid() { # port
    local pid=""
    for _ in $(seq 50); do
        pid="$( (ss -Hltnp "sport = :$1" 2>/dev/null | grep -o "pid=[0-9]*" | head -1 | cut -d= -f2) || true)"
        [[ -n "$pid" ]] && break
        sleep 0.1
    done
    echo "$pid"
}
run_wrk() { # port -> requests
    taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -s "$work/s.lua" "http://127.0.0.1:$1$path" |
        awk '/requests in/{print $1}'
}

# Context switches of all the proxy's threads, voluntary then involuntary: a worker that parks
# and is woken costs the kernel time that no system call count shows.
switches() { # pid
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { w += $2 } END { print v + 0, w + 0 }'
}
for i in 0 1 2; do start "${names[$i]}" "${ports[$i]}"; done
clk="$(getconf CLK_TCK)"
echo "== $SCENARIO: CPU per request, user + system (ns), $ROUNDS rounds of ${DURATION}s"
for r in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
        pid="$(server_pid "${ports[$i]}")"
        read -r u0 s0 f0 < <(awk '{print $14, $15, $10}' "/proc/$pid/stat")
        read -r v0 w0 < <(switches "$pid")
        n="$(run_wrk "${ports[$i]}")"
        read -r u1 s1 f1 < <(awk '{print $14, $15, $10}' "/proc/$pid/stat")
        read -r v1 w1 < <(switches "$pid")
        printf '  round %d  %-9s %7d req  user %6d  system %6d  per 1000 req: faults %5d  switches %5d + %4d\n' \
            "$r" "${names[$i]}" "$n" \
            $(((u1 - u0) * 1000000000 / clk / n)) $(((s1 - s0) * 1000000000 / clk / n)) \
            $(((f1 - f0) * 1000 / n)) $(((v1 - v0) * 1000 / n)) $(((w1 - w0) * 1000 / n))
    done
done

if [[ "$STRACE" == 1 ]]; then
    for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
    pids=("${pids[0]}")
    sleep 0.5
    echo "== $SCENARIO: system calls per request (strace -c -f; separate runs of ${DURATION}s)"
    for i in 0 1 2; do
        start "${names[$i]}" "${ports[$i]}" "$work/${names[$i]}.strace"
        server_pid "${ports[$i]}" >/dev/null
        n="$(run_wrk "${ports[$i]}")"
        pkill -TERM -f "127.0.0.1:${ports[$i]}" 2>/dev/null || true
        sleep 1.5
        printf '  %-9s %7d req: ' "${names[$i]}" "$n"
        # Calls made at least once per 200 requests.
        awk -v n="$n" 'NR > 2 && $NF != "total" && $4 ~ /^[0-9]+$/ && $4 / n >= 0.005 { printf "%s %.2f  ", $NF, $4 / n }' \
            "$work/${names[$i]}.strace"
        echo
    done
fi
