"""Shared fixtures: an isolated data environment, a dead network, a local HTTP server."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    """A fresh data directory in ``MLNI_DATA``; no source or mirror from the environment.

    Also forgets which hosts were found reachable, so each test probes afresh.
    """
    from data_fetchers import _download

    data_dir = tmp_path / "mlni_data"
    monkeypatch.setenv("MLNI_DATA", str(data_dir))
    monkeypatch.delenv("MLNI_DATA_SOURCE", raising=False)
    monkeypatch.delenv("MLNI_MIRROR", raising=False)
    _download.forget_reachability()
    monkeypatch.setattr(_download, "RETRY_DELAY", 0.0)
    return data_dir


@pytest.fixture
def no_network(monkeypatch):
    """Make every attempt to open a network connection fail (and fail the test)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert not attempts, f"network access attempted: {attempts}"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (behaviour, body)."""

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        path = self.path.split("?")[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        behaviour, body = self.server.routes.get(path, ("404", b""))
        if behaviour in ("404", "500"):
            self.send_error(int(behaviour))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if behaviour in ("trickle", "stall", "flood", "oversized"):
            self._misbehave(behaviour, body)
            return
        if behaviour == "truncate":  # announce everything, send half, hang up
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self, behaviour, body):
        """trickle: one byte every 0.05 s; stall: half the body then silence for 30 s;
        flood / oversized: the body then zeros up to 64 MiB (oversized announces 64 MiB)."""
        flood_size = 64 * 1024**2
        if behaviour == "oversized":
            self.send_header("Content-Length", str(flood_size))
        elif behaviour != "flood":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if behaviour == "trickle":
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            elif behaviour == "stall":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                time.sleep(30)
            else:
                self.wfile.write(body)
                for _ in range((flood_size - len(body)) // (1 << 16)):
                    self.wfile.write(bytes(1 << 16))
        except OSError:  # the client gave up: that is what the tests expect
            pass
        self.close_connection = True

    def log_message(self, *args):
        pass


class LocalServer:
    """An HTTP server on 127.0.0.1 (ephemeral port) running in a thread.

    ``serve(path, body, behaviour="ok")`` publishes ``body`` at ``path``; behaviour is
    "ok", "404", "500", "truncate" (Content-Length of the whole body, half sent),
    "trickle", "stall", "flood" or "oversized" (see ``_Handler._misbehave``).
    ``port`` (default: any free one) lets a test start the server where a fetcher
    already failed to connect.
    ``hits[path]`` counts the requests.
    """

    def __init__(self, port=0):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.hits = {}
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hits(self):
        return self.httpd.hits

    def serve(self, path, body, behaviour="ok"):
        self.httpd.routes["/" + path.lstrip("/")] = (behaviour, bytes(body))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def local_server():
    """A :class:`LocalServer`, shut down after the test."""
    server = LocalServer()
    yield server
    server.close()


@pytest.fixture
def closed_port():
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _write_tiny_file(path, seed):
    import nibabel as nib
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".nii.gz"):
        data = np.random.default_rng(seed).integers(0, 100, (3, 3, 3, 2)).astype("int16")
        nib.save(nib.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0])), path)
    elif path.name == "labels.txt":
        path.write_text("labels chunks\nrest 0\nface 0\nhouse 1\n")
    else:
        path.write_text("a,b\n1,2\n")


@pytest.fixture
def tiny_files():
    """``tiny_files(folder, names)`` writes small valid files (NIfTI, labels, csv) there."""

    def write(folder, names):
        for seed, name in enumerate(names):
            _write_tiny_file(folder / name, seed)
        return folder

    return write
