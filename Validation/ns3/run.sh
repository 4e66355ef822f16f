#!/usr/bin/env bash
# Build tcp_bulk.cc against Debian's ns-3 and run every point of grid.csv.
#
#   ./run.sh                 Cubic -> results.csv (+ results_runs.csv, one line per run)
#   TCP=NewReno ./run.sh     -> results_NewReno.csv (+ results_NewReno_runs.csv)
#   TCP=Bbr ./run.sh         -> results_Bbr.csv (+ results_Bbr_runs.csv); BBR runs paced
#   FORCE=1 ./run.sh         rerun even if the results are newer than every input
#   RUNS=5 JOBS=2            RNG runs per lossy point (loss 0 is deterministic:
#                            1 run; default 5, 3 for Bbr); parallel simulations
#                            (default: nproc)
#   MAXSIM=1e7               simulated-seconds limit per run (tcp_bulk --max-sim;
#                            default 2e5, 1e7 for Bbr: ns-3.37's TcpBbr can fall
#                            into a one-segment-per-RTO storm that needs days)
#   MAXWALL=20               wall-clock limit per run, s (tcp_bulk --max-wall;
#                            default 0 = none, 20 for Bbr). A run that hits it is
#                            kept in *_runs.csv with seconds -1 and left out of
#                            the point's figures (runs counts finished ones).
#
# Quiet on success; exits non-zero on any failure. Installs ns3/libns3-dev/g++
# with apt-get only when they are missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

TCP="${TCP:-Cubic}"
if [ "$TCP" = "Bbr" ]; then RUNS="${RUNS:-3}"; else RUNS="${RUNS:-5}"; fi
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
if [ "$TCP" = "Bbr" ]; then MAXSIM="${MAXSIM:-10000000}"; MAXWALL="${MAXWALL:-20}"
else MAXSIM="${MAXSIM:-200000}"; MAXWALL="${MAXWALL:-0}"; fi
if [ "$TCP" = "Cubic" ]; then
    OUT="${OUT:-results.csv}"
else
    OUT="${OUT:-results_${TCP}.csv}"
fi
RAW="${OUT%.csv}_runs.csv"
BUILD="$HERE/build"
BIN="$BUILD/tcp_bulk"

die() { echo "run.sh: $*" >&2; exit 1; }

# --- 1. ns-3 and a compiler -------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in libns3-dev ns3 g++; do have_pkg "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log="$(mktemp)"
    if ! { $SUDO apt-get update -qq && \
           $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$log"
fi

# --- 2. build -----------------------------------------------------------------
# Debian 12 (ns-3.37): headers in /usr/include/ns3/, libraries libns3-<module>.so.
# Older layouts (ns3.NN/ include dirs, libns3.NN-<module>-*.so) are handled too.
incdir=""
for d in /usr/include /usr/local/include /usr/include/ns3.* /usr/local/include/ns3.*; do
    if [ -f "$d/ns3/core-module.h" ]; then incdir="$d"; break; fi
done
[ -n "$incdir" ] || die "ns-3 headers (ns3/core-module.h) not found"
libs=()
for m in applications internet point-to-point traffic-control network core; do
    f="$(ls /usr/lib/*/libns3-"$m".so /usr/lib/libns3-"$m".so /usr/local/lib/libns3-"$m".so \
             /usr/lib/*/libns3.*-"$m"-*.so /usr/local/lib/libns3.*-"$m"-*.so 2>/dev/null | head -n1 || true)"
    [ -n "$f" ] || die "ns-3 library for module $m not found"
    n="$(basename "$f" .so)"; libs+=("-l${n#lib}")
done
mkdir -p "$BUILD"
if [ ! -x "$BIN" ] || [ "$HERE/tcp_bulk.cc" -nt "$BIN" ]; then
    if ! g++ -O2 -std=c++17 -I"$incdir" -o "$BIN.tmp" "$HERE/tcp_bulk.cc" "${libs[@]}" 2>"$BUILD/build.log"; then
        cat "$BUILD/build.log" >&2; die "build failed"
    fi
    mv -f "$BIN.tmp" "$BIN"
fi

# --- 3. up to date? -----------------------------------------------------------
if [ -z "${FORCE:-}" ] && [ -s "$OUT" ] && [ -s "$RAW" ] && \
   [ "$OUT" -nt grid.csv ] && [ "$OUT" -nt "$BIN" ] && [ "$OUT" -nt "$HERE/run.sh" ]; then
    exit 0
fi

# --- 4. run the grid ----------------------------------------------------------
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# One job per (point, run); the biggest first so the two cores stay busy.
awk -F, -v runs="$RUNS" 'NR > 1 && NF >= 4 {
        n = ($3 + 0 == 0) ? 1 : runs
        for (r = 1; r <= n; r++) printf "%.0f %s %s %s %s %s\n", $4 * $1 * $2 / 1e6, $1, $2, $3, $4, r
    }' grid.csv | sort -k1,1nr -k2,2nr | cut -d' ' -f2- >"$TMP/jobs"
[ -s "$TMP/jobs" ] || die "grid.csv has no points"

export BIN TCP TMP MAXSIM MAXWALL
if ! xargs -P "$JOBS" -L 1 sh -c '
        f="$TMP/out_$1_$2_$3_$4_$5"
        timeout 1200 "$BIN" --rate="$1" --rtt="$2" --loss="$3" --bytes="$4" --run="$5" --tcp="$TCP" --max-sim="$MAXSIM" \
            --max-wall="$MAXWALL" >"$f.csv" 2>"$f.err" || [ $? -eq 3 ] || { echo "tcp_bulk failed: $*" >&2; cat "$f.err" >&2; exit 1; }
    ' sh <"$TMP/jobs"; then
    die "simulation failed"
fi

# --- 5. aggregate, in grid order ----------------------------------------------
echo "tcp,rate_mbps,rtt_ms,loss,bytes,run,seconds,handshake_seconds,retransmissions,random_drops,queue_drops,recoveries,rtos,queue_pkts" >"$TMP/raw"
awk -F, 'NR > 1 && NF >= 4 { print $1, $2, $3, $4 }' grid.csv | while read -r r t l b; do
    for f in "$TMP"/out_"$r"_"$t"_"$l"_"$b"_*.csv; do
        [ -s "$f" ] || die "missing output for $r,$t,$l,$b"
        cat "$f"
    done | sort -t, -k6,6n >>"$TMP/raw"
done

awk -F, '
    NR == 1 { next }
    {
        key = $2 "," $3 "," $4 "," $5
        if (!(key in n)) { order[++nk] = key; n[key] = 0 }
        if ($7 < 0) next    # gave up at MAXWALL: not a transfer time

        n[key]++; s[key] += $7; ss[key] += $7 * $7; h[key] += $8; rx[key] += $9
        rd[key] += $10; qd[key] += $11; to[key] += $13; q[key] = $14
        if (!(key in mn) || $7 < mn[key]) mn[key] = $7
        if (!(key in mx) || $7 > mx[key]) mx[key] = $7
    }
    END {
        print "rate_mbps,rtt_ms,loss,bytes,seconds,handshake_seconds,retransmissions,runs,seconds_std,seconds_min,seconds_max,random_drops,queue_drops,rtos,queue_pkts"
        for (i = 1; i <= nk; i++) {
            k = order[i]; c = n[k]
            if (c == 0) { printf "%s,-1,-1,0,0,0,0,0,0,0,0,0\n", k; continue }
            m = s[k] / c
            v = (c > 1) ? (ss[k] - c * m * m) / (c - 1) : 0
            if (v < 0) v = 0
            printf "%s,%.6f,%.6f,%.1f,%d,%.6f,%.6f,%.6f,%.1f,%.1f,%.1f,%d\n", k, m, h[k] / c, rx[k] / c, c,
                   sqrt(v), mn[k], mx[k], rd[k] / c, qd[k] / c, to[k] / c, q[k]
        }
    }' "$TMP/raw" >"$TMP/agg"

npts="$(awk -F, 'NR > 1 && NF >= 4' grid.csv | wc -l)"
[ "$(($(wc -l <"$TMP/agg") - 1))" -eq "$npts" ] || die "aggregated $(($(wc -l <"$TMP/agg") - 1)) points, grid has $npts"
mv -f "$TMP/raw" "$RAW"
mv -f "$TMP/agg" "$OUT"
