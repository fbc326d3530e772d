"""Student copies of the chapters: the same notebooks without solutions and answers.

In the chapters an exercise is a ``{exercise}`` block followed by a ``{solution-start}`` block,
the solution (markdown and executed code cells) and a ``{solution-end}`` block; a Think!
question is followed by a ``{dropdown} Answer`` block. A student copy keeps the exercise
statement, drops everything from ``{solution-start}`` to ``{solution-end}`` and every
``{dropdown} Answer`` block, and puts a code cell that raises ``NotImplementedError`` where the
solution had code, for the student to replace. Outputs are cleared.

Used by ``mlni-course student DIR`` (see :mod:`mlni_course.cli`).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

#: A line that opens a MyST directive block: a fence of 3+ backticks or colons, then ``{name}``.
_OPENING = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<argument>.*)$")

#: Marks the placeholder cells that a student copy adds (in the cell metadata).
PLACEHOLDER_TAG = "student-exercise"


def _is_answer(name, argument) -> bool:
    return name == "dropdown" and argument.strip().lower().startswith("answer")


def _closing_index(lines, start, fence) -> int:
    """Index of the line that closes the block opened at ``lines[start]`` (or the last line)."""
    char, width = fence[0], len(fence)
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped and set(stripped) == {char} and len(stripped) >= width:
            return index
    return len(lines) - 1


class _Stripper:
    """Walks the cells of one notebook, keeping the state "inside a solution" across cells."""

    def __init__(self):
        self.in_solution = False
        self.solution_label = None
        self.solution_had_code = False

    def markdown(self, text):
        """The kept part of a markdown cell, and the labels of the solutions that end in it.

        Returns
        -------
        kept : str
        ended : list of (str, bool)
            ``(label, had_code)`` for each solution that ends in this cell.
        """
        lines = text.splitlines(keepends=True)
        kept, ended, index = [], [], 0
        while index < len(lines):
            match = _OPENING.match(lines[index])
            name = match["name"] if match else None
            if match and name in ("solution-start", "solution-end") or (
                match and not self.in_solution and _is_answer(name, match["argument"])
            ):
                end = _closing_index(lines, index, match["fence"])
                if name == "solution-start":
                    self.in_solution = True
                    self.solution_label = match["argument"].strip() or None
                    self.solution_had_code = False
                elif name == "solution-end" and self.in_solution:
                    ended.append((self.solution_label, self.solution_had_code))
                    self.in_solution = False
                index = end + 1
                continue
            if not self.in_solution:
                kept.append(lines[index])
            index += 1
        return "".join(kept).strip("\n"), ended

    def code(self):
        """Whether a code cell is kept (it is not when it belongs to a solution)."""
        if self.in_solution:
            self.solution_had_code = True
            return False
        return True


def placeholder_cell(label) -> dict:
    """The code cell left where a solution had code."""
    name = f"exercise {label}" if label else "this exercise"
    source = (
        f"# Your code for {name}: replace the line below.\n"
        f'raise NotImplementedError("Write your solution to {name} here.")'
    )
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [PLACEHOLDER_TAG]},
        "outputs": [],
        "source": source,
    }


def _clean_code_cell(cell) -> dict:
    cell = copy.deepcopy(cell)
    cell["outputs"] = []
    cell["execution_count"] = None
    return cell


def student_notebook(notebook) -> dict:
    """A student copy of a notebook (a dict in nbformat 4), without solutions and answers.

    Parameters
    ----------
    notebook : dict
        The notebook, as read by ``json.load``.

    Returns
    -------
    dict
        A new notebook: solutions and Think! answers removed, a ``NotImplementedError`` cell
        (tagged ``student-exercise``) where a solution had code, outputs cleared.

    Raises
    ------
    ValueError
        If a ``{solution-start}`` is never closed by a ``{solution-end}``.
    """
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise ValueError(f"'notebook' must be a notebook dict with 'cells'. Got {notebook!r:.80}.")
    stripper = _Stripper()
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            if stripper.code():
                cells.append(_clean_code_cell(cell))
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        kept, ended = stripper.markdown(source)
        if kept.strip():
            new = copy.deepcopy(cell)
            new["source"] = kept
            cells.append(new)
        cells.extend(placeholder_cell(label) for label, had_code in ended if had_code)
    if stripper.in_solution:
        raise ValueError(
            f"The solution {stripper.solution_label!r} has a {{solution-start}} but no "
            "{solution-end}."
        )
    result = copy.deepcopy({key: value for key, value in notebook.items() if key != "cells"})
    result["cells"] = cells
    return result


def write_student_copies(chapters_dir, out_dir, *, names=None) -> list:
    """Write the student copy of every chapter of ``chapters_dir`` into ``out_dir``.

    The copies import the course packages like the chapters do; the reproduction page, which
    has no exercises, is not copied.

    Parameters
    ----------
    chapters_dir : str or pathlib.Path
        The folder of the chapters (``chapters/`` of the repository).
    out_dir : str or pathlib.Path
        Where to write the copies (created if needed). Existing copies are overwritten.
    names : list of str, optional
        The notebooks to copy, without extension (default: the chapters of
        :data:`mlni_course.chapters.CHAPTERS`).

    Returns
    -------
    list of pathlib.Path
        The files written, in order.
    """
    from mlni_course.chapters import CHAPTERS

    chapters_dir, out_dir = Path(chapters_dir), Path(out_dir)
    names = list(CHAPTERS.values()) if names is None else list(names)
    sources = [chapters_dir / f"{name}.ipynb" for name in names]
    missing = [source.name for source in sources if not source.is_file()]
    if missing:
        raise FileNotFoundError(
            f"No chapter notebooks {', '.join(missing)} in 'chapters_dir'={str(chapters_dir)!r}."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() == chapters_dir.resolve():
        raise ValueError(f"'out_dir' must not be the chapters folder itself. Got {str(out_dir)!r}.")
    written = []
    for source in sources:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        target = out_dir / source.name
        target.write_text(
            json.dumps(student_notebook(notebook), indent=1, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        written.append(target)
    return written


def cells_before_first_exercise(notebook) -> dict:
    """The notebook cut just before its first placeholder cell (all of it if there is none)."""
    cells = []
    for cell in notebook["cells"]:
        if PLACEHOLDER_TAG in cell.get("metadata", {}).get("tags", []):
            break
        cells.append(cell)
    return {**notebook, "cells": cells}
