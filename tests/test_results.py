"""Tests of mlni.results: numbers and figures kept for the reproduction page."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mlni import results  # noqa: E402


@pytest.fixture(autouse=True)
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLNI_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_record_and_load(results_folder):
    results.record("haxby", "accuracy", 0.93, paper="0.95-0.99", source="simulated")
    results.record("haxby", "table1_l1_C0.01", "0.63+-0.11", source="real")
    results.record("parcellation", "n_regions", 101, source="simulated")
    haxby = results.load("haxby")
    assert haxby["accuracy"]["value"] == 0.93 and haxby["accuracy"]["paper"] == "0.95-0.99"
    assert haxby["table1_l1_C0.01"]["source"] == "real"
    assert set(results.load()) == {"haxby", "parcellation"}
    # Recording again replaces the entry.
    results.record("haxby", "accuracy", 0.9, source="simulated")
    assert results.load("haxby")["accuracy"]["value"] == 0.9
    assert json.loads((results_folder / "haxby.json").read_text())["accuracy"]["value"] == 0.9


def test_load_missing_gives_empty(results_folder):
    assert results.load() == {}
    assert results.load("nothing") == {}
    assert results.results_dir() == results_folder


def test_record_figure(results_folder):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    entry = results.record_figure("searchlight", "figure2", fig, paper="Figure 2",
                                  source="simulated")
    assert entry["value"].endswith("searchlight-figure2.png")
    assert (results_folder / "figures" / "searchlight-figure2.png").read_bytes()[:4] == b"\x89PNG"
    plt.close(fig)
    with pytest.raises(TypeError, match="'fig' must be a matplotlib Figure. Got str"):
        results.record_figure("searchlight", "figure2", "fig", paper="x", source="real")


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("", "k", 1), {"source": "real"}, ValueError, "'chapter' must be a non-empty name"),
        (("a b", "k", 1), {"source": "real"}, ValueError, "'chapter' must be a non-empty name"),
        (("c", "k k", 1), {"source": "real"}, ValueError, "'key' must be a non-empty name"),
        (("c", "k", [1]), {"source": "real"}, TypeError, "'value' must be a number or a string"),
        (("c", "k", True), {"source": "real"}, TypeError, "'value' must be a number or a string"),
        (("c", "k", float("nan")), {"source": "real"}, ValueError, "'value' must be a finite"),
        (("c", "k", 1), {"source": "fake"}, ValueError, "'source' must be 'real' or 'simulated'"),
        (("c", "k", 1), {"source": "real", "paper": 0.5}, TypeError, "'paper' must be a string"),
    ],
)
def test_record_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        results.record(*args, **kwargs)
