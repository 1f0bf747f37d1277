#!/usr/bin/env bash
# Mail throughput benchmark (issue 3): queue COUNT messages, drain them with
# `karvan outbox drain` into Postfix's smtp-sink on loopback, then run
# `smtp-source -d` (connections reused, as Karvan reuses them) against the
# same sink with the same concurrency as the baseline; print both rates,
# their ratio, and the drain's peak memory.
#
#   bench/mail.sh                     # COUNT=20000 CONCURRENCY=8
#   COUNT=5000 CONCURRENCY=4 bench/mail.sh
#
# Needs smtp-sink and smtp-source: `apt-get install postfix` (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-20000}
CONCURRENCY=${CONCURRENCY:-8}
SIZE=${SIZE:-2500}   # bytes per smtp-source message, about one of Karvan's test mails
PORT=${PORT:-25250}

for tool in smtp-sink smtp-source; do
  if ! command -v "$tool" >/dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench: $tool not found: install Postfix's tools with 'apt-get install postfix'" >&2
    exit 1
  fi
done
export PATH="$PATH:/usr/sbin"

# KARVAN_BIN=path measures another build (an older commit's, to compare in one sitting).
if [ -n "${KARVAN_BIN:-}" ]; then
  karvan=$(realpath "$KARVAN_BIN")
else
  cargo build --release --quiet
  karvan="$PWD/target/release/karvan"
fi

work=$(mktemp -d /tmp/karvan-bench-XXXXXX)
chmod 755 "$work"   # reachable by the postgres user when run as root
sink_pid=""
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" -c "127.0.0.1:$PORT" 1000 >/dev/null &
sink_pid=$!
sleep 0.5

export KARVAN_DATA_DIR="$work/var" SMTP_URL="smtp://127.0.0.1:$PORT" \
  KARVAN_SMTP_CONCURRENCY="$CONCURRENCY" RUST_LOG=warn NO_COLOR=1
"$karvan" outbox send-test --to "Bench Member <member@bench.test>" --count "$COUNT" >/dev/null
drain_out=$("$karvan" outbox drain)
echo "karvan drain:  $drain_out"
drain_rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' <<<"$drain_out")

start=$(date +%s.%N)
smtp-source -d -s "$CONCURRENCY" -m "$COUNT" -l "$SIZE" -f bench@bench.test -t member@bench.test "127.0.0.1:$PORT"
end=$(date +%s.%N)
source_rate=$(python3 -c "print(round($COUNT / ($end - $start)))")
echo "smtp-source:   $COUNT messages at concurrency $CONCURRENCY: $source_rate/s"
python3 -c "print(f'ratio:         drain / smtp-source = {$drain_rate / $source_rate:.2f} (target 0.70)')"
