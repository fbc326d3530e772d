"""Tests of mlni.book: the banner that says which data a page was computed on."""

import pytest
from sklearn.utils import Bunch

from mlni.book import DataSourceBanner, show_source


@pytest.mark.parametrize(
    ("key", "name"),
    [("session_target", "Haxby"), ("mask_roi", "Miyawaki"), ("phenotypic", "ADHD-200")],
)
def test_banner_names_dataset_and_source(key, name):
    simulated = DataSourceBanner(Bunch(source="simulated", **{key: "x"}))
    assert name in repr(simulated) and "SIMULATED" in repr(simulated)
    assert "ground truth" in simulated._repr_html_()
    assert "mlni-source-simulated" in simulated._repr_html_()
    real = DataSourceBanner(Bunch(source="real", **{key: "x"}))
    assert "REAL" in repr(real) and "compared with the published" in real._repr_html_()


def test_show_source_displays_banner_once(capsys):
    assert show_source(Bunch(source="real", session_target="x")) is None
    assert capsys.readouterr().out.count("REAL DATA") == 1


@pytest.mark.parametrize("bunch", [Bunch(source="other"), Bunch(), {"source": None}])
def test_banner_rejects_unknown_source(bunch):
    with pytest.raises(ValueError, match="'bunch' must be a dataset from data_fetchers with"):
        DataSourceBanner(bunch)
