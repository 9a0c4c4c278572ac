"""`medmir serve` against a real server on 127.0.0.1: security headers, symlinks that lead out of the site, bad
URL paths, idle connections, the warning for a host the network can reach, and HTTP Range requests."""

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

from medmir.site.serve import make_server, parse_range

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


def test_only_urls_that_name_their_content_are_cached_for_good(site: Path, port: int) -> None:
    """The versioned runtime (ort/FILE?v=VERSION) and the build's hashed assets/: the HTTP cache serves them without
    asking again (and keeps compiled WebAssembly with them); everything else, and any error, is revalidated."""
    for d in ("ort", "assets"):
        (site / d).mkdir()
    (site / "ort" / "rt.wasm").write_bytes(b"\0asm")
    (site / "assets" / "index-abc123.js").write_text("1")
    cases = {
        "/ort/rt.wasm?v=1.30.0": (200, "public, max-age=31536000, immutable"),
        "/assets/index-abc123.js": (200, "public, max-age=31536000, immutable"),
        "/ort/rt.wasm": (200, "no-cache"),
        "/ort/missing.wasm?v=1.30.0": (404, "no-cache"),
        "/assets/missing.js": (404, "no-cache"),
        "/index.html": (200, "no-cache"),
    }
    for path, (status, cache) in cases.items():
        got, headers, _ = get(port, path)
        assert (got, headers["Cache-Control"]) == (status, cache), path


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


def _default_sigint() -> None:
    """In the child before it runs: Ctrl+C's default action. A shell starts a background job with SIGINT ignored,
    and Python started so never turns SIGINT into KeyboardInterrupt; the test must not depend on how it was run."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _serve_stderr(site: Path, host: str) -> tuple[str, int]:
    """Run `medmir serve` until it says where it serves, stop it with Ctrl+C; its stderr and exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "medmir.cli", "serve", str(site), "--host", host, "--port", "0"],
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
        preexec_fn=_default_sigint,
    )
    try:
        assert proc.stderr is not None
        # read the pipe itself, unbuffered: communicate(timeout=...) below reads it so too, and would miss lines a
        # buffered reader had taken in ahead of the one it returned
        fd, out, deadline = proc.stderr.fileno(), b"", time.monotonic() + 60
        while b"Ctrl+C" not in out and time.monotonic() < deadline and proc.poll() is None:
            if select.select([fd], [], [], 1)[0]:
                out += os.read(fd, 65536)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:  # however the test ends, no server lives on
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (out + rest).decode(), proc.returncode


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


# --- HTTP Range (a version 2 page fetches one thumbnail out of a pack) ---

BLOB = bytes(range(256)) * 12_000 + b"tail"  # 3,072,004 bytes: several 64 KiB chunks, every offset distinguishable


@pytest.fixture()
def blob(site: Path) -> bytes:
    (site / "pack.bin").write_bytes(BLOB)
    return BLOB


def fetch(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _isolated(headers: dict[str, str]) -> None:
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"


N = len(BLOB)


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-0", 0, 0),  # the first byte
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1000-1999", 1000, 1999),  # the middle
        ("bytes=65530-2500000", 65530, 2500000),  # across many read chunks
        (f"bytes={N - 100}-{N - 1}", N - 100, N - 1),  # the last bytes
        (f"bytes={N - 1}-{N - 1}", N - 1, N - 1),  # the last byte
        (f"bytes=100-{N + 5000}", 100, N - 1),  # a last position past the end: up to the end
        ("bytes=3000000-", 3000000, N - 1),  # open-ended
        ("bytes=0-", 0, N - 1),
        ("bytes=-4", N - 4, N - 1),  # suffix: the last 4 bytes
        (f"bytes=-{N + 10}", 0, N - 1),  # a suffix longer than the file: all of it
        ("Bytes=5-9", 5, 9),  # the unit is case-insensitive
    ],
)
def test_a_byte_range_answers_206_with_those_bytes(port: int, blob: bytes, spec: str, first: int, last: int) -> None:
    status, headers, body = fetch(port, "/pack.bin", {"Range": spec})
    assert status == 206, spec
    assert headers["content-range"] == f"bytes {first}-{last}/{N}"
    assert int(headers["content-length"]) == len(body) == last - first + 1
    assert body == blob[first : last + 1]
    assert headers["content-type"] == "application/octet-stream" and headers["accept-ranges"] == "bytes"
    _isolated(headers)


def test_ranges_put_together_are_the_file_byte_for_byte(site: Path, port: int, blob: bytes) -> None:
    step = 700_001
    parts = [fetch(port, "/pack.bin", {"Range": f"bytes={a}-{a + step - 1}"}) for a in range(0, N, step)]
    assert [status for status, _, _ in parts] == [206] * len(parts)
    assert b"".join(body for _, _, body in parts) == (site / "pack.bin").read_bytes()


@pytest.mark.parametrize("spec", [f"bytes={N}-", f"bytes={N + 10}-{N + 20}", f"bytes={N}-{N}", "bytes=-0"])
def test_an_unsatisfiable_range_answers_416(port: int, blob: bytes, spec: str) -> None:
    status, headers, body = fetch(port, "/pack.bin", {"Range": spec})
    assert status == 416, spec
    assert headers["content-range"] == f"bytes */{N}"
    assert body == b""
    _isolated(headers)


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=abc",
        "bytes=5-1",  # last before first: invalid
        "bytes=0-1,5-9",  # several ranges: the whole file, as RFC 9110 allows
        "bytes=-",
        "bytes 0-5",
        "items=0-5",
        "bytes=0x10-20",
        "bytes=" + "9" * 5000 + "-",  # more digits than a number holds
    ],
)
def test_a_malformed_or_multi_range_header_answers_the_whole_file(port: int, blob: bytes, spec: str) -> None:
    status, headers, body = fetch(port, "/pack.bin", {"Range": spec})
    assert status == 200, spec
    assert "content-range" not in headers
    assert int(headers["content-length"]) == N and body == blob


def test_whole_files_say_they_accept_ranges(port: int, blob: bytes) -> None:
    status, headers, body = fetch(port, "/pack.bin")
    assert status == 200 and body == blob and int(headers["content-length"]) == N
    assert headers["accept-ranges"] == "bytes"
    _isolated(headers)
    status, headers, body = fetch(port, "/")  # a folder's index.html
    assert (status, body) == (200, b"<!doctype html><title>t</title>")
    assert headers["accept-ranges"] == "bytes" and headers["content-type"] == "text/html"
    assert fetch(port, "/", {"Range": "bytes=2-8"})[::2] == (206, b"doctype")
    assert fetch(port, "/sub")[0] == 301  # a folder without its slash is still redirected
    assert fetch(port, "/index.html/")[0] == 404


def test_head_answers_as_get_without_the_body(port: int, blob: bytes) -> None:
    status, headers, body = fetch(port, "/pack.bin", method="HEAD")
    assert (status, body, int(headers["content-length"]), headers["accept-ranges"]) == (200, b"", N, "bytes")
    status, headers, body = fetch(port, "/pack.bin", {"Range": "bytes=10-19"}, method="HEAD")
    assert (status, body, headers["content-range"], headers["content-length"]) == (206, b"", f"bytes 10-19/{N}", "10")
    _isolated(headers)
    assert fetch(port, "/pack.bin", {"Range": f"bytes={N}-"}, method="HEAD")[0] == 416


def test_if_range_and_if_modified_since(port: int, blob: bytes) -> None:
    modified = fetch(port, "/pack.bin", method="HEAD")[1]["last-modified"]
    assert fetch(port, "/pack.bin", {"Range": "bytes=0-3", "If-Range": modified})[::2] == (206, blob[:4])
    stale = {"Range": "bytes=0-3", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"}  # the file changed since
    assert fetch(port, "/pack.bin", stale)[::2] == (200, blob)
    assert fetch(port, "/pack.bin", {"If-Modified-Since": modified})[0] == 304
    assert fetch(port, "/pack.bin", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200


def test_ranges_keep_the_path_checks(port: int) -> None:
    for path in ("/leak.txt", "/passwd", "/out/index.html", "/trap/"):
        status, _, body = fetch(port, path, {"Range": "bytes=0-"})
        assert status == 404, path
        assert SECRET.encode() not in body and b"root:" not in body, path


def test_parse_range_edges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-", 0) == "unsatisfiable"  # an empty file has no first byte
    assert parse_range("bytes=-5", 0) is None  # nor a suffix: the whole (empty) file
    assert parse_range(" bytes=2-4 ", 10) == (2, 4)
    assert parse_range("bytes=2-4, 6-7", 10) is None


def test_a_precompressed_sibling_is_served_to_gzip_clients(site: Path, port: int) -> None:
    import gzip

    from medmir.site.precompress import write_gzip_siblings

    body = b'{"rows": [' + b", ".join(b'"00000001_000.png"' for _ in range(5000)) + b"]}"
    (site / "meta.json").write_bytes(body)
    (site / "tiny.json").write_bytes(b"{}")
    assert write_gzip_siblings(site) == [site / "meta.json.gz"]  # small files are left alone
    status, h, data = fetch(port, "/meta.json", {"Accept-Encoding": "gzip, deflate, br"})
    assert (status, h["content-encoding"], h["vary"]) == (200, "gzip", "Accept-Encoding")
    assert h["content-type"] == "application/json" and int(h["content-length"]) == len(data) < len(body) / 10
    assert gzip.decompress(data) == body
    _isolated(h)
    for headers in ({}, {"Accept-Encoding": "gzip;q=0, identity"}, {"Accept-Encoding": "gzip", "Range": "bytes=0-9"}):
        status, h, data = fetch(port, "/meta.json", headers)
        assert "content-encoding" not in h, headers
        assert data == (body[:10] if "Range" in headers else body)
    os.utime(site / "meta.json.gz", (1, 1))  # older than its file: stale, never served
    assert "content-encoding" not in fetch(port, "/meta.json", {"Accept-Encoding": "gzip"})[1]


def test_parts_of_a_split_file_are_precompressed_by_its_type(tmp_path: Path) -> None:
    from medmir.site.precompress import write_gzip_siblings

    text = b'{"filename": "00000001_000.png"}, ' * 2000
    for name in ("meta.json.part-000", "meta.json.part-001", "thumbs-000.pack"):
        (tmp_path / name).write_bytes(text)
    got = sorted(p.name for p in write_gzip_siblings(tmp_path))
    assert got == ["meta.json.part-000.gz", "meta.json.part-001.gz"]  # a pack (WebP) is never compressed
