"""Simulated stand-in of the Haxby et al. (2001) dataset, with a known ground truth.

The layout is that of the real archive (``haxby2001/subj{N}/bold.nii.gz``, ``labels.txt``,
``mask4_vt.nii.gz``, ``mask8b_face_vt.nii.gz``, ... and ``haxby2001/mask.nii.gz``). The
design is the real one: 8 object categories in blocks of 9 volumes separated by rest, 12
runs of 121 volumes, TR 2.5 s. The BOLD signal is built on the MNI152 anatomy, on the real
grid: voxels of 3.5 x 3.75 x 3.75 mm, affine diag(-3.5, 3.75, 3.75) centred on the origin.
The default size (``"small"``) keeps that grid but only an axial slab of 18 slices
(z = -58 to +6 mm: occipital and ventral temporal cortex, like a partial-coverage
acquisition); ``"full"`` has the real 40 x 64 x 64 field of view.

What is planted (every voxel with a face/house difference is in ``effect_map``):

* every category evokes a visual response in occipital and ventral temporal (VT) grey
  matter, with smooth, voxel-specific category preferences (distributed patterns, about
  0.25 % signal change) in VT and occipital cortex;
* bilateral face-selective voxels in the lateral fusiform gyrus (FFA-like) respond
  ``EFFECT_SIZE`` % more to faces, bilateral house-selective voxels in the medial
  parahippocampal gyrus / collateral sulcus (PPA-like) ``EFFECT_SIZE`` % more to houses;
* noise: spatially smooth (``NOISE_FWHM`` voxels) AR(1) (``AR_RHO``) Gaussian noise of
  ``NOISE_SD`` % of the baseline, per-run offsets and linear drifts.

``ground_truth.effect_map`` is the planted face-minus-house response (% signal change) of
every voxel, zero where nothing was planted; ``face_region`` and ``house_region`` are the
compact selective regions; the masks follow the real ones: ``mask8_*`` ("little") lie
inside ``mask8b_*``, which contain the selective regions.

Measured statistics (subject 2, default size; :func:`measure`, residuals of the block
design with per-run intercepts and linear trends, median over brain voxels) next to
published values for 3 T EPI of similar resolution:

======================================  ==============  ===========================================
statistic                               stand-in        real 3 T EPI (source)
======================================  ==============  ===========================================
voxel size (mm)                         3.5x3.75x3.75   3.5x3.75x3.75 (the real Haxby files)
neighbour correlation of residuals      0.70            about 0.5-0.8 before smoothing, i.e.
(implied FWHM, voxels)                  (1.99)          1.5-2.5 voxels (estimator: Forman 1995)
AR(1) of residuals (TR 2.5 s)           0.32            positive, a few tenths at TR 2-3 s
                                                        (Purdon & Weisskoff 1998; Woolrich 2001)
temporal SNR (mean / std over time)     72              about 50-100 at 3-4 mm, limited by
                                                        physiological noise (Triantafyllou 2005)
face - house effect, face region (%)    1.54            about 0.5-2 % in the FFA / PPA
                                                        (Kanwisher 1997; Epstein & Kanwisher 1998)
======================================  ==============  ===========================================

(The table is checked by ``tests/test_simulate_haxby.py``.) References: Forman et al.
(1995) Magn Reson Med 33:636; Purdon & Weisskoff (1998) Hum Brain Mapp 6:239; Woolrich et
al. (2001) NeuroImage 14:1370; Triantafyllou et al. (2005) NeuroImage 26:243; Kanwisher,
McDermott & Chun (1997) J Neurosci 17:4302; Epstein & Kanwisher (1998) Nature 392:598.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from sklearn.utils import Bunch

from data_fetchers import _registry as reg
from data_fetchers._atomic import atomic_dir, atomic_file, is_writable
from data_fetchers._paths import check_size
from data_fetchers.haxby import check_subject
from data_fetchers.simulate import _anatomy as ana

VERSION = "4"  # bump when the generated data change: older copies are then regenerated
STAMP = f"mlni simulated haxby2001 v{VERSION}"
T_R = reg.HAXBY_T_R
N_RUNS = reg.HAXBY_N_RUNS
N_SCANS_PER_RUN = reg.HAXBY_N_SCANS_PER_RUN
CATEGORIES = reg.HAXBY_CATEGORIES
SUBJECTS = reg.HAXBY_SUBJECTS
BLOCK_LENGTH = 9
LEAD_REST, GAP_REST = 6, 6
# Sub-grids of the real grid (same voxels, same lattice): first voxel and shape.
GRIDS = {
    "full": {"start": (0, 0, 0), "shape": reg.HAXBY_SHAPE},
    "small": {"start": (0, 2, 16), "shape": (40, 52, 18)},
}
# MNI centres (right hemisphere; mirrored for the left) of the planted regions.
FACE_CENTER = (40.0, -52.0, -18.0)  # lateral fusiform gyrus
HOUSE_CENTER = (26.0, -44.0, -10.0)  # medial parahippocampal gyrus / collateral sulcus
PLANTED_RADIUS = 8.0  # mm: the planted selective voxels
LITTLE_RADIUS = 10.0  # mm: mask8_*_vt, the "little" masks
LOCALISER_RADIUS = 14.0  # mm: mask8b_*_vt, larger
EFFECT_SIZE = 1.5  # % signal change: extra response of selective voxels to their category
DISTRIBUTED_SD = 0.25  # % signal change: smooth category preferences in VT and occipital
NOISE_SD = 1.4  # % signal change, marginal std of the noise
NOISE_FWHM = 2.0  # voxels: spatial smoothness of the noise
AR_RHO = 0.35  # lag-1 autocorrelation of the noise
ANAT_SHAPE = (76, 110, 100)  # 2 mm grid of the anatomical image


def grid(size):
    """Affine and shape of the grid of ``size`` ("small" or "full"): part of the real grid."""
    spec = GRIDS[check_size(size)]
    full = ana.grid_affine(reg.HAXBY_VOXEL_SIZE, reg.HAXBY_SHAPE)
    affine = full.copy()
    affine[:3, 3] = full[:3, :3] @ np.asarray(spec["start"], dtype=float) + full[:3, 3]
    return affine, tuple(spec["shape"])


def session_labels(rng):
    """Labels and chunks of the 12 runs: rest, then 8 category blocks separated by rest."""
    labels, chunks = [], []
    for run in range(N_RUNS):
        order = rng.permutation(len(CATEGORIES))
        run_labels = ["rest"] * LEAD_REST
        for i, category in enumerate(order):
            if i:
                run_labels += ["rest"] * GAP_REST
            run_labels += [CATEGORIES[category]] * BLOCK_LENGTH
        run_labels += ["rest"] * (N_SCANS_PER_RUN - len(run_labels))
        labels += run_labels
        chunks += [run] * N_SCANS_PER_RUN
    return np.array(labels), np.array(chunks)


def _regions(anat, coords, rng):
    """VT mask, planted regions and localiser masks, as boolean arrays over brain voxels."""
    x, y, z = coords.T
    gm = anat.gm[anat.brain]
    vt = gm & (np.abs(x) >= 16) & (np.abs(x) <= 56) & (y >= -82) & (y <= -22)
    vt &= (z >= -32) & (z <= -2)
    jitter = rng.normal(0, 2.0, size=(2, 2, 3))  # (category, hemisphere, xyz)
    out = {"vt": vt, "gm": gm, "centers": {}}
    for c, (name, center) in enumerate((("face", FACE_CENTER), ("house", HOUSE_CENTER))):
        centers = np.array([center, center]) * [[1, 1, 1], [-1, 1, 1]] + jitter[c]
        out["centers"][name] = centers
        for key, radius in (("", PLANTED_RADIUS), ("_little", LITTLE_RADIUS),
                            ("_loc", LOCALISER_RADIUS)):
            near = ana.ball(coords, centers[0], radius) | ana.ball(coords, centers[1], radius)
            out[name + key] = vt & near
    out["house"] &= ~out["face"]
    return out


def _betas(anat, coords, regions, rng):
    """Response (% signal change) of every brain voxel to every category, (n_voxels, 8)."""
    y, z = coords[:, 1], coords[:, 2]
    occipital = np.clip((-60 - y) / 20, 0, 1) * (z < 30) * regions["gm"]
    general = 1.0 * occipital + 0.6 * regions["vt"]
    betas = np.repeat(general[:, None], len(CATEGORIES), axis=1)
    visual = regions["vt"] | (occipital > 0)
    preferences = ana.smooth_field(rng, anat.brain, len(CATEGORIES), fwhm=1.5)
    betas += DISTRIBUTED_SD * preferences * visual[:, None]
    betas[regions["face"], CATEGORIES.index("face")] += EFFECT_SIZE
    betas[regions["house"], CATEGORIES.index("house")] += EFFECT_SIZE
    return np.clip(betas, 0, None).astype(np.float32)


def expected_responses(labels, chunks):
    """The 8 category regressors convolved with the HRF, run by run, (n_scans, 8)."""
    onsets = np.stack([labels == c for c in CATEGORIES], axis=1).astype(float)
    return np.concatenate(
        [ana.convolve_hrf(onsets[chunks == r], T_R) for r in np.unique(chunks)]
    ).astype(np.float32)


def _simulate(subject, size):
    affine, shape = grid(size)
    anat = ana.anatomy(affine, shape)
    coords = ana.voxel_coords(affine, anat.brain)
    rng = np.random.default_rng(2001 + 100 * subject)
    labels, chunks = session_labels(rng)
    regions = _regions(anat, coords, rng)
    betas = _betas(anat, coords, regions, rng)
    n_voxels = coords.shape[0]
    percent = expected_responses(labels, chunks) @ betas.T
    percent += ana.smooth_ar1_noise(rng, labels.size, anat.brain, fwhm=NOISE_FWHM, rho=AR_RHO,
                                    sd=NOISE_SD)
    ramp = np.linspace(-0.5, 0.5, N_SCANS_PER_RUN, dtype=np.float32)
    for r in range(N_RUNS):
        offset = rng.normal(0, 0.5, n_voxels).astype(np.float32)
        slope = rng.normal(0, 1.0, n_voxels).astype(np.float32)
        percent[chunks == r] += offset + ramp[:, None] * slope
    baseline = (600 + 600 * anat.template[anat.brain]).astype(np.float32)
    # Fortran order: nibabel writes it without a transposed copy.
    bold = np.zeros(anat.brain.shape + (labels.size,), dtype=np.int16, order="F")
    bold[anat.brain] = ana.to_int16(baseline[:, None] * (1 + percent.T / 100))
    face, house = CATEGORIES.index("face"), CATEGORIES.index("house")
    return Bunch(anat=anat, affine=affine, labels=labels, chunks=chunks, regions=regions,
                 bold=bold, effect=betas[:, face] - betas[:, house])


def _write_subject(folder, subject, size, sim):
    anat, affine = sim.anat, sim.affine

    def volume(mask_over_brain):
        out = np.zeros(anat.brain.shape, dtype=np.uint8)
        out[anat.brain] = mask_over_brain
        return out

    ana.save_img(sim.bold, affine, folder / "bold.nii.gz", t_r=T_R)
    rows = zip(sim.labels, sim.chunks, strict=True)
    lines = ["labels chunks"] + [f"{label} {chunk}" for label, chunk in rows]
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")
    regions = sim.regions
    masks = {"mask_vt": regions["vt"], "mask_face": regions["face_loc"],
             "mask_house": regions["house_loc"], "mask_face_little": regions["face_little"],
             "mask_house_little": regions["house_little"]}
    for key, name in reg.HAXBY_MASKS.items():
        ana.save_img(volume(masks[key]), affine, folder / name)
    if subject != 6:  # the real subject 6 has no anatomical image
        anat_affine = ana.grid_affine((-2.0, 2.0, 2.0), ANAT_SHAPE)
        template = ana.anatomy(anat_affine, ANAT_SHAPE).template
        ana.save_img(ana.to_int16(1000 * template), anat_affine, folder / "anat.nii.gz")
    truth = folder / ana.GROUND_TRUTH_DIR
    truth.mkdir()
    ana.save_img(volume(regions["face"]), affine, truth / "face_region.nii.gz")
    ana.save_img(volume(regions["house"]), affine, truth / "house_region.nii.gz")
    effect = np.zeros(anat.brain.shape, dtype=np.float32)
    effect[anat.brain] = sim.effect
    ana.save_img(effect, affine, truth / "effect_map.nii.gz")
    ana.save_ground_truth(
        truth,
        {"face_centers": regions["centers"]["face"],
         "house_centers": regions["centers"]["house"]},
        {"effect_size": EFFECT_SIZE, "distributed_sd": DISTRIBUTED_SD, "noise_sd": NOISE_SD,
         "noise_fwhm_voxels": NOISE_FWHM, "ar_rho": AR_RHO, "t_r": T_R,
         "subject": subject, "size": size, "categories": list(CATEGORIES),
         "n_face_voxels": int(regions["face"].sum()),
         "n_house_voxels": int(regions["house"].sum()),
         "n_effect_voxels": int(np.count_nonzero(sim.effect)),
         "units": "percent signal change of the voxel's baseline", "version": VERSION},
    )


def _is_stamped(path):
    """Whether ``path`` is an image written by this version of the simulator."""
    try:
        return nib.load(path).header["descrip"].item().decode() == STAMP
    except (OSError, ValueError, nib.filebasedimages.ImageFileError):
        return False


def _ground_truth(folder):
    truth = Path(folder) / ana.GROUND_TRUTH_DIR
    out = Bunch(**ana.load_ground_truth(truth))
    out.face_region = str(truth / "face_region.nii.gz")
    out.house_region = str(truth / "house_region.nii.gz")
    out.effect_map = str(truth / "effect_map.nii.gz")
    out.folder = str(folder)
    return out


def ensure(root, *, subject=2, size="small", verbose=1):
    """Make sure the simulated Haxby subject exists under ``root``; return its ground truth.

    Parameters
    ----------
    root : str or pathlib.Path
        Folder of the simulated datasets (``simulated/<size>/``); the dataset is written
        in ``root/haxby2001/`` at the real archive layout.
    subject : int
        Subject number, 1 to 6 (subject 6 has no ``anat.nii.gz``, as in the real data).
    size : {"small", "full"}
        ``"full"``: the real 40x64x64 grid; ``"small"``: an axial slab of 18 slices of it
        (40x52x18, same voxels and affine lattice). Both keep all 1452 volumes.
    verbose : int
        Print a progress line when generating.

    Returns
    -------
    sklearn.utils.Bunch
        ``face_region``, ``house_region`` (paths of 3D 0/1 images of the selective
        regions), ``effect_map`` (path of the 3D float image of the planted face-minus-house
        response of every voxel, % signal change, zero where nothing is planted),
        ``effect_size``, ``distributed_sd`` and ``noise_sd`` (% signal change),
        ``noise_fwhm_voxels``, ``face_centers`` and
        ``house_centers`` (MNI mm, left then right), ``ar_rho``, ``t_r``, ``folder``.
    """
    subject = check_subject(subject)
    size = check_size(size)
    verbose = ana.check_verbose(verbose)
    base = Path(root) / "haxby2001"
    folder = base / f"subj{subject}"
    if folder.is_dir() and not ana.is_current(folder / ana.GROUND_TRUTH_DIR / "meta.json",
                                              VERSION):
        ana.discard(folder, verbose)
    if not folder.is_dir():
        ana.say(verbose, f"generating simulated Haxby subject {subject} ({size}) in {folder}")
        sim = _simulate(subject, size)
        with atomic_dir(folder) as tmp:
            _write_subject(tmp, subject, size, sim)
    mask = base / "mask.nii.gz"
    if not _is_stamped(mask) and is_writable(base):
        affine, shape = grid(size)
        with atomic_file(mask) as tmp:
            brain = ana.anatomy(affine, shape).brain.astype(np.uint8)
            ana.save_img(brain, affine, tmp, description=STAMP)
    return _ground_truth(folder)


def _residuals(data, labels, chunks):
    """Least-squares fit of the block design plus per-run intercept and linear trend.

    ``data`` is (n_scans, n_voxels); returns the residuals and the 8 category betas
    (in the units of ``data``), (8, n_voxels).
    """
    design = [expected_responses(labels, chunks)]
    for run in np.unique(chunks):
        inside = (chunks == run).astype(np.float32)
        ramp = np.cumsum(inside) * inside
        design += [inside[:, None], ((ramp - ramp[inside > 0].mean()) * inside)[:, None]]
    design = np.hstack(design).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, data, rcond=None)
    return data - design @ coef, coef[: len(CATEGORIES)]


def measure(bold_path, mask_path, labels_path, face_region_path):
    """Measure the statistics of a Haxby recording that the docstring table compares.

    Parameters
    ----------
    bold_path, mask_path, labels_path, face_region_path : str or pathlib.Path
        The 4D BOLD image, the brain mask, ``labels.txt`` and a 3D 0/1 image of the
        face-selective voxels (a planted region, or a face localiser mask on real data).

    Returns
    -------
    dict
        ``voxel_size`` (mm, 3 floats); ``neighbour_r`` (median over brain voxels of the
        correlation of each voxel's residual time series with its neighbour's, averaged
        over the three axes); ``fwhm_voxels`` (``sqrt(-2 ln 2 / ln r)`` per axis, averaged,
        Forman et al. 1995); ``ar1`` (median lag-1 autocorrelation of the residuals,
        within runs); ``tsnr`` (median of mean / std over time of the detrended series);
        ``effect_face_house`` (median over the face region of the face minus house
        response, % of the voxel's mean).
    """
    bold = nib.load(bold_path)
    brain = np.asarray(nib.load(mask_path).dataobj) > 0
    face = (np.asarray(nib.load(face_region_path).dataobj) > 0)[brain]
    rows = [line.split() for line in Path(labels_path).read_text().splitlines()[1:]]
    labels = np.array([r[0] for r in rows])
    chunks = np.array([int(r[1]) for r in rows])
    data = np.asarray(bold.dataobj, dtype=np.float32)
    series = data[brain].T.astype(np.float64)
    residuals, betas = _residuals(series, labels, chunks)
    mean = series.mean(axis=0)
    resid = np.zeros(brain.shape + (labels.size,), dtype=np.float32)
    resid[brain] = residuals.T
    resid /= np.maximum(resid.std(axis=-1, keepdims=True), 1e-12)
    rs = []
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        both = brain[tuple(a)] & brain[tuple(b)]
        r = (resid[tuple(a)][both] * resid[tuple(b)][both]).mean(axis=-1)
        rs.append(float(np.median(r)))
    same_run = chunks[1:] == chunks[:-1]
    z = residuals / residuals.std(axis=0)
    ar1 = (z[1:][same_run] * z[:-1][same_run]).sum(axis=0) / same_run.sum()
    face_col, house_col = CATEGORIES.index("face"), CATEGORIES.index("house")
    effect = 100 * (betas[face_col] - betas[house_col]) / mean
    detrended = residuals + (betas.T @ expected_responses(labels, chunks).T.astype(float)).T
    tsnr = mean / detrended.std(axis=0)
    fwhm = [float(np.sqrt(-2 * np.log(2) / np.log(r))) for r in rs]
    return {
        "voxel_size": [float(v) for v in np.abs(bold.header.get_zooms()[:3])],
        "neighbour_r": float(np.mean(rs)),
        "fwhm_voxels": float(np.mean(fwhm)),
        "ar1": float(np.median(ar1)),
        "tsnr": float(np.median(tsnr)),
        "effect_face_house": float(np.median(effect[face])),
    }
