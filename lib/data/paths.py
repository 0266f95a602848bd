"""Where the real datasets live: one explicit root, else ``$POSE_DATA``, never a guess.

The expected layout under the root (the shared study data; see its README.md)::

    mpii/mpii_annotations.json.gz   all MPII people (or mpii/train.json + mpii/valid.json)
    mpii/detections_our_format.mat  official validation ground truth with head boxes
    mpii/images/                    MPII photos (any subset; see ``load_poseset(require_images=...)``)
    lspet/joints.mat                LSP Extended annotations
    lspet/images/                   im00001.jpg ... im10000.jpg

Packed crops are cached elsewhere (:func:`default_cache_dir`), never under the data root,
which may be read-only.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable naming the data root.
ENV_VAR = "POSE_DATA"

LAYOUT_HINT = (
    "expected layout: <root>/mpii/{mpii_annotations.json.gz, detections_our_format.mat, images/} "
    "and <root>/lspet/{joints.mat, images/}"
)


def data_root(explicit: str | Path | None = None) -> Path:
    """The data root: ``explicit`` if given, else ``$POSE_DATA``.

    Raises ``FileNotFoundError`` naming ``POSE_DATA`` and the expected layout when neither is
    set or the folder does not exist, so a missing dataset is never mistaken for an empty one.
    """
    if explicit is not None:
        root, origin = Path(explicit).expanduser(), "the data_root argument"
    else:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            raise FileNotFoundError(
                f"no data root: pass data_root=... or set the environment variable {ENV_VAR} "
                f"to the folder holding the datasets ({LAYOUT_HINT})"
            )
        root, origin = Path(value).expanduser(), f"${ENV_VAR}"
    if not root.is_dir():
        raise FileNotFoundError(f"data root {root} (from {origin}) is not a folder; {LAYOUT_HINT}")
    return root


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else ``FileNotFoundError`` saying which dataset file is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found at {path}; {LAYOUT_HINT}")
    return path


def repo_root() -> Path:
    """The repository root (the folder holding ``lib/``)."""
    return Path(__file__).resolve().parents[2]


def default_cache_dir() -> Path:
    """``<repo>/.cache/packs``: where packed crops go unless a caller names another folder."""
    return repo_root() / ".cache" / "packs"
