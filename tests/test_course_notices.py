"""Tests of mlni_course.notices: the real/simulated banner."""

import pytest
from sklearn.utils import Bunch

from mlni_course.notices import DataSourceBanner, show_source


@pytest.mark.parametrize("source", ["real", "simulated"])
def test_banner_names_dataset_and_source(source):
    banner = DataSourceBanner(Bunch(source=source, title="Haxby et al. (2001)"))
    assert "Haxby et al. (2001)" in banner._repr_html_()
    assert repr(banner).startswith(f"[{source.upper()} DATA]")
    assert ("Simulated" in banner._repr_html_()) == (source == "simulated")


def test_show_source_displays_banner_once(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    assert show_source(Bunch(source="real", title="ADHD-200")) is None
    assert len(shown) == 1 and isinstance(shown[0], DataSourceBanner)


def test_banner_errors():
    with pytest.raises(ValueError, match="source 'real' or 'simulated'. Got source='x'"):
        DataSourceBanner(Bunch(source="x", title="t"))
    with pytest.raises(ValueError, match="'bunch' must have a non-empty 'title'. Got title=None"):
        DataSourceBanner(Bunch(source="real"))
