"""The command line as an operator meets it: management commands without a
JWT secret, passwords from stdin, one-line start-up failures."""

from __future__ import annotations

import asyncio
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import free_port, scratch_database

ROOT = Path(__file__).resolve().parent.parent
# Only against a hang (a thread left running after the failure kept the
# process alive), under pytest's own timeout: never a speed check (bench/).
HANG_GUARD_SECONDS = 90


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "DEMO", "MAKEFLAGS"}}
    env.update(values)
    return env


def _run(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )


def _cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "comptoir", *args, env=env, stdin=stdin)


async def test_management_commands_need_no_jwt_secret(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        env = _env(
            DEMO="0",
            DATABASE_URL=database_url,
            BROADCAST_URL="memory://",
            BCRYPT_ROUNDS="4",
            UPLOAD_DIR=str(tmp_path / "uploads"),
        )
        migrated = await asyncio.to_thread(_cli, "migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert "JWT_SECRET" not in migrated.stderr
        again = await asyncio.to_thread(_run, "make", "--no-print-directory", "migrate", env=env)
        assert again.returncode == 0, again.stderr
        assert "up to date" in again.stdout
        # The password from stdin (a pipe), never on the command line.
        created = await asyncio.to_thread(
            _cli, "createuser", "--email", "ops@example.com", env=env, stdin="piped password\n"
        )
        assert created.returncode == 0, created.stderr
        assert "MEMBER ops@example.com" in created.stdout
        empty = await asyncio.to_thread(
            _cli, "createuser", "--email", "nobody@example.com", env=env, stdin=""
        )
        assert empty.returncode == 1
        assert "password" in empty.stderr.lower()
        refused = await asyncio.to_thread(_cli, "seed-demo", env=env)
        assert refused.returncode == 1
        assert "refusing" in refused.stderr
        assert "JWT_SECRET" not in refused.stderr
        # serve signs tokens: it still needs the secret.
        serve = await asyncio.to_thread(_cli, "serve", env=env)
        assert serve.returncode == 2
        assert "JWT_SECRET is required" in serve.stderr


def _on_a_terminal(args: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal as its controlling terminal, typing
    each answer after the next prompt; the exit status and all it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and /dev/tty
        try:
            os.chdir(ROOT)
            os.execve(args[0], args, env)
        finally:
            os._exit(127)  # never back into the test runner
    output = b""
    pending = list(answers)
    try:
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and output.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\n")
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


async def test_createuser_prompts_for_the_password_twice(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        env = _env(
            DEMO="0", DATABASE_URL=database_url, BROADCAST_URL="memory://", BCRYPT_ROUNDS="4"
        )
        assert (await asyncio.to_thread(_cli, "migrate", env=env)).returncode == 0
        command = [sys.executable, "-m", "comptoir", "createuser", "--email", "tty@example.com"]
        code, output = await asyncio.to_thread(
            _on_a_terminal, command, env, ["typed password", "typed password"]
        )
        assert code == 0, output
        assert "Password (again):" in output
        assert "typed password" not in output  # not echoed
        assert "created MEMBER tty@example.com" in output
        code, output = await asyncio.to_thread(
            _on_a_terminal, [*command[:-1], "other@example.com"], env, ["one", "another"]
        )
        assert code != 0
        assert "do not match" in output


def _closed_port_url(scheme: str) -> tuple[str, str]:
    port = free_port()
    return f"{scheme}://user:hunter2@127.0.0.1:{port}/x", f"127.0.0.1:{port}"


@pytest.mark.once
@pytest.mark.parametrize("case", ["redis", "postgres", "nonsense", "bad-path", "port-taken"])
def test_startup_failure_is_one_line_naming_the_setting_and_host(case: str, tmp_path: Path) -> None:
    env = _env(
        DEMO="1",
        PORT=str(free_port()),
        WS_PORT=str(free_port()),
        DATA_DIR=str(tmp_path),
        BROADCAST_URL="memory://",
        STARTUP_TIMEOUT="5",
    )
    if case == "redis":
        # SQLite with an unreachable broker used to hang after the failure.
        url, host = _closed_port_url("redis")
        env.update(BROADCAST_URL=url, DATABASE_URL=f"sqlite://{tmp_path / 'db.sqlite3'}")
        variable = "BROADCAST_URL"
    elif case == "postgres":
        url, host = _closed_port_url("postgres")
        env.update(DATABASE_URL=url)
        variable = "DATABASE_URL"
    elif case == "nonsense":
        env.update(DATABASE_URL="nonsense")
        variable, host = "DATABASE_URL", "'nonsense'"
    elif case == "port-taken":
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env.update(WS_PORT=str(port))
        variable, host = "WS_PORT", f"127.0.0.1:{port}"
    else:
        # A file in place of the database's folder: SQLite cannot open it.
        (tmp_path / "file").write_text("not a folder")
        env.update(DATABASE_URL=f"sqlite://{tmp_path / 'file' / 'db.sqlite3'}")
        variable, host = "DATABASE_URL", str(tmp_path / "file" / "db.sqlite3")
    try:
        result = _cli("serve", env=env)
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"serve did not exit by itself: {hung.stderr!r}") from None
    finally:
        if case == "port-taken":
            taken.close()
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert host in lines[0]
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr
