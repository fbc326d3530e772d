"""Simulated stand-in of the ADHD-200 resting-state sample (40 subjects), with a known truth.

The layout is that of the real archives: ``adhd/data/{id}/{id}_rest_tshift_RPI_voreg_mni.nii.gz``
(MNI grid, TR 2 s), ``adhd/data/{id}/{id}_regressors.csv`` (tab-separated confounds with a
header) and the phenotypic table; ids, TR and file names come from :mod:`data_fetchers._registry`.
Both sizes use 3 mm voxels, as the release does: ``"full"`` is the release's 61 x 73 x 61
grid with 176 volumes; ``"small"`` (the default) keeps 100 volumes and crops the field of
view to the brain's left-right and front-back extent and to a slab of 23 axial slices (z from
-12 to 54 mm, like a partial-brain acquisition: the cerebellum, the bottom of the temporal
lobes and the top of the brain are outside), to fit the course's time budget.

Each subject's BOLD signal, in % of a baseline that follows the MNI152 template, sums
(numbers are the simulator's settings; the sources say what real data show):

* **16 network sources**: 12 large-scale networks (Gaussian blobs at MNI coordinates of
  the classic resting-state networks, Smith et al. 2009 PNAS; grey matter only), three
  sub-networks (anterior and posterior default mode, primary visual) whose own time
  courses add to their parent's, and one "language" network that overlaps the auditory
  and left fronto-parietal ones. Time courses are band-limited to 0.01-0.1 Hz (Biswal et
  al. 1995 MRM; Cordes et al. 2001 AJNR); the dorsal attention and salience networks are
  anti-correlated with the default mode network (r = -0.5 and -0.3; Fox et al. 2005 PNAS
  report negative correlations of this order between these systems). Peak amplitude: a
  standard deviation of 0.6-1.2 % of the signal, drawn per subject and network (the
  amplitude of low-frequency fluctuations in grey matter is about 1-2 % of the signal at
  1.5-3 T: Biswal et al. 1995; Zang et al. 2007 Brain Dev).
* **Parcels with their own time courses**: a warped, weighted Voronoi tessellation of the
  brain (100 regions of unequal sizes with irregular borders, not a k-means of voxel
  coordinates); every voxel of a parcel carries the parcel's slow time course (0.5 %).
* **Structured noise**, all described by the confounds file: head motion (6 rigid-body
  parameters, random walks with a few jerks; framewise displacement about 0.1-0.3 mm, the
  range Power et al. 2012 NeuroImage report for children and young adults) leaking into
  the signal through the image's intensity gradient, so mostly at the brain's edge; a
  broadband CSF signal (3 %, ventricles and the brain's border: cardiac and respiratory
  pulsation aliased at TR 2 s, Birn 2012 NeuroImage), a slow white-matter signal (0.5 %)
  and a global signal (0.3 %).
* **Thermal and physiological noise**: Gaussian, AR(1) in time (rho 0.3) and spatially
  smooth (FWHM 5 mm, a face-neighbour correlation of about 0.6 before signals are added;
  our estimate for unsmoothed 3 mm EPI resampled to MNI space, whose intrinsic smoothness
  is 1.5-2 voxels: we know of no single published value of the neighbour correlation),
  1.2 % standard deviation, plus a linear drift. Together with the sources above the
  temporal signal-to-noise ratio in grey matter is about 40-70, as at 3 T with 3 mm voxels
  (Triantafyllou et al. 2005 NeuroImage).

The planted maps, parcels, tissue weights and every time course are saved as ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.utils import Bunch

from data_fetchers import _registry
from data_fetchers._atomic import atomic_dir, atomic_file
from data_fetchers._paths import check_size
from data_fetchers.simulate import _anatomy as ana

VERSION = "4"  # bump when the generated data change: older copies are then regenerated
GRIDS = {  # 3 mm MNI grids: the release's, and a slab of 23 slices (z from -12 to 54 mm)
    "full": {"shape": (61, 73, 61), "origin": (90.0, -126.0, -72.0),
             "n_scans": _registry.ADHD_N_SCANS},
    "small": {"shape": (49, 60, 23), "origin": (72.0, -105.0, -12.0), "n_scans": 100},
}
VOXEL_SIZE = 3.0
# name -> list of (MNI centre, sigma in mm)
NETWORKS = {
    "default mode": [((0, -54, 28), 9), ((0, 52, -2), 10), ((-46, -66, 32), 8),
                     ((48, -62, 32), 8)],
    "visual": [((0, -84, 4), 11), ((-14, -92, -2), 8), ((14, -92, -2), 8)],
    "lateral visual": [((-44, -74, -4), 8), ((44, -74, -4), 8)],
    "sensorimotor": [((-38, -24, 56), 9), ((38, -24, 56), 9), ((0, -14, 60), 8)],
    "auditory": [((-54, -20, 8), 8), ((54, -20, 8), 8)],
    "left fronto-parietal": [((-42, 26, 30), 9), ((-44, -56, 46), 9)],
    "right fronto-parietal": [((42, 26, 30), 9), ((44, -56, 46), 9)],
    "salience": [((0, 22, 36), 8), ((-38, 14, -2), 7), ((38, 14, -2), 7)],
    "dorsal attention": [((-26, -6, 54), 7), ((26, -6, 54), 7), ((-26, -62, 52), 8),
                         ((26, -62, 52), 8)],
    "cerebellum": [((-26, -70, -36), 10), ((26, -70, -36), 10)],
    "basal ganglia": [((-18, 6, 4), 7), ((18, 6, 4), 7)],
    "language": [((-50, 16, 10), 8), ((-54, -40, 14), 8)],
}
# Sub-networks: (name, parent, indices of the parent's blobs) with a time course of their own.
SUBNETWORKS = (
    ("default mode (anterior)", "default mode", (1,)),
    ("default mode (posterior)", "default mode", (0, 2, 3)),
    ("visual (primary)", "visual", (1, 2)),
)
SUBNETWORK_WEIGHT = 0.7  # amplitude of a sub-network's own course, relative to its parent
ANTICORRELATED = {"dorsal attention": -0.5, "salience": -0.3}  # correlation with the DMN
N_PARCELS = 100
NETWORK_AMPLITUDE = (0.6, 1.2)  # % signal change (std at the peak), per subject and network
PARCEL_AMPLITUDE = 0.5
NOISE_SD = 1.2
NOISE_FWHM = 5.0  # mm
AR_RHO = 0.3
CSF_AMPLITUDE = 3.0
WM_AMPLITUDE = 0.5
GLOBAL_AMPLITUDE = 0.3
CONFOUND_COLUMNS = (
    "csf", "constant", "linearTrend", "wm", "global", "motion-pitch", "motion-roll",
    "motion-yaw", "motion-x", "motion-y", "motion-z", "gm", "compcor1", "compcor2",
    "compcor3", "compcor4", "compcor5",
)
DESCRIPTION = (
    "Simulated stand-in of the ADHD-200 resting-state sample: 3 mm voxels, TR 2 s, "
    "16 planted network sources, 100 planted parcels, motion and physiological noise "
    "described by the confounds file (see ground_truth)."
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
        if sid not in _registry.ADHD_SORTED_IDS:
            raise ValueError(
                "'subject_ids' must contain ids of the 40-subject ADHD-200 release "
                f"(7 digits, e.g. '3902469'). Got {sid!r}."
            )
    if len(set(subject_ids)) != len(subject_ids):
        raise ValueError(f"'subject_ids' must not repeat an id. Got {list(subject_ids)!r}.")
    return [str(s) for s in subject_ids]


def grid_affine(size):
    """Affine of the 3 mm grid of a given size (radiological x axis, as the release)."""
    affine = np.diag([-VOXEL_SIZE, VOXEL_SIZE, VOXEL_SIZE, 1.0])
    affine[:3, 3] = GRIDS[size]["origin"]
    return affine


def _parcels(anat, affine, rng):
    """Warped, weighted Voronoi parcels of the brain (labels 1..N_PARCELS over the brain).

    Voxel coordinates are displaced by a smooth random field (std 6 mm, correlation length
    about 12 mm) so that borders are irregular, and each seed gets a random additive weight
    (0-8 mm) so that parcels have unequal sizes. A seed left without voxels is dropped
    and the labels renumbered, so they run from 1 to the number of parcels kept.
    """
    shape = anat.brain.shape
    field = np.stack([ndimage.gaussian_filter(rng.standard_normal(shape), 4.0)
                      for _ in range(3)])
    field *= 6.0 / field[:, anat.brain].std()
    coords = ana.voxel_coords(affine, anat.brain) + field[:, anat.brain].T
    seeds = coords[rng.choice(len(coords), size=N_PARCELS, replace=False)]
    weights = rng.uniform(0, 8, N_PARCELS)
    labels = np.empty(len(coords), dtype=np.int16)
    for start in range(0, len(coords), 8192):
        chunk = coords[start:start + 8192]
        dist = np.sqrt(((chunk[:, None, :] - seeds[None]) ** 2).sum(axis=-1)) - weights
        labels[start:start + 8192] = dist.argmin(axis=1) + 1
    _, labels = np.unique(labels, return_inverse=True)
    return (labels + 1).astype(np.int16)


def _shared(size):
    """Anatomy, source maps, tissue weights, motion gradients and parcels (all subjects)."""
    affine = grid_affine(size)
    anat = ana.anatomy(affine, GRIDS[size]["shape"])
    coords = ana.voxel_coords(affine, anat.brain)
    gm = anat.gm[anat.brain]
    names = list(NETWORKS) + [name for name, _, _ in SUBNETWORKS]
    blobs = list(NETWORKS.values()) + [[NETWORKS[parent][i] for i in keep]
                                       for _, parent, keep in SUBNETWORKS]
    maps = np.zeros((coords.shape[0], len(names)), dtype=np.float32)
    for n, sources in enumerate(blobs):
        for center, sigma in sources:
            maps[:, n] = np.maximum(maps[:, n], ana.blob(coords, center, sigma))
    maps *= gm[:, None]
    maps[maps < 0.05] = 0
    template = anat.template[anat.brain]
    csf = np.clip((0.5 - template) / 0.2, 0, 1).astype(np.float32)
    wm = (~gm).astype(np.float32)
    # Baseline intensity, and its spatial gradient (per mm) for the motion leak.
    full = np.where(anat.brain, 600 + 600 * anat.template, 0).astype(np.float32)
    full = ndimage.gaussian_filter(full, 0.7)
    gradient = np.stack(np.gradient(full, VOXEL_SIZE))[:, anat.brain].T  # voxel axes
    gradient = gradient @ np.linalg.inv(affine[:3, :3] / VOXEL_SIZE)     # world axes
    baseline = (600 + 600 * template).astype(np.float32)
    arm = coords - np.array([0.0, -18.0, 18.0])  # lever arm from the centre of rotation
    # d(signal) = -grad . (translation + rotation x arm) = -grad.T - rotation.(arm x grad)
    loadings = np.vstack([np.cross(arm, gradient).T, gradient.T])  # pitch, roll, yaw, x, y, z
    loadings = (-100 * loadings / baseline).astype(np.float32)
    rng = np.random.default_rng(200)
    parcels = _parcels(anat, affine, rng)
    return Bunch(affine=affine, anat=anat, coords=coords, gm=gm, maps=maps, names=names,
                 csf=csf, wm=wm, baseline=baseline, motion_loadings=loadings,
                 parcels=parcels, n_scans=GRIDS[size]["n_scans"])


def _network_courses(rng, n_scans):
    """Unit-variance courses of the networks then the sub-networks (n_scans, n_sources)."""
    t_r = _registry.ADHD_T_R
    courses = ana.slow_signals(rng, n_scans, len(NETWORKS) + len(SUBNETWORKS), t_r)
    names = list(NETWORKS)
    dmn = courses[:, names.index("default mode")]
    for name, r in ANTICORRELATED.items():
        k = names.index(name)
        courses[:, k] = r * dmn + np.sqrt(1 - r**2) * courses[:, k]
    courses[:, len(NETWORKS):] *= SUBNETWORK_WEIGHT
    return courses


def _motion(rng, n_scans):
    """Rigid-body motion: pitch, roll, yaw (radians) and x, y, z (mm), (n_scans, 6)."""
    steps = rng.normal(0, 1, (n_scans, 6)) * [4e-4, 4e-4, 4e-4, 0.025, 0.025, 0.025]
    jerks = rng.choice(n_scans, size=3, replace=False)
    steps[jerks] *= 5
    motion = np.cumsum(steps, axis=0)
    return motion - motion[0]


def _subject(shared, subject_id):
    """BOLD (4D int16), confounds table and planted time courses of one subject."""
    rng = np.random.default_rng(int(subject_id) + 11)
    n_scans = shared.n_scans
    t_r = _registry.ADHD_T_R
    amplitude = rng.uniform(*NETWORK_AMPLITUDE, size=len(NETWORKS))
    amplitude = np.concatenate([amplitude, [amplitude[list(NETWORKS).index(parent)]
                                            for _, parent, _ in SUBNETWORKS]])
    courses = (_network_courses(rng, n_scans) * amplitude).astype(np.float32)
    percent = courses @ shared.maps.T
    parcel_courses = ana.slow_signals(rng, n_scans, N_PARCELS, t_r).astype(np.float32)
    percent += PARCEL_AMPLITUDE * parcel_courses[:, shared.parcels - 1]
    motion = _motion(rng, n_scans)
    percent += (motion.astype(np.float32) @ shared.motion_loadings)
    physio = np.column_stack([
        ana.ar1_noise(rng, n_scans, 1, rho=0.2)[:, 0],                     # CSF: broadband
        ana.slow_signals(rng, n_scans, 1, t_r, low=0.002, high=0.05)[:, 0],  # white matter
        ana.slow_signals(rng, n_scans, 1, t_r)[:, 0],                       # global
    ]).astype(np.float32)
    percent += np.outer(CSF_AMPLITUDE * physio[:, 0], shared.csf)
    percent += np.outer(WM_AMPLITUDE * physio[:, 1], shared.wm)
    percent += GLOBAL_AMPLITUDE * physio[:, 2:3]
    percent += NOISE_SD * ana.smooth_volume_noise(rng, shared.anat.brain.shape, n_scans,
                                           fwhm=NOISE_FWHM / VOXEL_SIZE, rho=AR_RHO,
                                           mask=shared.anat.brain)
    ramp = np.linspace(-0.5, 0.5, n_scans, dtype=np.float32)[:, None]
    percent += ramp * rng.normal(0, 1.0, percent.shape[1]).astype(np.float32)
    values = shared.baseline * (1 + percent / 100)
    bold = np.zeros(shared.anat.brain.shape + (n_scans,), dtype=np.int16, order="F")
    bold[shared.anat.brain] = ana.to_int16(values.T)
    confounds = _confounds(values, motion, shared)
    return bold, confounds, courses, parcel_courses, physio


def _confounds(values, motion, shared):
    """The regressors table: columns of CONFOUND_COLUMNS, (n_scans, 17)."""
    n_scans = values.shape[0]
    outside_gm = values[:, ~shared.gm].astype(np.float64)
    centred = outside_gm - outside_gm.mean(axis=0)
    centred /= outside_gm.std(axis=0) + 1e-6
    # Principal time courses of the non-grey-matter voxels (eigenvectors of the small
    # time x time matrix), with a fixed sign.
    _, vectors = np.linalg.eigh(centred @ centred.T)
    compcor = vectors[:, ::-1][:, :5]
    compcor *= np.sign(compcor[0] + 1e-12)
    table = {
        "csf": values[:, shared.csf > 0.5].mean(axis=1),
        "constant": np.ones(n_scans),
        "linearTrend": np.arange(n_scans, dtype=float),
        "wm": values[:, shared.wm > 0].mean(axis=1),
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
    for sid in _registry.ADHD_SORTED_IDS:
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

    n_net = len(NETWORKS)
    ana.save_img(volume(shared.maps[:, :n_net], np.float32), shared.affine,
                 folder / "networks.nii.gz")
    ana.save_img(volume(shared.maps[:, n_net:], np.float32), shared.affine,
                 folder / "subnetworks.nii.gz")
    ana.save_img(volume(shared.parcels, np.int16), shared.affine, folder / "parcels.nii.gz")
    ana.save_img(anat.brain.astype(np.uint8), shared.affine, folder / "brain_mask.nii.gz")
    tissue = np.stack([shared.csf, shared.wm, shared.gm.astype(np.float32)], axis=1)
    ana.save_img(volume(tissue, np.float32), shared.affine, folder / "tissues.nii.gz")
    ana.save_ground_truth(
        folder, {},
        {"network_names": list(NETWORKS), "subnetwork_names": [n for n, _, _ in SUBNETWORKS],
         "network_blobs": dict(NETWORKS), "subnetwork_weight": SUBNETWORK_WEIGHT,
         "anticorrelated_with_default_mode": dict(ANTICORRELATED),
         "n_parcels": int(shared.parcels.max()), "network_amplitude": list(NETWORK_AMPLITUDE),
         "parcel_amplitude": PARCEL_AMPLITUDE, "noise_sd": NOISE_SD, "noise_fwhm": NOISE_FWHM,
         "ar_rho": AR_RHO, "csf_amplitude": CSF_AMPLITUDE, "wm_amplitude": WM_AMPLITUDE,
         "global_amplitude": GLOBAL_AMPLITUDE, "voxel_size": VOXEL_SIZE,
         "n_scans": shared.n_scans, "t_r": _registry.ADHD_T_R, "size": size,
         "tissues": ["csf weight", "white matter", "grey matter"],
         "units": "amplitudes and noise_sd in % signal change; blobs: (MNI mm centre, sigma "
                  "mm); noise_fwhm in mm",
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
        ``"full"``: the release's 61 x 73 x 61 grid and 176 volumes; ``"small"``: the same
        3 mm voxels in a 49 x 60 x 23 slab (z from -12 to 54 mm) and 100 volumes.
    verbose : int
        Print a progress line per generated subject.

    Returns
    -------
    sklearn.utils.Bunch
        ``networks`` (path of a 4D image, one volume per network, peak 1), ``network_names``,
        ``subnetworks`` and ``subnetwork_names`` (the same for the sub-networks),
        ``time_courses`` (list, per requested subject, of (n_scans, n_networks +
        n_subnetworks) arrays in % signal change at the peak), ``parcels`` (path of a 3D int
        image, 0 outside the brain), ``parcel_time_courses`` (list of (n_scans, 100) arrays,
        unit variance), ``physio_time_courses`` (list of (n_scans, 3) arrays: CSF, white
        matter, global), ``tissues`` (path of a 4D image: CSF weight, white matter, grey
        matter), ``brain_mask`` (path), the settings (amplitudes, ``noise_sd``...) and
        ``folder``.
    """
    subject_ids = check_subject_ids(subject_ids)
    size = check_size(size)
    verbose = ana.check_verbose(verbose)
    base = Path(root) / "adhd"
    truth = base / ana.GROUND_TRUTH_DIR
    stale = truth.is_dir() and not ana.is_current(truth / "meta.json", VERSION)
    if stale and ana.discard(truth, verbose) and (base / _registry.ADHD_PHENOTYPIC).is_file():
        (base / _registry.ADHD_PHENOTYPIC).unlink(missing_ok=True)
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
    if not (base / _registry.ADHD_PHENOTYPIC).is_file():
        with atomic_file(base / _registry.ADHD_PHENOTYPIC) as tmp:
            tmp.write_text(_phenotypic_text())
    for i, sid in enumerate(missing):
        ana.say(verbose, f"generating simulated ADHD subject {sid} ({size}, "
                         f"{i + 1}/{len(missing)}) in {base / 'data'}")
        bold, confounds, courses, parcel_courses, physio = _subject(shared, sid)
        func_name, confounds_name = _registry.adhd_subject_files(sid)
        with atomic_dir(base / "data" / sid) as tmp:
            ana.save_img(bold, shared.affine, tmp / func_name, t_r=_registry.ADHD_T_R)
            _write_confounds(tmp / confounds_name, confounds)
            ana.save_ground_truth(tmp / ana.GROUND_TRUTH_DIR,
                                  {"time_courses": courses, "parcel_time_courses": parcel_courses,
                                   "physio_time_courses": physio},
                                  {"subject": sid, "version": VERSION})
    out = Bunch(**ana.load_ground_truth(truth))
    out.networks = str(truth / "networks.nii.gz")
    out.subnetworks = str(truth / "subnetworks.nii.gz")
    out.tissues = str(truth / "tissues.nii.gz")
    out.parcels = str(truth / "parcels.nii.gz")
    out.brain_mask = str(truth / "brain_mask.nii.gz")
    subject_truth = [ana.load_ground_truth(base / "data" / s / ana.GROUND_TRUTH_DIR)
                     for s in subject_ids]
    out.time_courses = [t["time_courses"] for t in subject_truth]
    out.parcel_time_courses = [t["parcel_time_courses"] for t in subject_truth]
    out.physio_time_courses = [t["physio_time_courses"] for t in subject_truth]
    out.subject_ids = subject_ids
    out.folder = str(base)
    return out

