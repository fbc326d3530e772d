"""Simulated stand-in of the Miyawaki et al. (2008) dataset, with a known ground truth.

The layout is that of the real archive: ``miyawaki2008/func/data_{random|figure}_runNN.nii.gz``,
``label/data_{random|figure}_runNN_label.csv``, ``mask/mask.nii.gz`` with the 38 ROI masks,
and ``bg.nii.gz``. Visual-cortex voxels (the mask) have Gaussian population receptive
fields (pRFs) laid out retinotopically on the MNI152 anatomy:

* the left hemisphere sees the right half of the 10x10 image and vice versa; the cortex
  above the calcarine sulcus (dorsal) sees the lower half, below it (ventral) the upper half;
* eccentricity grows from the occipital pole forwards, with many more voxels (and smaller
  pRFs) for the central pixels than for the periphery (cortical magnification);
* V1, V2 and V3/VP form bands around the calcarine with mirrored polar-angle maps; pRFs
  grow from V1 to V3. Some mask voxels have no pRF and carry only noise.

A voxel's BOLD signal is the fraction of its pRF covered by "on" pixels, convolved with a
haemodynamic response that peaks about 2 volumes (TR 2 s) later, plus drift and AR(1) noise.
Training runs show random balanced 10x10 binary images (3 volumes each, no rest), test
runs show geometric figures and the letters of "neuron" in blocks separated by rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from data_fetchers._atomic import atomic_dir
from data_fetchers._paths import check_size
from data_fetchers.simulate import _anatomy as ana

VERSION = "3"  # bump when the generated data change: older copies are then regenerated
T_R = 2.0
N_RANDOM_RUNS, N_FIGURE_RUNS, N_SCANS = 20, 12, 145
IMAGE_SCANS = 3  # volumes per random image
HRF_DELAY = 2  # volumes
GRIDS = {
    "full": {"shape": (64, 64, 30), "center": (0.0, -40.0, 8.5), "n_voxels": 5438},
    # A crop around the occipital lobe; under 16k voxels so that the constant voxels
    # outside the mask compress well (one volume fits gzip's window).
    "small": {"shape": (26, 21, 20), "center": (0.0, -78.0, 9.0), "n_voxels": 2500},
}
VOXEL_SIZE = (-3.0, 3.0, 3.0)
AREAS = ("V1", "V2", "V3", "V3A/V4v")
AREA_SIZE_FACTOR = (1.0, 1.4, 2.0)
LAG_BANDS = [(a, a + 1) for a in (0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9)]
ROI_NAMES = [
    f"{hemi}{roi}"
    for hemi in ("LH", "RH")
    for roi in [f"lag{a}to{b}" for a, b in LAG_BANDS]
    + ["V1d", "V1v", "V2d", "V2v", "V3A", "V3", "V4v", "VP"]
]
DEGREES_PER_PIXEL = 1.2  # the real stimulus spans 12 x 12 degrees
GAIN = 6.0  # % signal change for a pRF fully covered by "on" pixels
NOISE_SD = 1.0  # % signal change
AR_RHO = 0.3
FIGURES = {
    "square": ["..........", "..........", "..######..", "..######..", "..######..",
               "..######..", "..######..", "..######..", "..........", ".........."],
    "frame": ["..........", ".########.", ".#......#.", ".#......#.", ".#......#.",
              ".#......#.", ".#......#.", ".#......#.", ".########.", ".........."],
    "small frame": ["..........", "..........", "..........", "...####...", "...#..#...",
                    "...#..#...", "...####...", "..........", "..........", ".........."],
    "plus": ["..........", "....##....", "....##....", "....##....", ".########.",
             ".########.", "....##....", "....##....", "....##....", ".........."],
    "x": ["..........", ".#......#.", "..#....#..", "...#..#...", "....##....",
          "....##....", "...#..#...", "..#....#..", ".#......#.", ".........."],
    "n": ["..........", "..........", "..........", ".######...", ".#.....#..",
          ".#.....#..", ".#.....#..", ".#.....#..", ".#.....#..", ".........."],
    "e": ["..........", "..........", "..######..", ".#......#.", ".########.",
          ".#........", ".#........", "..######..", "..........", ".........."],
    "u": ["..........", "..........", "..........", ".#.....#..", ".#.....#..",
          ".#.....#..", ".#.....#..", ".#.....#..", "..#####.#.", ".........."],
    "r": ["..........", "..........", "..........", ".#.####...", ".##....#..",
          ".#........", ".#........", ".#........", ".#........", ".........."],
    "o": ["..........", "..........", "..######..", ".#......#.", ".#......#.",
          ".#......#.", ".#......#.", ".#......#.", "..######..", ".........."],
}
FIGURE_LEAD, FIGURE_ON, FIGURE_OFF = 5, 6, 8  # 5 + 10 * (6 + 8) = 145 volumes
DESCRIPTION = (
    "Simulated stand-in of Miyawaki et al. (2008): 20 runs of random 10x10 images and 12 "
    "runs of figures (145 volumes each, TR 2 s); visual-cortex voxels with retinotopic "
    "population receptive fields (see ground_truth)."
)


def figure_image(name):
    """The 10x10 binary image (int8, row 0 at the top) of one test figure."""
    return np.array([[ch == "#" for ch in row] for row in FIGURES[name]], dtype=np.int8)


def _random_run(rng):
    """Images (n_scans, 10, 10) of one random run, -1 everywhere during rest."""
    n_images = (N_SCANS - 1) // IMAGE_SCANS
    pixels = np.zeros((n_images, 100), dtype=np.int8)
    for i in range(n_images):  # balanced: exactly 50 pixels on
        pixels[i, rng.choice(100, size=50, replace=False)] = 1
    images = np.repeat(pixels.reshape(n_images, 10, 10), IMAGE_SCANS, axis=0)
    rest = -np.ones((N_SCANS - images.shape[0], 10, 10), dtype=np.int8)
    return np.concatenate([images, rest])


def _figure_run(rng):
    names = list(FIGURES)
    images = [-np.ones((FIGURE_LEAD, 10, 10), dtype=np.int8)]
    for k in rng.permutation(len(names)):
        images.append(np.repeat(figure_image(names[k])[None], FIGURE_ON, axis=0))
        images.append(-np.ones((FIGURE_OFF, 10, 10), dtype=np.int8))
    return np.concatenate(images)


def _calcarine_z(y):
    """Height (mm, MNI) of the calcarine sulcus along y: rises slightly forwards."""
    return 2.0 + 0.15 * (y + 100.0)


def _select_mask(anat, coords, n_voxels):
    """The ``n_voxels`` occipital grey-matter voxels closest to the calcarine sulcus."""
    x, y, z = coords.T
    r = np.hypot(np.abs(x) - 8.0, z - _calcarine_z(y))
    score = r + 0.4 * np.clip(y + 75.0, 0, None) + 100.0 * (y > -55)
    candidates = anat.gm[anat.brain]
    order = np.argsort(np.where(candidates, score, np.inf), kind="stable")[:n_voxels]
    keep = np.zeros(coords.shape[0], dtype=bool)
    keep[order] = True
    return keep


def _retinotopy(coords, rng):
    """pRF centre (row, col), size (pixels), area index and visual flag for mask voxels."""
    x, y, z = coords.T
    n = coords.shape[0]
    dz = z - _calcarine_z(y)
    r = np.hypot(np.abs(x) - 8.0, dz)
    area = np.digitize(r, [7.0, 13.0, 19.0])  # 0 V1, 1 V2, 2 V3/VP, 3 V3A/V4v
    frac = np.select([area == 0, area == 1, area == 2],
                     [r / 7.0, 1 - (r - 7.0) / 6.0, (r - 13.0) / 6.0], default=rng.uniform(0, 1, n))
    angle = np.clip(frac, 0, 1) * np.pi / 2 + rng.normal(0, 0.15, n)
    # Eccentricity (pixels) grows forwards from the occipital pole, compressed at the fovea.
    depth = np.clip((y + 104.0) / 44.0, 0, 1)
    ecc = 0.3 + 7.0 * depth**1.4 + np.abs(rng.normal(0, 0.3, n))
    hemifield = np.where(x < 0, 1.0, -1.0)  # left hemisphere -> right visual field
    vertical = np.where(dz > 0, 1.0, -1.0)  # dorsal -> lower visual field (larger rows)
    center = np.stack(
        [4.5 + vertical * ecc * np.sin(angle), 4.5 + hemifield * ecc * np.cos(angle)], axis=1
    )
    size_factor = np.array([*AREA_SIZE_FACTOR, 2.5])[area]
    size = (0.3 + 0.2 * ecc) * size_factor
    visual = (area < 3) & (np.abs(center - 4.5).max(axis=1) < 6.0) & (rng.uniform(size=n) > 0.15)
    center[~visual] = np.nan
    size[~visual] = np.nan
    return center, size, area, ecc, dz > 0, visual


def _prf_weights(center, size):
    """Normalised Gaussian pRF weights over the 100 pixels, (n_voxels, 100), F order."""
    rows, cols = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    pix = np.stack([rows.ravel(order="F"), cols.ravel(order="F")], axis=1)
    d2 = ((center[:, None, :] - pix[None]) ** 2).sum(axis=2)
    weights = np.exp(-0.5 * d2 / size[:, None] ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def _rois(coords, area, ecc, dorsal):
    """Boolean masks (over mask voxels) of the 38 ROIs."""
    left = coords[:, 0] < 0
    degrees = ecc * DEGREES_PER_PIXEL
    names = {"V1": 0, "V2": 1}
    out = {}
    for hemi, side in (("LH", left), ("RH", ~left)):
        for a, b in LAG_BANDS:
            out[f"{hemi}lag{a}to{b}"] = side & (degrees >= a) & (degrees < b)
        for label, index in names.items():
            out[f"{hemi}{label}d"] = side & (area == index) & dorsal
            out[f"{hemi}{label}v"] = side & (area == index) & ~dorsal
        out[f"{hemi}V3"] = side & (area == 2) & dorsal
        out[f"{hemi}VP"] = side & (area == 2) & ~dorsal
        out[f"{hemi}V3A"] = side & (area == 3) & dorsal
        out[f"{hemi}V4v"] = side & (area == 3) & ~dorsal
    return out


def _simulate(size):
    grid = GRIDS[size]
    affine = ana.grid_affine(VOXEL_SIZE, grid["shape"], grid["center"])
    anat = ana.anatomy(affine, grid["shape"])
    coords_brain = ana.voxel_coords(affine, anat.brain)
    in_mask = _select_mask(anat, coords_brain, grid["n_voxels"])
    mask = np.zeros(anat.brain.shape, dtype=bool)
    mask[anat.brain] = in_mask
    coords = ana.voxel_coords(affine, mask)  # C order of the mask, as boolean indexing
    rng = np.random.default_rng(2008)
    center, size_px, area, ecc, dorsal, visual = _retinotopy(coords, rng)
    weights = np.zeros((coords.shape[0], 100))
    weights[visual] = _prf_weights(center[visual], size_px[visual])
    runs = [("random", i + 1, _random_run(rng)) for i in range(N_RANDOM_RUNS)]
    runs += [("figure", i + 1, _figure_run(rng)) for i in range(N_FIGURE_RUNS)]
    return Bunch(affine=affine, anat=anat, mask=mask, center=center, size=size_px,
                 visual=visual, weights=weights.astype(np.float32), runs=runs,
                 rois=_rois(coords, area, ecc, dorsal), rng=rng)


def _bold(sim, images, rng):
    """4D int16 BOLD of one run from its images (n_scans, 10, 10)."""
    pixels = images.reshape(len(images), 100, order="F").astype(np.float32)
    on = (pixels[:, :1] >= 0).astype(np.float32)
    # The response is linear in the stimulus: convolve the 100 pixels (and the "any
    # stimulus" regressor) once, then project through the pRFs.
    expected = ana.convolve_hrf(np.hstack([np.clip(pixels, 0, None), on]), T_R)
    expected = expected.astype(np.float32)
    percent = GAIN * (expected[:, :100] @ sim.weights.T)
    percent += 0.3 * expected[:, 100:] * sim.visual  # a small response to any stimulus
    n_voxels = sim.weights.shape[0]
    percent += ana.ar1_noise(rng, len(images), n_voxels, rho=AR_RHO, sd=NOISE_SD)
    ramp = np.linspace(-0.5, 0.5, len(images), dtype=np.float32)[:, None]
    percent += ramp * rng.normal(0, 1.0, n_voxels).astype(np.float32)
    baseline = (600 + 600 * sim.anat.template).astype(np.float32)
    bold = np.zeros(sim.mask.shape + (len(images),), dtype=np.int16, order="F")
    bold[sim.anat.brain] = ana.to_int16(baseline[sim.anat.brain])[:, None]
    bold[sim.mask] = ana.to_int16(baseline[sim.mask][:, None] * (1 + percent.T / 100))
    return bold


def _write(folder, sim, size):
    affine = sim.affine
    for sub in ("func", "label", "mask"):
        (folder / sub).mkdir()

    def volume(over_mask):
        out = np.zeros(sim.mask.shape, dtype=np.uint8)
        out[sim.mask] = over_mask
        return out

    ana.save_img(sim.mask.astype(np.uint8), affine, folder / "mask" / "mask.nii.gz")
    for name in ROI_NAMES:
        ana.save_img(volume(sim.rois[name]), affine, folder / "mask" / f"{name}.nii.gz")
    ana.save_img(ana.to_int16(1000 * sim.anat.template), affine, folder / "bg.nii.gz")
    for kind, number, images in sim.runs:
        stem = f"data_{kind}_run{number:02d}"
        ana.save_img(_bold(sim, images, sim.rng), affine, folder / "func" / f"{stem}.nii.gz",
                     t_r=T_R)
        rows = images.reshape(len(images), 100, order="F")
        text = "\n".join(",".join(map(str, row)) for row in rows) + "\n"
        (folder / "label" / f"{stem}_label.csv").write_text(text)
    truth = folder / ana.GROUND_TRUTH_DIR
    ana.save_ground_truth(
        truth,
        {"prf_center": sim.center, "prf_size": sim.size, "visual": sim.visual},
        {"hrf_delay": HRF_DELAY, "gain": GAIN, "noise_sd": NOISE_SD, "ar_rho": AR_RHO,
         "t_r": T_R, "size": size, "n_mask_voxels": int(sim.mask.sum()),
         "units": "prf_center: (row, col) in the 10x10 pixel grid, NaN without pRF; "
                  "prf_size: Gaussian sigma in pixels; gain and noise_sd: % signal change",
         "version": VERSION},
    )


def _ground_truth(folder):
    truth = Path(folder) / ana.GROUND_TRUTH_DIR
    out = Bunch(**ana.load_ground_truth(truth))
    out.folder = str(folder)
    return out


def ensure(root, *, size="small", verbose=1):
    """Make sure the simulated Miyawaki dataset exists under ``root``; return its ground truth.

    Parameters
    ----------
    root : str or pathlib.Path
        Folder of the simulated datasets; the data go to ``root/miyawaki2008/``.
    size : {"small", "full"}
        ``"full"``: 5438 mask voxels on a 64x64x30 grid (3 mm); ``"small"``: 2500 mask
        voxels on a 26x21x20 grid (3 mm) around the occipital lobe. Both keep every run and volume.
    verbose : int
        Print a progress line when generating.

    Returns
    -------
    sklearn.utils.Bunch
        In mask order (C order of the mask's voxels): ``prf_center`` (n_voxels, 2) as
        (row, col), NaN for voxels without pRF; ``prf_size`` (n_voxels,), Gaussian sigma in
        pixels; ``visual`` (n_voxels,) bool. Also ``hrf_delay`` (2 volumes), ``gain``,
        ``noise_sd``, ``ar_rho``, ``t_r``, ``n_mask_voxels``, ``folder``.
    """
    size = check_size(size)
    verbose = ana.check_verbose(verbose)
    folder = Path(root) / "miyawaki2008"
    if folder.is_dir() and not ana.is_current(folder / ana.GROUND_TRUTH_DIR / "meta.json",
                                              VERSION):
        ana.discard(folder, verbose)
    if not folder.is_dir():
        ana.say(verbose, f"generating simulated Miyawaki 2008 ({size}) in {folder}")
        sim = _simulate(size)
        with atomic_dir(folder) as tmp:
            _write(tmp, sim, size)
    return _ground_truth(folder)
