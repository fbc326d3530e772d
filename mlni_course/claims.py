"""The paper's claims and the rules that judge them.

Every result Abraham et al. (2014) state, with numbers (each cell of Table 1) or in words (what
Figures 2-5, section 6.1.3 and section 7 show), is a :class:`Claim`: the paper's words, the
records (chapter and key) it is judged on, its kind (see :mod:`mlni_course.verdicts`), and a
rule, stated in words and implemented by a function of the recorded values that returns a
:class:`Judgement`. The thresholds of the rules are module constants, and the rules' texts are
formatted from them, so that the words on the page and the computation agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlni_course import paper

__all__ = [
    "CLAIMS",
    "KINDS",
    "NOT_REPRODUCED",
    "NOT_TESTABLE",
    "PARTLY",
    "REPRODUCED",
    "VERDICTS",
    "Claim",
    "Judgement",
    "MissingRecordError",
]

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
NOT_TESTABLE = "not testable on simulated data"
#: The verdicts, in the order the page counts them.
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTABLE)
KINDS = ("number", "planted", "method")

# Thresholds of the rules (the rules' texts are formatted from them).
ROUNDING = 0.005          # the paper rounds Table 1 to two decimals
N_PIXELS = 100            # pixels of the paper's Table 1
C_SPREAD_L1 = 0.05        # smallest accuracy range over C of an l1 model that "drops"
L1_MODELS_CLOSE, L1_MODELS_NEAR = 0.03, 0.06
VT_ENRICHMENT = 3.0
FOVEA_GAIN = 0.02
RF_RATIO = 0.5
WEIGHTS_CORR, ACCURACY_MAPS_CORR = 0.5, 0.8
DMN_R, DMN_R_PARTLY = 0.5, 0.3
SPARSITY_GAIN = 0.1
EDGES_KEPT = 0.5
PLUS_MINUS = "\u00a0±\u00a0"  # non-breaking spaces keep "mean ± std" on one line


class MissingRecordError(LookupError):
    """A claim needs a value that no chapter has recorded (run the chapter first)."""


@dataclass(frozen=True)
class Judgement:
    """What a rule returns: the verdict, this build's value as text, and why."""

    verdict: str
    value: str
    reason: str


@dataclass(frozen=True)
class Claim:
    """One result the paper states, the records it is judged on, and the rule.

    Parameters
    ----------
    name : str
        Identifier, unique among :data:`CLAIMS`.
    where : str
        Where the paper states it ("Table 1", "Figure 3", "Section 6.1.3").
    claim : str
        The claim in a few words.
    paper : str
        The paper's own words, or its number.
    reads : tuple of (chapter, key, kind)
        The records the rule reads; ``kind`` is the recorded kind it needs ("float" also
        accepts "int"). The first one gives the link to the chapter section.
    kind : {"number", "planted", "method"}
        What simulated data can say about the claim (see :data:`mlni_course.verdicts.DATA_POLICY`).
    rule : str
        The rule in words.
    judge : callable
        ``judge(values)`` -> :class:`Judgement`, with ``values`` mapping each key read to its
        value (a DataFrame for tables).
    """

    name: str
    where: str
    claim: str
    paper: str
    reads: tuple
    kind: str
    rule: str
    judge: Callable[[Mapping], Judgement]


def _grade(conditions_met, n_conditions):
    if conditions_met == n_conditions:
        return REPRODUCED
    return PARTLY if conditions_met else NOT_REPRODUCED


def _acc(value):
    return f"{value:.2f}".replace("0.", ".", 1) if 0 <= value < 1 else f"{value:.2f}"


# ----------------------------------------------------------------------------- Table 1

def _model_label(model):
    return model.replace("_", " ").replace("svc", "SVC")


def _column(C):
    return f"C={C:g}"


def _table_value(table, row, column, key, chapter="miyawaki_decoding"):
    if row not in table.index or column not in table.columns:
        raise MissingRecordError(
            f"'{key}' recorded by chapter '{chapter}' has no cell ({row!r}, {column!r}); "
            f"its rows are {list(table.index)} and its columns {list(table.columns)}."
        )
    return float(table.loc[row, column])


def _table1_cell(model, C):
    paper_mean, paper_std = paper.table1_cell(model, C)
    tolerance = ROUNDING + 2 * paper_std / math.sqrt(N_PIXELS)

    def judge(values):
        mean = _table_value(values["table1_mean"], model, _column(C), "table1_mean")
        std = _table_value(values["table1_std"], model, _column(C), "table1_std")
        n_pixels = values["table1_n_pixels"]
        gap = abs(mean - paper_mean)
        verdict = (REPRODUCED if gap <= tolerance else
                   PARTLY if gap <= 2 * tolerance else NOT_REPRODUCED)
        reason = f"gap {gap:.3f}, tolerance {tolerance:.3f}"
        if n_pixels < N_PIXELS and verdict == REPRODUCED:
            verdict = PARTLY
            reason += f"; only {n_pixels} of the {N_PIXELS} pixels were decoded"
        return Judgement(verdict, f"{_acc(mean)}{PLUS_MINUS}{_acc(std)}", reason)

    label = _model_label(model).replace("logistic", "logistic regression")
    return Claim(
        name=f"table1_{model}_C{C:g}", where="Table 1", claim=f"{label}, C = {C:g}",
        paper=f"{_acc(paper_mean)}{PLUS_MINUS}{_acc(paper_std)}",
        reads=(("miyawaki_decoding", "table1_mean", "table"),
               ("miyawaki_decoding", "table1_std", "table"),
               ("miyawaki_decoding", "table1_n_pixels", "int")),
        kind="number",
        rule=(f"*reproduced* when the mean accuracy is within {ROUNDING} (the paper's rounding) "
              f"plus two standard errors of the paper's mean (2 × std / √{N_PIXELS} pixels) of "
              "the paper's value, *partly* within twice that, else *not reproduced*; at most "
              f"*partly* when fewer than {N_PIXELS} pixels were decoded."),
        judge=judge,
    )


def _spreads(table):
    return {model: float(table.loc[model].max() - table.loc[model].min()) for model in table.index}


def _require_models(table):
    missing = [m for m in paper.TABLE1 if m not in table.index]
    if missing:
        raise MissingRecordError(
            f"'table1_mean' recorded by chapter 'miyawaki_decoding' lacks the rows {missing}."
        )
    return table.loc[list(paper.TABLE1)]


def _judge_c_matters(values):
    spread = _spreads(_require_models(values["table1_mean"]))
    l1 = [spread["l1_logistic"], spread["l1_svc"]]
    l2 = [spread["l2_logistic"], spread["l2_svc"]]
    met = (min(l1) > max(l2)) + (min(l1) >= C_SPREAD_L1)
    verdict = REPRODUCED if met == 2 else PARTLY if sum(l1) > sum(l2) else NOT_REPRODUCED
    text = ", ".join(f"{_model_label(m)} {s:.2f}" for m, s in spread.items())
    return Judgement(verdict, f"range over C: {text}",
                     f"l1 ranges {min(l1):.2f}-{max(l1):.2f} vs l2 ranges "
                     f"{min(l2):.2f}-{max(l2):.2f}")


def _judge_l1_similar(values):
    table = _require_models(values["table1_mean"])
    best_lr, best_svc = float(table.loc["l1_logistic"].max()), float(table.loc["l1_svc"].max())
    gap = abs(best_lr - best_svc)
    verdict = (REPRODUCED if gap <= L1_MODELS_CLOSE else
               PARTLY if gap <= L1_MODELS_NEAR else NOT_REPRODUCED)
    return Judgement(verdict, f"best l1 logistic {_acc(best_lr)}, best l1 SVC {_acc(best_svc)}",
                     f"gap {gap:.3f} (reproduced ≤ {L1_MODELS_CLOSE}, partly ≤ {L1_MODELS_NEAR})")


# ----------------------------------------------------------------------------- Figures

def _judge_figure2(values):
    chance = values["figure2_share_vt_chance"]
    if not 0 < chance < 1:
        raise ValueError(f"'figure2_share_vt_chance' must be in (0, 1). Got {chance!r}.")
    shares = {name: values[f"figure2_share_vt_{name}"]
              for name in ("fmap", "weights", "searchlight")}
    met = [name for name, share in shares.items() if share >= VT_ENRICHMENT * chance]
    value = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    return Judgement(_grade(len(met), 3), f"top voxels in VT: {value} (chance {chance:.1%})",
                     f"{len(met)} of 3 maps at ≥ {VT_ENRICHMENT:g}× chance "
                     f"({VT_ENRICHMENT * chance:.1%})")


def _judge_fovea(values):
    centre, outer = values["accuracy_centre_pixels"], values["accuracy_outer_pixels"]
    gain = centre - outer
    verdict = REPRODUCED if gain >= FOVEA_GAIN else PARTLY if gain > 0 else NOT_REPRODUCED
    return Judgement(verdict, f"centre {_acc(centre)}, border {_acc(outer)}",
                     f"centre - border = {gain:+.3f} (reproduced ≥ {FOVEA_GAIN})")


def _judge_same_pixel(values):
    distance = values["figure3_rf_distance_to_pixel"]
    chance = values["figure3_rf_distance_chance"]
    if chance <= 0:
        raise ValueError(f"'figure3_rf_distance_chance' must be positive. Got {chance!r}.")
    ratio = distance / chance
    verdict = REPRODUCED if ratio <= RF_RATIO else PARTLY if ratio < 1 else NOT_REPRODUCED
    return Judgement(verdict, f"{distance:.1f} px (random voxels {chance:.1f} px)",
                     f"distance / chance = {ratio:.2f} (reproduced ≤ {RF_RATIO})")


def _judge_l1_svm_maps(values):
    weights, maps = values["figure3_weights_corr_logistic_svm"], values[
        "figure3_accuracy_maps_corr"]
    met = (weights >= WEIGHTS_CORR) + (maps >= ACCURACY_MAPS_CORR)
    return Judgement(_grade(met, 2), f"r(weights) = {weights:.2f}, r(accuracy maps) = {maps:.2f}",
                     f"{met} of 2 correlations above their thresholds")


def _judge_dmn(values):
    r = values["dmn_r_concat_ica"]
    verdict = REPRODUCED if r >= DMN_R else PARTLY if r >= DMN_R_PARTLY else NOT_REPRODUCED
    return Judgement(verdict, f"r = {r:.2f}",
                     f"r = {r:.2f} (reproduced ≥ {DMN_R}, partly ≥ {DMN_R_PARTLY})")


def _judge_less_noisy(values):
    concat, canica = values["noise_concat_ica"], values["noise_canica"]
    r_canica = values["dmn_r_canica"]
    less_noisy, found = canica < concat, r_canica >= DMN_R_PARTLY
    verdict = PARTLY if less_noisy and found else NOT_REPRODUCED
    return Judgement(verdict, f"noise: concat ICA {concat:.2f}, CanICA {canica:.2f} "
                              f"(CanICA's DMN r = {r_canica:.2f})",
                     f"CanICA {'less' if less_noisy else 'not less'} noisy, "
                     f"{'finds' if found else 'misses'} the DMN (r ≥ {DMN_R_PARTLY}); "
                     "MELODIC is not run by the course")


def _judge_ward_connected(values):
    flags = {n: values[f"ward_all_parcels_connected_{n}"] for n in (100, 1000)}
    met = sum(bool(flag) for flag in flags.values())
    return Judgement(_grade(met, 2),
                     ", ".join(f"{n} clusters: {'all' if f else 'not all'} connected"
                               for n, f in flags.items()),
                     f"{met} of 2 Ward parcellations have only connected parcels")


def _judge_kmeans_regions(values):
    regions = {n: values[f"kmeans_n_regions_{n}"] for n in (100, 1000)}
    met = sum(count > n for n, count in regions.items())
    return Judgement(_grade(met, 2),
                     ", ".join(f"{count} regions for {n} clusters" for n, count in regions.items()),
                     f"{met} of 2 K-Means parcellations have more regions than clusters")


def _judge_ward_many(values):
    table = values["ari"]
    margin = {n: _table_value(table, "Ward", n, "ari", "parcellation")
              - _table_value(table, "K-Means", n, "ari", "parcellation") for n in ("100", "1000")}
    met = (margin["1000"] > 0) + (margin["1000"] > margin["100"])
    return Judgement(_grade(met, 2),
                     f"ARI Ward - K-Means: {margin['100']:+.2f} (100 clusters), "
                     f"{margin['1000']:+.2f} (1000)",
                     f"{met} of 2: Ward ahead at 1000 clusters, and further ahead than at 100")


def _judge_sparser(values):
    dictionary, ica = values["sparsity_dictlearning"], values["sparsity_ica"]
    gain = dictionary - ica
    verdict = REPRODUCED if gain >= SPARSITY_GAIN else PARTLY if gain > 0 else NOT_REPRODUCED
    return Judgement(verdict, f"near-zero voxels: dictionary {dictionary:.0%}, ICA {ica:.0%}",
                     f"difference {gain:+.2f} (reproduced ≥ {SPARSITY_GAIN})")


def _judge_glasso(values):
    kept, total = values["glasso_edges_kept"], values["glasso_edges_total"]
    if total <= 0 or not 0 <= kept <= total:
        raise ValueError(f"'glasso_edges_kept' must be in [0, glasso_edges_total={total}]. "
                         f"Got {kept!r}.")
    share = kept / total
    verdict = REPRODUCED if share <= EDGES_KEPT else PARTLY if kept < total else NOT_REPRODUCED
    return Judgement(verdict, f"{kept} of {total} edges",
                     f"{share:.0%} of the edges kept (reproduced ≤ {EDGES_KEPT:.0%})")


def _claims():
    claims = [_table1_cell(model, C) for model in paper.TABLE1 for C in paper.TABLE1_CS]
    table1 = (("miyawaki_decoding", "table1_mean", "table"),)
    f2 = tuple(("searchlight", f"figure2_share_vt_{n}", "float")
               for n in ("fmap", "weights", "searchlight", "chance"))
    ica = "resting_state_ica"
    claims += [
        Claim("table1_c_matters", "Table 1", "C matters, above all for l1 models",
              "setting the parameter C is crucial as performance drops for inappropriate values "
              "of C. It is particularly true for ℓ1 regularized models.",
              table1, "method",
              "the range of mean accuracy over the six C (max - min) of both l1 models exceeds "
              f"that of both l2 models and is at least {C_SPREAD_L1}: *reproduced*; the l1 ranges "
              "sum to more than the l2 ranges: *partly*; else *not reproduced*.",
              _judge_c_matters),
        Claim("table1_l1_similar", "Table 1", "l1 logistic regression and l1 SVM perform alike",
              "Both ℓ1 logistic regression and SVM yield similar performances",
              table1, "method",
              "the best mean accuracies over C of the two l1 models differ by at most "
              f"{L1_MODELS_CLOSE}: *reproduced*; at most {L1_MODELS_NEAR}: *partly*.",
              _judge_l1_similar),
        Claim("figure2_vt", "Figure 2",
              "F-map, SVC weights and searchlight point at ventral temporal cortex",
              "the voxels with larger weights roughly match for all methods and are located in "
              "the house-responsive areas as defined by the original paper",
              f2, "planted",
              "for each of the three maps, the share of its 500 highest voxels inside the ventral "
              f"temporal mask is at least {VT_ENRICHMENT:g} times the share a random map would "
              "have (VT voxels / brain voxels): all three *reproduced*, one or two *partly*.",
              _judge_figure2),
        Claim("figure3_fovea", "Figure 3", "the fovea is decoded best",
              "reconstruction is more accurate in the fovea",
              (("miyawaki_decoding", "accuracy_centre_pixels", "float"),
               ("miyawaki_decoding", "accuracy_outer_pixels", "float")), "planted",
              "mean accuracy of the 16 central pixels minus that of the 36 border pixels: at "
              f"least {FOVEA_GAIN}: *reproduced*; positive: *partly*.",
              _judge_fovea),
        Claim("figure3_same_pixel", "Figure 3",
              "decoding weights and receptive fields point at the same pixel and voxels",
              "encoding and decoding roughly match as both approach highlight a relationship "
              "between the same pixel and voxels",
              (("miyawaki_encoding", "figure3_rf_distance_to_pixel", "float"),
               ("miyawaki_encoding", "figure3_rf_distance_chance", "float")), "planted",
              "median distance between the receptive-field peaks of the voxels chosen for pixel "
              f"(4, 2) and that pixel, at most {RF_RATIO} times the same distance for random "
              "voxels: *reproduced*; below it: *partly*.",
              _judge_same_pixel),
        Claim("figure3_l1_svm_alike", "Figure 3", "logistic and SVM maps are alike",
              "They both give roughly the same results [...] Both methods give almost identical "
              "results.",
              (("miyawaki_decoding", "figure3_weights_corr_logistic_svm", "float"),
               ("miyawaki_decoding", "figure3_accuracy_maps_corr", "float")), "method",
              f"correlation of the weight maps of pixel (4, 2) at least {WEIGHTS_CORR} and of "
              f"the per-pixel accuracy maps at least {ACCURACY_MAPS_CORR}: both *reproduced*, "
              "one *partly*.",
              _judge_l1_svm_maps),
        Claim("figure4_dmn", "Figure 4", "concatenated ICA finds the default mode network",
              "Default mode network extracted using different approaches: left: the simple "
              "Concat-ICA approach detailed in this article",
              ((ica, "dmn_r_concat_ica", "float"),), "planted",
              "spatial correlation of the concat-ICA component with the reference DMN (the "
              f"planted map on simulated data): at least {DMN_R}: *reproduced*; at least "
              f"{DMN_R_PARTLY}: *partly*.",
              _judge_dmn),
        Claim("figure4_less_noisy", "Figure 4", "CanICA and MELODIC maps are less noisy",
              "it seems that both CanICA and Melodic approaches are less subject to noise",
              ((ica, "noise_canica", "float"), (ica, "noise_concat_ica", "float"),
               (ica, "dmn_r_canica", "float")), "method",
              "the course runs CanICA but not MELODIC, so at best *partly*: CanICA's DMN map "
              "less noisy than concat ICA's (the chapter's noise measure) while still the DMN "
              f"(r at least {DMN_R_PARTLY}): *partly*; else *not reproduced*.",
              _judge_less_noisy),
        Claim("figure5_ward_connected", "Figure 5", "Ward gives connected parcels",
              "This graph is used to allow only merges between neighboring voxels, thus readily "
              "producing contiguous parcels.",
              (("parcellation", "ward_all_parcels_connected_100", "bool"),
               ("parcellation", "ward_all_parcels_connected_1000", "bool")), "method",
              "every Ward parcel is one connected region, with 100 and with 1000 clusters: "
              "both *reproduced*, one *partly*.",
              _judge_ward_connected),
        Claim("figure5_kmeans_regions", "Figure 5", "K-Means gives more regions than clusters",
              "it gives a number of regions that can be much larger than the number of clusters "
              "specified",
              (("parcellation", "kmeans_n_regions_100", "int"),
               ("parcellation", "kmeans_n_regions_1000", "int")), "method",
              "K-Means' connected regions outnumber its clusters, with 100 and with 1000 "
              "clusters: both *reproduced*, one *partly*.",
              _judge_kmeans_regions),
        Claim("figure5_ward_many", "Figure 5", "Ward does best with many clusters",
              "As it is a bottom-up process, it tends to perform best with a large number of "
              "clusters.",
              (("parcellation", "ari", "table"),), "method",
              "with the ARI against the reference parcels: Ward beats K-Means at 1000 clusters, "
              "and by more than at 100: both *reproduced*, one *partly*.",
              _judge_ward_many),
        Claim("s613_sparser", "Section 6.1.3", "dictionary learning is sparser than ICA",
              "This leads to more sparse and compact components than ICA ones, which are "
              "full-brain and require thresholding.",
              (("going_further", "sparsity_dictlearning", "float"),
               ("going_further", "sparsity_ica", "float")), "method",
              "share of near-zero voxels in the dictionary-learning maps minus that in the ICA "
              f"maps: at least {SPARSITY_GAIN}: *reproduced*; positive: *partly*.",
              _judge_sparser),
        Claim("s7_graph_lasso", "Section 7", "graph lasso gives a sparse connectome",
              "sparse inverse covariance can extract the functional interaction structure from "
              "fMRI time-series (Varoquaux and Craddock, 2013) using the graph-lasso estimator",
              (("going_further", "glasso_edges_kept", "int"),
               ("going_further", "glasso_edges_total", "int")), "method",
              f"at most {EDGES_KEPT:.0%} of the possible edges nonzero in the precision: "
              "*reproduced*; some but not all zero: *partly*.",
              _judge_glasso),
    ]
    return tuple(claims)


#: Every claim of the paper the reproduction page judges: Table 1 cell by cell, then the rest.
CLAIMS = _claims()
