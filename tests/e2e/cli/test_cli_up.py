"""``mamori up`` as a real process: start, log in, stop on SIGTERM; fail fast on bad setups."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

MAMORI = [sys.executable, "-m", "mamori"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args, env, cwd, timeout=60):
    return subprocess.run(
        [*MAMORI, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_up_serves_logs_in_and_stops_cleanly_on_sigterm(cli_env, tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [*MAMORI, "up", "--host", "127.0.0.1", "--port", str(port)],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mamori up did not become healthy"
            time.sleep(0.2)
        assert proc.stdout is not None
        first = proc.stdout.readline() + proc.stdout.readline()
        match = re.search(r"administrator 'admin' with password: (\S+)", first)
        assert match, first
        password = match.group(1)
        assert httpx.get(f"{base}/readyz", timeout=5).json() == {"status": "ready"}
        with httpx.Client(base_url=base, timeout=10) as web:
            page = web.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            r = web.post(
                "/login", data={"username": "admin", "password": password, "csrf_token": token}
            )
            assert r.status_code == 303
            dashboard = web.get("/")
            assert dashboard.status_code == 200 and "ダッシュボード" in dashboard.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    # The password was shown once: a second start creates no admin and prints none.
    port2 = _free_port()
    again = subprocess.Popen(
        [*MAMORI, "up", "--port", str(port2)],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port2}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert again.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        again.send_signal(signal.SIGINT)
        out, _err = again.communicate(timeout=30)
        assert again.returncode == 0
        assert "password" not in out
    finally:
        if again.poll() is None:
            again.kill()
            again.communicate()


def test_up_on_a_port_in_use_fails_fast(cli_env, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _run(["up", "--port", str(port)], cli_env, tmp_path)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in _one_line_error(result)


def test_up_with_an_unwritable_data_dir_fails_fast(cli_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cli_env["MAMORI_DATA_DIR"] = str(blocker / "var")
    result = _run(["up", "--port", str(_free_port())], cli_env, tmp_path)
    assert result.returncode == 1
    assert "is not writable" in _one_line_error(result)


def test_up_with_an_unreachable_database_fails_fast(cli_env, tmp_path):
    cli_env["MAMORI_DATABASE_URL"] = f"postgresql://nobody@127.0.0.1:{_free_port()}/mamori"
    started = time.monotonic()
    result = _run(["up", "--port", str(_free_port())], cli_env, tmp_path)
    assert result.returncode == 1
    assert "cannot reach database" in _one_line_error(result)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--version"], 0),
        (["--help"], 0),
        (["up", "--help"], 0),
        (["nonsense"], 2),
        (["up", "--port", "notaport"], 2),
        (["up", "--port", "70000"], 2),
    ],
)
def test_exit_codes(cli_env, tmp_path, args, code):
    result = _run(args, cli_env, tmp_path)
    assert result.returncode == code, result.stderr


def test_worker_starts_the_bus_and_stops_cleanly_on_sigterm(cli_env, tmp_path):
    proc = subprocess.Popen(
        [*MAMORI, "worker"],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "mamori worker consuming from embedded" in line, line
        spool = tmp_path / "var" / "spool"
        deadline = time.monotonic() + 30
        while not spool.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the embedded bus spool was not created"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_worker_with_an_unknown_bus_url_fails_with_one_line(cli_env, tmp_path):
    env = {**cli_env, "MAMORI_BUS_URL": "carrier-pigeon://x"}
    result = _run(["worker"], env, tmp_path)
    assert result.returncode == 1
    assert "unknown bus URL" in _one_line_error(result)
