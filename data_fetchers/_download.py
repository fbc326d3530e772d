"""Downloading the real datasets: a fast network check, pooch downloads, safe extraction.

Nothing half-done ever sits where a fetcher looks for data. Each call downloads into a
private temporary folder inside the data directory, checks the file (MD5 when published,
size when known, gzip integrity), unpacks it into a temporary sibling of its destination
and moves the result into place in one rename (:func:`data_fetchers._atomic.atomic_dir`).
Whatever fails, the temporary files are removed, so the next call starts afresh; those of a
process killed midway carry its id and are swept by the next call
(:func:`data_fetchers._atomic.sweep`).

Every download is bounded: an overall deadline scaled to the file's known size
(:data:`DEADLINE_BASE` plus the time to receive it at :data:`MIN_RATE`), at most
:data:`DOWNLOAD_TIMEOUT` seconds without data, at most the registry's size plus a margin
(or :data:`MAX_UNKNOWN_SIZE`) written, and an archive may unpack to at most
:data:`UNPACK_RATIO` times its size plus :data:`UNPACK_SLACK` bytes.
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
import urllib3

from ._atomic import atomic_dir, is_no_space, is_writable, owner_tag, sweep
from ._registry import host_of, url_of

NETWORK_TIMEOUT = 3.0  # seconds to wait for a TCP connection in the reachability check
UNREACHABLE_TTL = 5.0  # seconds a "cannot reach" answer is remembered (a success: forever)
DOWNLOAD_TIMEOUT = 30.0  # seconds without data before an attempt gives up
DEADLINE_BASE = 60.0  # seconds allowed for any file, on top of its size / MIN_RATE
MIN_RATE = 25_000  # bytes per second: slower than this, a file misses its deadline
MAX_UNKNOWN_SIZE = 1024**3  # bytes written at most for a file of unknown size
SIZE_MARGIN = 0.05  # a file of known size may be this fraction larger (+ 64 KiB) before we stop
UNPACK_RATIO = 10  # an archive may unpack to at most this many times its size ...
UNPACK_SLACK = 16 * 1024**2  # ... plus this many bytes
RETRIES = 2  # extra attempts after a failed download (not after HTTP 4xx)
RETRY_DELAY = 2.0  # seconds before the first retry; doubles each time
CHUNK = 1 << 16

_reachable_cache = {}  # (host, port) -> (reachable, time.monotonic() of the answer)
_cache_lock = threading.Lock()


class FetchError(RuntimeError):
    """A real dataset could not be downloaded, verified or unpacked."""


class UnsafeArchiveError(FetchError):
    """An archive holds a member that would be written outside its destination."""


class NoSpaceError(FetchError):
    """The disk or the quota is full (or a file-size limit was hit) while writing data."""


class PartialCopyError(FetchError):
    """A dataset folder exists but lacks some of its files: found before any download."""


def _human(n_bytes) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _free_space(folder) -> str:
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    try:
        return _human(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"


def no_space_error(exc, folder, *, needed=None, what="write the data") -> NoSpaceError:
    """The :class:`NoSpaceError` explaining ``exc`` (ENOSPC, EDQUOT or EFBIG) in ``folder``."""
    need = f"about {_human(needed)}" if needed else "an unknown amount of space"
    return NoSpaceError(
        f"Not enough space to {what} in {folder}: {exc.strerror or exc} "
        f"(errno {exc.errno}). This needs {need}; {_free_space(folder)} are free there. "
        "Free some space (or raise the quota), or set MLNI_DATA (or pass data_dir=) to a "
        "folder on a larger disk, then call again."
    )


@contextlib.contextmanager
def no_space_guard(folder, *, needed=None, what="write the data"):
    """Turn a full disk, quota or file-size limit inside the block into a NoSpaceError."""
    try:
        yield
    except OSError as exc:
        if not is_no_space(exc):
            raise
        raise no_space_error(exc, folder, needed=needed, what=what) from exc
    except FetchError as exc:
        cause = exc.__cause__
        if isinstance(exc, NoSpaceError) or not is_no_space(cause):
            raise
        raise no_space_error(cause, folder, needed=needed, what=what) from cause


def host_reachable(url, *, timeout=None) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds.

    The probe runs in a daemon thread, so a hanging DNS lookup cannot block the caller
    longer than ``timeout``. Per process and per (host, port), a success is remembered;
    a failure only for :data:`UNREACHABLE_TTL` seconds, so a network that comes back
    (a mirror started late, a slow Wi-Fi) is seen by the next call.
    """
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    key = host_of(url)
    with _cache_lock:
        if key in _reachable_cache:
            reachable, when = _reachable_cache[key]
            if reachable or time.monotonic() - when < UNREACHABLE_TTL:
                return reachable
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
        _reachable_cache[key] = (reachable, time.monotonic())
    return reachable


def forget_reachability() -> None:
    """Forget every remembered reachability answer (the next check probes afresh)."""
    with _cache_lock:
        _reachable_cache.clear()


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


def max_download_bytes(remote) -> int:
    """The most bytes written for ``remote``: its size plus a margin, else MAX_UNKNOWN_SIZE."""
    if remote.size is None:
        return MAX_UNKNOWN_SIZE
    return int(remote.size * (1 + SIZE_MARGIN)) + 64 * 1024


def deadline_seconds(remote) -> float:
    """The time allowed for ``remote`` (all attempts): DEADLINE_BASE + its size / MIN_RATE."""
    return DEADLINE_BASE + max_download_bytes(remote) / MIN_RATE


def max_unpacked_bytes(archive_bytes) -> int:
    """The most bytes an archive of ``archive_bytes`` may unpack to."""
    return int(archive_bytes * UNPACK_RATIO) + UNPACK_SLACK


class _BoundedDownloader:
    """A pooch downloader that enforces a deadline, a stall timeout and a byte cap.

    The deadline (``time.monotonic()`` value) covers every attempt; when the size of the
    file is unknown but the server announces one, the deadline of that attempt is scaled
    to it.
    """

    def __init__(self, remote, *, deadline, progressbar):
        self.remote, self.deadline, self.progressbar = remote, deadline, progressbar
        self.allowed = deadline_seconds(remote)
        self.max_bytes = max_download_bytes(remote)
        self.read_timeout = DOWNLOAD_TIMEOUT

    def _remaining(self, url) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineError(
                f"The download of {url} did not finish within its deadline of "
                f"{self.allowed:.0f} s (the server is too slow or stalled)."
            )
        return remaining

    def _too_big(self, url, n_bytes):
        expected = "" if self.remote.size is None else f" (expected {self.remote.size} bytes)"
        return CapError(
            f"The download of {url} was stopped: the server sent more than {self.max_bytes} "
            f"bytes{expected}, got at least {n_bytes}."
        )

    def _read(self, response) -> bytes:
        """At most CHUNK bytes from one network read (b"" at the end of the body)."""
        try:
            return response.raw.read1(CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(
                f"no data for {self.read_timeout:.0f} s ({exc})"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:  # cut connection, bad encoding...
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from exc

    def _announced(self, response) -> int:
        """The Content-Length (0 if none), after checking it against the cap."""
        try:
            announced = max(0, int(response.headers.get("Content-Length") or 0))
        except ValueError:
            return 0
        if announced > self.max_bytes:
            raise self._too_big(response.url, announced)
        if announced and self.remote.size is None:
            allowed = DEADLINE_BASE + announced * (1 + SIZE_MARGIN) / MIN_RATE
            if time.monotonic() + allowed < self.deadline:
                self.deadline, self.allowed = time.monotonic() + allowed, allowed
        return announced

    def __call__(self, url, output_file, pooch_obj=None, check_only=False):
        self.read_timeout = min(DOWNLOAD_TIMEOUT, self._remaining(url))
        timeout = (NETWORK_TIMEOUT, self.read_timeout)
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            announced = self._announced(response)
            bar = None
            if self.progressbar:
                from tqdm.auto import tqdm

                bar = tqdm(total=announced or None, unit="B", unit_scale=True, leave=True)
            written = 0
            try:
                with open(output_file, "wb") as out:
                    while True:
                        self._remaining(url)
                        chunk = self._read(response)
                        if not chunk:
                            break
                        written += len(chunk)
                        if written > self.max_bytes:
                            raise self._too_big(url, written)
                        out.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
            if announced and written < announced:
                raise requests.exceptions.ChunkedEncodingError(
                    f"the connection closed after {written} of {announced} bytes"
                )


class DeadlineError(FetchError):
    """A download did not finish within its deadline."""


class CapError(FetchError):
    """A download or an archive is larger than its cap."""


def _check_file(path, remote) -> None:
    """Raise FetchError if the size or gzip stream of a downloaded file is wrong.

    The gzip stream is decompressed (not written) to check it, up to the unpacked cap.
    """
    size = path.stat().st_size
    if size == 0:
        raise FetchError(f"The download of {remote.filename} is empty.")
    if remote.size is not None and size != remote.size:
        raise FetchError(
            f"The download of {remote.filename} is incomplete or wrong: expected "
            f"{remote.size} bytes, got {size}."
        )
    if path.name.endswith((".gz", ".tgz")):
        cap = max_unpacked_bytes(size)
        unpacked = 0
        try:
            with gzip.open(path, "rb") as stream:
                while block := stream.read(1 << 20):
                    unpacked += len(block)
                    if unpacked > cap:
                        raise CapError(
                            f"The download of {remote.filename} ({size} bytes) unpacks to more "
                            f"than {cap} bytes: refusing it (a damaged file or a zip bomb)."
                        )
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

    Raises
    ------
    FetchError
        On an HTTP error, a checksum or size mismatch, a corrupt gzip stream, a file
        larger than its cap (:class:`CapError`), a missed deadline (:class:`DeadlineError`,
        counted over all attempts). A full disk raises its ``OSError`` at once (no retry);
        :func:`install_archive` and :func:`install_file` turn it into :class:`NoSpaceError`.
    """
    retries = RETRIES if retries is None else retries
    url = url_of(remote)
    known_hash = f"md5:{remote.md5}" if remote.md5 else None
    deadline = time.monotonic() + deadline_seconds(remote)
    downloader = _BoundedDownloader(remote, deadline=deadline, progressbar=_progressbar(verbose))
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
        except (DeadlineError, CapError) as exc:
            cause, error, retry = exc.__cause__, exc, False
        except FetchError as exc:
            cause, error, retry = exc.__cause__, exc, True
        target.unlink(missing_ok=True)
        if not retry or attempt == retries:
            raise error from cause
        if verbose:
            print(f"{error} Retrying ({attempt + 1}/{retries})...")
        time.sleep(min(RETRY_DELAY * 2**attempt, max(0.0, deadline - time.monotonic())))
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


def safe_extract(archive, destination, *, max_bytes=None) -> None:
    """Extract a tar archive into ``destination``, refusing any unsafe member.

    Members with absolute paths, ``..`` components, links pointing outside the archive,
    and device files raise :class:`UnsafeArchiveError` before anything is written, and
    so does an archive whose files add up to more than ``max_bytes`` (default:
    :func:`max_unpacked_bytes` of the archive's size). A corrupt archive raises
    :class:`FetchError`.
    """
    archive, destination = Path(archive), Path(destination)
    if max_bytes is None:
        max_bytes = max_unpacked_bytes(archive.stat().st_size)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _member_problem(member)
                if problem:
                    raise UnsafeArchiveError(
                        f"Refusing to extract {archive.name}: member {member.name!r} {problem}."
                    )
            total = sum(member.size for member in members if member.isfile())
            if total > max_bytes:
                raise CapError(
                    f"Refusing to extract {archive.name}: its files add up to {total} bytes, "
                    f"more than the {max_bytes} bytes allowed for a "
                    f"{archive.stat().st_size}-byte archive."
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
    sweep(data_dir)  # what killed processes left behind
    folder = Path(tempfile.mkdtemp(prefix=f".download-{owner_tag()}-", dir=data_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _say(verbose, message):
    if verbose:
        print(message, flush=True)


def _needed(remote) -> int | None:
    """Space an install takes at its peak: the archive plus what it unpacks to (about)."""
    return None if remote.size is None else 2 * remote.size


def check_not_partial(final_dir, markers, remote) -> None:
    """Raise PartialCopyError if ``final_dir`` exists without all ``markers``.

    Checked before anything is downloaded: an install never replaces an existing folder,
    so downloading would waste the whole archive.
    """
    final_dir = Path(final_dir)
    if not final_dir.is_dir():
        return
    missing = [m for m in markers if not (final_dir / m).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        size = f" ({_human(remote.size)})" if remote.size else ""
        raise PartialCopyError(
            f"{final_dir} holds a partial copy of the real data: {shown} missing (an "
            "interrupted copy?). Nothing was downloaded. Delete or rename that folder, then "
            f"call again to download the whole archive {remote.filename}{size}"
        )


def install_archive(remote, final_dir, markers, *, data_dir, verbose=1) -> Path:
    """Download a tar archive and unpack the folder holding ``markers`` as ``final_dir``.

    A ``final_dir`` that exists without all ``markers`` is reported (FetchError) before any
    download; a full disk or quota raises :class:`NoSpaceError`.
    """
    final_dir = Path(final_dir)
    check_not_partial(final_dir, markers, remote)
    with no_space_guard(data_dir, needed=_needed(remote), what=f"install {remote.filename}"):
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
    with no_space_guard(data_dir, needed=_needed(remote), what=f"install {remote.filename}"):
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
