"""Tests of mlni_course.verdicts and mlni_course.report on synthetic records."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mlni_course import paper, report, verdicts  # noqa: E402
from mlni_course.records import load, record, record_figure, record_table  # noqa: E402
from mlni_course.verdicts import (  # noqa: E402
    CLAIMS,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    PARTLY,
    REPRODUCED,
    MissingRecordError,
    assess,
    count,
)

PAPER_TEXT = Path("/work/shared/paper/abraham2014_ml_neuroimaging_sklearn.txt")

#: Values under which every claim holds (Table 1 = the paper's own numbers).
GOOD = {
    "searchlight": {"figure2_share_vt_fmap": 0.8, "figure2_share_vt_weights": 0.7,
                    "figure2_share_vt_searchlight": 0.6, "figure2_share_vt_chance": 0.05},
    "miyawaki_decoding": {"table1_n_pixels": 100, "accuracy_centre_pixels": 0.75,
                          "accuracy_outer_pixels": 0.6,
                          "figure3_weights_corr_logistic_svm": 0.7,
                          "figure3_accuracy_maps_corr": 0.9},
    "miyawaki_encoding": {"figure3_rf_distance_to_pixel": 1.0,
                          "figure3_rf_distance_chance": 3.0},
    "resting_state_ica": {"dmn_r_concat_ica": 0.7, "dmn_r_canica": 0.8,
                          "noise_concat_ica": 0.5, "noise_canica": 0.3},
    "parcellation": {"ward_all_parcels_connected_100": True,
                     "ward_all_parcels_connected_1000": True,
                     "kmeans_n_regions_100": 150, "kmeans_n_regions_1000": 1400},
    "going_further": {"sparsity_dictlearning": 0.8, "sparsity_ica": 0.1,
                      "glasso_edges_kept": 100, "glasso_edges_total": 4950},
}


def _table1(which):
    columns = [f"C={C:g}" for C in paper.TABLE1_CS]
    cells = {m: [paper.table1_cell(m, C)[which] for C in paper.TABLE1_CS] for m in paper.TABLE1}
    return pd.DataFrame.from_dict(cells, orient="index", columns=columns)


def _ari(ward=(0.5, 0.4), kmeans=(0.45, 0.2)):
    return pd.DataFrame({"100": [ward[0], kmeans[0], 0.3], "1000": [ward[1], kmeans[1], 0.1]},
                        index=["Ward", "K-Means", "coordinates only"])


def make_records(source="real", overrides=None, tables=None, drop=()):
    """Records as ``load()`` returns them, written through the real record functions."""
    overrides, tables = overrides or {}, tables or {}
    for chapter, values in GOOD.items():
        for key, value in values.items():
            if (chapter, key) in drop:
                continue
            record(chapter, key, overrides.get(key, value), source=source,
                   section=f"section-of-{key.replace('_', '-')}")
    all_tables = {("miyawaki_decoding", "table1_mean"): _table1(0),
                  ("miyawaki_decoding", "table1_std"): _table1(1),
                  ("parcellation", "ari"): _ari()}
    all_tables.update(tables)
    for (chapter, key), table in all_tables.items():
        if (chapter, key) not in drop:
            record_table(chapter, key, table, source=source, section="table-section")
    return load()


@pytest.fixture(autouse=True)
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLNI_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def _by_name(found):
    return {v.claim.name: v for v in found}


def test_every_claim_reproduced_on_real_data_that_match_the_paper():
    found = assess(make_records("real"))
    assert len(found) == len(CLAIMS) == 37
    counts = count(found)
    assert counts == {REPRODUCED: 36, PARTLY: 1, NOT_REPRODUCED: 0, NOT_TESTABLE: 0}
    assert all(isinstance(n, int) for n in counts.values())
    less_noisy = _by_name(found)["figure4_less_noisy"]
    assert less_noisy.verdict == PARTLY and "MELODIC is not run" in less_noisy.reason


def test_simulated_data_cannot_test_numbers_or_planted_claims():
    found = _by_name(assess(make_records("simulated")))
    kinds = {claim.name: claim.kind for claim in CLAIMS}
    for name, verdict in found.items():
        assert verdict.source == "simulated"
        if kinds[name] in ("number", "planted"):
            assert verdict.verdict == NOT_TESTABLE, name
        else:
            assert verdict.verdict in (REPRODUCED, PARTLY), name
    assert count(found.values())[NOT_TESTABLE] == 28
    assert "planted by the stand-in, and recovered" in found["figure2_vt"].reason


def test_a_planted_effect_missed_on_simulated_data_is_not_reproduced():
    found = _by_name(assess(make_records("simulated", {"dmn_r_concat_ica": 0.1,
                                                       "accuracy_centre_pixels": 0.61})))
    assert found["figure4_dmn"].verdict == NOT_REPRODUCED
    assert found["figure3_fovea"].verdict == PARTLY


# (claim, overrides of GOOD, expected verdict on real data)
CASES = [
    ("figure2_vt", {"figure2_share_vt_searchlight": 0.1}, PARTLY),
    ("figure2_vt", {key: 0.1 for key in ("figure2_share_vt_fmap", "figure2_share_vt_weights",
                                         "figure2_share_vt_searchlight")}, NOT_REPRODUCED),
    ("figure3_fovea", {"accuracy_centre_pixels": 0.61}, PARTLY),
    ("figure3_fovea", {"accuracy_centre_pixels": 0.55}, NOT_REPRODUCED),
    ("figure3_same_pixel", {"figure3_rf_distance_to_pixel": 2.0}, PARTLY),
    ("figure3_same_pixel", {"figure3_rf_distance_to_pixel": 3.5}, NOT_REPRODUCED),
    ("figure3_l1_svm_alike", {"figure3_accuracy_maps_corr": 0.5}, PARTLY),
    ("figure3_l1_svm_alike", {"figure3_accuracy_maps_corr": 0.5,
                              "figure3_weights_corr_logistic_svm": 0.1}, NOT_REPRODUCED),
    ("figure4_dmn", {"dmn_r_concat_ica": 0.4}, PARTLY),
    ("figure4_dmn", {"dmn_r_concat_ica": 0.2}, NOT_REPRODUCED),
    ("figure4_less_noisy", {"noise_canica": 0.6}, NOT_REPRODUCED),
    ("figure4_less_noisy", {"dmn_r_canica": 0.2}, NOT_REPRODUCED),   # less noisy, not the DMN
    ("figure5_ward_connected", {"ward_all_parcels_connected_1000": False}, PARTLY),
    ("figure5_ward_connected", {"ward_all_parcels_connected_100": False,
                                "ward_all_parcels_connected_1000": False}, NOT_REPRODUCED),
    ("figure5_kmeans_regions", {"kmeans_n_regions_1000": 900}, PARTLY),
    ("figure5_kmeans_regions", {"kmeans_n_regions_100": 90, "kmeans_n_regions_1000": 900},
     NOT_REPRODUCED),
    ("s613_sparser", {"sparsity_dictlearning": 0.15}, PARTLY),
    ("s613_sparser", {"sparsity_dictlearning": 0.05}, NOT_REPRODUCED),
    ("s7_graph_lasso", {"glasso_edges_kept": 4000}, PARTLY),
    ("s7_graph_lasso", {"glasso_edges_kept": 4950}, NOT_REPRODUCED),
]


@pytest.mark.parametrize(("name", "overrides", "expected"), CASES)
def test_each_rule_gives_each_verdict(name, overrides, expected):
    verdict = _by_name(assess(make_records("real", overrides)))[name]
    assert verdict.verdict == expected, verdict.reason


@pytest.mark.parametrize(("ward", "kmeans", "expected"), [
    ((0.5, 0.4), (0.45, 0.2), REPRODUCED),
    ((0.5, 0.25), (0.3, 0.2), PARTLY),      # ahead at 1000, but less than at 100
    ((0.5, 0.1), (0.3, 0.2), NOT_REPRODUCED),
])
def test_ward_best_with_many_clusters(ward, kmeans, expected):
    records = make_records("real", tables={("parcellation", "ari"): _ari(ward, kmeans)})
    assert _by_name(assess(records))["figure5_ward_many"].verdict == expected


def test_table1_cell_tolerance_and_pixel_count():
    mean = _table1(0)
    mean.loc["l2_svc", "C=0.01"] = 0.66 + 0.02        # tolerance .005 + 2 * .12 / 10 = .029
    mean.loc["l1_svc", "C=0.01"] = 0.71 - 0.045       # within twice the tolerance
    mean.loc["l2_logistic", "C=0.1"] = 0.64 + 0.10
    mean.loc["l1_logistic", "C=0.0005"] = 0.50 + 0.015   # std .02: tolerance .009
    found = _by_name(assess(make_records("real", tables={
        ("miyawaki_decoding", "table1_mean"): mean})))
    assert found["table1_l2_svc_C0.01"].verdict == REPRODUCED
    assert found["table1_l1_svc_C0.01"].verdict == PARTLY
    assert found["table1_l2_logistic_C0.1"].verdict == NOT_REPRODUCED
    assert found["table1_l1_logistic_C0.0005"].verdict == PARTLY
    assert found["table1_l2_svc_C0.01"].value == ".68\u00a0±\u00a0.12"
    assert found["table1_l2_svc_C0.01"].claim.paper == ".66\u00a0±\u00a0.12"
    few = _by_name(assess(make_records("real", {"table1_n_pixels": 2})))
    assert few["table1_l2_svc_C0.01"].verdict == PARTLY
    assert "only 2 of the 100 pixels" in few["table1_l2_svc_C0.01"].reason


def test_table1_trends():
    flat = _table1(0)
    flat.loc[:, :] = 0.6
    found = _by_name(assess(make_records("real", tables={
        ("miyawaki_decoding", "table1_mean"): flat})))
    assert found["table1_c_matters"].verdict == NOT_REPRODUCED
    assert found["table1_l1_similar"].verdict == REPRODUCED
    apart = _table1(0)
    apart.loc["l1_svc"] = apart.loc["l1_svc"] - 0.05
    apart.loc["l2_svc"] = [0.5, 0.6, 0.7, 0.6, 0.6, 0.6]      # l2 range .2 > l1 logistic's
    found = _by_name(assess(make_records("real", tables={
        ("miyawaki_decoding", "table1_mean"): apart})))
    assert found["table1_l1_similar"].verdict == PARTLY
    assert found["table1_c_matters"].verdict == PARTLY


def test_mixed_sources_count_as_simulated():
    make_records("real")
    record("searchlight", "figure2_share_vt_chance", 0.05, source="simulated")
    verdict = _by_name(assess(load()))["figure2_vt"]
    assert verdict.source == "simulated" and verdict.verdict == NOT_TESTABLE


def test_missing_records_fail_loudly_naming_chapter_and_key():
    records = make_records("real", drop={("parcellation", "kmeans_n_regions_100"),
                                         ("miyawaki_decoding", "table1_std")})
    with pytest.raises(MissingRecordError, match=r"2 value\(s\)") as error:
        assess(records)
    message = str(error.value)
    assert "chapter 'parcellation' has not recorded 'kmeans_n_regions_100'" in message
    assert "chapters/08_parcellation.ipynb" in message
    assert "chapter 'miyawaki_decoding' has not recorded 'table1_std'" in message
    assert "jupyter-book clean --all ." in message
    with pytest.raises(MissingRecordError, match="chapter 'searchlight' has not recorded"):
        assess({})


def test_missing_table_cell_and_wrong_kind():
    mean = _table1(0).drop(columns="C=0.1")
    with pytest.raises(MissingRecordError, match=r"'table1_mean' .* has no cell"):
        assess(make_records("real", tables={("miyawaki_decoding", "table1_mean"): mean}))
    with pytest.raises(TypeError, match="'table1_n_pixels' .* must be of kind 'int'. Got kind "
                                        "'float'"):
        assess(make_records("real", {"table1_n_pixels": 100.0}))
    records = make_records("real", tables={
        ("miyawaki_decoding", "table1_mean"): _table1(0).drop(index="l2_svc")})
    with pytest.raises(MissingRecordError, match=r"has no cell \('l2_svc', 'C=0.0005'\)"):
        assess(records)
    trend = [claim for claim in CLAIMS if claim.name == "table1_c_matters"]
    with pytest.raises(MissingRecordError, match=r"lacks the rows \['l2_svc'\]"):
        assess(records, trend)


def test_impossible_values_are_refused():
    with pytest.raises(ValueError, match=r"'figure2_share_vt_chance' must be in \(0, 1\). Got 0"):
        assess(make_records("real", {"figure2_share_vt_chance": 0.0}))
    with pytest.raises(ValueError, match="'figure3_rf_distance_chance' must be positive"):
        assess(make_records("real", {"figure3_rf_distance_chance": 0.0}))
    with pytest.raises(ValueError, match=r"'glasso_edges_kept' must be in \[0, "
                                         r"glasso_edges_total=4950\]. Got 5000"):
        assess(make_records("real", {"glasso_edges_kept": 5000}))


def test_claims_are_unique_and_well_formed():
    names = [claim.name for claim in CLAIMS]
    assert len(set(names)) == len(names)
    assert sum(claim.kind == "number" for claim in CLAIMS) == 24
    assert {claim.kind for claim in CLAIMS} == set(verdicts.KINDS)


@pytest.mark.skipif(not PAPER_TEXT.is_file(), reason="the paper's text is not on this machine")
def test_the_paper_column_quotes_the_paper():
    text = " ".join(PAPER_TEXT.read_text().split())
    for claim in CLAIMS:
        if claim.kind == "number":
            continue
        for part in claim.paper.split(" [...] "):
            assert part in text, f"{claim.name}: not in the paper: {part!r}"


def test_report_tables_and_rules():
    found = assess(make_records("simulated"))
    claims = report.claims_table(found)
    assert claims.count("\n") == 1 + 13
    assert ("| **Figure 2**: [F-map, SVC weights and searchlight point at ventral temporal cortex]"
            "(04_searchlight.ipynb#section-of-figure2-share-vt-fmap) |") in claims
    cells = report.table1_table(found)
    assert cells.count("\n") == 1 + 24
    assert re.search(r"\| not testable on simulated data \|", cells)
    assert ("| [l1 SVC, C = 0.01](05_miyawaki_decoding.ipynb#table-section) "
            "| .71\u00a0±\u00a0.12 |") in cells
    assert "x \\| y" in report._table(("a",), [("x | y",)]), "pipes in a cell are escaped"
    text = report.rules()
    for claim in CLAIMS:
        assert claim.rule in text
    assert text.count(CLAIMS[0].rule) == 1
    counts = report.counts_table(count(found))
    assert "| not testable on simulated data | 28 |" in counts and "| all claims | 37 |" in counts


def test_section_link():
    assert report.section_link("parcellation", "2-ward-clustering") == (
        "[ch. 8 §2 ward clustering](08_parcellation.ipynb#2-ward-clustering)")
    assert report.section_link("parcellation", None) == "[chapter 8](08_parcellation.ipynb)"
    assert report.section_target("searchlight", "4-a-map") == "04_searchlight.ipynb#4-a-map"


def test_figures_are_checked(results_folder):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    wanted = (("searchlight", "figure2"),)
    with pytest.raises(MissingRecordError, match="has not recorded the figure 'figure2'"):
        report.figures(load(), wanted)
    record_figure("searchlight", "figure2", fig, source="simulated", paper="Figure 2",
                  section="4-a-whole-brain-map", caption="Three maps.")
    [(path, caption)] = report.figures(load(), wanted)
    assert path.is_file()
    assert caption == ("**Figure 2** (simulated data). Three maps. Drawn in "
                       "[ch. 4 §4 a whole brain map](04_searchlight.ipynb#4-a-whole-brain-map).")
    path.unlink()
    with pytest.raises(MissingRecordError, match="is recorded but its file .* is gone"):
        report.figures(load(), wanted)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    with pytest.raises(ValueError, match="must be saved at 150 dpi or more. Got 72 dpi"):
        report.figures(load(), wanted)


def test_versions():
    versions = report.package_versions()
    assert list(versions) == ["python", *report.PACKAGES]
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions["python"])
    import numpy

    assert versions["numpy"] == numpy.__version__
    assert "| scikit-learn |" in report.versions_table(versions)
