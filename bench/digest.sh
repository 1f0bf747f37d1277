#!/usr/bin/env bash
# Digest benchmark (issue 7): seed MEMBERS members into a fresh embedded
# database, give them a fortnight of news (events, announcements, a
# thousand new members, every digest covering the last 14 days), then time
# one digest run (`karvan digest run --no-send`) that composes and queues
# every digest, and report its peak memory. Then deliver them with
# `karvan outbox drain` into Postfix's smtp-sink and compare with
# smtp-source at the same concurrency and the digests' mean size.
#
#   bench/digest.sh                 # MEMBERS=100000 CONCURRENCY=8
#   MEMBERS=20000 SEND=0 bench/digest.sh   # the run only
#
# Needs GNU time (`apt-get install time`) for the peak memory, and for the
# sending Postfix's tools (`apt-get install postfix`).
set -euo pipefail
cd "$(dirname "$0")/.."

MEMBERS=${MEMBERS:-100000}
SEND=${SEND:-1}
CONCURRENCY=${CONCURRENCY:-8}
SINK_PORT=${SINK_PORT:-25251}
command -v /usr/bin/time >/dev/null || { echo "bench: GNU time not found: install it with 'apt-get install time'" >&2; exit 1; }

# KARVAN_BIN=path measures another build (an older commit's, to compare in one sitting).
if [ -n "${KARVAN_BIN:-}" ]; then
  karvan=$(realpath "$KARVAN_BIN")
else
  cargo build --release --quiet
  karvan="$PWD/target/release/karvan"
fi
work=$(mktemp -d /tmp/karvan-digest-bench-XXXXXX)
chmod 755 "$work"   # reachable by the postgres user when run as root
server=""
sink_pid=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The service keeps the cluster up (and sends nothing on its own: no schedule).
export KARVAN_DATA_DIR="$work/var" KARVAN_BIND="127.0.0.1:${PORT:-18091}" RUST_LOG=warn KARVAN_DIGEST_SCHEDULE=off

"$karvan" seed --members "$MEMBERS"
"$karvan" serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "http://$KARVAN_BIND/readyz" >/dev/null && break
  sleep 0.2
done
psql -q -h "$work/var/postgres" -p 54329 -U karvan -d karvan <<'SQL'
UPDATE members SET approved_at = now() - random() * interval '730 days' WHERE status = 'active';
UPDATE members SET approved_at = now() - random() * interval '14 days'
  WHERE id IN (SELECT id FROM members WHERE status = 'active' ORDER BY random() LIMIT 1000);
INSERT INTO events (title, description_md, description_html, starts_at, ends_at, time_zone, location, status, published_at)
  SELECT 'Reunion ' || n, '', '', now() + n * interval '5 days', now() + n * interval '5 days' + interval '3 hours',
         'Asia/Karachi', 'Lahore', 'published', now() - n * interval '2 days'
  FROM generate_series(1, 6) AS n;
INSERT INTO announcements (title, body_md, body_html, published_at)
  SELECT 'News ' || n, 'News of the association, a few lines long.', '<p>News of the association, a few lines long.</p>',
         now() - n * interval '3 days'
  FROM generate_series(1, 4) AS n;
UPDATE member_settings SET digest_covered_until = now() - interval '14 days', digest_period_done = NULL;
VACUUM ANALYZE;
SQL

# The service stops, so its mail sender does not share the machine with the
# run; the command starts the cluster itself (counted in its time).
kill "$server" && wait "$server" 2>/dev/null || true
server=""
/usr/bin/time -f "digest run: %e s elapsed, peak resident %M KiB" "$karvan" digest run --no-send --period 2030-W01

[ "$SEND" = 1 ] || exit 0
export PATH="$PATH:/usr/sbin"
for tool in smtp-sink smtp-source; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found: install Postfix's tools with 'apt-get install postfix'" >&2; exit 1; }
done
# The digests' mean size (bodies and headers), for smtp-source; the cluster is
# started for the question alone (as its owner, postgres, when run as root).
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)
"${as_owner[@]}" "$pgbin/pg_ctl" -D "$work/var/postgres" -l "$work/var/postgres/bench.log" start -w >/dev/null
size=$(psql -qAt -h "$work/var/postgres" -p 54329 -U karvan -d karvan -c \
  "SELECT round(avg(length(text_body) + length(coalesce(html_body, '')) + 600)) FROM email_outbox WHERE kind = 'digest'")
"${as_owner[@]}" "$pgbin/pg_ctl" -D "$work/var/postgres" stop -w >/dev/null
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" -c "127.0.0.1:$SINK_PORT" 1000 >/dev/null &
sink_pid=$!
sleep 0.5
count=$(SMTP_URL="smtp://127.0.0.1:$SINK_PORT" KARVAN_SMTP_CONCURRENCY="$CONCURRENCY" NO_COLOR=1 "$karvan" outbox drain)
echo "karvan drain:  $count"
drain_rate=$(sed -n 's/.*(\([0-9.]*\)\/s).*/\1/p' <<<"$count")
sent=$(sed -n 's/^Sent \([0-9]*\) .*/\1/p' <<<"$count")
start=$(date +%s.%N)
smtp-source -d -s "$CONCURRENCY" -m "$sent" -l "${size:-6000}" -f bench@bench.test -t member@bench.test "127.0.0.1:$SINK_PORT"
end=$(date +%s.%N)
source_rate=$(python3 -c "print(round($sent / ($end - $start)))")
echo "smtp-source:   $sent messages of ${size:-6000} bytes at concurrency $CONCURRENCY: $source_rate/s"
python3 -c "print(f'ratio:         drain / smtp-source = {$drain_rate / $source_rate:.2f} (target 0.70)')"
