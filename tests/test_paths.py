"""Tests of data_fetchers._paths: the data folder and the source of the data."""

from pathlib import Path

import pytest

from data_fetchers._paths import check_size, get_data_dir, get_source, simulated_root


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
    with pytest.raises(ValueError, match="'source' must be one of 'auto', 'real', 'simulated'. "
                                         "Got 'fake'"):
        get_source("fake")
    monkeypatch.setenv("MLNI_DATA_SOURCE", "offline")
    with pytest.raises(ValueError, match="The environment variable MLNI_DATA_SOURCE must be one "
                                         "of .* Got 'offline'"):
        get_source()


def test_sizes(tmp_path):
    assert check_size("small") == "small" and check_size("full") == "full"
    assert simulated_root(tmp_path, "small") == tmp_path.resolve() / "simulated" / "small"
    with pytest.raises(ValueError, match="'size' must be one of 'small', 'full'. Got 'huge'"):
        check_size("huge")
    with pytest.raises(ValueError, match="'size' must be one of"):
        simulated_root(tmp_path, "tiny")
