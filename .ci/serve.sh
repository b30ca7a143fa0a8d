# Sourced by the CI scripts that test a real server from outside:
# `start_server ROOT` starts `python -m comptoir serve` in demo mode on free
# loopback ports with SQLite in a temporary folder, waits for /health, sets
# SERVER_URL, and stops the server (and removes the folder) when the calling
# script exits, whatever its outcome.

_server_pid=""
_server_dir=""

_stop_server() {
    if [ -n "$_server_pid" ] && kill -0 "$_server_pid" 2>/dev/null; then
        kill -TERM "$_server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$_server_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$_server_pid" 2>/dev/null || true
        wait "$_server_pid" 2>/dev/null || true
    fi
    if [ -n "$_server_dir" ]; then
        rm -rf "$_server_dir"
    fi
}

_free_port() {
    "$1" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_server() {
    local root="$1" python="$1/.venv/bin/python" port ws_port
    trap _stop_server EXIT
    trap 'exit 130' INT TERM
    _server_dir="$(mktemp -d)"
    port="$(_free_port "$python")"
    ws_port="$(_free_port "$python")"
    (
        cd "$root"
        exec env -u DATABASE_URL -u BROADCAST_URL -u JWT_SECRET \
            DEMO=1 HOST=127.0.0.1 PORT="$port" WS_PORT="$ws_port" \
            DATA_DIR="$_server_dir" BCRYPT_ROUNDS=4 LOG_LEVEL=warning \
            "${@:2}" "$python" -m comptoir serve
    ) >"$_server_dir/server.log" 2>&1 &
    _server_pid=$!
    SERVER_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if curl -fsS "$SERVER_URL/health" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$_server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "the server did not start; its log:" >&2
    cat "$_server_dir/server.log" >&2
    return 1
}
