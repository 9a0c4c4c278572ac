"""`medmir serve` against a real server on 127.0.0.1: security headers, symlinks that lead out of the site, bad
URL paths, idle connections, and the warning for a host the network can reach."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from medmir.site import make_server

SECRET = "outside the site"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """A site whose symlinks lead inside it, out of it to a file and a folder, and to /etc/passwd."""
    s = tmp_path / "site"
    (s / "sub").mkdir(parents=True)
    (s / "index.html").write_text("<!doctype html><title>t</title>")
    (s / "sub" / "index.html").write_text("sub page")
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "index.html").write_text(SECRET)
    (s / "alias.html").symlink_to("index.html")
    (s / "leak.txt").symlink_to("../secret.txt")
    (s / "passwd").symlink_to("/etc/passwd")
    (s / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (s / "trap").mkdir()
    (s / "trap" / "index.html").symlink_to("../../secret.txt")
    (s / "loop").symlink_to("loop")
    return s


@pytest.fixture()
def port(site: Path) -> Iterator[int]:
    server = make_server(site, port=0, timeout=0.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def raw_status(port: int, path: str) -> bytes:
    """The status line for a request line sent verbatim (http.client refuses some of these paths itself)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0]


def test_security_headers_on_files_and_errors(port: int) -> None:
    for path, status in (("/", 200), ("/missing.js", 404)):
        got, headers, _ = get(port, path)
        assert got == status
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"


def test_symlinks_out_of_the_site_are_not_served(port: int) -> None:
    for path in ("/leak.txt", "/passwd", "/out/", "/out/index.html", "/trap/", "/loop", "/../secret.txt", "/%2e%2e/x"):
        status, _, body = get(port, path)
        assert status == 404, path
        assert SECRET.encode() not in body and b"root:" not in body, path
    assert get(port, "/alias.html")[::2] == (200, b"<!doctype html><title>t</title>")
    assert get(port, "/sub/")[::2] == (200, b"sub page")


def test_undecodable_paths_answer_400(port: int, capfd: pytest.CaptureFixture[str]) -> None:
    for path in ("/a%00b", "/%00", "/%ff.html", "/%ed%b0%80"):  # NUL, not UTF-8, an encoded surrogate
        assert raw_status(port, path) == b"HTTP/1.0 400 Bad request path", path
    assert get(port, "/")[0] == 200
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("sent", [b"", b"GET / HT"])
def test_a_silent_connection_is_closed(port: int, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        idle.sendall(sent)
        t0 = time.monotonic()
        assert get(port, "/")[0] == 200  # other clients are served meanwhile
        assert idle.recv(1) == b""  # closed by the server (0.5 s), not by our 10 s timeout
        assert time.monotonic() - t0 < 5


def _serve_stderr(site: Path, host: str) -> tuple[str, int]:
    """Run `medmir serve` until it says where it serves, stop it with Ctrl+C; its stderr and exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "medmir.cli", "serve", str(site), "--host", host, "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stderr is not None
    out, deadline = "", time.monotonic() + 60
    while "Ctrl+C" not in out and time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stderr], [], [], 1)[0]:
            out += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=30)[1]
    return out + rest, proc.returncode


def test_a_host_the_network_reaches_is_warned_about(site: Path) -> None:
    out, rc = _serve_stderr(site, "0.0.0.0")
    assert "WARNING" in out and "reachable from the network" in out and "serving" in out
    assert rc == 130
    out, rc = _serve_stderr(site, "127.0.0.1")
    assert "serving" in out and "WARNING" not in out


def test_a_client_that_hangs_up_mid_download_is_no_traceback(
    site: Path, port: int, capfd: pytest.CaptureFixture[str]
) -> None:
    (site / "big.bin").write_bytes(os.urandom(32 << 20))
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.0 200")
            # RST instead of FIN, so the server's next write fails at once (a cancelled browser download)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(1)
    assert get(port, "/")[0] == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err
