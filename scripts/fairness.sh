#!/usr/bin/env bash
# What one attacker does to honest editors, before and after a change: for
# each attack, `rota-load --scenario fairness --attack KIND` against the
# BEFORE hub binary, then against the AFTER one (alternating, so a drift of
# the machine hits both alike), and one markdown table row per attack:
# honest ack p50/p99 before and after, and the attack's own figures.
#
#   scripts/fairness.sh BEFORE_ROTA AFTER_ROTA [--duration S] [--attacks "a b ..."]
#
# BEFORE_ROTA / AFTER_ROTA: two `rota` binaries (each run starts its own hub
# from one, as ROTA_BIN). rota-load is target/release/rota-load (build it:
# cargo build --release --bin rota --bin rota-load), or $ROTA_LOAD.
# Each run's JSON report is kept in $OUT (default: a new temporary dir).
# Needs jq.
set -euo pipefail

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 2 ] || usage
before=$1
after=$2
shift 2
duration=10
attacks="none big-parts big-parts-same big-parts-rejected big-edits cursors parts-budget non-readers history-flood slow-readers-baseline slow-readers"
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?--duration needs seconds}; shift 2 ;;
        --attacks) attacks=${2:?--attacks needs a list}; shift 2 ;;
        *) usage ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
load=${ROTA_LOAD:-$root/target/release/rota-load}
for bin in "$before" "$after" "$load"; do
    [ -x "$bin" ] || { echo "fairness.sh: $bin is not an executable" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "fairness.sh: needs jq" >&2; exit 2; }
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fairness.XXXXXX")}
mkdir -p "$out"

# One run: its JSON report in $out/ATTACK.WHICH.json (empty when it failed
# to print one; its stderr beside it).
run() { # WHICH BIN ATTACK
    local file=$out/$3.$1
    ROTA_BIN=$2 "$load" --scenario fairness --attack "$3" --duration "$duration" --json \
        >"$file.json" 2>"$file.err" || true
    echo "$file.json"
}

# "p50/p99" of the honest acks, or why there are none.
latency() { # FILE
    [ -s "$1" ] || { echo "no report"; return; }
    local n p50 p99
    read -r n p50 p99 < <(jq -r '.honest_ack_ms | "\(.count) \(.p50) \(.p99)"' "$1")
    if [ "$n" -gt 0 ]; then printf '%.2f/%.2f' "$p50" "$p99"; else echo "none acked"; fi
}

# The honest editors' slowest ack, the attack's own figures, any failure.
extra() { # FILE
    [ -s "$1" ] || { echo "(run failed: $(head -c 200 "${1%.json}.err" | tr '\n|' ' /'))"; return; }
    jq -r '["honest max \(.honest_ack_ms.max | round) ms", .extra, (.failures // [] | if length > 0 then "FAILED: " + (.[0] | .[0:160]) else empty end)]
        | map(select(. != "")) | join("; ") | gsub("\\|"; "/")' "$1"
}

echo "machine: $(uname -m), $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "before: $before"
echo "after:  $after"
echo "runs of ${duration} s each (after a warm-up of 1 s or more); honest acks in ms"
echo
echo "| attack | before p50/p99 | after p50/p99 | extra figures (before → after) |"
echo "|---|---|---|---|"
for attack in $attacks; do
    b=$(run before "$before" "$attack")
    a=$(run after "$after" "$attack")
    printf '| %s | %s | %s | before: %s<br>after: %s |\n' \
        "$attack" "$(latency "$b")" "$(latency "$a")" "$(extra "$b")" "$(extra "$a")"
done
echo
echo "JSON reports: $out"
