"""The paper's claims, and a verdict on each computed from what the chapters recorded.

Every result Abraham et al. (2014) state is a :class:`~mlni_course.claims.Claim` (see
:mod:`mlni_course.claims`): the paper's words, the records (chapter and key) it is judged on,
and a rule, stated in words and implemented by a function of the recorded values.
:func:`assess` applies the rules and returns one
:class:`Verdict` per claim, from this fixed vocabulary:

* ``"reproduced"``: the rule's conditions hold;
* ``"partly"``: some hold, or only part of the claim can be run (MELODIC is not);
* ``"not reproduced"``: they do not hold;
* ``"not testable on simulated data"``: the values come from a stand-in that fixes the answer
  by construction (see :data:`DATA_POLICY`).

The kind of a claim decides what simulated data can say about it:

``number``
    An absolute score of the paper (Table 1). A stand-in's accuracies follow from the effect
    size its author planted; one tuned towards the paper's numbers would confirm nothing. On
    simulated data the verdict is always "not testable on simulated data".
``planted``
    A claim about the brain (where face and house information lies, the fovea, retinotopy,
    the default mode network). The stand-in plants it, so finding it only shows the pipeline
    recovers a planted effect: "reproduced" becomes "not testable on simulated data". Failing
    to find it still refutes the pipeline, so "partly" and "not reproduced" stand.
``method``
    A property of the methods (C matters for l1 models, Ward's parcels are connected, ...).
    It shows on any data with the relevant structure, so the verdict stands on either source.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlni_course.chapters import CHAPTERS
from mlni_course.claims import (
    CLAIMS,
    KINDS,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    PARTLY,
    REPRODUCED,
    VERDICTS,
    Claim,
    MissingRecordError,
)
from mlni_course.records import load, load_table

__all__ = [
    "CLAIMS",
    "DATA_POLICY",
    "KINDS",
    "NOT_REPRODUCED",
    "NOT_TESTABLE",
    "PARTLY",
    "REPRODUCED",
    "VERDICTS",
    "Claim",
    "MissingRecordError",
    "Verdict",
    "assess",
    "count",
]

#: What simulated data can say about each kind of claim (shown on the reproduction page).
DATA_POLICY = {
    "number": "On simulated data: always *not testable on simulated data*. A stand-in's scores "
              "follow from the effect size planted in it; one tuned towards the paper's numbers "
              "would confirm nothing.",
    "planted": "On simulated data the stand-in plants what the paper found in the brain, so a "
               "*reproduced* becomes *not testable on simulated data*; *partly* and *not "
               "reproduced* stand (the pipeline missed an effect that is there by construction).",
    "method": "A property of the methods: the verdict stands on real and on simulated data.",
}


@dataclass(frozen=True)
class Verdict:
    """A claim judged on this build's records."""

    claim: Claim
    verdict: str
    value: str
    reason: str
    source: str
    chapter: str
    section: str | None

    @property
    def doc(self) -> str:
        """The notebook, without extension, of the chapter that computed the first value."""
        return CHAPTERS[self.chapter]


# ----------------------------------------------------------------------------- assessing

def _entry(records, chapter, key):
    entry = records.get(chapter, {}).get(key)
    if entry is None:
        raise MissingRecordError(
            f"chapter '{chapter}' has not recorded '{key}': run "
            f"chapters/{CHAPTERS[chapter]}.ipynb first (with the same MLNI_RESULTS)."
        )
    return entry


def _value(entry, chapter, key, kind):
    found = entry.get("kind")
    if kind == "table" and found == "table":
        return load_table(entry)
    if found == kind or (kind == "float" and found == "int"):
        return entry["value"]
    raise TypeError(f"'{key}' recorded by chapter '{chapter}' must be of kind '{kind}'. "
                    f"Got kind {found!r}.")


def _judge(claim, records):
    values, sources = {}, set()
    for chapter, key, kind in claim.reads:
        entry = _entry(records, chapter, key)
        values[key] = _value(entry, chapter, key, kind)
        sources.add(entry["source"])
    judgement = claim.judge(values)
    source = "real" if sources == {"real"} else "simulated"
    verdict, reason = judgement.verdict, judgement.reason
    if source == "simulated" and (claim.kind == "number" or (claim.kind == "planted"
                                                             and verdict == REPRODUCED)):
        why = ("the stand-in's planted effect sets the score" if claim.kind == "number"
               else "planted by the stand-in, and recovered")
        verdict, reason = NOT_TESTABLE, f"{why}: {reason}"
    chapter, key, _ = claim.reads[0]
    return Verdict(claim, verdict, judgement.value, reason, source, chapter,
                   records[chapter][key].get("section"))


def assess(records=None, claims=CLAIMS):
    """Judge every claim on the recorded values.

    Parameters
    ----------
    records : dict, optional
        ``{chapter: {key: entry}}`` as :func:`mlni_course.records.load` returns it; by default
        what the chapters recorded under ``$MLNI_RESULTS``.
    claims : sequence of Claim, default=CLAIMS

    Returns
    -------
    list of Verdict
        One per claim, in the order of ``claims``.

    Raises
    ------
    MissingRecordError
        When records are missing: the message names every missing chapter and key.
    """
    records = load() if records is None else records
    missing = []
    for claim in claims:
        for chapter, key, _ in claim.reads:
            try:
                _entry(records, chapter, key)
            except MissingRecordError as error:
                if str(error) not in missing:
                    missing.append(str(error))
    if missing:
        raise MissingRecordError(
            f"{len(missing)} value(s) the reproduction page needs are missing:\n- "
            + "\n- ".join(missing)
            + "\nIn a book build, a chapter whose outputs the jupyter-cache kept is not run "
            "again: after emptying MLNI_RESULTS, clear the cache too (jupyter-book clean --all .)."
        )
    return [_judge(claim, records) for claim in claims]


def count(verdicts):
    """How many verdicts of each kind, as ``{verdict: int}`` in the order of :data:`VERDICTS`."""
    return {name: sum(v.verdict == name for v in verdicts) for name in VERDICTS}
