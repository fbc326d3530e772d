"""The real download path, against archives with the real layout served from 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import multiprocessing
import tarfile

import nibabel as nib
import numpy as np
import pytest

from data_fetchers import (
    FetchError,
    _download,
    _registry,
    fetch_adhd,
    fetch_haxby,
    fetch_miyawaki2008,
    haxby,
    miyawaki,
)


def make_tgz(files, tmp_path, prefix=""):
    """Bytes of a .tar.gz holding tiny versions of ``files`` (under ``prefix``)."""
    folder = tmp_path / f"src-{hashlib.md5(repr(files).encode()).hexdigest()[:8]}"
    for seed, name in enumerate(files):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".nii.gz"):
            data = np.random.default_rng(seed).integers(0, 100, (3, 3, 3, 2)).astype("int16")
            nib.save(nib.Nifti1Image(data, np.eye(4)), path)
        elif name.endswith("labels.txt"):
            path.write_text("labels chunks\nrest 0\nface 0\nhouse 1\n")
        else:
            path.write_text(f"column,{name}\n1,2\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in files:
            tar.add(folder / name, arcname=prefix + name)
    return buffer.getvalue()


def nifti_gz_bytes(tmp_path):
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), "uint8"), np.eye(4)), path)
    return path.read_bytes()


class Mirror:
    """Publishes files on the local server and pins their checksums in the registry."""

    def __init__(self, server, monkeypatch, tmp_path):
        self.server, self.monkeypatch, self.tmp_path = server, monkeypatch, tmp_path
        monkeypatch.setenv("MLNI_MIRROR", server.url)

    def publish(self, name, body, behaviour="ok", *, md5=None, size=None, pin=True):
        """Serve ``body`` at ``name``; with ``pin``, the registry expects its MD5 and size."""
        remote = _registry.REMOTES[name]
        if pin:
            md5 = md5 or hashlib.md5(body).hexdigest()
            remote = dataclasses.replace(remote, md5=md5, size=size or len(body))
        else:
            remote = dataclasses.replace(remote, md5=None, size=None)
        self.monkeypatch.setitem(_registry.REMOTES, name, remote)
        self.server.serve(name, body, behaviour)

    def haxby(self, subject=2, **kwargs):
        files = haxby.subject_files(subject)
        body = make_tgz(files, self.tmp_path, prefix=f"subj{subject}/")
        self.publish(f"haxby2001/subj{subject}-2010.01.14.tar.gz", body, **kwargs)
        self.publish("haxby2001/mask.nii.gz", nifti_gz_bytes(self.tmp_path), pin=False)
        return body

    def hits(self, name):
        return self.server.hits.get("/" + name, 0)


@pytest.fixture
def mirror(data_env, local_server, monkeypatch, tmp_path):
    return Mirror(local_server, monkeypatch, tmp_path)


def leftovers(data_dir):
    """Temporary files or folders left in the data directory."""
    return [p for p in data_dir.rglob(".*") if ".tmp-" in p.name or p.name.startswith(".down")]


def test_haxby_download_extract_load(mirror, data_env, capsys):
    mirror.haxby(2)
    data = fetch_haxby(2, source="real")
    assert data.source == "real" and data.ground_truth is None
    assert data.func == [str(data_env / "haxby2001" / "subj2" / "bold.nii.gz")]
    assert nib.load(data.func[0]).shape == (3, 3, 3, 2)
    assert nib.load(data.mask).shape == (3, 3, 3)
    with open(data.session_target) as labels:
        assert labels.readline().split() == ["labels", "chunks"]
    assert not leftovers(data_env)
    assert "Downloading" in capsys.readouterr().out
    # A second call uses the files in place: no new request.
    assert fetch_haxby(2, source="real").func == data.func
    assert mirror.hits("haxby2001/subj2-2010.01.14.tar.gz") == 1


def test_haxby_subject6_download_has_no_anat(mirror, data_env):
    mirror.haxby(6)
    data = fetch_haxby(6, source="real", verbose=0)
    assert data.anat is None and data.source == "real"


def test_auto_downloads_when_reachable(mirror, data_env):
    mirror.haxby(2)
    assert fetch_haxby(source="auto", verbose=0).source == "real"


@pytest.mark.parametrize("prefix", ["", "miyawaki2008/"])
def test_miyawaki_download(mirror, data_env, tmp_path, prefix):
    body = make_tgz(miyawaki.all_files(), tmp_path, prefix=prefix)
    mirror.publish("miyawaki2008/miyawaki2008.tgz", body)
    data = fetch_miyawaki2008(source="real", verbose=0)
    assert nib.load(data.func[31]).shape == (3, 3, 3, 2)
    assert data.label[0] == str(data_env / "miyawaki2008/label/data_figure_run01_label.csv")
    assert not (data_env / "miyawaki2008" / "miyawaki2008").exists()
    assert not leftovers(data_env)


def test_adhd_download(mirror, data_env, tmp_path):
    table = _registry.ADHD_PHENOTYPIC
    mirror.publish("adhd/adhd40_metadata.tgz", make_tgz([table], tmp_path), pin=False)
    for i in ["3902469", "7774305"]:
        files = [f"data/{i}/{i}_rest_tshift_RPI_voreg_mni.nii.gz", f"data/{i}/{i}_regressors.csv"]
        mirror.publish(f"adhd/adhd40_{i}.tgz", make_tgz(files, tmp_path), pin=False)
    data = fetch_adhd(2, source="real", verbose=0)
    assert data.subject_ids == ["3902469", "7774305"]
    assert data.phenotypic == str(data_env / "adhd" / table)
    assert data.confounds[1] == str(data_env / "adhd/data/7774305/7774305_regressors.csv")
    assert nib.load(data.func[0]).shape == (3, 3, 3, 2)
    assert not leftovers(data_env)


def check_failure_then_success(mirror, data_env, match, hits):
    """The call fails with ``match``, leaves nothing, asks ``hits`` times; a retry works."""
    name = "haxby2001/subj2-2010.01.14.tar.gz"
    with pytest.raises(FetchError, match=match) as info:
        fetch_haxby(2, source="real", verbose=0)
    assert "Nothing incomplete was kept; calling again retries" in str(info.value)
    assert mirror.hits(name) == hits
    assert not (data_env / "haxby2001" / "subj2").exists()
    assert not leftovers(data_env)
    mirror.haxby(2)
    assert fetch_haxby(2, source="real", verbose=0).source == "real"
    assert not leftovers(data_env)


def test_checksum_mismatch(mirror, data_env):
    mirror.haxby(2, md5="0" * 32)
    check_failure_then_success(mirror, data_env, r"failed its checksum", _download.RETRIES + 1)


def test_truncated_transfer(mirror, data_env):
    mirror.haxby(2, behaviour="truncate")
    check_failure_then_success(
        mirror, data_env, r"The download of http://127\.0\.0\.1:\d+/haxby2001/subj2-2010\.01"
        r"\.14\.tar\.gz failed: ", _download.RETRIES + 1
    )  # fmt: skip


def test_truncated_transfer_without_checksum_or_size(mirror, data_env):
    mirror.haxby(2, behaviour="truncate", pin=False)
    check_failure_then_success(mirror, data_env, r"failed: ", _download.RETRIES + 1)


def test_http_404_is_not_retried(mirror, data_env):
    mirror.haxby(2, behaviour="404")
    check_failure_then_success(mirror, data_env, r"The server answered HTTP 404 for http://", 1)


def test_http_500_is_retried(mirror, data_env):
    mirror.haxby(2, behaviour="500")
    check_failure_then_success(mirror, data_env, r"The server answered HTTP 500 for http://", 3)


def test_wrong_size(mirror, data_env):
    mirror.haxby(2)
    name = "haxby2001/subj2-2010.01.14.tar.gz"
    remote = _registry.REMOTES[name]
    mirror.monkeypatch.setitem(_registry.REMOTES, name, dataclasses.replace(remote, size=5))
    check_failure_then_success(mirror, data_env, r"incomplete or wrong: expected 5 bytes", 3)


def test_corrupt_archive_without_checksum(mirror, data_env):
    mirror.haxby(2, pin=False)
    mirror.server.serve("haxby2001/subj2-2010.01.14.tar.gz", b"\x1f\x8b" + b"junk" * 100)
    check_failure_then_success(mirror, data_env, r"subj2-2010\.01\.14\.tar\.gz is corrupt", 3)


def test_archive_missing_a_file(mirror, data_env, tmp_path):
    body = make_tgz(haxby.subject_files(2)[:-1], tmp_path, prefix="subj2/")
    mirror.haxby(2)
    mirror.publish("haxby2001/subj2-2010.01.14.tar.gz", body)
    check_failure_then_success(
        mirror, data_env, r"does not contain the expected file 'anat\.nii\.gz'", 1
    )


def test_real_download_failure_gives_advice(mirror, data_env):
    mirror.haxby(2, behaviour="404")
    with pytest.raises(FetchError, match=r"Cannot get the real Haxby 2001 \(subject 2\) data: "):
        fetch_haxby(2, source="real", verbose=0)


def test_auto_download_failure_falls_back(mirror, data_env, capsys, monkeypatch):
    mirror.haxby(2, behaviour="404")
    monkeypatch.setattr(haxby, "make_bunch", lambda root, subject, **kw: kw)

    class FakeSimulate:
        @staticmethod
        def ensure(root, **kwargs):
            return "truth"

    import data_fetchers.simulate

    monkeypatch.setattr(data_fetchers.simulate, "haxby", FakeSimulate, raising=False)
    assert fetch_haxby(2, verbose=0) == {"source": "simulated", "ground_truth": "truth"}
    out = " ".join(capsys.readouterr().out.replace("|", " ").split())
    assert "using SIMULATED data" in out and "HTTP 404" in out


def test_incomplete_copy_is_reported_before_any_download(mirror, data_env, tiny_files):
    mirror.haxby(2)
    tiny_files(data_env / "haxby2001" / "subj2", ["bold.nii.gz"])
    with pytest.raises(
        FetchError,
        match=r"haxby2001/subj2 holds a partial copy of the real data: labels\.txt, .* missing "
        r"\(an interrupted copy\?\)\. Nothing was downloaded\. Delete or rename that folder",
    ) as info:
        fetch_haxby(2, source="real", verbose=0)
    assert "calling again retries" not in str(info.value)
    assert mirror.hits("haxby2001/subj2-2010.01.14.tar.gz") == 0


def _fetch_in_child(queue):
    try:
        data = fetch_haxby(2, source="real", verbose=0)
        queue.put(("ok", data.func[0]))
    except Exception as exc:  # report any failure to the parent
        queue.put(("error", repr(exc)))


def test_two_processes_fetch_at_once(mirror, data_env):
    mirror.haxby(2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_fetch_in_child, args=(queue,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [status for status, _ in results] == ["ok", "ok"], results
    assert nib.load(results[0][1]).shape == (3, 3, 3, 2)
    assert haxby.is_present(data_env, 2)
    assert not leftovers(data_env)


def test_empty_download(mirror, data_env):
    mirror.haxby(2)
    mirror.publish("haxby2001/mask.nii.gz", b"", pin=False)
    with pytest.raises(FetchError, match=r"The download of mask\.nii\.gz is empty\."):
        fetch_haxby(2, source="real", verbose=0)
    assert (data_env / "haxby2001" / "subj2" / "bold.nii.gz").is_file()  # kept: it is complete
    assert not (data_env / "haxby2001" / "mask.nii.gz").exists()
    assert not leftovers(data_env)


def test_read_only_data_dir_cannot_receive_a_download(mirror, data_env, monkeypatch):
    mirror.haxby(2)
    monkeypatch.setattr("data_fetchers._source.is_writable", lambda path: False)
    with pytest.raises(FetchError, match=r"Cannot get the real .* data: the data directory "):
        fetch_haxby(2, source="real", verbose=0)
    monkeypatch.setattr(_download, "is_writable", lambda path: False)
    remote = _registry.haxby_mask()
    with pytest.raises(FetchError, match=r"The data directory .* is not writable, so the missing"):
        _download.install_file(remote, data_env / "mask.nii.gz", data_dir=data_env)
    assert not data_env.exists()
