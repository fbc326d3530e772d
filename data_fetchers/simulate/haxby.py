"""Simulated stand-in of the Haxby et al. (2001) dataset, with a known ground truth.

The layout is that of the real archive (``haxby2001/subj{N}/bold.nii.gz``, ``labels.txt``,
``mask4_vt.nii.gz``, ``mask8_face_vt.nii.gz``, ... and ``haxby2001/mask.nii.gz``). A
block design of 8 object categories (12 runs of 121 volumes, TR 2.5 s) drives a BOLD
signal built on the MNI152 anatomy:

* every category evokes a general visual response in occipital and ventral temporal
  cortex, plus weak voxel-specific (distributed) category preferences in ventral temporal
  (VT) cortex;
* bilateral face-selective voxels in the lateral fusiform gyrus respond more to faces, and
  bilateral house-selective voxels in the medial parahippocampal gyrus / collateral sulcus
  respond more to houses (the planted ground truth);
* each voxel has a baseline intensity, a per-run offset and linear drift, and AR(1) noise.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import nibabel as nib
import numpy as np
from sklearn.utils import Bunch

from data_fetchers._atomic import atomic_dir, atomic_file, is_writable
from data_fetchers._paths import check_size
from data_fetchers.simulate import _anatomy as ana

VERSION = "3"  # bump when the generated data change: older copies are then regenerated
STAMP = f"mlni simulated haxby2001 v{VERSION}"
T_R = 2.5
N_RUNS = 12
N_SCANS_PER_RUN = 121
BLOCK_LENGTH = 9
LEAD_REST, GAP_REST = 6, 6
CATEGORIES = ("bottle", "cat", "chair", "face", "house", "scissors", "scrambledpix", "shoe")
SUBJECTS = (1, 2, 3, 4, 5, 6)
GRIDS = {
    # Real dimensions and voxel size; the centre of the grid sits at the MNI origin, which
    # reproduces the real affine diag(-3.5, 3.75, 3.75) + (68.25, -118.125, -118.125).
    "full": {"voxel_size": (-3.5, 3.75, 3.75), "shape": (40, 64, 64)},
    "small": {"voxel_size": (-5.25, 5.625, 5.625), "shape": (27, 43, 43)},
}
# MNI centres (right hemisphere; mirrored for the left) of the planted regions.
FACE_CENTER = (40.0, -52.0, -18.0)  # lateral fusiform gyrus
HOUSE_CENTER = (26.0, -44.0, -10.0)  # medial parahippocampal gyrus / collateral sulcus
PLANTED_RADIUS = 8.0  # mm: the planted selective voxels
LOCALISER_RADIUS = 14.0  # mm: mask8_*_vt, larger than the planted regions
LITTLE_RADIUS = 10.0  # mm: mask8b_*_vt
EFFECT_SIZE = 2.4  # % signal change: extra response of selective voxels to their category
NOISE_SD = 1.6  # % signal change, marginal std of the AR(1) noise
AR_RHO = 0.4
ANAT_SHAPE = (76, 110, 100)  # 2 mm grid of the anatomical image
DESCRIPTION = (
    "Simulated stand-in of Haxby et al. (2001), subject {subject}: 12 runs x 121 volumes "
    "(TR 2.5 s), 8 categories in blocks; face- and house-selective voxels planted in "
    "ventral temporal cortex (see ground_truth)."
)


def check_subject(subject):
    """Validate a Haxby subject number (an int from 1 to 6)."""
    if isinstance(subject, bool) or not isinstance(subject, numbers.Integral):
        raise TypeError(
            f"'subject' must be an int from 1 to 6. Got {type(subject).__name__}: {subject!r}."
        )
    if int(subject) not in SUBJECTS:
        raise ValueError(f"'subject' must be an int from 1 to 6. Got {subject!r}.")
    return int(subject)


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
    out = {"vt": vt, "centers": {}}
    for c, (name, center) in enumerate((("face", FACE_CENTER), ("house", HOUSE_CENTER))):
        centers = np.array([center, center]) * [[1, 1, 1], [-1, 1, 1]] + jitter[c]
        out["centers"][name] = centers
        for key, radius in (("", PLANTED_RADIUS), ("_loc", LOCALISER_RADIUS),
                            ("_little", LITTLE_RADIUS)):
            near = ana.ball(coords, centers[0], radius) | ana.ball(coords, centers[1], radius)
            out[name + key] = vt & near
    out["house"] &= ~out["face"]
    return out


def _betas(coords, regions, rng):
    """Response (% signal change) of every brain voxel to every category, (n_voxels, 8)."""
    x, y, z = coords.T
    n = coords.shape[0]
    occipital = np.clip((-60 - y) / 20, 0, 1) * (z < 30)
    general = 1.2 * occipital + 0.8 * regions["vt"]
    betas = np.repeat(general[:, None], len(CATEGORIES), axis=1)
    distributed = rng.normal(0, 0.3, size=(n, len(CATEGORIES)))
    betas += distributed * (regions["vt"] | (occipital > 0))[:, None]
    betas[regions["face"], CATEGORIES.index("face")] += EFFECT_SIZE
    betas[regions["house"], CATEGORIES.index("house")] += EFFECT_SIZE
    return np.clip(betas, 0, None).astype(np.float32)


def _simulate(subject, size):
    grid = GRIDS[size]
    affine = ana.grid_affine(grid["voxel_size"], grid["shape"])
    anat = ana.anatomy(affine, grid["shape"])
    coords = ana.voxel_coords(affine, anat.brain)
    rng = np.random.default_rng(2001 + 100 * subject)
    labels, chunks = session_labels(rng)
    regions = _regions(anat, coords, rng)
    betas = _betas(coords, regions, rng)

    onsets = np.stack([labels == c for c in CATEGORIES], axis=1).astype(float)
    expected = np.concatenate(
        [ana.convolve_hrf(onsets[chunks == r], T_R) for r in range(N_RUNS)]
    ).astype(np.float32)
    n_voxels = coords.shape[0]
    percent = expected @ betas.T
    percent += ana.ar1_noise(rng, labels.size, n_voxels, rho=AR_RHO, sd=NOISE_SD)
    ramp = np.linspace(-0.5, 0.5, N_SCANS_PER_RUN, dtype=np.float32)
    for r in range(N_RUNS):
        offset = rng.normal(0, 0.5, n_voxels).astype(np.float32)
        slope = rng.normal(0, 1.0, n_voxels).astype(np.float32)
        percent[chunks == r] += offset + ramp[:, None] * slope
    baseline = (600 + 600 * anat.template[anat.brain]).astype(np.float32)
    # Fortran order: nibabel writes it without a transposed copy.
    bold = np.zeros(anat.brain.shape + (labels.size,), dtype=np.int16, order="F")
    bold[anat.brain] = ana.to_int16(baseline[:, None] * (1 + percent.T / 100))
    return Bunch(anat=anat, affine=affine, labels=labels, chunks=chunks, regions=regions,
                 bold=bold)


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
    reg = sim.regions
    for name, mask in (("mask4_vt", reg["vt"]), ("mask8_face_vt", reg["face_loc"]),
                       ("mask8_house_vt", reg["house_loc"]),
                       ("mask8b_face_vt", reg["face_little"]),
                       ("mask8b_house_vt", reg["house_little"])):
        ana.save_img(volume(mask), affine, folder / f"{name}.nii.gz")
    if subject != 6:  # the real subject 6 has no anatomical image
        anat_affine = ana.grid_affine((-2.0, 2.0, 2.0), ANAT_SHAPE)
        template = ana.anatomy(anat_affine, ANAT_SHAPE).template
        ana.save_img(ana.to_int16(1000 * template), anat_affine, folder / "anat.nii.gz")
    truth = folder / ana.GROUND_TRUTH_DIR
    truth.mkdir()
    ana.save_img(volume(reg["face"]), affine, truth / "face_region.nii.gz")
    ana.save_img(volume(reg["house"]), affine, truth / "house_region.nii.gz")
    ana.save_ground_truth(
        truth,
        {"face_centers": reg["centers"]["face"], "house_centers": reg["centers"]["house"]},
        {"effect_size": EFFECT_SIZE, "noise_sd": NOISE_SD, "ar_rho": AR_RHO, "t_r": T_R,
         "subject": subject, "size": size, "categories": list(CATEGORIES),
         "n_face_voxels": int(reg["face"].sum()), "n_house_voxels": int(reg["house"].sum()),
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
        ``"full"``: the real 40x64x64 grid; ``"small"``: a 27x43x43 grid (about 5.5 mm
        voxels). Both keep all 1452 volumes.
    verbose : int
        Print a progress line when generating.

    Returns
    -------
    sklearn.utils.Bunch
        ``face_region``, ``house_region`` (paths of 3D 0/1 images of the planted voxels),
        ``effect_size`` and ``noise_sd`` (% signal change), ``face_centers`` and
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
        grid = GRIDS[size]
        affine = ana.grid_affine(grid["voxel_size"], grid["shape"])
        with atomic_file(mask) as tmp:
            brain = ana.anatomy(affine, grid["shape"]).brain.astype(np.uint8)
            ana.save_img(brain, affine, tmp, description=STAMP)
    return _ground_truth(folder)
