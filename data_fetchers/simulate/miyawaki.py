"""Simulated stand-in of the Miyawaki et al. (2008) dataset, with a known ground truth.

The layout is that of the real archive: ``miyawaki2008/func/data_{random|figure}_runNN.nii.gz``,
``label/data_{random|figure}_runNN_label.csv``, ``mask/mask.nii.gz`` with the 38 ROI masks,
and ``bg.nii.gz``; run counts, file names, TR and image size come from
:mod:`data_fetchers._registry`. Visual-cortex voxels (the mask) have Gaussian population
receptive fields (pRFs) laid out retinotopically on the MNI152 anatomy:

* the left hemisphere sees the right half of the 10x10 image and vice versa; the cortex
  above the calcarine sulcus (dorsal) sees the lower half, below it (ventral) the upper half;
* eccentricity grows from the occipital pole forwards with the cortical magnification of
  Horton & Hoyt (1991), M(E) = 17.3 / (E + 0.75) mm per degree: the cortical distance from the
  foveal representation is 17.3 ln(1 + E / 0.75) mm, so the central pixels get many more
  voxels than the periphery;
* V1, V2 and V3/VP form bands around the calcarine with mirrored polar-angle maps; pRF size
  grows linearly with eccentricity and from V1 to V3 (Dumoulin & Wandell 2008, NeuroImage
  39:647); the slopes are ours. Some mask voxels have no pRF and carry only noise.

Design (Miyawaki et al. 2008, Neuron 60:915): in the random-image runs each random image
(half of its pixels on) is shown for 6 s (3 volumes at TR 2 s) and followed by 6 s of rest;
22 images per run (440 over the 20 runs, each shown once), the remaining volumes of the run
being rest at its start and end. Figure runs show geometric figures and the letters of
"neuron" in blocks separated by rest. Labels are -1 for every pixel during rest.

A voxel's BOLD signal, in % of its baseline, is its own gain times the fraction of its pRF
covered by "on" pixels (the Gaussian integrated over each pixel; the part outside the image
sees only the grey screen), plus a small response to any image, convolved with a double-gamma
haemodynamic response that peaks about 2 volumes after the stimulus, plus a linear drift and
noise that is smooth in space (Gaussian, FWHM ``NOISE_FWHM`` voxels) and AR(1) in time, plus
an independent (thermal) part. The noise (1 % of the baseline, a temporal SNR of about 100)
is a setting, not a published property of these data; the gain (``GAIN``) was tuned so that
the l1 and l2 logistic regressions of Abraham et al. (2014, Table 1) score about as in the
paper, averaged over the 100 pixels. The chapters say so: on this stand-in, Table 1 cannot
confirm the paper's accuracies, only the shape of its curves and the ranking of the models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import special
from sklearn.utils import Bunch

from data_fetchers import _registry as reg
from data_fetchers._atomic import atomic_dir
from data_fetchers._paths import check_size
from data_fetchers.simulate import _anatomy as ana

VERSION = "4"  # bump when the generated data change: older copies are then regenerated
T_R = reg.MIYAWAKI_T_R
N_SCANS = reg.MIYAWAKI_N_SCANS
IMAGE_SHAPE = reg.MIYAWAKI_IMAGE_SHAPE
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
ROI_NAMES = reg.MIYAWAKI_ROI_NAMES
RUNS = reg.MIYAWAKI_RUNS
IMAGE_SCANS, REST_SCANS = 3, 3  # 6 s image, 6 s rest (Miyawaki et al. 2008)
IMAGES_PER_RUN = 22  # 440 random images over 20 runs
RANDOM_LEAD = 8  # rest volumes before the first image; the rest of the run ends it
HRF_DELAY = 2  # volumes
GRIDS = {
    "full": {"shape": (64, 64, 30), "center": (0.0, -40.0, 8.5),
             "n_voxels": reg.MIYAWAKI_N_MASK_VOXELS},
    # A crop around the occipital lobe; under 16k voxels so that the constant voxels
    # outside the mask compress well (one volume fits gzip's window).
    "small": {"shape": (26, 21, 20), "center": (0.0, -78.0, 9.0), "n_voxels": 2500},
}
VOXEL_SIZE = (-3.0, 3.0, 3.0)
AREA_SIZE_FACTOR = (1.0, 1.4, 2.0)  # pRF size of V1, V2, V3/VP relative to V1
PRF_SIZE_FOVEA, PRF_SIZE_SLOPE = 0.3, 0.1  # V1 pRF sigma (pixels) = 0.3 + 0.1 eccentricity
LAG_BANDS = [(a, a + 1) for a in range(11)]  # eccentricity bands of the lag ROIs, degrees
DEGREES_PER_PIXEL = 1.2  # the real stimulus spans 12 x 12 degrees
MAGNIFICATION_A, MAGNIFICATION_K = 0.75, 17.3  # Horton & Hoyt (1991): K / (E + A) mm/degree
POLE_Y = -104.0  # MNI y (mm) of the foveal representation at the occipital pole
GAIN = 3.5  # median % signal change for a pRF fully covered by "on" pixels
GAIN_SPREAD = 0.4  # voxel gains are log-normal with this sigma
ANY_IMAGE_GAIN = 0.3  # % signal change to any image, in visual voxels
NOISE_SD = 1.0  # % signal change, all noise together
NOISE_SMOOTH_SHARE = 0.6  # share of the noise variance that is spatially smooth
NOISE_FWHM = 2.0  # voxels (6 mm)
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
    "Simulated stand-in of Miyawaki et al. (2008): 20 runs of random 10x10 images (6 s image, "
    "6 s rest) and 12 runs of figures (145 volumes each, TR 2 s); visual-cortex voxels with "
    "retinotopic population receptive fields (see ground_truth)."
)


def figure_image(name):
    """The 10x10 binary image (int8, row 0 at the top) of one test figure."""
    return np.array([[ch == "#" for ch in row] for row in FIGURES[name]], dtype=np.int8)


def _random_run(rng):
    """Images (n_scans, 10, 10) of one random run, -1 everywhere during rest.

    ``RANDOM_LEAD`` rest volumes, then 22 blocks of one balanced random image (exactly 50
    pixels on) for ``IMAGE_SCANS`` volumes followed by ``REST_SCANS`` of rest, then rest.
    """
    images = -np.ones((N_SCANS, N_PIXELS), dtype=np.int8)
    block = IMAGE_SCANS + REST_SCANS
    for i in range(IMAGES_PER_RUN):
        pixels = np.zeros(N_PIXELS, dtype=np.int8)
        pixels[rng.choice(N_PIXELS, size=N_PIXELS // 2, replace=False)] = 1
        start = RANDOM_LEAD + i * block
        images[start : start + IMAGE_SCANS] = pixels
    return images.reshape(N_SCANS, *IMAGE_SHAPE)


def _figure_run(rng):
    names = list(FIGURES)
    images = [-np.ones((FIGURE_LEAD, *IMAGE_SHAPE), dtype=np.int8)]
    for k in rng.permutation(len(names)):
        images.append(np.repeat(figure_image(names[k])[None], FIGURE_ON, axis=0))
        images.append(-np.ones((FIGURE_OFF, *IMAGE_SHAPE), dtype=np.int8))
    return np.concatenate(images)


def _calcarine_z(y):
    """Height (mm, MNI) of the calcarine sulcus along y: rises slightly forwards."""
    return 2.0 + 0.15 * (y - POLE_Y)


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


def eccentricity_at(distance):
    """Eccentricity (degrees) represented ``distance`` mm of cortex away from the fovea.

    The integral of Horton & Hoyt's (1991) magnification M(E) = K / (E + A) gives a
    distance K ln(1 + E / A); this is its inverse.
    """
    return MAGNIFICATION_A * np.expm1(np.asarray(distance, dtype=float) / MAGNIFICATION_K)


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
    # Eccentricity grows forwards from the occipital pole, with cortical magnification.
    distance = np.clip(y - POLE_Y, 0, None) + np.abs(rng.normal(0, 1.5, n))
    ecc = eccentricity_at(distance) / DEGREES_PER_PIXEL  # pixels
    hemifield = np.where(x < 0, 1.0, -1.0)  # left hemisphere -> right visual field
    vertical = np.where(dz > 0, 1.0, -1.0)  # dorsal -> lower visual field (larger rows)
    center = np.stack(
        [4.5 + vertical * ecc * np.sin(angle), 4.5 + hemifield * ecc * np.cos(angle)], axis=1
    )
    size_factor = np.array([*AREA_SIZE_FACTOR, 2.5])[area]
    size = (PRF_SIZE_FOVEA + PRF_SIZE_SLOPE * ecc) * size_factor
    visual = (area < 3) & (np.abs(center - 4.5).max(axis=1) < 6.0) & (rng.uniform(size=n) > 0.15)
    center[~visual] = np.nan
    size[~visual] = np.nan
    return center, size, area, ecc, dz > 0, visual


def _prf_weights(center, size):
    """Share of each Gaussian pRF that falls on each of the 100 pixels, (n_voxels, 100), F order.

    The Gaussian is integrated over each pixel's square, so a small pRF between two pixels
    is shared between them, and the part of a pRF that lies outside the image (where the
    screen stays grey) is lost: a row sums to less than 1 for peripheral pRFs.
    """
    rows, cols = np.meshgrid(*map(np.arange, IMAGE_SHAPE), indexing="ij")
    pix = np.stack([rows.ravel(order="F"), cols.ravel(order="F")], axis=1)
    low = (pix[None] - 0.5 - center[:, None, :]) / size[:, None, None]
    high = (pix[None] + 0.5 - center[:, None, :]) / size[:, None, None]
    return (special.ndtr(high) - special.ndtr(low)).prod(axis=2)


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
    gain = np.where(visual, GAIN * np.exp(rng.normal(0, GAIN_SPREAD, len(coords))), 0.0)
    weights = np.zeros((coords.shape[0], N_PIXELS))
    weights[visual] = _prf_weights(center[visual], size_px[visual])
    runs = [(kind, number, _random_run(rng) if kind == "random" else _figure_run(rng))
            for kind, number in sorted(RUNS, key=lambda run: run[0] == "figure")]
    return Bunch(affine=affine, anat=anat, mask=mask, center=center, size=size_px, gain=gain,
                 visual=visual, weights=(weights * gain[:, None]).astype(np.float32), runs=runs,
                 rois=_rois(coords, area, ecc, dorsal), rng=rng)


def _bold(sim, images, rng):
    """4D int16 BOLD of one run from its images (n_scans, 10, 10)."""
    pixels = images.reshape(len(images), N_PIXELS, order="F").astype(np.float32)
    on = (pixels[:, :1] >= 0).astype(np.float32)
    # The response is linear in the stimulus: convolve the 100 pixels (and the "any
    # image" regressor) once, then project through the pRFs (weights include the gains).
    expected = ana.convolve_hrf(np.hstack([np.clip(pixels, 0, None), on]), T_R)
    expected = expected.astype(np.float32)
    percent = expected[:, :N_PIXELS] @ sim.weights.T
    percent += ANY_IMAGE_GAIN * expected[:, N_PIXELS:] * sim.visual
    n_voxels = sim.weights.shape[0]
    smooth_sd = NOISE_SD * np.sqrt(NOISE_SMOOTH_SHARE)
    percent += ana.smooth_noise(rng, sim.mask, len(images), fwhm=NOISE_FWHM, rho=AR_RHO,
                                sd=smooth_sd)
    white_sd = NOISE_SD * np.sqrt(1 - NOISE_SMOOTH_SHARE)
    percent += ana.ar1_noise(rng, len(images), n_voxels, rho=AR_RHO, sd=white_sd)
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
        stem = reg.miyawaki_run_stem(kind, number)
        ana.save_img(_bold(sim, images, sim.rng), affine, folder / "func" / f"{stem}.nii.gz",
                     t_r=T_R)
        rows = images.reshape(len(images), N_PIXELS, order="F")
        text = "\n".join(",".join(map(str, row)) for row in rows) + "\n"
        (folder / "label" / f"{stem}_label.csv").write_text(text)
    truth = folder / ana.GROUND_TRUTH_DIR
    ana.save_ground_truth(
        truth,
        {"prf_center": sim.center, "prf_size": sim.size, "prf_gain": sim.gain,
         "visual": sim.visual},
        {"hrf_delay": HRF_DELAY, "gain": GAIN, "noise_sd": NOISE_SD, "ar_rho": AR_RHO,
         "noise_fwhm_voxels": NOISE_FWHM, "noise_smooth_share": NOISE_SMOOTH_SHARE,
         "image_scans": IMAGE_SCANS, "rest_scans": REST_SCANS,
         "t_r": T_R, "size": size, "n_mask_voxels": int(sim.mask.sum()),
         "units": "prf_center: (row, col) in the 10x10 pixel grid, NaN without pRF; "
                  "prf_size: Gaussian sigma in pixels; prf_gain, gain and noise_sd: % signal "
                  "change (gain: median of prf_gain)",
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
        pixels; ``prf_gain`` (n_voxels,), % signal change for a fully covered pRF (0 without
        pRF); ``visual`` (n_voxels,) bool. Also ``hrf_delay`` (2 volumes), ``gain`` (median of
        ``prf_gain``), ``noise_sd``, ``noise_fwhm_voxels``, ``noise_smooth_share``, ``ar_rho``,
        ``image_scans``, ``rest_scans``, ``t_r``, ``n_mask_voxels``, ``folder``.
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
