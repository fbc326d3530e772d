"""What happens around a failure: an expired "cannot reach", a full disk, a killed process,
a server that trickles, stalls or floods, an archive that unpacks to too much, bad settings.

Servers listen on 127.0.0.1 only; killed processes are real subprocesses.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from sklearn.utils import Bunch
from test_fetchers_download import Mirror, leftovers

import data_fetchers.simulate
from conftest import LocalServer
from data_fetchers import FetchError, _atomic, _download, _registry, fetch_haxby, haxby

ARCHIVE = "haxby2001/subj2-2010.01.14.tar.gz"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror(data_env, local_server, monkeypatch, tmp_path):
    return Mirror(local_server, monkeypatch, tmp_path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_haxby_simulator(monkeypatch, tiny_files):
    """The Haxby simulator replaced by one writing tiny files (no atomic writes)."""

    def ensure(root, subject=2, **kwargs):
        layout = [f"haxby2001/subj{subject}/{f}" for f in haxby.subject_files(subject)]
        tiny_files(Path(root), [*layout, "haxby2001/mask.nii.gz"])
        return Bunch(fake="haxby")

    monkeypatch.setattr(data_fetchers.simulate, "haxby", Bunch(ensure=ensure), raising=False)


# -- 1. a failed reachability probe expires ------------------------------------------------


@pytest.mark.slow
def test_unreachable_answer_expires_in_the_same_process(tmp_path, monkeypatch):
    """No fixture resets the cache here: the mirror comes up after a first failure."""
    monkeypatch.setenv("MLNI_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MLNI_DATA_SOURCE", raising=False)
    monkeypatch.setattr(_download, "UNREACHABLE_TTL", 3.0, raising=False)
    port = free_port()
    monkeypatch.setenv("MLNI_MIRROR", f"http://127.0.0.1:{port}")
    with pytest.raises(FetchError, match=r"cannot reach 127\.0\.0\.1:\d+ within .* checked again"):
        fetch_haxby(2, source="real", verbose=0)
    server = LocalServer(port=port)  # the mirror starts late
    try:
        Mirror(server, monkeypatch, tmp_path).haxby(2)
        with pytest.raises(FetchError, match=r"cannot reach"):  # remembered for a moment
            fetch_haxby(2, source="real", verbose=0)
        time.sleep(3.2)
        data = fetch_haxby(2, source="real", verbose=0)
    finally:
        server.close()
    assert data.source == "real" and Path(data.func[0]).is_file()


def test_unreachable_message_does_not_say_run_again_blindly(data_env, closed_port, monkeypatch):
    monkeypatch.setenv("MLNI_MIRROR", closed_port)
    with pytest.raises(FetchError) as info:
        fetch_haxby(2, source="real", verbose=0)
    message = str(info.value)
    assert "the network is checked again after 5 s" in message
    assert "run the cell again" not in message and "calling again retries" not in message


# -- 2. a full disk or quota ---------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_full_disk_while_downloading(mirror, data_env, monkeypatch, capsys, code,
                                     fake_haxby_simulator):  # fmt: skip
    mirror.haxby(2)

    def full(self, url, output_file, *args, **kwargs):
        Path(output_file).write_bytes(b"part")
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_download._BoundedDownloader, "__call__", full)
    with pytest.raises(
        FetchError,
        match=rf"Not enough space to install subj2-2010\.01\.14\.tar\.gz in {data_env}: "
        rf".*\(errno {code}\)\. This needs about .* are free there\. Free some space",
    ):
        fetch_haxby(2, source="real", verbose=0)
    assert not leftovers(data_env)
    assert mirror.hits(ARCHIVE) == 0  # not retried: the disk will not be emptier
    data = fetch_haxby(2, verbose=0)  # auto falls back, with its notice
    out = " ".join(capsys.readouterr().out.replace("|", " ").split())
    assert data.source == "simulated" and "using SIMULATED data" in out
    assert "Not enough space to install" in out


def test_full_disk_while_generating(data_env, monkeypatch):
    def ensure(root, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(root))

    monkeypatch.setattr(data_fetchers.simulate, "haxby", Bunch(ensure=ensure), raising=False)
    with pytest.raises(
        FetchError,
        match=r"Not enough space to generate the simulated Haxby 2001 \(subject 2\) in "
        rf"{data_env / 'simulated'}: No space left on device \(errno 28\)\. This needs about",
    ):
        fetch_haxby(2, source="simulated", verbose=0)


FSIZE_SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from data_fetchers import fetch_haxby, FetchError
try:
    fetch_haxby(2, source={source!r}, verbose=0)
except FetchError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
"""


def run_with_file_size_limit(limit, source, data_dir, env=None):
    env = {**os.environ, **(env or {}), "MLNI_DATA": str(data_dir), "PYTHONPATH": str(REPO)}
    script = FSIZE_SCRIPT.format(limit=limit, source=source)
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def test_file_size_limit_while_downloading_in_a_subprocess(mirror, data_env, tmp_path):
    body = mirror.haxby(2)
    result = run_with_file_size_limit(
        len(body) // 2, "real", data_env, {"MLNI_MIRROR": mirror.server.url}
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith(
        "NoSpaceError Cannot get the real Haxby 2001 (subject 2) data: "
        "Not enough space to install subj2-"
    )
    assert f"in {data_env}" in result.stdout and "(errno 27)" in result.stdout
    assert not leftovers(data_env)


@pytest.mark.slow
def test_file_size_limit_while_generating_in_a_subprocess(tmp_path):
    data_dir = tmp_path / "data"
    result = run_with_file_size_limit(64 * 1024, "simulated", data_dir)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith(
        f"NoSpaceError Not enough space to generate the simulated Haxby 2001 (subject 2) "
        f"in {data_dir / 'simulated'}"
    )
    assert "(errno 27)" in result.stdout


# -- 3. nothing left behind by a killed process --------------------------------------------

KILL_SCRIPT = """
import dataclasses, sys, time
import nibabel
from data_fetchers import _download, _registry, fetch_haxby

name = "haxby2001/subj2-2010.01.14.tar.gz"  # the test serves its own small archive
_registry.REMOTES[name] = dataclasses.replace(_registry.REMOTES[name], md5=None, size=None)
stage = {stage!r}
if stage == "extraction":  # pause once the archive is unpacked into its temporary folder
    locate = _download._locate
    def pause(*args):
        print("extracted", flush=True)
        time.sleep(60)
        return locate(*args)
    _download._locate = pause
elif stage == "generation":  # pause once the simulator has written its first image
    save = nibabel.save
    def pause(*args, **kwargs):
        save(*args, **kwargs)
        print("generating", flush=True)
        time.sleep(60)
    nibabel.save = pause
print("start", flush=True)
fetch_haxby(2, source={source!r}, verbose=0)
"""


def start_and_kill(stage, sig, data_dir, env, ready):
    """Run a fetch in a subprocess, kill it with ``sig`` once ``ready()``; return the leftovers."""
    source = "simulated" if stage == "generation" else "real"
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT.format(stage=stage, source=source)],
        env={**os.environ, **env, "MLNI_DATA": str(data_dir), "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "start\n"
        limit = time.monotonic() + 120
        while not ready(process):
            assert process.poll() is None, "the subprocess ended before it was killed"
            assert time.monotonic() < limit, f"{stage} never reached"
            time.sleep(0.05)
        os.kill(process.pid, sig)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        process.stdout.close()
    return leftovers(data_dir)


def download_started(data_dir):
    def ready(process):
        return any(data_dir.glob(".download-*/*"))  # the file being received

    return ready


def said(word):
    def ready(process):
        return process.stdout.readline().strip() == word

    return ready


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("stage", ["download", "extraction"])
@pytest.mark.slow
def test_killed_download_or_extraction_is_swept(mirror, data_env, stage, sig):
    mirror.haxby(2, behaviour="trickle" if stage == "download" else "ok")
    ready = download_started(data_env) if stage == "download" else said("extracted")
    left = start_and_kill(stage, sig, data_env, {"MLNI_MIRROR": mirror.server.url}, ready)
    assert left, "the killed process left nothing: the test did not kill it mid-way"
    assert any(p.name.startswith(".download-") for p in left)
    if stage == "extraction":
        assert any(p.name.startswith(".subj2.tmp-") for p in left)
    mirror.haxby(2)  # served normally again
    assert fetch_haxby(2, source="real", verbose=0).source == "real"
    assert not leftovers(data_env)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.slow
def test_killed_generation_is_swept(data_env, sig, fake_haxby_simulator):
    left = start_and_kill("generation", sig, data_env, {}, said("generating"))
    assert any(".tmp-" in p.name for p in left), left
    # a later call (here a quick stand-in simulator) sweeps what the killed one left
    assert fetch_haxby(2, source="simulated", verbose=0).source == "simulated"
    assert not leftovers(data_env)


def test_sweep_keeps_live_owners_and_removes_old_anonymous_leftovers(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".bold.nii.gz.tmp-{sleeper.pid}@{_atomic._host()}-abc.nii.gz"
        mine = tmp_path / f".download-{_atomic.owner_tag()}-xyz"
        anonymous = tmp_path / ".subj2.tmp-k3j2h1"  # as written by older versions
        old_anonymous = tmp_path / ".subj3.tmp-p0o9i8"
        other_host = tmp_path / ".download-123@elsewhere-qwe"
        live.write_bytes(b"x")
        for folder in (mine, anonymous, old_anonymous, other_host):
            folder.mkdir()
            (folder / "part").write_bytes(b"x")
        (tmp_path / "subj2").mkdir()  # not a temporary: never touched
        long_ago = time.time() - _atomic.STALE_AFTER - 60
        os.utime(old_anonymous / "part", (long_ago, long_ago))
        os.utime(old_anonymous, (long_ago, long_ago))
        assert _atomic.sweep(tmp_path) == [old_anonymous]
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait(timeout=30)
        assert _atomic.sweep(tmp_path) == [live]
    finally:
        if sleeper.poll() is None:
            os.kill(sleeper.pid, signal.SIGKILL)
            sleeper.wait(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [mine.name, anonymous.name, other_host.name, "subj2"]
    )


# -- 4. bounded downloads ------------------------------------------------------------------


def test_trickling_server_misses_the_deadline(mirror, data_env, monkeypatch):
    mirror.haxby(2, behaviour="trickle")
    monkeypatch.setattr(_download, "DEADLINE_BASE", 1.0, raising=False)
    monkeypatch.setattr(_download, "MIN_RATE", 1e9, raising=False)
    with pytest.raises(FetchError, match=r"did not finish within its deadline of 1 s"):
        _download.install_archive(
            _registry.haxby_archive(2), data_env / "subj2", ["bold.nii.gz"], data_dir=data_env,
            verbose=0,
        )  # fmt: skip
    assert mirror.hits(ARCHIVE) == 1  # a missed deadline is not retried
    assert not leftovers(data_env)


@pytest.mark.slow
def test_deadline_of_unknown_size_follows_the_announced_length(mirror, data_env, monkeypatch):
    body = mirror.haxby(2, behaviour="trickle", pin=False)
    monkeypatch.setattr(_download, "DEADLINE_BASE", 1.0, raising=False)
    monkeypatch.setattr(_download, "MIN_RATE", 1000, raising=False)  # 1 GiB: 12 days
    allowed = 1.0 + len(body) * (1 + _download.SIZE_MARGIN) / 1000
    with pytest.raises(FetchError, match=rf"within its deadline of {allowed:.0f} s"):
        fetch_haxby(2, source="real", verbose=0)


def test_stalled_server_is_bounded_by_the_deadline(mirror, data_env, monkeypatch):
    mirror.haxby(2, behaviour="stall")
    monkeypatch.setattr(_download, "DEADLINE_BASE", 1.0, raising=False)
    monkeypatch.setattr(_download, "MIN_RATE", 1e9, raising=False)
    monkeypatch.setattr(_download, "DOWNLOAD_TIMEOUT", 5.0)
    with pytest.raises(FetchError, match=r"did not finish within its deadline"):
        fetch_haxby(2, source="real", verbose=0)
    assert not leftovers(data_env)


@pytest.mark.parametrize("behaviour", ["flood", "oversized"])
def test_download_is_capped_by_the_registry_size(mirror, data_env, behaviour):
    body = mirror.haxby(2)
    mirror.server.serve(ARCHIVE, body, behaviour)
    with pytest.raises(FetchError, match=rf"sent more than \d+ bytes \(expected {len(body)} "):
        fetch_haxby(2, source="real", verbose=0)
    assert mirror.hits(ARCHIVE) == 1
    assert not leftovers(data_env)


def test_download_of_unknown_size_is_capped(mirror, data_env, monkeypatch):
    body = mirror.haxby(2, pin=False)
    mirror.server.serve(ARCHIVE, body, "flood")
    monkeypatch.setattr(_download, "MAX_UNKNOWN_SIZE", 1 << 20, raising=False)
    with pytest.raises(FetchError, match=r"sent more than 1048576 bytes, got at least"):
        fetch_haxby(2, source="real", verbose=0)


def gzip_bomb(n_bytes):
    """A .tar.gz holding one file of ``n_bytes`` zeros (a few KB per MB)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        info = tarfile.TarInfo("subj2/bold.nii.gz")
        info.size = n_bytes
        tar.addfile(info, io.BytesIO(bytes(n_bytes)))
    return buffer.getvalue()


def test_archive_that_unpacks_to_too_much_is_refused(mirror, data_env, monkeypatch):
    mirror.haxby(2)
    mirror.publish(ARCHIVE, gzip_bomb(32 * 1024**2))
    monkeypatch.setattr(_download, "UNPACK_SLACK", 1 << 20, raising=False)
    with pytest.raises(FetchError, match=r"unpacks to more than \d+ bytes: refusing it"):
        fetch_haxby(2, source="real", verbose=0)
    assert not (data_env / "haxby2001" / "subj2").exists()
    assert not leftovers(data_env)


def test_safe_extract_refuses_more_than_max_bytes(tmp_path):
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip_bomb(4 * 1024**2))
    with pytest.raises(FetchError, match=r"bomb\.tar\.gz: its files add up to 4194304 bytes, more"):
        _download.safe_extract(archive, tmp_path / "out", max_bytes=1024**2)
    assert not (tmp_path / "out").exists()
    assert gzip.decompress(archive.read_bytes())  # the archive itself is valid


# -- 5. configuration errors named ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mirror_url", "match"),
    [
        (
            "localhost:8000",
            r"Got 'localhost:8000'\. It has no scheme: did you mean 'http://localhost:8000'\?",
        ),
        ("file:///srv/mirror", r"Got 'file:///srv/mirror'\. To use a folder of archives"),
        ("ftp://host/x", r"Got 'ftp://host/x'\.$"),
        ("http://", r"Got 'http://'\."),
    ],
)
def test_bad_mirror_is_named(data_env, no_network, monkeypatch, mirror_url, match):
    monkeypatch.setenv("MLNI_MIRROR", mirror_url)
    with pytest.raises(
        ValueError, match=r"MLNI_MIRROR must be an http:// or https:// URL.*" + match
    ):
        fetch_haxby(2, source="real", verbose=0)


def test_data_dir_that_is_a_file_is_named(data_env, tmp_path, monkeypatch, no_network):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    monkeypatch.setenv("MLNI_DATA", str(a_file))
    with pytest.raises(ValueError, match=r"MLNI_DATA must be a folder, not a file\. Got '.*notes"):
        fetch_haxby(2, source="simulated", verbose=0)
    monkeypatch.setenv("MLNI_DATA", str(a_file / "data"))
    with pytest.raises(ValueError, match=r"MLNI_DATA must be .* \(inside the file .*notes\.txt\)"):
        fetch_haxby(2, source="real", verbose=0)
    with pytest.raises(ValueError, match=r"'data_dir' must be a folder, not a file\. Got"):
        fetch_haxby(2, data_dir=a_file, source="real", verbose=0)
    with pytest.raises(ValueError, match=r"'data_dir' must be a folder path\. Got ''"):
        fetch_haxby(2, data_dir="", source="real", verbose=0)
