"""The Colab setup cell of the chapters, written from the one place that names the repository.

The repository's URL and branch are set once, in ``_config.yml`` (``repository: url, branch``),
which Jupyter Book also reads for its launch buttons. The first code cell of every chapter
(tagged ``colab-setup``) is generated from them by :func:`colab_cell_source`: on Colab, where
the course is not installed, it installs the course from that repository with the exact
versions of its ``requirements.txt`` as constraints. ``mlni-course colab-cells`` rewrites the
cells after a change of URL; a test checks that they agree with ``_config.yml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

#: The tag of the Colab setup cell.
COLAB_TAG = "colab-setup"


def repository(book_dir) -> tuple:
    """``(url, branch)`` of the repository, read from ``book_dir/_config.yml``."""
    import yaml

    config_path = Path(book_dir) / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    section = config.get("repository") or {}
    url, branch = section.get("url"), section.get("branch") or "main"
    if not url:
        raise ValueError(f"{config_path} has no 'repository: url:' entry.")
    return str(url).rstrip("/"), str(branch)


def raw_url(url, branch, path) -> str:
    """The URL of the raw file ``path`` on ``branch`` of a GitHub repository ``url``."""
    parsed = urlparse(url)
    parts = [part for part in parsed.path.split("/") if part]
    if parsed.netloc != "github.com" or len(parts) != 2:
        raise ValueError(
            f"'url' must be a GitHub repository URL, https://github.com/OWNER/NAME. Got {url!r}."
        )
    owner, name = parts[0], parts[1].removesuffix(".git")
    return f"https://raw.githubusercontent.com/{owner}/{name}/{branch}/{path}"


def colab_cell_source(url, branch) -> str:
    """The source of the Colab setup cell for the repository ``url`` at ``branch``."""
    raw_url(url, branch, "requirements.txt")  # validates the URL
    owner_name = "/".join(urlparse(url).path.strip("/").split("/")[:2]).removesuffix(".git")
    return "\n".join([
        "# On Colab, install the course at the versions it was tested with (Binder and local",
        "# installs already have it). Generated from _config.yml by `mlni-course colab-cells`.",
        "import importlib.util",
        "import urllib.request",
        "",
        f'REPOSITORY, BRANCH = "{owner_name}", "{branch}"',
        'if importlib.util.find_spec("mlni") is None:',
        '    pins_url = f"https://raw.githubusercontent.com/{REPOSITORY}/{BRANCH}/requirements.txt"',
        "    pins = urllib.request.urlopen(pins_url).read().decode()",
        '    with open("/tmp/mlni-pins.txt", "w") as file:',
        '        file.write("\\n".join(line for line in pins.splitlines() if "==" in line))',
        '    git_url = f"git+https://github.com/{REPOSITORY}@{BRANCH}"',
        '    %pip install --quiet -c /tmp/mlni-pins.txt "mlni-course @ {git_url}"',
    ])


def colab_cells(notebook) -> list:
    """The cells of ``notebook`` (a dict) tagged ``colab-setup``."""
    return [cell for cell in notebook["cells"]
            if COLAB_TAG in cell.get("metadata", {}).get("tags", [])]


def chapter_notebooks(book_dir) -> list:
    """The chapter notebooks of the book (``chapters/NN_*.ipynb``), sorted."""
    return sorted((Path(book_dir) / "chapters").glob("[0-9][0-9]_*.ipynb"))


def sync_colab_cells(book_dir, *, write=True) -> list:
    """Make the Colab cell of every chapter match ``_config.yml``; return the notebooks changed.

    Parameters
    ----------
    book_dir : str or pathlib.Path
        The folder of ``_config.yml`` and ``chapters/``.
    write : bool, default=True
        False only lists the notebooks whose cell differs, without writing.

    Raises
    ------
    ValueError
        If a chapter does not have exactly one cell tagged ``colab-setup``.
    """
    expected = colab_cell_source(*repository(book_dir))
    changed = []
    for path in chapter_notebooks(book_dir):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        cells = colab_cells(notebook)
        if len(cells) != 1:
            raise ValueError(
                f"{path} must have one cell tagged {COLAB_TAG!r}; it has {len(cells)}."
            )
        if "".join(cells[0]["source"]) == expected:
            continue
        changed.append(path)
        if write:
            cells[0]["source"] = expected.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    return changed
