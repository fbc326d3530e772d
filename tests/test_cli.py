"""The command line ``python -m data_fetchers download ...``."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from types import SimpleNamespace

import pytest

import data_fetchers.simulate
from data_fetchers import _registry, haxby
from data_fetchers.__main__ import main


@pytest.fixture
def fake_simulators(monkeypatch):
    """Simulate modules that only record their calls."""
    calls = []
    for name in ("haxby", "miyawaki", "adhd"):

        def ensure(root, _name=name, **kwargs):
            calls.append((_name, kwargs))

        monkeypatch.setattr(data_fetchers.simulate, name, SimpleNamespace(ensure=ensure), False)
    return calls


def summary(out):
    """The words of each line of the final summary."""
    return [line.split() for line in out.split("Datasets ready:\n")[1].splitlines()]


def test_download_all_simulated(data_env, fake_simulators, capsys):
    assert main(["download", "all", "--source", "simulated", "--size", "full", "--quiet"]) == 0
    assert [name for name, _ in fake_simulators] == ["haxby", "miyawaki", "adhd"]
    assert fake_simulators[0][1] == dict(subject=2, size="full", verbose=0)
    assert len(fake_simulators[2][1]["subject_ids"]) == 10
    out = capsys.readouterr().out
    root = data_env / "simulated" / "full"
    assert out.startswith("Datasets ready:")
    assert summary(out)[0] == ["haxby", "subject", "2", "simulated", f"{root}/haxby2001"]
    assert summary(out)[1] == ["miyawaki", "simulated", f"{root}/miyawaki2008"]
    assert "adhd 10 subjects" in out


def test_subjects_option(data_env, fake_simulators, tmp_path):
    args = ["download", "haxby", "--source", "simulated", "--subjects", "1", "4"]
    assert main([*args, "--data-dir", str(tmp_path / "elsewhere")]) == 0
    assert [kwargs["subject"] for _, kwargs in fake_simulators] == [1, 4]
    assert main(["download", "adhd", "--source", "simulated", "--subjects", "3"]) == 0
    assert len(fake_simulators[-1][1]["subject_ids"]) == 3


def test_adhd_takes_one_number(data_env, fake_simulators, capsys):
    assert main(["download", "adhd", "--subjects", "1", "2"]) == 1
    err = capsys.readouterr().err
    assert (
        err == "error: '--subjects' for adhd must be one number (how many subjects). Got [1, 2].\n"
    )


def test_bad_subject_is_one_line(data_env, fake_simulators, capsys):
    assert main(["download", "haxby", "--source", "simulated", "--subjects", "9"]) == 1
    assert capsys.readouterr().err == (
        "error: 'subject' must be an integer from 1 to 6. Got 9.\n"
    )  # fmt: skip


def test_real_download_through_a_mirror(data_env, local_server, monkeypatch, tmp_path, capsys):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in haxby.subject_files(2):
            data = name.encode()
            info = tarfile.TarInfo(f"subj2/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    body = buffer.getvalue()
    name = "haxby2001/subj2-2010.01.14.tar.gz"
    remote = dataclasses.replace(
        _registry.REMOTES[name], md5=hashlib.md5(body).hexdigest(), size=len(body)
    )
    monkeypatch.setitem(_registry.REMOTES, name, remote)
    local_server.serve(name, body)
    local_server.serve("haxby2001/mask.nii.gz", gzip.compress(b"mask"))
    monkeypatch.setenv("MLNI_MIRROR", local_server.url)
    assert main(["download", "haxby", "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert summary(out) == [["haxby", "subject", "2", "real", str(tmp_path / "d" / "haxby2001")]]
    assert (tmp_path / "d" / "haxby2001" / "subj2" / "labels.txt").read_text() == "labels.txt"


def test_failure_in_a_subprocess(data_env, closed_port, tmp_path):
    env = dict(os.environ, MLNI_MIRROR=closed_port)
    command = [sys.executable, "-m", "data_fetchers", "download", "miyawaki"]
    result = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Cannot get the real Miyawaki 2008 data")
    assert "cannot reach 127.0.0.1" in lines[0]


def test_help_and_bad_choice(capsys):
    with pytest.raises(SystemExit) as info:
        main(["download", "--help"])
    assert info.value.code == 0
    assert "--subjects" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["download", "nope"])
    assert info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_empty_or_file_data_dir_is_named(data_env, fake_simulators, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["download", "haxby", "--source", "simulated", "--data-dir", ""])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --data-dir: must be a folder path. Got '' (an empty path would mean" in err
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SystemExit):
        main(["download", "haxby", "--source", "simulated", "--data-dir", "notes.txt"])
    assert "argument --data-dir: must be a folder, not a file. Got 'notes.txt'" in (
        capsys.readouterr().err
    )
    assert fake_simulators == [] and os.listdir(tmp_path) == ["notes.txt"]


def test_bad_environment_is_one_named_line(
    data_env, fake_simulators, capsys, tmp_path, monkeypatch
):
    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.setenv("MLNI_DATA", str(tmp_path / "notes.txt"))
    assert main(["download", "haxby", "--source", "simulated"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The environment variable MLNI_DATA must be a folder, not a file.")
    monkeypatch.setenv("MLNI_DATA", str(data_env))
    monkeypatch.setenv("MLNI_MIRROR", "file:///srv/mirror")
    assert main(["download", "haxby"]) == 1
    assert capsys.readouterr().err.startswith(
        "error: The environment variable MLNI_MIRROR must be an http:// or https:// URL"
    )
