"""The ``mlni-course`` command and the one place that names the repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from mlni_course import check, cli, colab
from mlni_course.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]


def test_check_command_prints_a_verdict(data_env, capsys):
    status = cli.main(["check", "--no-network", "--no-compute"])
    out = capsys.readouterr().out
    assert out.startswith("mlni-course check: is this machine ready for the course?")
    assert str(data_env) in out
    assert "Haxby 2001, subject 2" in out
    assert out.rstrip().splitlines()[-1].startswith(("READY", "NOT READY"))
    assert status == (1 if "NOT READY" in out else 0)


def test_check_command_fails_when_a_check_fails(monkeypatch, capsys):
    monkeypatch.setattr(check, "run_checks", lambda *a, **k: [
        check.Result("scikit-learn", "fail", "1.6.1, the course needs >= 1.8", "upgrade")])
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] scikit-learn  1.6.1, the course needs >= 1.8" in out
    assert "NOT READY: 1 problem(s)" in out


def test_student_command(tmp_path, capsys):
    assert cli.main(["student", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "out").glob("*.ipynb"))
    assert written == sorted(f"{name}.ipynb" for name in CHAPTERS.values())
    assert f"{len(written)} student notebooks written" in out


def test_student_command_reports_a_missing_folder(tmp_path, capsys):
    status = cli.main(["student", str(tmp_path / "out"), "--chapters-dir", str(tmp_path / "x")])
    assert status == 2
    assert "mlni-course student: No chapter notebooks" in capsys.readouterr().err


def test_every_colab_cell_agrees_with_config():
    url, branch = colab.repository(ROOT)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert url == config["repository"]["url"].rstrip("/")
    assert colab.sync_colab_cells(ROOT, write=False) == [], (
        "run `mlni-course colab-cells` after changing the repository in _config.yml"
    )
    owner_name = "/".join(url.split("/")[-2:])
    for path in colab.chapter_notebooks(ROOT):
        [cell] = colab.colab_cells(json.loads(path.read_text(encoding="utf-8")))
        source = "".join(cell["source"])
        assert f'REPOSITORY, BRANCH = "{owner_name}", "{branch}"' in source, path.name
        assert "requirements.txt" in source and "-c /tmp/mlni-pins.txt" in source, path.name
        assert "remove-cell" in cell["metadata"]["tags"], path.name


def test_colab_cells_follow_a_new_url(tmp_path):
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    config = (ROOT / "_config.yml").read_text()
    old_url, _ = colab.repository(ROOT)
    (tmp_path / "_config.yml").write_text(
        config.replace(old_url, "https://github.com/my-lab/mlni-fork"))
    assert cli.main(["colab-cells", "--check", "--book-dir", str(tmp_path)]) == 1
    changed = colab.sync_colab_cells(tmp_path)
    assert len(changed) == len(colab.chapter_notebooks(tmp_path))
    assert colab.sync_colab_cells(tmp_path, write=False) == []
    text = changed[0].read_text()
    assert '\\"my-lab/mlni-fork\\", \\"main\\"' in text
    assert "ml-neuroimaging-sklearn" not in text


def test_raw_url_and_bad_urls(tmp_path):
    assert colab.raw_url("https://github.com/a/b", "dev", "requirements.txt") == (
        "https://raw.githubusercontent.com/a/b/dev/requirements.txt")
    with pytest.raises(ValueError, match="'url' must be a GitHub repository URL.*gitlab"):
        colab.colab_cell_source("https://gitlab.com/a/b", "main")
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="has no 'repository: url:' entry"):
        colab.repository(tmp_path)


def test_one_colab_cell_per_chapter_is_required(tmp_path):
    (tmp_path / "chapters").mkdir()
    shutil.copy(ROOT / "_config.yml", tmp_path)
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "chapters" / "01_x.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="01_x.ipynb must have one cell tagged 'colab-setup'"):
        colab.sync_colab_cells(tmp_path)
