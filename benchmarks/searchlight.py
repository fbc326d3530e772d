"""Whole-brain searchlight: mlni's Gaussian naive Bayes path against nilearn's SearchLight.

Usage::

    python benchmarks/searchlight.py [--size full|small] [--n-spheres N]
                                     [--nilearn-estimator gnb|svc] [--radius MM]

Loads the simulated Haxby face/house volumes ("full" has the real dimensions: 40 x 64 x 64
voxels of 3.5 x 3.75 x 3.75 mm), standardises each voxel, and runs with the same folds
(KFold(4), unshuffled) and the same radius (5.6 mm by default):

1. ``mlni.searchlight.search_light(..., estimator="gnb")`` on every voxel of the brain mask
   (timed end to end, spheres included; best of three runs);
2. ``nilearn.decoding.SearchLight`` on N random sphere centres (``process_mask_img``), with
   ``GaussianNB()`` (default) or ``LinearSVC()``, one core; its time per sphere is
   extrapolated to the whole brain (its set-up time is left out, which favours nilearn).

It prints both times, their ratio (the design asks for at least 500x) and, with GaussianNB,
whether the two give the same accuracies on the N spheres. Not part of the test run.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC

from data_fetchers import fetch_haxby
from mlni.image import index_img
from mlni.masking import apply_mask, unmask
from mlni.searchlight import search_light, sphere_neighbors

TARGET_SPEEDUP = 500


def load_face_house(size):
    """Standardised face/house data, labels and mask of the simulated Haxby subject 2."""
    data = fetch_haxby(source="simulated", size=size, verbose=0)
    labels = pd.read_csv(data.session_target, sep=" ")
    keep = labels["labels"].isin(["face", "house"]).to_numpy()
    X = apply_mask(index_img(data.func[0], np.flatnonzero(keep)), data.mask, dtype="float64")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (labels["labels"][keep] == "face").to_numpy().astype(int)
    return X, y, nib.load(data.mask)


def time_gnb(X, y, mask_img, radius, cv, repeats=3):
    """Best wall-clock time of the whole-brain fast searchlight, and its scores."""
    times = []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        scores = search_light(X, y, mask_img, radius=radius, cv=cv, progress=False)
        times.append((time.perf_counter() - start, time.process_time() - cpu_start))
    return min(times), scores


def time_nilearn(X, y, mask_img, radius, cv, n_spheres, estimator):
    """nilearn SearchLight on ``n_spheres`` random centres: (seconds, centres, scores)."""
    from nilearn.decoding import SearchLight

    rng = np.random.default_rng(0)
    centres = np.sort(rng.choice(X.shape[1], size=n_spheres, replace=False))
    process = np.zeros(X.shape[1], dtype=np.uint8)
    process[centres] = 1
    process_img = unmask(process, mask_img)
    imgs = unmask(X, mask_img)
    searchlight = SearchLight(
        mask_img,
        process_mask_img=process_img,
        radius=radius,
        estimator=estimator,
        cv=cv,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Use a custom estimator")
        start, cpu_start = time.perf_counter(), time.process_time()
        searchlight.fit(imgs, y)
        seconds = (time.perf_counter() - start, time.process_time() - cpu_start)
    mask = np.asarray(mask_img.dataobj) != 0
    return seconds, centres, searchlight.scores_[mask][centres]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--n-spheres", type=int, default=200)
    parser.add_argument("--nilearn-estimator", choices=["gnb", "svc"], default="gnb")
    parser.add_argument("--radius", type=float, default=5.6)
    args = parser.parse_args(argv)

    X, y, mask_img = load_face_house(args.size)
    n_samples, n_voxels = X.shape
    sizes = np.diff(sphere_neighbors(mask_img, args.radius).indptr)
    cv = KFold(4)
    print(
        f"simulated Haxby ({args.size}): {n_samples} face/house volumes, {n_voxels} voxels, "
        f"radius {args.radius} mm, {sizes.mean():.1f} voxels per sphere, {cv}"
    )

    (gnb_wall, gnb_cpu), gnb_scores = time_gnb(X, y, mask_img, args.radius, cv)
    print(
        f"mlni search_light(estimator='gnb'), whole brain: {gnb_wall:.2f} s (CPU {gnb_cpu:.2f} s)"
    )

    estimator = GaussianNB() if args.nilearn_estimator == "gnb" else LinearSVC()
    (nilearn_wall, nilearn_cpu), centres, nilearn_scores = time_nilearn(
        X, y, mask_img, args.radius, cv, args.n_spheres, estimator
    )
    whole_wall = nilearn_wall / args.n_spheres * n_voxels
    whole_cpu = nilearn_cpu / args.n_spheres * n_voxels
    print(
        f"nilearn SearchLight({estimator}): {nilearn_wall:.1f} s for {args.n_spheres} spheres "
        f"= {1000 * nilearn_wall / args.n_spheres:.1f} ms per sphere -> {whole_wall:.0f} s "
        f"({whole_wall / 60:.1f} min; CPU {whole_cpu / 60:.1f} min) for the whole brain "
        "(extrapolated)"
    )

    ratio, cpu_ratio = whole_wall / gnb_wall, whole_cpu / gnb_cpu
    verdict = "meets" if ratio >= TARGET_SPEEDUP else "MISSES"
    print(
        f"speed-up: {ratio:.0f}x wall clock, {cpu_ratio:.0f}x CPU time "
        f"({verdict} the {TARGET_SPEEDUP}x target)"
    )

    ok = True
    if args.nilearn_estimator == "gnb":
        same = np.isclose(gnb_scores[centres], nilearn_scores, rtol=0, atol=1e-12)
        ok = bool(same.all())
        print(
            f"agreement on the {args.n_spheres} spheres: {same.sum()} identical accuracies, "
            f"largest difference {np.abs(gnb_scores[centres] - nilearn_scores).max():.2g}"
        )
    else:
        corr = np.corrcoef(gnb_scores[centres], nilearn_scores)[0, 1]
        print(f"LinearSVC vs GaussianNB accuracies on the {args.n_spheres} spheres: r = {corr:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
