"""The pre-flight check (``mlni-course check``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import mlni.miyawaki
from data_fetchers import _registry, adhd, haxby, miyawaki
from data_fetchers._paths import simulated_root
from mlni_course import check
from mlni_course.check import Result


def _touch_all(folder, names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def _real_haxby(root):
    names = [f"subj2/{name}" for name in haxby.subject_files(2)] + ["mask.nii.gz"]
    _touch_all(root / "haxby2001", names)


def test_result_refuses_unknown_status():
    with pytest.raises(ValueError, match="'status' must be one of .*Got 'great'"):
        Result("x", "great", "detail")


def test_versions_below_floor_fail_and_off_pin_warn(monkeypatch):
    installed = {"numpy": "2.4.6", "scipy": "1.17.1", "scikit-learn": "1.9.1",
                 "nibabel": "5.4.2", "nilearn": "0.14.1", "matplotlib": "3.11.2",
                 "pandas": "3.1.1", "joblib": "1.6.0", "tqdm": None}
    monkeypatch.setattr(check, "_installed", installed.get)
    results = {r.name: r for r in check.check_versions(
        floors={"numpy": "3.0", "tqdm": "4.70"}, pins={"scipy": "1.16.0", "pandas": "3.1.1"})}
    assert results["numpy"].status == "fail"
    assert "2.4.6, the course needs >= 3.0" in results["numpy"].detail
    assert "pip install -r requirements.txt" in results["numpy"].fix
    assert results["tqdm"].status == "fail" and results["tqdm"].detail == "not installed"
    assert results["scipy"].status == "warn" and "tested with 1.16.0" in results["scipy"].detail
    assert results["pandas"].status == "ok"


def test_old_scikit_learn_fails_whatever_the_floors_say(monkeypatch):
    monkeypatch.setattr(check, "_installed", lambda name: "1.6.1" if name == "scikit-learn"
                        else "99.0")
    results = {r.name: r for r in check.check_versions(floors={"scikit-learn": "1.4"}, pins={})}
    assert results["scikit-learn"].status == "fail"
    assert "1.6.1, the course needs >= 1.8" in results["scikit-learn"].detail


def test_declared_floors_and_pins_are_read():
    floors = check.declared_floors()
    assert floors, "the course's requirements could not be read"
    assert check._version_tuple(floors["scikit-learn"]) >= (1, 8)
    pins = check.pinned_versions()
    assert check._version_tuple(pins["scikit-learn"]) >= (1, 8)
    assert check.pinned_versions("/nonexistent/requirements.txt") == {}


def test_imports_fail_and_lab_warns():
    results = check.check_imports(modules=("json", "no_such_module_mlni"),
                                  lab_modules=("no_such_lab_module",))
    assert [r.status for r in results] == ["fail", "warn"]
    assert "no_such_module_mlni (ModuleNotFoundError" in results[0].detail
    assert "no_such_lab_module" in results[1].detail
    assert [r.status for r in check.check_imports(modules=("json",), lab_modules=())] == [
        "ok", "ok"]


def test_datasets_in_tells_real_from_simulated(tmp_path):
    _real_haxby(tmp_path)
    _touch_all(simulated_root(tmp_path, "small") / "miyawaki2008",
               miyawaki.all_files())
    found = check.datasets_in(tmp_path)
    assert found == {"Haxby 2001, subject 2": ["real"],
                     "Miyawaki 2008": ["simulated (small)"],
                     "ADHD-200, 10 subjects": []}


def test_check_data_on_an_empty_folder(data_env):
    results = {r.name: r for r in check.check_data(network=False)}
    assert results["data source"].detail == "MLNI_DATA_SOURCE=auto"
    assert results["data folder"].status == "ok"
    assert "does not exist yet" in results["data folder"].detail
    for title in ("Haxby 2001, subject 2", "Miyawaki 2008", "ADHD-200, 10 subjects"):
        assert results[title].status == "warn"
        assert "python -m data_fetchers download all" in results[title].fix
    assert "data servers" not in results


def test_check_data_with_real_data_and_unreachable_servers(data_env, monkeypatch):
    _real_haxby(data_env)
    ids = adhd.subject_ids(10)
    _touch_all(data_env / "adhd", [_registry.ADHD_PHENOTYPIC] + [
        f"data/{i}/{name}" for i in ids for name in adhd._subject_files(i)])
    monkeypatch.setattr(check, "_data_servers_reachable", lambda: False)
    results = {r.name: r for r in check.check_data(network=True)}
    assert results["Haxby 2001, subject 2"].status == "ok"
    assert results["ADHD-200, 10 subjects"].detail == "real data in place"
    assert results["Miyawaki 2008"].status == "warn"
    assert results["data servers"].status == "warn"
    assert "simulated stand-ins" in results["data servers"].detail


def test_check_data_with_simulated_source(data_env, monkeypatch):
    monkeypatch.setenv("MLNI_DATA_SOURCE", "simulated")
    _touch_all(simulated_root(data_env, "small") / "miyawaki2008", miyawaki.all_files())
    results = {r.name: r for r in check.check_data(network=True)}
    assert results["Miyawaki 2008"].status == "ok"
    assert results["Miyawaki 2008"].detail == "simulated (small) in place"
    assert "data servers" not in results


def test_check_data_with_a_bad_source(data_env, monkeypatch):
    monkeypatch.setenv("MLNI_DATA_SOURCE", "offline")
    [result] = check.check_data(network=False)
    assert result.status == "fail" and "'offline'" in result.detail


def test_memory_and_disk_thresholds(data_env):
    assert check.check_memory(total=1.0, available=0.8).status == "fail"
    assert check.check_memory(total=8.0, available=1.0).status == "warn"
    assert check.check_memory(total=8.0, available=6.0).status == "ok"
    assert check.check_memory().status in ("ok", "warn", "fail")  # this machine: measured
    assert check.check_disk(free_gb=0.1).status == "fail"
    assert check.check_disk(free_gb=1.0).status == "warn"
    assert check.check_disk(free_gb=1.0, real_data_missing=False).status == "ok"
    assert check.check_disk(free_gb=10.0).status == "ok"


def test_computation_decodes_and_finds_a_sparse_l1_model():
    result = check.check_computation(n_samples=72, n_features=2500)
    assert result.status == "ok", result
    assert "decoding accuracy 1.00" in result.detail or "decoding accuracy 0.9" in result.detail


def test_computation_fails_when_the_l1_model_is_not_sparse(monkeypatch):
    # What scikit-learn < 1.8 did: an "l1" model that is an l2 model.
    monkeypatch.setattr(mlni.miyawaki, "make_classifier",
                        lambda model, C: LogisticRegression(C=C, solver="liblinear"))
    result = check.check_computation(n_samples=72, n_features=2500)
    assert result.status == "fail"
    assert "100.0% non-zero weights" in result.detail
    assert "wrong results" in result.fix


def test_computation_runs_the_lda_searchlight():
    result = check.check_computation(n_samples=72, n_features=2500)
    searchlight = float(result.detail.split("LDA searchlight accuracy ")[1].split()[0])
    assert searchlight >= 0.8


def test_computation_fails_when_the_searchlight_finds_nothing(monkeypatch):
    import mlni.searchlight

    monkeypatch.setattr(mlni.searchlight, "search_light",
                        lambda X, y, mask_img, **kwargs: np.full(X.shape[1], 0.5))
    result = check.check_computation(n_samples=72, n_features=2500)
    assert result.status == "fail"
    assert "LDA searchlight accuracy 0.50" in result.detail
    assert "wrong results" in result.fix


def test_computation_reports_errors(monkeypatch):
    def broken(model, C):
        raise RuntimeError("needs scikit-learn >= 1.8")

    monkeypatch.setattr(mlni.miyawaki, "make_classifier", broken)
    result = check.check_computation(n_samples=72, n_features=2500)
    assert result.status == "fail"
    assert result.detail == "RuntimeError: needs scikit-learn >= 1.8"


def test_verdict_and_report():
    results = [Result("a", "ok", "fine"), Result("bb", "warn", "so so", "do this")]
    assert check.verdict(results)[0] == "warn"
    text = check.report(results)
    assert "[  ok] a   fine" in text
    assert "[warn] bb  so so\n           -> do this" in text
    assert text.endswith("READY, with 1 warning(s): read the lines marked warn; "
                         "the course runs as it is.")
    results.append(Result("c", "fail", "broken", "fix it"))
    assert check.verdict(results) == (
        "fail", "NOT READY: 1 problem(s) to fix (lines marked FAIL), 1 warning(s).")
    assert check.verdict([Result("a", "ok", "fine")])[0] == "ok"
