"""The reproduction page's pieces as Markdown: verdict tables, rules, figures, versions.

Each function returns text the page displays with ``IPython.display.Markdown``; the book
renders it as MyST, so the links to the chapter sections work in the built site and in
JupyterLab alike. Nothing here computes a verdict: :mod:`mlni_course.verdicts` does.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from mlni_course.chapters import CHAPTERS
from mlni_course.records import FIGURE_DPI, load
from mlni_course.verdicts import CLAIMS, DATA_POLICY, VERDICTS, MissingRecordError

__all__ = [
    "FIGURES",
    "PACKAGES",
    "claims_table",
    "figures",
    "package_versions",
    "rules",
    "section_link",
    "section_target",
    "table1_table",
    "versions_table",
]

#: The paper's figures as the chapters record them: (chapter, key).
FIGURES = (
    ("searchlight", "figure2"),
    ("miyawaki_decoding", "figure3_decoding"),
    ("miyawaki_encoding", "figure3_encoding"),
    ("resting_state_ica", "figure4"),
    ("parcellation", "figure5"),
)

#: The distributions whose versions the page reports (Python itself is added).
PACKAGES = ("numpy", "scipy", "scikit-learn", "nilearn", "nibabel", "matplotlib", "pandas")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def section_target(chapter, section) -> str:
    """The MyST link target of a chapter section: ``"04_searchlight.ipynb#slug"``."""
    doc = CHAPTERS[chapter]
    return f"{doc}.ipynb#{section}" if section else f"{doc}.ipynb"


def section_link(chapter, section) -> str:
    """A MyST link to a chapter, at ``section`` (a heading slug) when there is one."""
    number = int(CHAPTERS[chapter].split("_", 1)[0])
    if not section:
        return f"[chapter {number}]({section_target(chapter, section)})"
    words = section.split("-")
    if words[0].isdigit():
        words[0] = f"§{words[0]}"
    return f"[ch. {number} {' '.join(words)}]({section_target(chapter, section)})"


def _verdict(text) -> str:
    return f"**{text}**" if text == "reproduced" else text


def _linked_claim(verdict) -> str:
    return f"[{verdict.claim.claim}]({section_target(verdict.chapter, verdict.section)})"


def claims_table(verdicts) -> str:
    """The claims other than Table 1's cells: one row each, with its verdict and why.

    Each claim links to the chapter section that computed the value it is judged on.
    """
    rows = [(f"**{v.claim.where}**: {_linked_claim(v)}", f"“{v.claim.paper}”", v.value,
             v.source, _verdict(v.verdict), v.reason)
            for v in verdicts if v.claim.kind != "number"]
    return _table(("claim", "the paper", "this build", "data", "verdict", "why"), rows)


def table1_table(verdicts) -> str:
    """Table 1 cell by cell: the paper's mean ± std, this build's, and the verdict.

    Each cell's name links to the chapter section that computed Table 1.
    """
    rows = [(_linked_claim(v), v.claim.paper, v.value, v.source, _verdict(v.verdict), v.reason)
            for v in verdicts if v.claim.kind == "number"]
    return _table(("model, C", "the paper", "this build", "data", "verdict", "why"), rows)


def counts_table(counts) -> str:
    """The number of claims per verdict, integers as integers."""
    rows = [(name, str(counts[name])) for name in VERDICTS]
    rows.append(("all claims", str(sum(counts.values()))))
    return _table(("verdict", "claims"), rows)


def rules(claims=CLAIMS) -> str:
    """Every rule in words, from the same objects that compute the verdicts.

    Claims that share a rule (the 24 cells of Table 1) are listed once.
    """
    lines = ["**What simulated data can say.**", ""]
    kinds = {"number": "Numbers of the paper", "planted": "Claims about the brain",
             "method": "Claims about the methods"}
    for kind, title in kinds.items():
        names = [c.claim for c in claims if c.kind == kind]
        shown = f"{len(names)} cells of Table 1" if kind == "number" else "; ".join(names)
        lines.append(f"- *{title}* ({shown}). {DATA_POLICY[kind]}")
    lines += ["", "**The rules.**", ""]
    seen = set()
    for claim in claims:
        if claim.rule in seen:
            continue
        seen.add(claim.rule)
        label = "Table 1, each cell" if claim.kind == "number" else (
            f"{claim.where}, {claim.claim}")
        lines.append(f"- *{label}*: {claim.rule}")
    return "\n".join(lines)


def _png_dpi(path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return float(image.info.get("dpi", (0, 0))[0])


def figures(records=None, wanted=FIGURES):
    """The recorded figures with their captions, checked to be there and sharp enough.

    Parameters
    ----------
    records : dict, optional
        As :func:`mlni_course.records.load` returns it; by default what is recorded.
    wanted : sequence of (chapter, key), default=FIGURES

    Returns
    -------
    list of (pathlib.Path, str)
        Each PNG and its Markdown caption (the paper's figure, what is drawn, the data, and a
        link to the chapter section that drew it).

    Raises
    ------
    MissingRecordError
        When a figure was not recorded or its file is gone.
    ValueError
        When a PNG was saved below 150 dpi.
    """
    records = load() if records is None else records
    shown = []
    for chapter, key in wanted:
        entry = records.get(chapter, {}).get(key)
        run = f"run chapters/{CHAPTERS[chapter]}.ipynb first (with the same MLNI_RESULTS)."
        if entry is None or entry.get("kind") != "figure":
            raise MissingRecordError(
                f"chapter '{chapter}' has not recorded the figure '{key}': {run}")
        path = Path(entry["path"])
        if not path.is_file():
            raise MissingRecordError(
                f"the figure '{key}' of chapter '{chapter}' is recorded but its file {path} is "
                f"gone: {run}")
        dpi = _png_dpi(path)
        if round(dpi) < FIGURE_DPI:
            raise ValueError(f"figure '{key}' of chapter '{chapter}' must be saved at "
                             f"{FIGURE_DPI} dpi or more. Got {dpi:.0f} dpi ({path}).")
        caption = (f"**{entry['paper']}** ({entry['source']} data). {entry['caption']} "
                   f"Drawn in {section_link(chapter, entry['section'])}.")
        shown.append((path, caption))
    return shown


def package_versions() -> dict:
    """The versions of Python and of the main packages this build ran with."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def versions_table(versions=None) -> str:
    """:func:`package_versions` as a Markdown table."""
    versions = package_versions() if versions is None else versions
    return _table(("package", "version"), list(versions.items()))
