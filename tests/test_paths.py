"""Tests of data_fetchers._paths: the data folder and the source of the data."""

from pathlib import Path

import pytest

from data_fetchers import _paths
from data_fetchers._paths import (
    check_size,
    get_data_dir,
    get_size,
    get_source,
    simulated_root,
)


def test_get_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MLNI_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_dir() == tmp_path.resolve() / "mlni_data"
    monkeypatch.setenv("MLNI_DATA", str(tmp_path / "shared"))
    assert get_data_dir() == tmp_path.resolve() / "shared"
    assert get_data_dir(tmp_path / "explicit") == tmp_path.resolve() / "explicit"
    assert get_data_dir("~/x") == Path("~/x").expanduser().resolve()
    with pytest.raises(TypeError, match="'data_dir' must be a path .* Got int: 3"):
        get_data_dir(3)


def test_get_source(monkeypatch):
    monkeypatch.delenv("MLNI_DATA_SOURCE", raising=False)
    assert get_source() == "auto"
    assert get_source("real") == "real"
    monkeypatch.setenv("MLNI_DATA_SOURCE", "simulated")
    assert get_source() == "simulated"
    assert get_source("auto") == "auto"
    with pytest.raises(
        ValueError, match="'source' must be one of 'auto', 'real', 'simulated'. Got 'fake'"
    ):
        get_source("fake")
    monkeypatch.setenv("MLNI_DATA_SOURCE", "offline")
    with pytest.raises(
        ValueError,
        match="The environment variable MLNI_DATA_SOURCE must be one of .* Got 'offline'",
    ):
        get_source()


def test_sizes(tmp_path):
    assert check_size("small") == "small" and check_size("full") == "full"
    assert simulated_root(tmp_path, "small") == tmp_path.resolve() / "simulated" / "small"
    with pytest.raises(ValueError, match="'size' must be one of 'small', 'full'. Got 'huge'"):
        check_size("huge")
    with pytest.raises(ValueError, match="'size' must be one of"):
        simulated_root(tmp_path, "tiny")


def test_get_size(monkeypatch):
    monkeypatch.delenv("MLNI_SIZE", raising=False)
    assert get_size() == "small"
    assert get_size("full") == "full"
    monkeypatch.setenv("MLNI_SIZE", "full")
    assert get_size() == "full"
    assert get_size("small") == "small"
    with pytest.raises(ValueError, match="'size' must be one of 'small', 'full'. Got 'big'"):
        get_size("big")
    monkeypatch.setenv("MLNI_SIZE", "medium")
    with pytest.raises(
        ValueError, match="The environment variable MLNI_SIZE must be one of .* Got 'medium'"
    ):
        get_size()


def test_bad_data_dir_is_named(monkeypatch, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=r"^'data_dir' must be a folder path\. Got ''"):
        get_data_dir("")
    with pytest.raises(ValueError, match=r"^'data_dir' must be a folder path\. Got '  '"):
        get_data_dir("  ")
    with pytest.raises(
        ValueError, match=r"^'data_dir' must be a folder, not a file\. Got '.*notes"
    ):
        get_data_dir(a_file)
    monkeypatch.setenv("MLNI_DATA", str(a_file / "sub"))
    with pytest.raises(
        ValueError,
        match=r"^The environment variable MLNI_DATA must be a folder, not a file\. Got "
        r"'.*notes\.txt/sub' \(inside the file .*notes\.txt\)",
    ):
        get_data_dir()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("http://10.0.0.2:8000/", "http://10.0.0.2:8000/"),
        ("https://mirror.example.org/mlni", "https://mirror.example.org/mlni"),
    ],
)
def test_good_mirror(monkeypatch, value, expected):
    monkeypatch.setenv("MLNI_MIRROR", value)
    assert _paths.get_mirror() == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("10.0.0.2:8000", r"Got '10\.0\.0\.2:8000'\. It has no scheme: did you mean 'http://10"),
        ("file:///srv/x", r"Got 'file:///srv/x'\. To use a folder of archives, serve it with"),
        ("http://host:port", r"has a bad port .* Got 'http://host:port'"),
    ],
)
def test_bad_mirror(monkeypatch, value, match):
    monkeypatch.setenv("MLNI_MIRROR", value)
    with pytest.raises(ValueError, match=r"^The environment variable MLNI_MIRROR .*" + match):
        _paths.get_mirror()
