"""Where the real datasets live on the internet, and what their files must look like.

Every remote file is a :class:`Remote`: the name it has in a mirror, its original URL,
and what we know to verify it (MD5 checksum, size in bytes). All entries sit in the
module-level dict :data:`REMOTES`, looked up at call time, so tests can swap them.

Local mirror
------------
A teacher can host the archives on a local web server (or a shared folder served with
``python -m http.server``) and set ``MLNI_MIRROR`` to its base URL. The fetchers then
download ``$MLNI_MIRROR/<name>`` instead of the original URL, with the same checks. The
mirror keeps the file names of :data:`REMOTES`, for example::

    $MLNI_MIRROR/haxby2001/subj2-2010.01.14.tar.gz
    $MLNI_MIRROR/haxby2001/mask.nii.gz
    $MLNI_MIRROR/miyawaki2008/miyawaki2008.tgz
    $MLNI_MIRROR/adhd/adhd40_metadata.tgz
    $MLNI_MIRROR/adhd/adhd40_0010042.tgz
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ._paths import get_mirror

HAXBY_BASE_URL = "http://data.pymvpa.org/datasets/haxby2001/"
HAXBY_MASK_URL = "https://www.nitrc.org/frs/download.php/7868/mask.nii.gz"
MIYAWAKI_URL = (
    "https://www.nitrc.org/frs/download.php/8486/miyawaki2008.tgz?i_agree=1&download_now=1"
)
ADHD_METADATA_URL = "https://www.nitrc.org/frs/download.php/7781/adhd40_metadata.tgz"
ADHD_SUBJECT_URL = "https://www.nitrc.org/frs/download.php/{download_id}/adhd40_{subject_id}.tgz"
ADHD_FIRST_DOWNLOAD_ID = 7782

HAXBY_SUBJECTS = (1, 2, 3, 4, 5, 6)
# Facts of the real Haxby recordings, shared by the fetcher and the simulated stand-in.
HAXBY_T_R = 2.5  # seconds
HAXBY_N_RUNS = 12
HAXBY_N_SCANS_PER_RUN = 121
HAXBY_CATEGORIES = (
    "bottle", "cat", "chair", "face", "house", "scissors", "scrambledpix", "shoe",
)  # fmt: skip
# Grid of bold.nii.gz: shape and signed voxel size (mm); the affine is
# diag(-3.5, 3.75, 3.75) with the grid's centre at the origin.
HAXBY_SHAPE = (40, 64, 64)
HAXBY_VOXEL_SIZE = (-3.5, 3.75, 3.75)
# Bunch key -> mask file of a subject's folder. The "little" masks (mask8_*) lie inside the
# mask8b_* ones.
HAXBY_MASKS = {
    "mask_vt": "mask4_vt.nii.gz",
    "mask_face": "mask8b_face_vt.nii.gz",
    "mask_house": "mask8b_house_vt.nii.gz",
    "mask_face_little": "mask8_face_vt.nii.gz",
    "mask_house_little": "mask8_house_vt.nii.gz",
}
HAXBY_FILES = ("bold.nii.gz", "labels.txt", *HAXBY_MASKS.values(), "anat.nii.gz")
# MD5 of the per-subject archives, as published in the MD5SUMS file of the base URL.
HAXBY_MD5 = {
    1: "03e6865ec33bd5ebccdad3f13ef1d77f",
    2: "56902b0583c0329b8364cadc1abb3ed5",
    3: "fa6e21e52d161f108e5b45f9b6571d76",
    4: "5c0a0e45b562112ed4f15da9f27c7176",
    5: "2b983a6f4d16bad9053654e57c00483a",
    6: "2fecf6b76e781b349e616c594a74064e",
}
HAXBY_SIZES = {2: 291_168_628}

MIYAWAKI_ROI_NAMES = tuple(
    f"{hemi}{roi}"
    for hemi in ("LH", "RH")
    for roi in [f"lag{i}to{i + 1}" for i in range(11)]
    + ["V1d", "V1v", "V2d", "V2v", "V3A", "V3", "V4v", "VP"]
)
MIYAWAKI_SIZE = 161_069_109
MIYAWAKI_T_R = 2.0  # seconds
MIYAWAKI_N_SCANS = 145  # volumes per run
MIYAWAKI_IMAGE_SHAPE = (10, 10)  # pixels; label rows hold them in Fortran (column) order
MIYAWAKI_N_MASK_VOXELS = 5438
# The runs in the fetcher's order: the 12 figure runs (test), then the 20 random runs (train).
MIYAWAKI_RUNS = tuple(("figure", i) for i in range(1, 13)) + tuple(
    ("random", i) for i in range(1, 21)
)


def miyawaki_run_stem(kind, number) -> str:
    """File stem of one run, e.g. ``"data_random_run07"`` (``func/<stem>.nii.gz``,
    ``label/<stem>_label.csv``)."""
    return f"data_{kind}_run{number:02d}"


# The 40 subjects of the ADHD-200 sample, sorted: the k-th one is download id 7782 + k.
ADHD_SORTED_IDS = (
    "0010042", "0010064", "0010128", "0021019", "0023008",
    "0023012", "0027011", "0027018", "0027034", "0027037",
    "1019436", "1206380", "1418396", "1517058", "1552181",
    "1562298", "1679142", "2014113", "2497695", "2950754",
    "3007585", "3154996", "3205761", "3520880", "3624598",
    "3699991", "3884955", "3902469", "3994098", "4016887",
    "4046678", "4134561", "4164316", "4275075", "6115230",
    "7774305", "8409791", "8697774", "9744150", "9750701",
)  # fmt: skip
# The ten subjects of Abraham et al. 2014, in the paper's order.
ADHD_PAPER_IDS = (
    "3902469", "7774305", "3699991", "2014113", "4275075",
    "1019436", "3154996", "3884955", "0027034", "4134561",
)  # fmt: skip
# The course's order: the paper's ten first, then the other thirty in sorted order.
ADHD_IDS = ADHD_PAPER_IDS + tuple(i for i in ADHD_SORTED_IDS if i not in ADHD_PAPER_IDS)
ADHD_PHENOTYPIC = "ADHD200_40subs_motion_parameters_and_phenotypics.csv"
ADHD_T_R = 2.0  # repetition time of the release, in seconds
ADHD_N_SCANS = 176  # volumes per subject in the release


def adhd_subject_files(subject_id) -> tuple:
    """The two files of one ADHD subject: its BOLD image and its confounds table."""
    return (f"{subject_id}_rest_tshift_RPI_voreg_mni.nii.gz", f"{subject_id}_regressors.csv")


@dataclass(frozen=True)
class Remote:
    """One file to download.

    Attributes
    ----------
    name : str
        Its path in a mirror (``MLNI_MIRROR``), e.g. ``"haxby2001/mask.nii.gz"``.
    url : str
        Its original URL.
    md5 : str or None
        Its MD5 checksum, when published.
    size : int or None
        Its size in bytes, when known.
    """

    name: str
    url: str
    md5: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        """The bare file name (last part of ``name``)."""
        return self.name.rsplit("/", 1)[-1]


def _build_registry() -> dict:
    remotes = {}
    for subject in HAXBY_SUBJECTS:
        archive = f"subj{subject}-2010.01.14.tar.gz"
        remotes[f"haxby2001/{archive}"] = Remote(
            f"haxby2001/{archive}",
            HAXBY_BASE_URL + archive,
            md5=HAXBY_MD5[subject],
            size=HAXBY_SIZES.get(subject),
        )
    remotes["haxby2001/mask.nii.gz"] = Remote("haxby2001/mask.nii.gz", HAXBY_MASK_URL)
    remotes["miyawaki2008/miyawaki2008.tgz"] = Remote(
        "miyawaki2008/miyawaki2008.tgz", MIYAWAKI_URL, size=MIYAWAKI_SIZE
    )
    remotes["adhd/adhd40_metadata.tgz"] = Remote("adhd/adhd40_metadata.tgz", ADHD_METADATA_URL)
    for k, subject_id in enumerate(ADHD_SORTED_IDS):
        url = ADHD_SUBJECT_URL.format(download_id=ADHD_FIRST_DOWNLOAD_ID + k, subject_id=subject_id)
        remotes[f"adhd/adhd40_{subject_id}.tgz"] = Remote(f"adhd/adhd40_{subject_id}.tgz", url)
    return remotes


REMOTES = _build_registry()


def haxby_archive(subject) -> Remote:
    """The archive of one Haxby subject (1 to 6)."""
    return REMOTES[f"haxby2001/subj{subject}-2010.01.14.tar.gz"]


def haxby_mask() -> Remote:
    """The whole-brain mask shipped next to the Haxby dataset."""
    return REMOTES["haxby2001/mask.nii.gz"]


def miyawaki_archive() -> Remote:
    """The single archive of the Miyawaki 2008 dataset."""
    return REMOTES["miyawaki2008/miyawaki2008.tgz"]


def adhd_metadata() -> Remote:
    """The archive with the phenotypic and motion table of the 40 ADHD subjects."""
    return REMOTES["adhd/adhd40_metadata.tgz"]


def adhd_archive(subject_id) -> Remote:
    """The archive of one ADHD subject, by its 7-digit id."""
    return REMOTES[f"adhd/adhd40_{subject_id}.tgz"]


def url_of(remote) -> str:
    """The URL to download ``remote`` from: ``$MLNI_MIRROR/<name>`` if set, else the original."""
    mirror = get_mirror()
    if mirror:
        return f"{mirror.rstrip('/')}/{remote.name}"
    return remote.url


def host_of(url) -> tuple:
    """The ``(host, port)`` a URL connects to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port
