#!/usr/bin/env bash
# Starts a demo Comptoir (SQLite in a temporary folder, free ports) and runs
# schemathesis against its /openapi.json as the demo ADMIN: no 5xx, every
# response as documented, a bounded number of examples per operation. The
# server is always stopped. Usage: .ci/schemathesis/run.sh [extra st options]
# baseline.json lists the failures known and reported but not yet fixed;
# each says why, and goes when its cause is fixed (--baseline-prune).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/../serve.sh"

venv="$here/.venv"
if [ ! -x "$venv/bin/st" ] || ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/.requirements.txt"
fi

start_server "$root"
token="$(curl -fsS -H 'Content-Type: application/json' \
    -d '{"email": "test@test.com", "password": "supersecret"}' "$SERVER_URL/login" |
    "$root/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

"$venv/bin/st" run "$SERVER_URL/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
    --seed "${SCHEMATHESIS_SEED:-20261125}" \
    --workers 1 \
    --request-timeout 10 \
    --baseline "$here/baseline.json" \
    "$@"
