"""Source resolution of the fetchers: simulated, real files in place, auto fallback, errors."""

from __future__ import annotations

import os
import socket
import threading
from types import SimpleNamespace

import pytest
from sklearn.utils import Bunch

import data_fetchers
import data_fetchers.simulate
from data_fetchers import (
    FetchError,
    _download,
    _registry,
    adhd,
    fetch_adhd,
    fetch_haxby,
    fetch_miyawaki2008,
    haxby,
    miyawaki,
)

HAXBY_KEYS = {
    "func", "session_target", "mask", "mask_vt", "mask_face", "mask_house", "mask_face_little",
    "mask_house_little", "anat", "t_r", "title", "description", "source", "ground_truth",
}  # fmt: skip
MIYAWAKI_KEYS = {
    "func", "label", "mask", "mask_roi", "background", "title", "description", "source",
    "ground_truth",
}  # fmt: skip
ADHD_KEYS = {
    "func", "confounds", "phenotypic", "subject_ids", "t_r", "title", "description", "source",
    "ground_truth",
}  # fmt: skip


def haxby_layout(subject):
    return [f"haxby2001/subj{subject}/{f}" for f in haxby.subject_files(subject)] + [
        "haxby2001/mask.nii.gz"
    ]


def miyawaki_layout():
    return [f"miyawaki2008/{name}" for name in miyawaki.all_files()]


def adhd_layout(ids):
    files = [f"adhd/{_registry.ADHD_PHENOTYPIC}"]
    for i in ids:
        files += [f"adhd/data/{i}/{i}_rest_tshift_RPI_voreg_mni.nii.gz"]
        files += [f"adhd/data/{i}/{i}_regressors.csv"]
    return files


@pytest.fixture
def fake_simulators(monkeypatch, tiny_files):
    """Replace the simulate modules by fakes writing tiny files; record their calls."""
    calls = []

    def fake(name, layout):
        def ensure(root, **kwargs):
            calls.append((name, root, kwargs))
            tiny_files(root, layout(**kwargs))
            return Bunch(fake=name)

        monkeypatch.setattr(data_fetchers.simulate, name, SimpleNamespace(ensure=ensure), False)

    fake("haxby", lambda subject, **kw: haxby_layout(subject))
    fake("miyawaki", lambda **kw: miyawaki_layout())
    fake("adhd", lambda subject_ids, **kw: adhd_layout(subject_ids))
    return calls


def all_paths(bunch):
    for value in bunch.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.endswith((".gz", ".txt", ".csv")):
                yield item


def test_haxby_simulated(data_env, fake_simulators, no_network):
    data = fetch_haxby(3, source="simulated", size="full")
    assert set(data) == HAXBY_KEYS
    assert data.source == "simulated" and data.ground_truth == Bunch(fake="haxby")
    root = data_env / "simulated" / "full"
    assert fake_simulators == [("haxby", root, dict(subject=3, size="full", verbose=1))]
    assert data.func == [str(root / "haxby2001" / "subj3" / "bold.nii.gz")]
    assert data.mask == str(root / "haxby2001" / "mask.nii.gz")
    assert data.t_r == 2.5 and data.anat.endswith("subj3/anat.nii.gz")
    assert all(os.path.isfile(path) for path in all_paths(data))


def test_haxby_subject6_has_no_anat(data_env, fake_simulators):
    assert fetch_haxby(6, source="simulated").anat is None


def test_miyawaki_simulated(data_env, fake_simulators, no_network):
    data = fetch_miyawaki2008(source="simulated")
    assert set(data) == MIYAWAKI_KEYS
    assert len(data.func) == len(data.label) == 32 and len(data.mask_roi) == 38
    assert "figure_run12" in data.func[11] and "random_run01" in data.func[12]
    assert "figure_run12_label" in data.label[11] and "random_run20_label" in data.label[31]
    assert all(os.path.isfile(path) for path in all_paths(data))
    assert data.source == "simulated" and data.ground_truth == Bunch(fake="miyawaki")


def test_adhd_simulated_in_paper_order(data_env, fake_simulators, no_network):
    data = fetch_adhd(12, source="simulated")
    assert set(data) == ADHD_KEYS
    assert data.subject_ids[:3] == ["3902469", "7774305", "3699991"]
    assert data.subject_ids[10:] == ["0010042", "0010064"]
    assert fake_simulators[0][2]["subject_ids"] == data.subject_ids
    assert len(data.func) == len(data.confounds) == 12 and data.t_r == 2.0
    assert all(os.path.isfile(path) for path in all_paths(data))


def test_environment_sets_default_source(data_env, fake_simulators, monkeypatch):
    monkeypatch.setenv("MLNI_DATA_SOURCE", "simulated")
    assert fetch_miyawaki2008().source == "simulated"


@pytest.mark.parametrize("source", ["real", "auto"])
def test_real_files_in_place_are_used_offline(data_env, tiny_files, no_network, source):
    tiny_files(data_env, haxby_layout(2) + miyawaki_layout() + adhd_layout(adhd.subject_ids(3)))
    before = sorted(str(p) for p in data_env.rglob("*"))
    for data in [
        fetch_haxby(source=source),
        fetch_miyawaki2008(source=source),
        fetch_adhd(3, source=source),
    ]:
        assert data.source == "real" and data.ground_truth is None
        assert all(path.startswith(str(data_env)) for path in all_paths(data))
        assert all(os.path.isfile(path) for path in all_paths(data))
    assert sorted(str(p) for p in data_env.rglob("*")) == before  # nothing written


def test_read_only_data_dir_is_enough(data_env, tiny_files, no_network, monkeypatch):
    tiny_files(data_env, haxby_layout(6))
    folders = [p for p in data_env.rglob("*") if p.is_dir()] + [data_env]

    def refuse(*args, **kwargs):
        raise PermissionError(f"read-only: {args!r}")

    for module, name in [(os, "mkdir"), (os, "rename"), (os, "replace"), (os, "open")]:
        monkeypatch.setattr(module, name, refuse)
    for folder in folders:
        folder.chmod(0o555)
    try:
        data = fetch_haxby(6, source="real", data_dir=data_env)
    finally:
        monkeypatch.undo()
        for folder in folders:
            folder.chmod(0o755)
    assert data.source == "real" and data.anat is None


def test_real_unreachable_fails_with_advice(data_env, closed_port, monkeypatch):
    monkeypatch.setenv("MLNI_MIRROR", closed_port)
    with pytest.raises(
        FetchError,
        match=r"Cannot get the real Haxby 2001 \(subject 2\) data: "
        r"cannot reach 127\.0\.0\.1",
    ) as info:
        fetch_haxby(source="real")
    message = str(info.value)
    assert "python -m data_fetchers download haxby" in message
    assert "MLNI_DATA" in message and 'source="simulated"' in message
    assert not (data_env / "haxby2001").exists()


def test_auto_falls_back_with_notice(data_env, closed_port, monkeypatch, capsys, fake_simulators):
    monkeypatch.setenv("MLNI_MIRROR", closed_port)
    data = fetch_adhd(2)
    out = capsys.readouterr().out
    assert data.source == "simulated" and data.ground_truth == Bunch(fake="adhd")
    assert "NOTICE: ADHD-200 (2 subjects): using SIMULATED data." in out
    assert "known ground truth" in out and "python -m data_fetchers download adhd" in out
    assert out.splitlines()[0].startswith("+---") and out.splitlines()[1].startswith("| ")


def test_auto_falls_back_when_data_dir_not_writable(data_env, monkeypatch, capsys, fake_simulators):
    monkeypatch.setattr(_download, "unreachable_hosts", lambda urls: [])
    monkeypatch.setattr("data_fetchers._source.unreachable_hosts", lambda urls: [])
    monkeypatch.setattr("data_fetchers._source.is_writable", lambda path: False)
    assert fetch_miyawaki2008().source == "simulated"
    out = " ".join(capsys.readouterr().out.replace("|", " ").split())
    assert f"could not be downloaded (the data directory {data_env} is not writable)" in out


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fetch_haxby(0), ValueError, r"'subject' must be an integer from 1 to 6\. Got 0\."),
        (lambda: fetch_haxby(7), ValueError, r"'subject' must be an integer from 1 to 6\. Got 7\."),
        (lambda: fetch_haxby("2"), TypeError, r"'subject' must be .* Got str: '2'\."),
        (lambda: fetch_haxby(True), TypeError, r"'subject' must be .* Got bool: True\."),
        (
            lambda: fetch_adhd(0),
            ValueError,
            r"'n_subjects' must be an integer from 1 to 40\. Got 0",
        ),
        (lambda: fetch_adhd(41), ValueError, r"'n_subjects' must be .* Got 41\."),
        (lambda: fetch_adhd(2.5), TypeError, r"'n_subjects' must be .* Got float: 2\.5\."),
        (lambda: fetch_miyawaki2008(size="big"), ValueError, r"'size' must be one of"),
        (lambda: fetch_haxby(source="web"), ValueError, r"'source' must be one of .* Got 'web'"),
    ],
)
def test_bad_arguments(data_env, no_network, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_reachability_check_gives_up_on_a_hanging_lookup(data_env, monkeypatch):
    release = threading.Event()
    calls = []

    def hang(address, timeout=None):
        calls.append(address)
        release.wait(5)
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        assert not _download.host_reachable("http://example.invalid/x", timeout=0.1)
        assert not _download.host_reachable("http://example.invalid/y", timeout=0.1)
    finally:
        release.set()
    assert calls == [("example.invalid", 80)]  # the answer is cached per host


def test_unreachable_hosts_are_probed_together(data_env, monkeypatch):
    release = threading.Event()

    def hang(address, timeout=None):
        release.wait(5)
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(_download, "NETWORK_TIMEOUT", 0.1)
    urls = ["http://a.invalid/x", "https://b.invalid/y", "http://a.invalid/z"]
    try:
        assert _download.unreachable_hosts(urls) == ["a.invalid:80", "b.invalid:443"]
    finally:
        release.set()


def test_reachability_check_sees_a_listening_server(data_env, local_server):
    assert _download.host_reachable(local_server.url + "/any")
    assert _download.unreachable_hosts([local_server.url + "/a", local_server.url + "/b"]) == []
