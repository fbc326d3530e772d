"""Whole-brain searchlight: mlni's fast GNB and shrinkage-LDA paths against nilearn's SearchLight.

Usage::

    python benchmarks/searchlight.py [--size full|small] [--n-spheres N] [--radius MM]
                                     [--repeats R]

Loads the simulated Haxby face/house volumes ("full" has the real dimensions: 40 x 64 x 64
voxels of 3.5 x 3.75 x 3.75 mm, 216 volumes), standardises each voxel, and for two
classifiers, Gaussian naive Bayes and ``LinearDiscriminantAnalysis(solver="lsqr",
shrinkage="auto")``, runs with the same folds (KFold(4), unshuffled) and radius (5.6 mm):

1. ``mlni.searchlight.search_light(..., estimator="gnb" or "lda")`` on every voxel of the
   brain mask, timed end to end (spheres included), best of R runs. The first run is
   printed too: it includes loading numba's compiled loop from its cache (or compiling it,
   once per installation) and the first touches of freshly allocated memory. One more,
   untimed run gives the most memory the searchlight allocates (tracemalloc);
2. ``nilearn.decoding.SearchLight`` with the same classifier on N random sphere centres
   (``process_mask_img``), one core. Its time per sphere is extrapolated to the whole brain
   (its set-up time is counted in the per-sphere time, which slightly favours mlni for very
   small N; with N = 500 it is negligible).

It prints one line per classifier: both times, their ratio (the design asks for at least
500x) in wall-clock and CPU time, and how many of the N spheres get the same accuracy (to
1e-6). The machine's load average is printed too: on a shared machine both sides are slowed
and wall-clock times are noisy. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import KFold
from sklearn.naive_bayes import GaussianNB

from data_fetchers import fetch_haxby
from mlni.image import index_img
from mlni.masking import apply_mask, unmask
from mlni.searchlight import search_light, sphere_neighbors

TARGET_SPEEDUP = 500
ESTIMATORS = {
    "gnb": GaussianNB,
    "lda": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
}


def load_face_house(size):
    """Standardised face/house data, labels and mask of the simulated Haxby subject 2."""
    data = fetch_haxby(source="simulated", size=size, verbose=0)
    labels = pd.read_csv(data.session_target, sep=" ")
    keep = labels["labels"].isin(["face", "house"]).to_numpy()
    X = apply_mask(index_img(data.func[0], np.flatnonzero(keep)), data.mask, dtype="float64")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (labels["labels"][keep] == "face").to_numpy().astype(int)
    return X, y, nib.load(data.mask)


def time_mlni(X, y, mask_img, radius, cv, estimator, repeats):
    """Best (wall, CPU) time of the whole-brain fast searchlight, the wall time of its first
    run, its peak memory (MB allocated, in one more run) and its scores."""
    times = []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        scores = search_light(
            X, y, mask_img, radius=radius, cv=cv, estimator=estimator, progress=False
        )
        times.append((time.perf_counter() - start, time.process_time() - cpu_start))
    tracemalloc.start()
    search_light(X, y, mask_img, radius=radius, cv=cv, estimator=estimator, progress=False)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return min(times), times[0][0], peak, scores


def time_nilearn(X, y, mask_img, radius, cv, centres, estimator):
    """nilearn SearchLight on the sphere ``centres``: ((wall, CPU) seconds, scores)."""
    from nilearn.decoding import SearchLight

    process = np.zeros(X.shape[1], dtype=np.uint8)
    process[centres] = 1
    searchlight = SearchLight(
        mask_img,
        process_mask_img=unmask(process, mask_img),
        radius=radius,
        estimator=estimator,
        cv=cv,
        n_jobs=1,
    )
    imgs = unmask(X, mask_img)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Use a custom estimator")
        start, cpu_start = time.perf_counter(), time.process_time()
        searchlight.fit(imgs, y)
        seconds = (time.perf_counter() - start, time.process_time() - cpu_start)
    mask = np.asarray(mask_img.dataobj) != 0
    return seconds, searchlight.scores_[mask][centres]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--n-spheres", type=int, default=500)
    parser.add_argument("--radius", type=float, default=5.6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    X, y, mask_img = load_face_house(args.size)
    n_samples, n_voxels = X.shape
    sizes = np.diff(sphere_neighbors(mask_img, args.radius).indptr)
    cv = KFold(4)
    centres = np.sort(np.random.default_rng(0).choice(n_voxels, args.n_spheres, replace=False))
    print(
        f"simulated Haxby ({args.size}): {n_samples} face/house volumes, {n_voxels} voxels "
        f"= spheres, radius {args.radius} mm, {sizes.mean():.1f} voxels per sphere "
        f"(max {sizes.max()}), {cv}"
    )
    print(
        f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} "
        f"on {os.cpu_count()} cores (shared machine: times are noisy)"
    )
    print(
        f"nilearn: SearchLight on {args.n_spheres} random spheres, time per sphere "
        "EXTRAPOLATED to the whole brain; mlni: whole brain measured, best of "
        f"{args.repeats}"
    )

    ok = True
    for name, make_estimator in ESTIMATORS.items():
        (wall, cpu), first, memory, scores = time_mlni(
            X, y, mask_img, args.radius, cv, name, args.repeats
        )
        (nl_wall, nl_cpu), nl_scores = time_nilearn(
            X, y, mask_img, args.radius, cv, centres, make_estimator()
        )
        whole_wall = nl_wall / args.n_spheres * n_voxels
        whole_cpu = nl_cpu / args.n_spheres * n_voxels
        same = np.abs(scores[centres] - nl_scores) <= 1e-6
        ratio = whole_wall / wall
        ok &= bool(same.mean() >= 0.999)
        print(
            f"{name}: mlni {wall:.2f} s (CPU {cpu:.2f} s; first run {first:.2f} s; "
            f"{memory:.0f} MB allocated at most) | nilearn "
            f"{1000 * nl_wall / args.n_spheres:.1f} ms/sphere -> {whole_wall:.0f} s "
            f"({whole_wall / 60:.1f} min, CPU {whole_cpu:.0f} s) extrapolated | speed-up "
            f"{ratio:.0f}x wall, {whole_cpu / cpu:.0f}x CPU "
            f"({'meets' if ratio >= TARGET_SPEEDUP else 'MISSES'} {TARGET_SPEEDUP}x) | "
            f"same accuracy on {same.sum()}/{args.n_spheres} spheres "
            f"(max diff {np.abs(scores[centres] - nl_scores).max():.1g})"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
        f"peak memory of this process (mlni and nilearn runs): {peak:.0f} MB"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
