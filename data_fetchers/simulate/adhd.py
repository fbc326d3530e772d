"""Simulated stand-in of the ADHD-200 resting-state sample (40 subjects), with a known truth.

The layout is that of the real archives: ``adhd/data/{id}/{id}_rest_tshift_RPI_voreg_mni.nii.gz``
(176 volumes, TR 2 s, MNI grid), ``adhd/data/{id}/{id}_regressors.csv`` (tab separated
confounds with a header) and ``adhd/ADHD200_40subs_motion_parameters_and_phenotypics.csv``.
Every subject's BOLD signal (in % of a baseline that follows the MNI152 template) sums:

* 10 resting-state networks: fixed spatial maps (Gaussian blobs at MNI coordinates, inside
  the grey matter) times subject-specific slow time courses (0.01-0.1 Hz);
* 100 spatially compact parcels (k-means on the brain's voxel coordinates) whose voxels
  share a parcel time course;
* nuisance: head motion leaking into the data, physiological (CSF / white-matter)
  fluctuations, a linear drift and AR(1) noise. The regressors file gives the motion
  parameters, CSF and white-matter signals and 5 CompCor components.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial import distance
from sklearn.utils import Bunch

from data_fetchers._atomic import atomic_dir, atomic_file
from data_fetchers._paths import check_size
from data_fetchers.simulate import _anatomy as ana

VERSION = "3"  # bump when the generated data change: older copies are then regenerated
T_R = 2.0
N_SCANS = 176
SUBJECT_IDS = (
    "0010042", "0010064", "0010128", "0021019", "0023008", "0023012", "0027011", "0027018",
    "0027034", "0027037", "1019436", "1206380", "1418396", "1517058", "1552181", "1562298",
    "1679142", "2014113", "2497695", "2950754", "3007585", "3154996", "3205761", "3520880",
    "3624598", "3699991", "3884955", "3902469", "3994098", "4016887", "4046678", "4134561",
    "4164316", "4275075", "6115230", "7774305", "8409791", "8697774", "9744150", "9750701",
)
GRIDS = {  # MNI grids: the real 3 mm one, and a 6 mm one with the same bounding box
    "full": {"voxel_size": 3.0, "shape": (61, 73, 61)},
    "small": {"voxel_size": 6.0, "shape": (31, 37, 31)},
}
ORIGIN = (90.0, -126.0, -72.0)  # world coordinates of voxel (0, 0, 0)
# name -> list of (MNI centre, sigma in mm)
NETWORKS = {
    "default mode": [((0, -54, 28), 9), ((0, 52, -2), 10), ((-46, -66, 32), 8),
                     ((48, -62, 32), 8)],
    "visual": [((0, -84, 4), 11), ((-14, -92, -2), 8), ((14, -92, -2), 8)],
    "sensorimotor": [((-38, -24, 56), 9), ((38, -24, 56), 9), ((0, -14, 60), 8)],
    "auditory": [((-54, -20, 8), 8), ((54, -20, 8), 8)],
    "left fronto-parietal": [((-42, 26, 30), 9), ((-44, -56, 46), 9)],
    "right fronto-parietal": [((42, 26, 30), 9), ((44, -56, 46), 9)],
    "salience": [((0, 22, 36), 8), ((-38, 14, -2), 7), ((38, 14, -2), 7)],
    "dorsal attention": [((-26, -6, 54), 7), ((26, -6, 54), 7), ((-26, -62, 52), 8),
                         ((26, -62, 52), 8)],
    "cerebellum": [((-26, -70, -36), 10), ((26, -70, -36), 10)],
    "basal ganglia": [((-18, 6, 4), 7), ((18, 6, 4), 7)],
}
N_PARCELS = 100
NETWORK_AMPLITUDE = (1.2, 2.0)  # % signal change, drawn per subject and network
PARCEL_AMPLITUDE = 0.35
NOISE_SD = 1.0
AR_RHO = 0.3
CONFOUND_COLUMNS = (
    "csf", "constant", "linearTrend", "wm", "global", "motion-pitch", "motion-roll",
    "motion-yaw", "motion-x", "motion-y", "motion-z", "gm", "compcor1", "compcor2",
    "compcor3", "compcor4", "compcor5",
)
PHENOTYPIC = "ADHD200_40subs_motion_parameters_and_phenotypics.csv"
DESCRIPTION = (
    "Simulated stand-in of the ADHD-200 resting-state sample: 176 volumes (TR 2 s) per "
    "subject on the MNI grid, with 10 planted networks and 100 planted parcels "
    "(see ground_truth)."
)


def check_subject_ids(subject_ids):
    """Validate a list of ADHD-200 subject ids (7-digit strings of the 40-subject release)."""
    if isinstance(subject_ids, (str, bytes)) or not isinstance(subject_ids, (list, tuple)):
        raise TypeError(
            "'subject_ids' must be a list of str subject ids such as ['3902469']. "
            f"Got {type(subject_ids).__name__}: {subject_ids!r}."
        )
    if not subject_ids:
        raise ValueError("'subject_ids' must contain at least one subject id. Got [].")
    for sid in subject_ids:
        if not isinstance(sid, str):
            raise TypeError(
                f"'subject_ids' must contain str ids such as '3902469'. Got "
                f"{type(sid).__name__}: {sid!r}."
            )
        if sid not in SUBJECT_IDS:
            raise ValueError(
                "'subject_ids' must contain ids of the 40-subject ADHD-200 release "
                f"(7 digits, e.g. '3902469'). Got {sid!r}."
            )
    if len(set(subject_ids)) != len(subject_ids):
        raise ValueError(f"'subject_ids' must not repeat an id. Got {list(subject_ids)!r}.")
    return [str(s) for s in subject_ids]


def _kmeans(coords, n_clusters, rng, n_iter=25):
    """Plain deterministic k-means (labels 1..n_clusters) of voxel coordinates."""
    centers = coords[rng.choice(len(coords), size=n_clusters, replace=False)]
    for _ in range(n_iter):
        labels = distance.cdist(coords, centers, "sqeuclidean").argmin(axis=1)
        counts = np.bincount(labels, minlength=n_clusters)
        for d in range(3):
            sums = np.bincount(labels, weights=coords[:, d], minlength=n_clusters)
            centers[:, d] = np.where(counts > 0, sums / np.maximum(counts, 1), centers[:, d])
    return labels + 1


def _shared(size):
    """Anatomy, network maps and parcels (the same for every subject)."""
    grid = GRIDS[size]
    v = grid["voxel_size"]
    affine = np.diag([-v, v, v, 1.0])
    affine[:3, 3] = ORIGIN
    anat = ana.anatomy(affine, grid["shape"])
    coords = ana.voxel_coords(affine, anat.brain)
    gm = anat.gm[anat.brain]
    maps = np.zeros((coords.shape[0], len(NETWORKS)), dtype=np.float32)
    for n, blobs in enumerate(NETWORKS.values()):
        for center, sigma in blobs:
            maps[:, n] = np.maximum(maps[:, n], ana.blob(coords, center, sigma))
    maps *= gm[:, None]
    maps[maps < 0.05] = 0
    rng = np.random.default_rng(200)
    parcels = _kmeans(coords.astype(np.float64), N_PARCELS, rng)
    return Bunch(affine=affine, anat=anat, coords=coords, gm=gm, maps=maps, parcels=parcels)


def _subject(shared, subject_id):
    """BOLD (4D int16), confounds table and network time courses of one subject."""
    rng = np.random.default_rng(int(subject_id) + 7)
    n_vox = shared.coords.shape[0]
    n_net = len(NETWORKS)
    amplitude = rng.uniform(*NETWORK_AMPLITUDE, size=n_net)
    courses = (ana.slow_signals(rng, N_SCANS, n_net, T_R) * amplitude).astype(np.float32)
    percent = courses @ shared.maps.T
    parcel_courses = ana.slow_signals(rng, N_SCANS, N_PARCELS, T_R).astype(np.float32)
    percent += PARCEL_AMPLITUDE * parcel_courses[:, shared.parcels - 1]
    # Head motion: smooth random walks (mm and radians), leaking most at the brain's edge.
    steps = rng.normal(0, 1, (N_SCANS, 6)) * [0.002, 0.002, 0.002, 0.03, 0.03, 0.03]
    motion = np.cumsum(steps, axis=0)
    motion -= motion.mean(axis=0)
    edge = 1 - shared.anat.template[shared.anat.brain]
    leak = rng.normal(0, 1, (6, n_vox)) * edge * np.array([[60], [60], [60], [4], [4], [4]])
    percent += (motion @ leak).astype(np.float32)
    # Physiological fluctuations (CSF- and white-matter-like), broadband.
    physio = rng.normal(0, 1, (N_SCANS, 2))
    loading = np.stack([0.6 * edge, 0.4 * ~shared.gm]) * rng.uniform(0.5, 1.5, (2, n_vox))
    nuisance = (physio @ loading).astype(np.float32)
    percent += nuisance
    percent += ana.ar1_noise(rng, N_SCANS, n_vox, rho=AR_RHO, sd=NOISE_SD)
    ramp = np.linspace(-0.5, 0.5, N_SCANS, dtype=np.float32)[:, None]
    percent += ramp * rng.normal(0, 1.0, n_vox).astype(np.float32)
    baseline = (600 + 600 * shared.anat.template[shared.anat.brain]).astype(np.float32)
    values = baseline * (1 + percent / 100)
    bold = np.zeros(shared.anat.brain.shape + (N_SCANS,), dtype=np.int16, order="F")
    bold[shared.anat.brain] = ana.to_int16(values.T)
    confounds = _confounds(values, motion, physio, shared, rng)
    return bold, confounds, courses, parcel_courses


def _confounds(values, motion, physio, shared, rng):
    """The regressors table: columns of CONFOUND_COLUMNS, (n_scans, 17)."""
    outside_gm = values[:, ~shared.gm].astype(np.float64)
    centred = outside_gm - outside_gm.mean(axis=0)
    centred /= outside_gm.std(axis=0) + 1e-6
    # Principal time courses of the non-grey-matter voxels (eigenvectors of the small
    # time x time matrix), with a fixed sign.
    _, vectors = np.linalg.eigh(centred @ centred.T)
    compcor = vectors[:, ::-1][:, :5]
    compcor *= np.sign(compcor[0] + 1e-12)
    table = {
        "csf": 800 + 8 * physio[:, 0] + rng.normal(0, 1, N_SCANS),
        "constant": np.ones(N_SCANS),
        "linearTrend": np.arange(N_SCANS, dtype=float),
        "wm": 700 + 5 * physio[:, 1] + rng.normal(0, 1, N_SCANS),
        "global": values.mean(axis=1),
        "motion-pitch": motion[:, 0], "motion-roll": motion[:, 1], "motion-yaw": motion[:, 2],
        "motion-x": motion[:, 3], "motion-y": motion[:, 4], "motion-z": motion[:, 5],
        "gm": values[:, shared.gm].mean(axis=1),
    }
    for k in range(5):
        table[f"compcor{k + 1}"] = compcor[:, k]
    return np.stack([table[c] for c in CONFOUND_COLUMNS], axis=1)


def _write_confounds(path, confounds):
    lines = ["\t".join(CONFOUND_COLUMNS)]
    lines += ["\t".join(f"{v:.6g}" for v in row) for row in confounds]
    Path(path).write_text("\n".join(lines) + "\n")


def _phenotypic_text():
    rng = np.random.default_rng(40)
    header = "Subject,RestScan,MeanFD,site,sex,age,handedness,adhd,hyperactive/impulsive," \
             "inattentive"
    rows = [header]
    for sid in SUBJECT_IDS:
        adhd = int(rng.uniform() < 0.5)
        rows.append(",".join([
            str(int(sid)), "1", f"{rng.uniform(0.05, 0.35):.4f}", str(int(rng.integers(1, 6))),
            "M" if rng.uniform() < 0.6 else "F", f"{rng.uniform(7.5, 17.5):.2f}",
            "R" if rng.uniform() < 0.9 else "L", str(adhd),
            str(int(rng.integers(55, 80) if adhd else rng.integers(40, 55))),
            str(int(rng.integers(55, 80) if adhd else rng.integers(40, 55))),
        ]))
    return "\n".join(rows) + "\n"


def _write_shared(folder, shared, size):
    anat = shared.anat

    def volume(over_brain, dtype):
        out = np.zeros(anat.brain.shape + over_brain.shape[1:], dtype=dtype)
        out[anat.brain] = over_brain
        return out

    ana.save_img(volume(shared.maps, np.float32), shared.affine, folder / "networks.nii.gz")
    ana.save_img(volume(shared.parcels, np.int16), shared.affine, folder / "parcels.nii.gz")
    ana.save_img(anat.brain.astype(np.uint8), shared.affine, folder / "brain_mask.nii.gz")
    ana.save_ground_truth(
        folder, {},
        {"network_names": list(NETWORKS), "network_blobs": {k: v for k, v in NETWORKS.items()},
         "n_parcels": N_PARCELS, "network_amplitude": list(NETWORK_AMPLITUDE),
         "parcel_amplitude": PARCEL_AMPLITUDE, "noise_sd": NOISE_SD, "ar_rho": AR_RHO,
         "t_r": T_R, "size": size,
         "units": "amplitudes and noise_sd in % signal change; blobs: (MNI mm centre, sigma mm)",
         "version": VERSION},
    )


def ensure(root, *, subject_ids, size="small", verbose=1):
    """Make sure simulated ADHD subjects exist under ``root``; return the ground truth.

    Parameters
    ----------
    root : str or pathlib.Path
        Folder of the simulated datasets; the data go to ``root/adhd/``.
    subject_ids : list of str
        Subject ids of the 40-subject release (e.g. ``["3902469", "7774305"]``).
    size : {"small", "full"}
        ``"full"``: the real 61x73x61 grid (3 mm); ``"small"``: 31x37x31 (6 mm).
    verbose : int
        Print a progress line per generated subject.

    Returns
    -------
    sklearn.utils.Bunch
        ``networks`` (path of a 4D image, one volume per network), ``network_names``,
        ``time_courses`` (list, per requested subject, of (176, n_networks) arrays in %
        signal change), ``parcels`` (path of a 3D int image, 0 outside the brain),
        ``parcel_time_courses`` (list of (176, 100) arrays, unit variance),
        ``brain_mask`` (path), amplitudes, ``noise_sd``, ``folder``.
    """
    subject_ids = check_subject_ids(subject_ids)
    size = check_size(size)
    verbose = ana.check_verbose(verbose)
    base = Path(root) / "adhd"
    truth = base / ana.GROUND_TRUTH_DIR
    stale = truth.is_dir() and not ana.is_current(truth / "meta.json", VERSION)
    if stale and ana.discard(truth, verbose) and (base / PHENOTYPIC).is_file():
        (base / PHENOTYPIC).unlink(missing_ok=True)
    for sid in subject_ids:
        folder = base / "data" / sid
        if folder.is_dir() and not ana.is_current(
            folder / ana.GROUND_TRUTH_DIR / "meta.json", VERSION
        ):
            ana.discard(folder, verbose)
    missing = [s for s in subject_ids if not (base / "data" / s).is_dir()]
    shared = _shared(size) if missing or not truth.is_dir() else None
    if not truth.is_dir():
        with atomic_dir(truth) as tmp:
            _write_shared(tmp, shared, size)
    if not (base / PHENOTYPIC).is_file():
        with atomic_file(base / PHENOTYPIC) as tmp:
            tmp.write_text(_phenotypic_text())
    for i, sid in enumerate(missing):
        ana.say(verbose, f"generating simulated ADHD subject {sid} ({size}, "
                         f"{i + 1}/{len(missing)}) in {base / 'data'}")
        bold, confounds, courses, parcel_courses = _subject(shared, sid)
        with atomic_dir(base / "data" / sid) as tmp:
            ana.save_img(bold, shared.affine, tmp / f"{sid}_rest_tshift_RPI_voreg_mni.nii.gz",
                         t_r=T_R)
            _write_confounds(tmp / f"{sid}_regressors.csv", confounds)
            ana.save_ground_truth(tmp / ana.GROUND_TRUTH_DIR,
                                  {"time_courses": courses, "parcel_time_courses": parcel_courses},
                                  {"subject": sid, "version": VERSION})
    out = Bunch(**ana.load_ground_truth(truth))
    out.networks = str(truth / "networks.nii.gz")
    out.parcels = str(truth / "parcels.nii.gz")
    out.brain_mask = str(truth / "brain_mask.nii.gz")
    subject_truth = [ana.load_ground_truth(base / "data" / s / ana.GROUND_TRUTH_DIR)
                     for s in subject_ids]
    out.time_courses = [t["time_courses"] for t in subject_truth]
    out.parcel_time_courses = [t["parcel_time_courses"] for t in subject_truth]
    out.subject_ids = subject_ids
    out.folder = str(base)
    return out

