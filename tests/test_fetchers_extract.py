"""Safe extraction: crafted archives must be refused before anything is written."""

from __future__ import annotations

import io
import tarfile

import pytest

from data_fetchers import FetchError, UnsafeArchiveError, fetch_haxby
from data_fetchers._download import safe_extract


def craft(path, members):
    """Write a .tar.gz at ``path`` from (name, kind, payload) tuples."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chardev": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
                "blockdev": tarfile.BLKTYPE,
                "unknown": b"Z",
            }[kind]
            info.linkname = payload
            tar.addfile(info)
    return path


GOOD = [("subj2/labels.txt", "file", "labels chunks\n")]


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (("../evil.txt", "file", "x"), r"member '\.\./evil\.txt' has a '\.\.' component"),
        (("subj2/../../evil.txt", "file", "x"), r"member 'subj2/\.\./\.\./evil\.txt' has a '\.\."),
        (("/tmp/evil.txt", "file", "x"), r"member '/tmp/evil\.txt' has an absolute path"),
        (
            ("subj2/link", "symlink", "../../etc/passwd"),
            r"member 'subj2/link' links outside the archive",
        ),
        (
            ("subj2/link", "symlink", "/etc/passwd"),
            r"member 'subj2/link' links to the absolute path '/etc/passwd'",
        ),
        (
            ("subj2/hard", "hardlink", "../outside"),
            r"member 'subj2/hard' links outside the archive",
        ),
        (("subj2/tty", "chardev", ""), r"member 'subj2/tty' is a device or FIFO"),
        (("subj2/pipe", "fifo", ""), r"member 'subj2/pipe' is a device or FIFO"),
        (("subj2/disk", "blockdev", ""), r"member 'subj2/disk' is a device or FIFO"),
        (("subj2/odd", "unknown", ""), r"member 'subj2/odd' is not a regular file, folder or link"),
    ],
)
def test_unsafe_members_are_refused(tmp_path, member, match):
    archive = craft(tmp_path / "bad.tar.gz", [*GOOD, member])
    destination = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"Refusing to extract bad\.tar\.gz: " + match):
        safe_extract(archive, destination)
    assert not destination.exists()  # checked before writing anything
    assert not (tmp_path / "evil.txt").exists()


def test_safe_members_are_extracted(tmp_path):
    members = [*GOOD, ("subj2", "dir", ""), ("subj2/alias.txt", "symlink", "labels.txt")]
    archive = craft(tmp_path / "good.tar.gz", members)
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "subj2" / "alias.txt").read_text() == "labels chunks\n"


def test_corrupt_archive(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"not an archive at all")
    with pytest.raises(FetchError, match=r"Could not extract broken\.tar\.gz: "):
        safe_extract(archive, tmp_path / "out")


def test_truncated_archive(tmp_path):
    archive = craft(tmp_path / "cut.tar.gz", [("subj2/big.txt", "file", "x" * 100_000)])
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(FetchError, match=r"Could not extract cut\.tar\.gz: "):
        safe_extract(archive, tmp_path / "out")


def test_fetcher_refuses_a_crafted_download(data_env, local_server, monkeypatch, tmp_path):
    import dataclasses

    from data_fetchers import _registry

    name = "haxby2001/subj2-2010.01.14.tar.gz"
    body = craft(tmp_path / "subj2.tar.gz", [*GOOD, ("../../escaped.txt", "file", "x")])
    local_server.serve(name, body.read_bytes())
    local_server.serve("haxby2001/mask.nii.gz", b"")
    monkeypatch.setenv("MLNI_MIRROR", local_server.url)
    plain = dataclasses.replace(_registry.REMOTES[name], md5=None, size=None)
    monkeypatch.setitem(_registry.REMOTES, name, plain)
    with pytest.raises(FetchError, match=r"member '\.\./\.\./escaped\.txt' has a '\.\.' compo"):
        fetch_haxby(2, source="real", verbose=0)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (data_env / "haxby2001" / "subj2").exists()
    assert [p.name for p in (data_env / "haxby2001").iterdir()] == []
