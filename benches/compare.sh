#!/usr/bin/env bash
# A/B benchmark: triage against a minimal hyper pass-through proxy (the yardstick), both in front
# of the same local upstream, driven by wrk. See docs/benchmarks.md for a recorded run.
#
#   benches/compare.sh                 # build --release, run, print the table (about 8 minutes)
#   ROUNDS=30 DURATION=2 CORE=0 benches/compare.sh
#   KEEP=1 benches/compare.sh          # keep the raw output (its directory is printed)
#
# Scenarios: small 200 JSON GET; 409 JSON POST (triage reads and decodes it: the inspected path);
# the same 409 gzip-encoded; 32 concurrent 20 MiB streamed GETs with each proxy's peak RSS
# (VmHWM, each proxy restarted just before). Rounds are interleaved (yardstick and triage
# alternate, order flipped each round); the table shows the median of the rounds, and the ratios
# are the median of the per-round paired ratios (robust to load drifting between rounds).
# Servers run on SERVER_CPUS, wrk and curl on LOAD_CPUS (taskset), loopback only.
# "cpu us/req" is the proxy process's own CPU time (user+sys, all threads, from /proc/PID/stat)
# per request during the measured run: less sensitive than req/s to other load on the machine.
set -euo pipefail

# Many short rounds rather than a few long ones: on a shared host the machine's own speed drifts
# over seconds to minutes (one proxy's req/s moved by ±20% between rounds with no steal
# reported), and a ratio of two runs taken seconds apart, medianed over many rounds, cancels
# that drift far better than five rounds of four seconds did.
ROUNDS="${ROUNDS:-15}"
DURATION="${DURATION:-2}"   # seconds per measured run
WARMUP="${WARMUP:-1}"       # seconds of warm-up before each measured run
CONNS="${CONNS:-32}"        # wrk connections
STREAMS="${STREAMS:-32}"    # concurrent 20 MiB downloads
# Log filter for triage; unset = triage's default (info: one line per exchange). For attribution
# only, e.g. TRIAGE_RUST_LOG=warn shows what per-exchange logging costs.
TRIAGE_RUST_LOG="${TRIAGE_RUST_LOG:-}"
UP_PORT="${UP_PORT:-18101}"
YS_PORT="${YS_PORT:-18102}"
TR_PORT="${TR_PORT:-18103}"
CORE_PORT="${CORE_PORT:-18104}"
# CORE=1 adds a third contender for attribution: triage with its features off (no rules, no
# dashboard, no catalog fetch), i.e. the forwarding and inspection machinery alone. The targets
# are always judged on triage as shipped.
CORE="${CORE:-1}"

# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ncpu="$(nproc)"
if [[ -z "${SERVER_CPUS+x}" ]]; then
    if ((ncpu >= 4)); then SERVER_CPUS="0-$((ncpu / 2 - 1))"; LOAD_CPUS="$((ncpu / 2))-$((ncpu - 1))"
    elif ((ncpu >= 2)); then SERVER_CPUS="0"; LOAD_CPUS="1"
    else SERVER_CPUS=""; LOAD_CPUS=""; fi
fi
# taskset execs its command, so $! of a pinned background server is the server's own PID.
PIN_SERVER=(); PIN_LOAD=()
if [[ -n "$SERVER_CPUS" ]]; then PIN_SERVER=(taskset -c "$SERVER_CPUS"); fi
if [[ -n "${LOAD_CPUS:-}" ]]; then PIN_LOAD=(taskset -c "$LOAD_CPUS"); fi

build
triage_bin="$target/release/triage"
upstream_bin="$target/release/examples/bench-upstream"
yardstick_bin="$target/release/examples/bench-yardstick"

if ! command -v wrk >/dev/null; then
    echo "== installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/triage-bench.XXXXXX")"
declare -A PID=()
stop() { # name
    local p="${PID[$1]:-}"
    if [[ -n "$p" ]]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    PID[$1]=""
}
# KEEP=1 keeps the raw wrk output and server logs (tens of MB: a log line per request).
cleanup() {
    for n in "${!PID[@]}"; do stop "$n"; done
    if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port
    for _ in $(seq 100); do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then return 0; fi
        sleep 0.05
    done
    echo "nothing answers on port $1" >&2; exit 1
}
start_upstream() {
    "${PIN_SERVER[@]}" "$upstream_bin" "127.0.0.1:$UP_PORT" 2>>"$work/upstream.log" & PID[upstream]=$!
    wait_port "$UP_PORT"
}
start_yardstick() {
    "${PIN_SERVER[@]}" "$yardstick_bin" "127.0.0.1:$YS_PORT" "127.0.0.1:$UP_PORT" 2>>"$work/yardstick.log" & PID[yardstick]=$!
    wait_port "$YS_PORT"
}
start_triage() { # default log level unless TRIAGE_RUST_LOG, log to a file
    local logenv=(-u RUST_LOG)
    if [[ -n "$TRIAGE_RUST_LOG" ]]; then logenv=("RUST_LOG=$TRIAGE_RUST_LOG"); fi
    env "${logenv[@]}" "${PIN_SERVER[@]}" "$triage_bin" proxy --listen "127.0.0.1:$TR_PORT" \
        --api-upstream "http://127.0.0.1:$UP_PORT" --login-upstream "http://127.0.0.1:$UP_PORT" \
        2>>"$work/triage.log" & PID[triage]=$!
    wait_port "$TR_PORT"
}
start_core() { # triage, features off; same logging
    local logenv=(-u RUST_LOG)
    if [[ -n "$TRIAGE_RUST_LOG" ]]; then logenv=("RUST_LOG=$TRIAGE_RUST_LOG"); fi
    env "${logenv[@]}" "${PIN_SERVER[@]}" "$triage_bin" proxy --listen "127.0.0.1:$CORE_PORT" \
        --api-upstream "http://127.0.0.1:$UP_PORT" --login-upstream "http://127.0.0.1:$UP_PORT" \
        --no-builtin-rules --no-dashboard --no-spec-fetch \
        2>>"$work/core.log" & PID[core]=$!
    wait_port "$CORE_PORT"
}
port_of() {
    case "$1" in
        triage) echo "$TR_PORT" ;;
        core) echo "$CORE_PORT" ;;
        *) echo "$YS_PORT" ;;
    esac
}
PROXIES=(yardstick triage)
if [[ "$CORE" == 1 ]]; then PROXIES+=(core); fi

cat >"$work/small.lua" <<'EOF'
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer bench-token"
wrk.headers["Accept"] = "application/json"
EOF
cat >"$work/conflict.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"textBody":"hello from the benchmark"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"
EOF
cp "$work/conflict.lua" "$work/conflict-gz.lua"
echo 'wrk.headers["Accept-Encoding"] = "gzip"' >>"$work/conflict-gz.lua"
declare -A EXPECT=([small]=200 [conflict]=409 [conflict-gz]=409)
declare -A METHOD=([small]=GET [conflict]=POST [conflict-gz]=POST)
SCENARIOS=(small conflict conflict-gz)

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Time the hypervisor gave to other guests (the `steal` column of /proc/stat, all CPUs): on a
# shared host it moves req/s far more than anything in either proxy, so each run reports it.
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }

# wrk once; appends "scenario proxy round rps p50ms p99ms errors cpu_us_per_req steal_pct" to
# results.
measure() { # scenario proxy round
    local url="http://127.0.0.1:$(port_of "$2")/api/v2/bench/$1" out rps p50 p99 errs c0 c1 n cpu s0 s1 steal
    "${PIN_LOAD[@]}" wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$work/$1.lua" "$url" >/dev/null
    c0="$(cpu_ticks "${PID[$2]}")"; s0="$(steal_ticks)"
    out="$("${PIN_LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$work/$1.lua" "$url")"
    c1="$(cpu_ticks "${PID[$2]}")"; s1="$(steal_ticks)"
    steal="$(awk -v a="$s0" -v b="$s1" -v t="$CLK_TCK" -v d="$DURATION" -v c="$ncpu" 'BEGIN { printf "%.0f", (b - a) * 100 / t / d / c }')"
    n="$(awk '/ requests in / { print $1 }' <<<"$out")"
    cpu="$(awk -v a="$c0" -v b="$c1" -v n="$n" -v t="$CLK_TCK" 'BEGIN { printf "%.1f", (b - a) * 1e6 / t / n }')"
    printf '### %s %s round %s\n%s\n' "$1" "$2" "$3" "$out" >>"$work/wrk.log"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    errs="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
    if [[ "$1" == small ]]; then errs=$((${errs:-0} + $(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0))); fi
    echo "$1 $2 $3 $rps $p50 $p99 ${errs:-0} $cpu $steal" >>"$work/results"
    printf '  %-12s %-9s round %s: %10s req/s  p50 %7s ms  p99 %7s ms  cpu %6s us/req  steal %3s%%  errors %s\n' "$1" "$2" "$3" "$rps" "$p50" "$p99" "$cpu" "$steal" "${errs:-0}"
}

sanity() { # proxy: every scenario answers the expected status through it
    local s code enc
    for s in "${SCENARIOS[@]}"; do
        code="$(curl -s -o "$work/sanity.body" -D "$work/sanity.head" -w '%{http_code}' -X "${METHOD[$s]}" \
            -H 'Accept-Encoding: gzip' "http://127.0.0.1:$(port_of "$1")/api/v2/bench/$s")"
        if [[ "$code" != "${EXPECT[$s]}" ]]; then echo "$1 /$s answered $code, expected ${EXPECT[$s]}" >&2; exit 1; fi
    done
    enc="$(grep -i '^content-encoding:' "$work/sanity.head" || true)"
    if [[ "$enc" != *gzip* ]]; then echo "$1 dropped Content-Encoding: gzip" >&2; exit 1; fi
}

echo "== machine: $ncpu CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== triage log filter: ${TRIAGE_RUST_LOG:-default (info)}"
echo "== servers on CPU ${SERVER_CPUS:-any}, load generator on CPU ${LOAD_CPUS:-any}; wrk -t1 -c$CONNS, ${WARMUP}s warm-up + ${DURATION}s, $ROUNDS rounds"
start_upstream
start_yardstick
start_triage
if [[ "$CORE" == 1 ]]; then start_core; fi
for p in "${PROXIES[@]}"; do sanity "$p"; done

echo "== request/response scenarios"
: >"$work/results"
for ((r = 1; r <= ROUNDS; r++)); do
    order=("${PROXIES[@]}")
    if ((r % 2 == 0)); then order=(); for ((i = ${#PROXIES[@]} - 1; i >= 0; i--)); do order+=("${PROXIES[i]}"); done; fi
    for s in "${SCENARIOS[@]}"; do
        for p in "${order[@]}"; do measure "$s" "$p" "$r"; done
    done
done

echo "== $STREAMS concurrent 20 MiB streamed GETs (each proxy restarted first; peak RSS = VmHWM)"
declare -A ST_SECS=() ST_HWM=() ST_FAIL=()
stream_run() { # proxy: fills ST_SECS, ST_HWM (KiB), ST_FAIL
    stop "$1"; "start_$1"
    local url="http://127.0.0.1:$(port_of "$1")/api/v2/bench/stream20m" t0 t1 i
    local -a curls=()
    t0="$(date +%s.%N)"
    for ((i = 0; i < STREAMS; i++)); do
        "${PIN_LOAD[@]}" curl -s -o /dev/null --max-time 60 -w '%{http_code} %{size_download}\n' "$url" >"$work/stream.$1.$i" &
        curls+=($!)
    done
    wait "${curls[@]}" || true
    t1="$(date +%s.%N)"
    ST_SECS[$1]="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    ST_HWM[$1]="$(awk '/^VmHWM:/ {print $2}' "/proc/${PID[$1]}/status")"
    ST_FAIL[$1]="$(cat "$work"/stream."$1".* | grep -cvx '200 20971520' || true)"
}
stream_run yardstick
stream_run triage
ys_t="${ST_SECS[yardstick]}"; ys_hwm="${ST_HWM[yardstick]}"; ys_fail="${ST_FAIL[yardstick]}"
tr_t="${ST_SECS[triage]}"; tr_hwm="${ST_HWM[triage]}"; tr_fail="${ST_FAIL[triage]}"

echo
echo "== results (median of $ROUNDS rounds; ratios: median of per-round triage / yardstick)"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p { print $c }' "$work/results" | median; }
# Median over rounds of triage's column c divided by the yardstick's in the same round.
paired() { awk -v s="$1" -v c="$2" -v p="${3:-triage}" '$1 == s { v[$2, $3] = $c; r[$3] = 1 } END { for (k in r) printf "%.3f\n", v[p, k] / v["yardstick", k] }' "$work/results" | median; }
printf '%-12s %-10s %11s %9s %9s %12s %7s %7s  %s\n' scenario proxy 'req/s' 'p50 ms' 'p99 ms' 'cpu us/req' 'steal%' errors 'triage/yardstick'
verdicts=()
for s in "${SCENARIOS[@]}"; do
    for p in "${PROXIES[@]}"; do
        rps="$(col "$s" "$p" 4)"; p50="$(col "$s" "$p" 5)"; p99="$(col "$s" "$p" 6)"; cpu="$(col "$s" "$p" 8)"; st="$(col "$s" "$p" 9)"
        errs="$(awk -v s="$s" -v p="$p" '$1 == s && $2 == p { n += $7 } END { print n + 0 }' "$work/results")"
        note=""
        if [[ "$p" == triage ]]; then
            rr="$(paired "$s" 4)"; pr="$(paired "$s" 6)"; cr="$(paired "$s" 8)"
            note="req/s ${rr}x, p99 ${pr}x, cpu/req ${cr}x"
            want="$(if [[ "$s" == small ]]; then echo 0.95; else echo 0.90; fi)"
            verdicts+=("$(awk -v r="$rr" -v w="$want" -v s="$s" 'BEGIN { printf "%-12s throughput %.3fx (target >= %.2fx): %s", s, r, w, (r >= w ? "MET" : "MISSED") }')")
            verdicts+=("$(awk -v r="$pr" -v s="$s" 'BEGIN { printf "%-12s p99 %.3fx (target <= 1.10x): %s", s, r, (r <= 1.10 ? "MET" : "MISSED") }')")
        elif [[ "$p" == core ]]; then
            note="req/s $(paired "$s" 4 core)x, p99 $(paired "$s" 6 core)x, cpu/req $(paired "$s" 8 core)x (features off; not judged)"
        fi
        printf '%-12s %-10s %11s %9s %9s %12s %7s %7s  %s\n' "$s" "$p" "$rps" "$p50" "$p99" "$cpu" "$st" "$errs" "$note"
    done
done
printf '%-12s %-10s %8s s, peak RSS %6.1f MiB, failed downloads %s\n' stream20m yardstick "$ys_t" "$(awk -v k="$ys_hwm" 'BEGIN { print k / 1024 }')" "$ys_fail"
printf '%-12s %-10s %8s s, peak RSS %6.1f MiB, failed downloads %s\n' stream20m triage "$tr_t" "$(awk -v k="$tr_hwm" 'BEGIN { print k / 1024 }')" "$tr_fail"
verdicts+=("$(awk -v k="$tr_hwm" -v f="$tr_fail" 'BEGIN { printf "stream20m    triage peak RSS %.1f MiB (target < 32 MiB): %s", k / 1024, (k / 1024 < 32 && f == 0 ? "MET" : "MISSED") }')")
max_steal="$(awk '{ if ($9 > m) m = $9 } END { print m + 0 }' "$work/results")"
if ((max_steal > 5)); then
    echo "!! the hypervisor took up to ${max_steal}% of the CPUs during some runs (steal): req/s and p99 of those runs say more about the host than about either proxy"
fi
echo
echo "== targets"
printf '%s\n' "${verdicts[@]}"
echo
if [[ "${KEEP:-0}" == 1 ]]; then
    echo "(raw wrk output and server logs: $work; triage logged $(wc -l <"$work/triage.log") lines)"
else
    echo "(KEEP=1 keeps the raw wrk output and server logs)"
fi
