"""Tests of mlni_course.records: typed records, tables, figures, glue, errors."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mlni_course import records  # noqa: E402
from mlni_course.records import (  # noqa: E402
    load,
    load_table,
    record,
    record_figure,
    record_table,
)


@pytest.fixture
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLNI_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_types_survive_the_round_trip(results_folder):
    record("parcellation", "n_regions", np.int64(113), source="simulated", unit="regions")
    record("parcellation", "ari", np.float32(0.5), source="simulated", unit="ARI",
           paper="Ward is best with many clusters")
    record("parcellation", "connected", np.bool_(True), source="real")
    record("parcellation", "method", "Ward", source="real")
    entries = load("parcellation")
    assert entries["n_regions"]["value"] == 113 and entries["n_regions"]["kind"] == "int"
    assert isinstance(entries["n_regions"]["value"], int)
    assert entries["ari"] == {"kind": "float", "value": 0.5, "unit": "ARI", "section": None,
                              "paper": "Ward is best with many clusters", "source": "simulated"}
    assert entries["connected"]["value"] is True and entries["connected"]["kind"] == "bool"
    assert entries["method"]["value"] == "Ward"
    assert json.loads((results_folder / "parcellation.json").read_text())["doc"] == (
        "08_parcellation")
    assert not list(results_folder.glob(".*")), "no temporary file left behind"


def test_record_prints_and_returns_nothing(results_folder, capsys):
    assert record("searchlight", "peak", 0.9, source="simulated") is None
    assert capsys.readouterr() == ("", "")


def test_load_all_and_missing(results_folder):
    assert load() == {} and load("searchlight") == {}
    record("searchlight", "peak", 0.9, source="simulated")
    assert list(load()) == ["searchlight"]


def test_table_round_trip(results_folder):
    table = pd.DataFrame({"C=0.01": [0.61, 0.7], "n": [3, 4], "best": [True, False]},
                         index=pd.Index(["l1", "l2"], name="model"))
    record_table("miyawaki_decoding", "table1", table, source="simulated", unit="accuracy")
    entry = load("miyawaki_decoding")["table1"]
    assert entry["kind"] == "table" and entry["unit"] == "accuracy"
    back = load_table(entry)
    assert back.index.name == "model" and list(back.columns) == ["C=0.01", "n", "best"]
    assert back.loc["l2", "n"] == 4 and isinstance(entry["data"][1][1], int)
    assert back.loc["l1", "best"] is np.True_ or back.loc["l1", "best"] is True


def test_figure_saved_at_print_resolution(results_folder):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    record_figure("searchlight", "figure2", fig, source="simulated", paper="Figure 2",
                  section="a-whole-brain-searchlight", caption="Three maps.")
    entry = load("searchlight")["figure2"]
    assert entry["kind"] == "figure" and entry["section"] == "a-whole-brain-searchlight"
    image = plt.imread(entry["path"])
    assert image.shape[1] >= 2 * 150 * 0.8  # 2 inches at >= 150 dpi, less the tight crop
    plt.close(fig)


def test_record_glues_in_a_kernel(results_folder, monkeypatch):
    glued = []
    monkeypatch.setattr(records, "_glue", lambda key, value: glued.append((key, value)))
    record("searchlight", "peak", 0.9, source="simulated")
    record("searchlight", "quiet", 1, source="simulated", glue=False)
    assert glued == [("peak", 0.9)]


def test_glue_outside_a_kernel_is_silent(results_folder, capsys):
    records._glue("peak", 0.9)  # plain Python: no IPython shell, nothing happens
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: record("nope", "k", 1, source="real"), ValueError,
         "'chapter' must be one of .* Got 'nope'"),
        (lambda: record("searchlight", "a.b", 1, source="real"), ValueError,
         "'key' must be a non-empty name .* Got 'a.b'"),
        (lambda: record("searchlight", "k", 1, source="both"), ValueError,
         "'source' must be 'real' or 'simulated'. Got 'both'"),
        (lambda: record("searchlight", "k", float("nan"), source="real"), ValueError,
         "'value' must be a finite number. Got nan"),
        (lambda: record("searchlight", "k", [1], source="real"), TypeError,
         "'value' must be a number, a bool or a string. Got list"),
        (lambda: record("searchlight", "k", 1, source="real", unit=3), TypeError,
         "'unit' must be a string or None. Got int"),
        (lambda: record_table("searchlight", "k", {"a": 1}, source="real"), TypeError,
         "'table' must be a pandas DataFrame. Got dict"),
        (lambda: record_table("searchlight", "k", pd.DataFrame({"a": [None]}), source="real"),
         TypeError, r"'table\[0, 'a'\]' must be a number"),
        (lambda: record_figure("searchlight", "k", "fig", source="real", paper="F",
                               section="s", caption="c"), TypeError,
         "'fig' must be a matplotlib Figure. Got str"),
        (lambda: load_table({"kind": "float"}), ValueError,
         "'entry' must be a recorded table"),
    ],
)
def test_errors_name_the_parameter(results_folder, call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_figure_errors(results_folder):
    fig = plt.figure()
    with pytest.raises(ValueError, match="'section' must be a non-empty string. Got ''"):
        record_figure("searchlight", "k", fig, source="real", paper="F", section="", caption="c")
    with pytest.raises(ValueError, match="'dpi' must be an integer of at least 150. Got 70"):
        record_figure("searchlight", "k", fig, source="real", paper="F", section="s",
                      caption="c", dpi=70)
    plt.close(fig)
