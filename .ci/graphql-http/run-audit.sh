#!/usr/bin/env bash
# Starts a demo Comptoir (SQLite in a temporary folder, free ports) and runs
# the graphql-http audit suite against its /graphql; the server is always
# stopped. Usage: .ci/graphql-http/run-audit.sh (from anywhere).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/../serve.sh"

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
start_server "$root"
node audit.mjs "$SERVER_URL/graphql"
