"""The registry of remote files: URLs, checksums, ADHD subject ids, the mirror."""

from __future__ import annotations

from data_fetchers import _registry, adhd


def test_adhd_ids():
    ids = _registry.ADHD_SORTED_IDS
    assert len(ids) == len(set(ids)) == 40 and list(ids) == sorted(ids)
    assert ids[0] == "0010042" and ids[-1] == "9750701"
    assert all(len(i) == 7 and i.isdigit() for i in ids)
    assert set(_registry.ADHD_PAPER_IDS) <= set(ids)
    assert sorted(_registry.ADHD_IDS) == list(ids)
    assert adhd.subject_ids(10) == list(_registry.ADHD_PAPER_IDS)
    assert adhd.subject_ids(1) == ["3902469"]


def test_adhd_download_ids_follow_the_sorted_order():
    first = _registry.adhd_archive("0010042").url
    last = _registry.adhd_archive("9750701").url
    assert first == "https://www.nitrc.org/frs/download.php/7782/adhd40_0010042.tgz"
    assert last == "https://www.nitrc.org/frs/download.php/7821/adhd40_9750701.tgz"
    assert _registry.adhd_archive("3902469").url.endswith("/7809/adhd40_3902469.tgz")
    assert _registry.adhd_metadata().url.endswith("/7781/adhd40_metadata.tgz")


def test_haxby_remotes():
    remote = _registry.haxby_archive(2)
    assert remote.url == "http://data.pymvpa.org/datasets/haxby2001/subj2-2010.01.14.tar.gz"
    assert remote.md5 == "56902b0583c0329b8364cadc1abb3ed5" and remote.size == 291_168_628
    assert all(len(_registry.haxby_archive(s).md5) == 32 for s in range(1, 7))
    assert _registry.haxby_mask().url.endswith("/7868/mask.nii.gz")


def test_miyawaki_remote():
    remote = _registry.miyawaki_archive()
    assert remote.url.startswith("https://www.nitrc.org/frs/download.php/8486/miyawaki2008.tgz")
    assert remote.md5 is None and remote.size == 161_069_109 and remote.filename.endswith(".tgz")
    assert len(_registry.MIYAWAKI_ROI_NAMES) == len(set(_registry.MIYAWAKI_ROI_NAMES)) == 38


def test_mirror(monkeypatch):
    remote = _registry.haxby_archive(3)
    monkeypatch.delenv("MLNI_MIRROR", raising=False)
    assert _registry.url_of(remote) == remote.url
    monkeypatch.setenv("MLNI_MIRROR", "http://mirror.local:8000/mlni/")
    assert (
        _registry.url_of(remote)
        == "http://mirror.local:8000/mlni/haxby2001/subj3-2010.01.14.tar.gz"
    )
    assert _registry.host_of(_registry.url_of(remote)) == ("mirror.local", 8000)
    assert _registry.host_of(_registry.miyawaki_archive().url) == ("www.nitrc.org", 443)
