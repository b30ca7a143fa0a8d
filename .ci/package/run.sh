#!/usr/bin/env bash
# The package as an operator installs it: build the wheel, install it into a
# fresh venv (outside the checkout, so nothing is imported from the sources),
# migrate without JWT_SECRET, run two `comptoir serve` replicas against
# PostgreSQL + Redis, put deploy/nginx.conf in front of them (the compose
# file's proxy, upstreams pointed at the replicas), and check they answer.
# Everything (venv, database, processes) is removed on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/.venv/bin/python"
work="$(mktemp -d)"
db="comptoir_pkg_$(date +%s)_$$"
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "-- wheel"
"$py" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/dist" "$root" 2>&1 | grep -v "is ignored" || true
wheel="$(ls "$work"/dist/comptoir-*.whl)"
echo "$(basename "$wheel")"

echo "-- fresh venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet -r "$root/requirements.txt" "$wheel" 2>&1 | grep -v "is ignored" || true
cd "$work"
"$work/venv/bin/python" -c 'import core, comptoir; assert "site-packages" in core.__file__, core.__file__'
test -x "$work/venv/bin/comptoir"

psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE \"$db\""
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
export BROADCAST_URL="redis://127.0.0.1:6379"
export PUBSUB_PREFIX="comptoir-pkg-$$"
export BCRYPT_ROUNDS=4 HOST=127.0.0.1 LOG_LEVEL=warning DEMO=0
unset JWT_SECRET

echo "-- comptoir migrate (no JWT_SECRET needed)"
"$work/venv/bin/comptoir" migrate

export JWT_SECRET="package-smoke-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export METRICS_TOKEN="metrics-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export TRUSTED_PROXIES=127.0.0.1 UPLOAD_DIR="$work/uploads"
http_ports=() ws_ports=()
for i in 1 2; do
    port=$(free_port); ws_port=$(free_port)
    PORT=$port WS_PORT=$ws_port "$work/venv/bin/comptoir" serve --no-migrate >"$work/replica-$i.log" 2>&1 &
    pids+=("$!")
    http_ports+=("$port"); ws_ports+=("$ws_port")
done

proxy_http="" proxy_ws=""
command -v nginx >/dev/null || (apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null 2>&1) || true
if command -v nginx >/dev/null; then
    echo "-- nginx (deploy/nginx.conf)"
    proxy_http=$(free_port); proxy_ws=$(free_port)
    mkdir -p "$work/nginx/logs"
    sed -e "s/comptoir-1:8000/127.0.0.1:${http_ports[0]}/; s/comptoir-2:8000/127.0.0.1:${http_ports[1]}/" \
        -e "s/comptoir-1:9001/127.0.0.1:${ws_ports[0]}/; s/comptoir-2:9001/127.0.0.1:${ws_ports[1]}/" \
        -e "s/listen 8080;/listen 127.0.0.1:$proxy_http;/; s/listen 9001;/listen 127.0.0.1:$proxy_ws;/" \
        "$root/deploy/nginx.conf" >"$work/nginx/nginx.conf"
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" \
        -g "daemon off; user root; pid $work/nginx/nginx.pid; error_log $work/nginx/logs/error.log;" &
    pids+=("$!")
else
    echo "nginx unavailable: the replicas are checked directly"
fi

echo "-- checks"
if ! "$py" "$root/.ci/package/check.py" \
    --replicas "http://127.0.0.1:${http_ports[0]}" "http://127.0.0.1:${http_ports[1]}" \
    --proxy "${proxy_http:+http://127.0.0.1:$proxy_http}" \
    --proxy-ws "${proxy_ws:+ws://127.0.0.1:$proxy_ws}"; then
    for f in "$work"/replica-*.log "$work"/nginx/logs/error.log; do
        [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }
    done
    exit 1
fi
echo "package: ok"
