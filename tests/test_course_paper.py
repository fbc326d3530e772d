"""Tests of mlni_course.paper and of the import direction between the packages."""

import ast
from pathlib import Path

import pytest

from mlni import miyawaki
from mlni_course import paper

ROOT = Path(__file__).resolve().parents[1]


def test_table1_matches_the_models_and_cs_of_mlni():
    assert set(paper.TABLE1) == set(miyawaki.TABLE1_MODELS)
    assert paper.TABLE1_CS == miyawaki.TABLE1_CS
    assert paper.table1_cell("l1_svc", 0.01) == (0.71, 0.12)


def test_table1_cell_errors():
    with pytest.raises(ValueError, match="'model' must be one of .* Got 'lasso'"):
        paper.table1_cell("lasso", 0.01)
    with pytest.raises(ValueError, match=r"'C' must be one of .* Got 2"):
        paper.table1_cell("l1_svc", 2)


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("package", ["mlni", "data_fetchers"])
def test_science_packages_never_import_the_course_plumbing(package):
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imported_modules(path)
        if name == "mlni_course" or name.startswith("mlni_course.")
    ]
    assert not offenders, offenders


def test_mlni_never_imports_the_fetchers():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "mlni").rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] == "data_fetchers"
    ]
    assert not offenders, offenders


def test_mlni_holds_only_the_science_its_docstring_lists():
    import mlni

    modules = sorted(path.stem for path in (ROOT / "mlni").glob("*.py")
                     if not path.stem.startswith("_"))
    block = mlni.__doc__.split("-------\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in block.splitlines() if line[:1].isalpha()]
    assert modules == sorted(listed), "mlni/__init__.py must list every module of mlni"
    plumbing = {"book", "build", "notices", "records", "results", "verdicts", "report"}
    assert not plumbing & set(modules), "book plumbing belongs in mlni_course"


def test_mlni_reads_no_book_setting():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "mlni").rglob("*.py"))
        for setting in ("MLNI_BOOK_BUILD", "MLNI_RESULTS")
        if setting in path.read_text()
    ]
    assert not offenders, offenders
