#!/usr/bin/env bash
# Directory benchmark (issue 5): seed MEMBERS members into a fresh embedded
# database, serve, sign in, and load the search with wrk at CONNECTIONS
# concurrent connections: first partial and misspelled names, then filtered
# listings. Prints each run's rate and latency percentiles.
#
#   bench/directory.sh                       # MEMBERS=100000 CONNECTIONS=16 DURATION=20s
#   MEMBERS=20000 DURATION=10s bench/directory.sh
#
# Needs wrk: `apt-get install wrk` (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

MEMBERS=${MEMBERS:-100000}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-20s}
PORT=${PORT:-18090}

command -v wrk >/dev/null || { echo "bench: wrk not found: install it with 'apt-get install wrk'" >&2; exit 1; }

cargo build --release --quiet
karvan="$PWD/target/release/karvan"

work=$(mktemp -d /tmp/karvan-bench-XXXXXX)
chmod 755 "$work"   # reachable by the postgres user when run as root
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The digest schedule is off: a fresh seed would be sent its catch-up digests
# while the directory is measured.
export KARVAN_DATA_DIR="$work/var" KARVAN_BIND="127.0.0.1:$PORT" RUST_LOG=warn KARVAN_DIGEST_SCHEDULE=off

"$karvan" seed --members "$MEMBERS"
"$karvan" serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.2
done

# A seeded member who is listed, to sign in as.
email=$(curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && \
  "$karvan" members export | sed -n '2p' | cut -d, -f1 | tr -d '\357\273\277')
token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"karvan demo password\"}" \
  "http://127.0.0.1:$PORT/api/v1/auth/login" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

# A short warm-up, as a server that has been running would be.
TOKEN=$token MODE=names wrk -t2 -c"$CONNECTIONS" -d3s -s bench/directory.lua "http://127.0.0.1:$PORT" >/dev/null
for mode in names filters; do
  TOKEN=$token MODE=$mode wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s bench/directory.lua "http://127.0.0.1:$PORT" | tail -1
done
