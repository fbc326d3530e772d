"""The book's local MathJax (``_ext/mlni_mathjax.py``); the browser test checks the built site."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ext():
    spec = importlib.util.spec_from_file_location("mlni_mathjax", ROOT / "_ext" / "mlni_mathjax.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mlni_mathjax", module)
    spec.loader.exec_module(module)
    return module


def _fake_mathjax(root):
    es5 = root / "static" / "mathjax" / "es5"
    for name in ("tex-mml-chtml.js", "tex-svg.js", "output/chtml/fonts/woff-v2/MathJax_Main.woff",
                 "output/svg/fonts/tex.js", "input/tex/extensions/physics.js", "ui/menu.js"):
        (es5 / name).parent.mkdir(parents=True, exist_ok=True)
        (es5 / name).write_text(name)
    (root / "static" / "mathjax" / "LICENSE").write_text("Apache License 2.0")
    return es5


def test_copy_takes_what_the_pages_need_and_the_licence(ext, tmp_path):
    es5 = _fake_mathjax(tmp_path / "package")
    target = ext.copy_mathjax(es5, tmp_path / "_static")
    assert target == tmp_path / "_static" / "mathjax"
    copied = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert copied == ["LICENSE", "input/tex/extensions/physics.js",
                      "output/chtml/fonts/woff-v2/MathJax_Main.woff", "tex-mml-chtml.js",
                      "ui/menu.js"]
    ext.copy_mathjax(es5, tmp_path / "_static")  # a second build copies over the first


def test_config_points_to_the_local_copy_or_warns(ext, monkeypatch, tmp_path):
    app, config = SimpleNamespace(), SimpleNamespace(mathjax_path="https://cdn.example/mj.js")
    monkeypatch.setattr(ext, "mathjax_folder", lambda: tmp_path)
    ext._use_local_mathjax(app, config)
    assert config.mathjax_path == "mathjax/tex-mml-chtml.js"
    assert app.mlni_mathjax_folder == tmp_path

    warnings = []
    monkeypatch.setattr(ext, "mathjax_folder", lambda: None)
    monkeypatch.setattr(ext.logger, "warning", warnings.append)
    app, config = SimpleNamespace(), SimpleNamespace(mathjax_path="https://cdn.example/mj.js")
    ext._use_local_mathjax(app, config)
    assert config.mathjax_path == "https://cdn.example/mj.js"
    assert "django-static-mathjax is not installed" in warnings[0]


def test_the_package_is_found_when_installed(ext):
    folder = ext.mathjax_folder()
    if importlib.util.find_spec("mathjax") is None:
        assert folder is None
    else:
        assert (folder / "tex-mml-chtml.js").is_file()
