"""Atomic writes: a dataset folder or file is either absent or complete.

Many students on one shared hub may fetch or generate the same dataset at once.
Every writer works in a private temporary folder next to the destination and moves
the finished result into place with one ``rename``; when another process got there
first, its (equally complete) result is kept and ours is discarded.

A process killed mid-write (``kill -9``, a kernel restart) cannot clean up after itself.
So every temporary name carries its owner, ``<pid>@<host>``, and each new temporary
sweeps the leftovers next to it (:func:`sweep`): those whose owner process is gone, and
any older than :data:`STALE_AFTER` seconds.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

STALE_AFTER = 24 * 3600.0  # seconds after which a temporary of a live (or remote) owner is swept
# errno values of a full disk, an exhausted quota, a file-size limit
NO_SPACE_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if code
)
_TEMPORARY = re.compile(
    r"^\.(?:download-|.+\.tmp-|.+\.stale-)(?:(?P<pid>\d+)@(?P<host>[A-Za-z0-9_]+)-)?"
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, *, directory: bool) -> None:
    """Give a temporary file or folder the permissions a normal one would have.

    ``tempfile`` creates them private (0600 / 0700); once moved into place they must be
    readable as the user's umask allows, e.g. by every student of a shared hub.
    """
    path.chmod((0o777 if directory else 0o666) & ~_umask())


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"


def owner_tag() -> str:
    """``<pid>@<host>``: the owner of the temporaries this process creates."""
    return f"{os.getpid()}@{_host()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _newest_mtime(path: Path) -> float:
    """The latest modification time of ``path`` and, for a folder, of anything inside."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for parent, folders, files in os.walk(path):
            for name in folders + files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(parent, name)).st_mtime)
    return newest


def is_abandoned(path, *, now=None) -> bool:
    """Whether ``path`` is a temporary whose owner is gone, or one older than STALE_AFTER.

    The owner is read from the name (``.<name>.tmp-<pid>@<host>-...``,
    ``.download-<pid>@<host>-...``). Only a process on this host can be checked; the
    temporaries of this very process are never abandoned (another thread may be writing).
    Names without an owner (older versions) are judged on their age only.
    """
    path = Path(path)
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    try:
        if match["pid"] is not None and match["host"] == _host():
            pid = int(match["pid"])
            if pid != os.getpid() and not _process_alive(pid):
                return True
        now = time.time() if now is None else now
        return now - _newest_mtime(path) > STALE_AFTER
    except OSError:  # gone meanwhile (its owner finished, or another sweep)
        return False


def sweep(folder) -> list:
    """Remove the abandoned temporaries directly inside ``folder``; return their paths.

    Safe to run while other processes write there: a live owner's temporaries are kept.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        if not is_abandoned(path):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue  # another sweep got there first
        except OSError:
            continue  # read-only or in use: a later call tries again
        removed.append(path)
    return removed


def sweep_tree(root, *, depth=3) -> list:
    """:func:`sweep` ``root`` and its sub-folders down to ``depth`` levels (hidden ones skipped)."""
    root = Path(root)
    removed = sweep(root)
    if depth > 0:
        try:
            children = [
                Path(e.path)
                for e in os.scandir(root)
                if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            ]
        except OSError:
            return removed
        for child in children:
            removed += sweep_tree(child, depth=depth - 1)
    return removed


def is_no_space(exc) -> bool:
    """Whether an exception is a full disk, an exhausted quota or a file-size limit."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS


def _tmp_sibling(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{owner_tag()}-", dir=final.parent))
    _publish_mode(tmp, directory=True)
    return tmp


@contextlib.contextmanager
def atomic_dir(final):
    """Build a directory in a temporary sibling, then move it to ``final`` at once.

    Parameters
    ----------
    final : str or pathlib.Path
        The directory to create. If it already exists when the block ends (another
        process finished first), the new copy is discarded.

    Yields
    ------
    pathlib.Path
        An empty temporary directory on the same file system as ``final``. On error
        it is removed and ``final`` is left untouched.
    """
    final = Path(final)
    tmp = _tmp_sibling(final)
    try:
        yield tmp
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(final):
    """Write a file under a temporary name, then replace ``final`` with it at once.

    Parameters
    ----------
    final : str or pathlib.Path
        The file to write.

    Yields
    ------
    pathlib.Path
        A temporary path in the same folder; write the content there. It keeps the
        suffixes of ``final`` (``.nii.gz`` stays ``.nii.gz``) so writers that infer the
        format from the name work.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep(final.parent)
    suffix = "".join(final.suffixes)
    fd, name = tempfile.mkstemp(
        prefix=f".{final.name}.tmp-{owner_tag()}-", suffix=suffix, dir=final.parent
    )
    os.close(fd)
    tmp = Path(name)
    _publish_mode(tmp, directory=False)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def is_writable(path) -> bool:
    """Whether new files can be created in ``path`` (or in its nearest existing parent)."""
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return os.access(path, os.W_OK | os.X_OK)
