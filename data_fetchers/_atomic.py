"""Atomic writes: a dataset folder or file is either absent or complete.

Many students on one shared hub may fetch or generate the same dataset at once.
Every writer works in a private temporary folder next to the destination and moves
the finished result into place with one ``rename``; when another process got there
first, its (equally complete) result is kept and ours is discarded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


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


def _tmp_sibling(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
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
    suffix = "".join(final.suffixes)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.tmp-", suffix=suffix, dir=final.parent)
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
