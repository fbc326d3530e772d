"""Time the Table 1 grid of Abraham et al. (2014) at the real size of the Miyawaki dataset.

4 models x 6 values of C x 100 pixels x 5 folds = 12,000 fits on 2,860 samples x 5,438 voxels,
with :func:`mlni.miyawaki.table1_grid`. The data are the simulated stand-in of size "full"
(``--data simulated``, the default), the real data (``--data real``) or random arrays with a
planted retinotopic signal (``--data synthetic``, no files needed).

Usage::

    MLNI_DATA=/work/mlni_data python benchmarks/miyawaki_table1.py [--n-pixels 100] [--n-jobs 2]

With ``--n-pixels`` below 100 the pixels are spread over the image and the time of the full grid
is extrapolated (and labelled as such).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlni import miyawaki
from mlni_course.paper import TABLE1


def planted_arrays(n_samples=2860, n_voxels=5438, n_visual=1500, noise=3.0, seed=0):
    """Random 10x10 images and voxels whose signal is a Gaussian receptive field plus noise."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, size=(n_samples, 100)).astype(np.int8)
    rows, cols = np.divmod(np.arange(100), 10)
    centers = rng.uniform(0, 9, size=(n_visual, 2))
    distance2 = (rows - centers[:, :1]) ** 2 + (cols - centers[:, 1:]) ** 2
    fields = np.exp(-distance2 / 2.0).astype(np.float32)
    X = noise * rng.standard_normal((n_samples, n_voxels), dtype=np.float32)
    X[:, :n_visual] += (Y - np.float32(0.5)) @ fields.T
    X -= X.mean(axis=0)
    X /= X.std(axis=0)
    return X, Y


def load(kind):
    """The (X, Y) arrays of the random runs, and a description of where they come from."""
    if kind == "synthetic":
        return (*planted_arrays(), "random arrays with a planted signal")
    from data_fetchers import fetch_miyawaki2008

    source, size = ("real", "small") if kind == "real" else ("simulated", "full")
    data = fetch_miyawaki2008(source=source, size=size, verbose=0)
    X, Y, _ = miyawaki.load_runs(data)
    return X, Y, f"fetch_miyawaki2008(source={source!r}, size={size!r})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["simulated", "real", "synthetic"], default="simulated")
    parser.add_argument("--n-pixels", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    X, Y, origin = load(args.data)
    print(f"data: {origin}: X {X.shape}, Y {Y.shape} ({time.perf_counter() - start:.1f} s)")
    pixels = np.unique(np.linspace(0, 99, args.n_pixels).round().astype(int))
    start = time.perf_counter()
    scores = miyawaki.table1_grid(X, Y, pixels=pixels, n_jobs=args.n_jobs)
    elapsed = time.perf_counter() - start
    n_fits = scores.size
    print(f"grid: {n_fits} fits ({len(pixels)} pixels) in {elapsed:.1f} s with n_jobs={args.n_jobs}"
          f" ({1000 * elapsed / n_fits:.1f} ms per fit)")
    if len(pixels) < 100:
        print(f"extrapolated to the full grid (12000 fits): {elapsed * 100 / len(pixels):.0f} s")
    table = miyawaki.table1_summary(scores)
    paper = {model: list(cells) for model, cells in TABLE1.items()}
    print("\nthis run:\n" + table.to_string())
    print("\npaper:\n" + table.copy().assign(**{
        column: [paper[model][c] for model in table.index]
        for c, column in enumerate(table.columns)
    }).to_string())


if __name__ == "__main__":
    main()
