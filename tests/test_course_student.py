"""Student copies of the chapters (``mlni-course student DIR``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlni_course.chapters import CHAPTERS as CHAPTER_NAMES
from mlni_course.student import (
    PLACEHOLDER_TAG,
    cells_before_first_exercise,
    student_notebook,
    write_student_copies,
)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [ROOT / "chapters" / f"{name}.ipynb" for name in CHAPTER_NAMES.values()]
MARKERS = ("{solution-start}", "{solution-end}", "{dropdown} Answer")


def _markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [{"x": 1}],
            "execution_count": 3}


def _notebook(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def _source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _solutions(notebook):
    """The code cells of each solution (between solution-start and solution-end), in order."""
    solutions, inside = [], False
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            if "{solution-start}" in text:
                inside = True
                solutions.append([])
            if "{solution-end}" in text:
                inside = False
        elif inside and text.strip():
            solutions[-1].append(text)
    return solutions


def test_solutions_and_answers_are_removed_and_exercises_kept():
    notebook = _notebook(
        _markdown("# Title"),
        _code("x = 1"),
        _markdown("```{admonition} Think!\n:class: tip\nWhy?\n```\n\n"
                  "```{dropdown} Answer\nBecause **x** is 1.\n```\nAfter the answer."),
        _markdown("```{exercise} Sum\n:label: ex-sum\n\nAdd two numbers.\n```"),
        _markdown("```{solution-start} ex-sum\n:class: dropdown\n```"),
        _code("print(1 + 1)"),
        _markdown("The sum is 2, as expected."),
        _markdown("```{solution-end}\n```"),
        _markdown("```{exercise} Talk\n:label: ex-talk\n\nDiscuss.\n```\n"
                  "```{solution-start} ex-talk\n:class: dropdown\n```\nIt depends.\n"
                  "```{solution-end}\n```\nNext section."),
    )
    copy = student_notebook(notebook)
    texts = [_source(cell) for cell in copy["cells"]]
    joined = "\n".join(texts)
    for secret in ("Because", "print(1 + 1)", "The sum is 2", "It depends", *MARKERS):
        assert secret not in joined, secret
    for kept in ("# Title", "x = 1", "Why?", "After the answer.", "Add two numbers.",
                 "Discuss.", "Next section."):
        assert kept in joined, kept
    placeholders = [c for c in copy["cells"] if PLACEHOLDER_TAG in c["metadata"].get("tags", [])]
    # Only the exercise whose solution had code gets a cell to fill in, right after its text.
    assert len(placeholders) == 1
    assert "raise NotImplementedError" in _source(placeholders[0])
    assert "ex-sum" in _source(placeholders[0])
    assert texts.index(_source(placeholders[0])) == texts.index(
        "```{exercise} Sum\n:label: ex-sum\n\nAdd two numbers.\n```") + 1
    code = [c for c in copy["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert copy["metadata"] == notebook["metadata"]
    assert notebook["cells"][5]["source"] == "print(1 + 1)"  # the input is left alone


def test_fences_of_four_backticks_and_colons_are_understood():
    notebook = _notebook(
        _markdown("::::{dropdown} Answer\n```python\nsecret()\n```\n::::\nvisible"),
        _markdown(":::{solution-start} ex-a\n:::"),
        _code("hidden()"),
        _markdown(":::{solution-end}\n:::"),
    )
    joined = "\n".join(_source(c) for c in student_notebook(notebook)["cells"])
    assert "secret" not in joined and "hidden()" not in joined and "visible" in joined


def test_unclosed_solution_is_an_error():
    notebook = _notebook(_markdown("```{solution-start} ex-open\n```"), _code("x = 1"))
    with pytest.raises(ValueError, match="solution 'ex-open' has a \\{solution-start\\} but no"):
        student_notebook(notebook)


def test_bad_notebook_is_an_error():
    with pytest.raises(ValueError, match="'notebook' must be a notebook dict with 'cells'"):
        student_notebook(["not", "a", "notebook"])


def test_missing_chapters_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No chapter notebooks 01_sklearn_concepts.ipynb, "
                       ".* in 'chapters_dir'="):
        write_student_copies(tmp_path / "nowhere", tmp_path / "out")


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return {path.name: path for path in write_student_copies(ROOT / "chapters", out)}


def test_every_chapter_is_copied(copies):
    assert sorted(copies) == sorted(path.name for path in CHAPTERS)
    assert len(copies) == 9 and "10_reproduction.ipynb" not in copies


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_copies_contain_no_solution_and_keep_the_exercises(copies, chapter):
    original = json.loads(chapter.read_text(encoding="utf-8"))
    copy = json.loads(copies[chapter.name].read_text(encoding="utf-8"))
    text = "\n".join(_source(cell) for cell in copy["cells"])
    for marker in MARKERS:
        assert marker not in text, f"{chapter.name}: {marker} left in the student copy"
    solutions = _solutions(original)
    for code in (source for solution in solutions for source in solution):
        assert code not in text, f"{chapter.name}: solution code left: {code[:60]!r}"
    n_exercises = sum("{exercise}" in _source(c) for c in original["cells"])
    assert text.count("{exercise}") == n_exercises
    placeholders = sum(PLACEHOLDER_TAG in c["metadata"].get("tags", []) for c in copy["cells"])
    assert placeholders == sum(1 for solution in solutions if solution)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_copies_run_the_chapter_code_up_to_the_first_exercise(copies, chapter):
    # Up to its first exercise a copy runs exactly the chapter's code cells, in the same order:
    # the chapter itself is executed by the test run (nbval), so the copy runs that far.
    original = json.loads(chapter.read_text(encoding="utf-8"))
    copy = json.loads(copies[chapter.name].read_text(encoding="utf-8"))
    expected = []
    for cell in original["cells"]:
        if cell["cell_type"] == "markdown" and "{solution-start}" in _source(cell):
            break
        if cell["cell_type"] == "code":
            expected.append(_source(cell))
    head = cells_before_first_exercise(copy)
    assert [_source(c) for c in head["cells"] if c["cell_type"] == "code"] == expected


@pytest.mark.slow
def test_a_student_copy_executes_up_to_its_first_exercise(copies):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    notebook = cells_before_first_exercise(
        json.loads(copies["01_sklearn_concepts.ipynb"].read_text(encoding="utf-8"))
    )
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    nbclient.NotebookClient(node, timeout=300, kernel_name="python3").execute()
    errors = [o for c in node.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert sum(c.cell_type == "code" for c in node.cells) >= 3
