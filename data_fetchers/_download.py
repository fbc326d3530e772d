"""Downloading the real datasets: a fast network check, pooch downloads, safe extraction.

Nothing half-done ever sits where a fetcher looks for data. Each call downloads into a
private temporary folder inside the data directory, checks the file (MD5 when published,
size when known, gzip integrity), unpacks it into a temporary sibling of its destination
and moves the result into place in one rename (:func:`data_fetchers._atomic.atomic_dir`).
Whatever fails, the temporary files are removed, so the next call starts afresh.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import logging
import os
import posixpath
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pooch
import requests

from ._atomic import atomic_dir, is_writable
from ._registry import host_of, url_of

NETWORK_TIMEOUT = 3.0  # seconds to wait for a TCP connection in the reachability check
DOWNLOAD_TIMEOUT = 60.0  # seconds without data before a download gives up
RETRIES = 2  # extra attempts after a failed download (not after HTTP 4xx)
RETRY_DELAY = 2.0  # seconds before the first retry; doubles each time

_reachable_cache = {}
_cache_lock = threading.Lock()


class FetchError(RuntimeError):
    """A real dataset could not be downloaded, verified or unpacked."""


class UnsafeArchiveError(FetchError):
    """An archive holds a member that would be written outside its destination."""


def host_reachable(url, *, timeout=None) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds.

    The probe runs in a daemon thread, so a hanging DNS lookup cannot block the caller
    longer than ``timeout``. The answer is cached per process and per (host, port).
    """
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    key = host_of(url)
    with _cache_lock:
        if key in _reachable_cache:
            return _reachable_cache[key]
    answer = []

    def probe():
        try:
            with socket.create_connection(key, timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, name=f"mlni-probe-{key[0]}", daemon=True)
    thread.start()
    thread.join(timeout)
    reachable = bool(answer) and answer[0]
    with _cache_lock:
        _reachable_cache[key] = reachable
    return reachable


def unreachable_hosts(urls) -> list:
    """The ``host:port`` of the URLs in ``urls`` that cannot be reached (no repeats).

    All hosts are probed at once, so the check takes at most about
    :data:`NETWORK_TIMEOUT` seconds however many hosts there are.
    """
    keys = list(dict.fromkeys(host_of(url) for url in urls))
    answers = {}

    def check(key):
        answers[key] = host_reachable(f"http://{key[0]}:{key[1]}/")

    threads = [threading.Thread(target=check, args=(key,), daemon=True) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(NETWORK_TIMEOUT + 1.0)
    return [f"{host}:{port}" for host, port in keys if not answers.get((host, port), False)]


def _progressbar(verbose) -> bool:
    return verbose >= 1 and importlib.util.find_spec("tqdm") is not None


@contextlib.contextmanager
def _quiet_pooch(verbose):
    """Silence pooch's log lines (they suggest hashes to users) unless ``verbose >= 2``."""
    logger = pooch.get_logger()
    level = logger.level
    if verbose < 2:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_file(path, remote) -> None:
    """Raise FetchError if the size or gzip stream of a downloaded file is wrong."""
    if path.stat().st_size == 0:
        raise FetchError(f"The download of {remote.filename} is empty.")
    if remote.size is not None and path.stat().st_size != remote.size:
        raise FetchError(
            f"The download of {remote.filename} is incomplete or wrong: expected "
            f"{remote.size} bytes, got {path.stat().st_size}."
        )
    if path.name.endswith((".gz", ".tgz")):
        try:
            with gzip.open(path, "rb") as stream:
                while stream.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            raise FetchError(f"The download of {remote.filename} is corrupt: {exc}.") from exc


def download(remote, directory, *, verbose=1, retries=None) -> Path:
    """Download one remote file into ``directory`` and verify it.

    Parameters
    ----------
    remote : data_fetchers._registry.Remote
        What to download (URL from :func:`data_fetchers._registry.url_of`).
    directory : pathlib.Path
        A private folder; the file is written there under ``remote.filename``.
    verbose : int, default=1
        0: silent; 1: a progress bar; 2: pooch's messages too.
    retries : int, optional
        Extra attempts after a failure other than HTTP 4xx (default :data:`RETRIES`).

    Returns
    -------
    pathlib.Path
        The verified file.
    """
    retries = RETRIES if retries is None else retries
    url = url_of(remote)
    known_hash = f"md5:{remote.md5}" if remote.md5 else None
    downloader = pooch.HTTPDownloader(progressbar=_progressbar(verbose), timeout=DOWNLOAD_TIMEOUT)
    target = Path(directory) / remote.filename
    for attempt in range(retries + 1):
        try:
            with _quiet_pooch(verbose):
                path = Path(
                    pooch.retrieve(
                        url,
                        known_hash,
                        fname=remote.filename,
                        path=directory,
                        downloader=downloader,
                    )
                )
            _check_file(path, remote)
            return path
        except requests.HTTPError as exc:
            cause = exc
            status = exc.response.status_code if exc.response is not None else None
            error = FetchError(f"The server answered HTTP {status} for {url}.")
            retry = status is None or status >= 500
        except requests.RequestException as exc:
            cause = exc
            error = FetchError(f"The download of {url} failed: {type(exc).__name__}: {exc}")
            retry = True
        except ValueError as exc:  # pooch: checksum mismatch
            cause = exc
            error = FetchError(f"The download of {url} failed its checksum: {exc}")
            retry = True
        except FetchError as exc:
            cause, error, retry = exc.__cause__, exc, True
        target.unlink(missing_ok=True)
        if not retry or attempt == retries:
            raise error from cause
        if verbose:
            print(f"{error} Retrying ({attempt + 1}/{retries})...")
        time.sleep(RETRY_DELAY * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _member_problem(member) -> str | None:
    """Why a tar member is unsafe to extract, or None if it is fine."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "has a '..' component"
    if member.isdev():
        return "is a device or FIFO"
    if member.issym() or member.islnk():
        target = member.linkname
        if target.startswith(("/", "\\")):
            return f"links to the absolute path {target!r}"
        base = posixpath.dirname(name) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if resolved == ".." or resolved.startswith("../"):
            return f"links outside the archive ({target!r})"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "is not a regular file, folder or link"
    return None


def safe_extract(archive, destination) -> None:
    """Extract a tar archive into ``destination``, refusing any unsafe member.

    Members with absolute paths, ``..`` components, links pointing outside the archive,
    and device files raise :class:`UnsafeArchiveError` before anything is written.
    A corrupt archive raises :class:`FetchError`.
    """
    archive, destination = Path(archive), Path(destination)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _member_problem(member)
                if problem:
                    raise UnsafeArchiveError(
                        f"Refusing to extract {archive.name}: member {member.name!r} {problem}."
                    )
            destination.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, members=members, filter="data")
            else:  # Python < 3.10.12: our own checks above are the filter
                tar.extractall(destination, members=members)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise FetchError(f"Could not extract {archive.name}: {exc}.") from exc


def _locate(stage, markers, remote) -> Path:
    """The folder under ``stage`` (itself or up to two levels down) holding all ``markers``."""
    candidates = [stage, *stage.glob("*"), *stage.glob("*/*")]
    for folder in candidates:
        if folder.is_dir() and all((folder / m).is_file() for m in markers):
            return folder
    missing = next(m for m in markers if not any((f / m).is_file() for f in candidates))
    raise FetchError(
        f"The archive {remote.filename} does not contain the expected file {missing!r}."
    )


@contextlib.contextmanager
def _private_dir(data_dir):
    """A temporary download folder inside ``data_dir``, removed on exit."""
    data_dir = Path(data_dir)
    if not is_writable(data_dir):
        raise FetchError(
            f"The data directory {data_dir} is not writable, so the missing data cannot be "
            "downloaded there. Set MLNI_DATA (or pass data_dir=) to a writable folder."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".download-", dir=data_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _say(verbose, message):
    if verbose:
        print(message, flush=True)


def install_archive(remote, final_dir, markers, *, data_dir, verbose=1) -> Path:
    """Download a tar archive and unpack the folder holding ``markers`` as ``final_dir``."""
    final_dir = Path(final_dir)
    with _private_dir(data_dir) as folder:
        _say(verbose, f"Downloading {url_of(remote)}")
        archive = download(remote, folder, verbose=verbose)
        _say(verbose, f"Extracting {archive.name} into {final_dir}")
        with atomic_dir(final_dir) as tmp:
            stage = tmp / ".extract"
            safe_extract(archive, stage)
            archive.unlink()
            root = _locate(stage, markers, remote)
            for child in list(root.iterdir()):
                os.rename(child, tmp / child.name)
            shutil.rmtree(stage)
    return final_dir


def install_file(remote, final_file, *, data_dir, member=None, verbose=1) -> Path:
    """Download a file (or one ``member`` of a tar archive) and move it to ``final_file``."""
    final_file = Path(final_file)
    with _private_dir(data_dir) as folder:
        _say(verbose, f"Downloading {url_of(remote)}")
        path = download(remote, folder, verbose=verbose)
        if member is not None:
            stage = folder / "extract"
            safe_extract(path, stage)
            path = _locate(stage, [member], remote) / member
        final_file.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final_file)
    return final_file
