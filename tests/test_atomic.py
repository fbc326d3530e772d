"""Tests of data_fetchers._atomic: a folder or file is either absent or complete."""

import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from data_fetchers import _atomic
from data_fetchers._atomic import atomic_dir, atomic_file, is_writable


def test_atomic_dir_moves_complete_folder(tmp_path):
    final = tmp_path / "data" / "haxby2001"
    with atomic_dir(final) as tmp:
        (tmp / "bold.nii.gz").write_text("x")
        assert not final.exists()  # nothing visible before the block ends
    assert (final / "bold.nii.gz").read_text() == "x"
    assert [p.name for p in final.parent.iterdir()] == ["haxby2001"]  # no leftovers


def test_atomic_dir_error_leaves_nothing(tmp_path):
    final = tmp_path / "haxby2001"
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(final) as tmp:
        (tmp / "half.nii.gz").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_keeps_the_first_complete_copy(tmp_path):
    final = tmp_path / "haxby2001"
    with atomic_dir(final) as tmp:
        (tmp / "who").write_text("first")
    with atomic_dir(final) as tmp:
        (tmp / "who").write_text("second")
    assert (final / "who").read_text() == "first"
    assert len(list(tmp_path.iterdir())) == 1


def test_atomic_file_keeps_suffixes_and_replaces(tmp_path):
    final = tmp_path / "sub" / "mask.nii.gz"
    with atomic_file(final) as tmp:
        assert tmp.name.endswith(".nii.gz") and tmp.parent == final.parent
        tmp.write_text("one")
    with atomic_file(final) as tmp:
        tmp.write_text("two")
    assert final.read_text() == "two"
    with pytest.raises(ValueError, match="bad"), atomic_file(final) as tmp:
        tmp.write_text("three")
        raise ValueError("bad")
    assert final.read_text() == "two" and len(list(final.parent.iterdir())) == 1


def test_published_data_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "f").write_text("x")
        with atomic_file(tmp_path / "file.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "file.txt").stat().st_mode) == 0o644


def _write(final, value):
    with atomic_dir(final) as tmp:
        for i in range(50):
            (tmp / f"part{i}").write_text(value)


@pytest.mark.slow
def test_two_processes_both_end_with_a_complete_folder(tmp_path):
    final = tmp_path / "dataset"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(final, str(k))) for k in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    values = {(final / f"part{i}").read_text() for i in range(50)}
    assert len(values) == 1  # one writer's complete copy, never a mixture
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]


def test_is_writable(tmp_path, monkeypatch):
    assert is_writable(tmp_path / "not" / "yet")  # the nearest existing parent decides
    locked = tmp_path / "locked"
    locked.mkdir()
    # A folder mounted read-only: os.access says no (root would ignore chmod, so simulate it).
    real_access = os.access
    monkeypatch.setattr(
        "data_fetchers._atomic.os.access",
        lambda path, mode: False if Path(path) == locked else real_access(path, mode),
    )
    assert not is_writable(locked / "inner" / "deeper")
    assert is_writable(tmp_path)


def test_temporaries_carry_their_owner_and_sweep_dead_ones(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    leftover = tmp_path / f".data.tmp-{dead.pid}@{_atomic._host()}-x1y2z3"
    leftover.mkdir()
    (leftover / "half.nii.gz").write_bytes(b"half")
    with atomic_dir(tmp_path / "data") as tmp:
        assert tmp.name.startswith(f".data.tmp-{_atomic.owner_tag()}-")
        assert not leftover.exists()  # its owner is gone: swept by the next writer
        (tmp / "f").write_text("x")
    with atomic_file(tmp_path / "g.nii.gz") as tmp:
        assert tmp.name.startswith(f".g.nii.gz.tmp-{_atomic.owner_tag()}-")
        tmp.write_text("y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "g.nii.gz"]
