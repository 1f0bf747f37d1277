#!/usr/bin/env bash
# Generated-input testing of the JSON API against its own OpenAPI document
# (issue 8): validates the document, then runs Schemathesis over every
# operation, signed in as a seeded board admin, with every check it has.
# Karvan runs on a throwaway embedded database with seeded members; mail
# goes to files. Run by .ci/run after the tests (it uses their debug build).
#
#   ci/api-fuzz.sh                  # MAX_EXAMPLES=25
#
# Needs Python 3 with venv; installs ci/api-requirements.txt into
# target/api-fuzz-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES=${MAX_EXAMPLES:-25}
PORT=${API_FUZZ_PORT:-18095}
# Every check runs; EXCLUDE_CHECKS=a,b leaves some out while working on one.
EXCLUDE_CHECKS=${EXCLUDE_CHECKS-}
PASSWORD="api fuzz admin password"
venv=target/api-fuzz-venv
if ! cmp -s ci/api-requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "api-fuzz: installing Python's venv (Debian: python3-venv)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r ci/api-requirements.txt
  cp ci/api-requirements.txt "$venv/requirements.txt"
fi

cargo build --quiet --bin karvan
karvan="$PWD/target/debug/karvan"
python="$PWD/$venv/bin/python"

work=$(mktemp -d /tmp/karvan-api-fuzz-XXXXXX)
chmod 755 "$work"   # reachable by the postgres user when run as root
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export KARVAN_DATA_DIR="$work/var" KARVAN_BIND="127.0.0.1:$PORT" RUST_LOG=warn KARVAN_DIGEST_SCHEDULE=off

"$karvan" seed --members 30 >/dev/null
echo "$PASSWORD" | "$karvan" admin create --email fuzz-admin@example.org --name "Fuzz Admin" >/dev/null
# A second account (an admin, as the CLI makes them), whose records the admin
# verifies and who asks the admin for an introduction (ci/api-fuzz-data.py).
echo "$PASSWORD" | "$karvan" admin create --email fuzz-friend@example.org --name "Fuzz Friend" >/dev/null
"$karvan" serve > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 150); do
  kill -0 "$server" 2>/dev/null || break
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.2
done
if ! kill -0 "$server" 2>/dev/null || ! curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then
  echo "api-fuzz: karvan serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
base="http://127.0.0.1:$PORT"

curl -sf "$base/api/v1/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"fuzz-admin@example.org\",\"password\":\"$PASSWORD\"}" \
  "$base/api/v1/auth/login" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

status=0
# One worker: with two, Hypothesis's threads parse lambdas' source at once,
# and CPython 3.11's compile() is not safe for that ("SystemError: AST
# constructor recursion depth mismatch", a runtime error that failed CI once).
# From the throwaway folder: Schemathesis keeps a cache where it runs.
st="$PWD/$venv/bin/st"
# The settings, and ids of things that exist for requests on `/{id}`.
config="$work/schemathesis.toml"
cp ci/schemathesis.toml "$config"
"$python" ci/api-fuzz-data.py "$base" "$token" fuzz-friend@example.org "$PASSWORD" \
  "$KARVAN_DATA_DIR/mail" >> "$config"
cd "$work"
"$st" --config-file "$config" run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  ${EXCLUDE_CHECKS:+--exclude-checks "$EXCLUDE_CHECKS"} \
  --max-examples "$MAX_EXAMPLES" \
  --workers 1 \
  --seed "${SEED:-1}" \
  --report junit --report-dir "$work/report" \
  || status=$?
waiting=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/admin/members?status=pending_approval" \
  | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))') || waiting="?"
echo "api-fuzz: $waiting applicants of ci/api-fuzz-data.py still wait for approval; the others were approved or rejected"
if grep -q "panicked" "$work/serve.log"; then
  echo "api-fuzz: the server panicked:" >&2
  grep -A5 "panicked" "$work/serve.log" >&2
  status=1
fi
exit $status
