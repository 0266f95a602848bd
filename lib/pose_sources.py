"""The poses the data and mutual-information chapters analyse: one :class:`PoseSource` per dataset.

Three pose sources are compared (PBN Sec. 3.1 uses the first):

* **MPII** training annotations (22,246 people; ``$POSE_DATA/mpii/mpii_annotations.json.gz``),
  each pose scaled by its person height (200·scale px), as :mod:`lib.groups` does;
* **LSP Extended** training annotations (9,000 people, 14 joints, ``lspet/joints.mat``): its
  people are already scale-normalised (~150 px), so one size for all;
* the **synthetic generator**'s poses (:func:`lib.data.kinematics.sample_pose`), scaled by their
  standing height: what the synthetic benchmark trains on.

Without ``POSE_DATA`` only the generator is available (the readers return None). Poses are kept
with their columns in MPII joint order (:attr:`PoseSource.joint_ids` ascending), so matrices of
different sources line up. The analyses are :mod:`lib.mi_analysis` (MI chapter) and
:mod:`lib.data_overview` (data chapter).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from lib import groups as G
from lib import joints as J


@dataclass(frozen=True)
class PoseSource:
    """Poses of one dataset for the MI analysis; columns are MPII joints ``joint_ids`` (ascending).

    ``person_size``: per-pose person size (N) or None (one median size, :func:`lib.groups.lattice_codes`).
    ``visible`` is None where the source has no visibility flags (generated poses).
    """

    name: str
    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray | None
    person_size: np.ndarray | None
    joint_ids: tuple[int, ...]
    origin: str

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def names(self) -> list[str]:
        return [J.MPII_JOINTS[j] for j in self.joint_ids]


def optional_data_root(data_root: str | Path | None = None) -> Path | None:
    """The data folder (``data_root``, else ``POSE_DATA``), or None when there is none: every source but
    the generator is then absent rather than an error."""
    from lib.data.paths import data_root as resolve

    try:
        return resolve(data_root)
    except FileNotFoundError:
        return None


@lru_cache(maxsize=2)
def _read_mpii_train(path: str):
    """The MPII training people of ``path`` (cached: the chapters ask for them several times)."""
    from lib.data.mpii import read_mpii

    return read_mpii(path).split("train")


def mpii_train_poses(data_root: str | Path | None = None) -> PoseSource | None:
    """The 22,246 MPII training poses, or None without ``POSE_DATA`` (or ``data_root``)."""
    root = optional_data_root(data_root)
    path = root / "mpii" / "mpii_annotations.json.gz" if root else None
    if path is None or not path.is_file():
        return None
    ann = _read_mpii_train(str(path))
    return PoseSource("MPII (train)", ann.joints, ann.annotated, ann.visible, G.MPII_SCALE_PX * ann.scale,
                      tuple(range(J.NUM_MPII_JOINTS)), "mpii/mpii_annotations.json.gz")


def lspet_train_poses(data_root: str | Path | None = None) -> PoseSource | None:
    """The 9,000 LSP Extended training poses (14 joints, reordered to MPII order), or None."""
    root = optional_data_root(data_root)
    path = root / "lspet" / "joints.mat" if root else None
    if path is None or not path.is_file():
        return None
    from lib.data.lsp import lspet_split, read_lsp

    ann = lspet_split(read_lsp(path), "train")
    order = np.argsort(J.LSP_TO_MPII)
    return PoseSource("LSP Extended (train)", ann.joints[:, order], ann.annotated[:, order], ann.visible[:, order],
                      None, tuple(int(J.LSP_TO_MPII[i]) for i in order), "lspet/joints.mat")


def generator_poses(n: int = 5000, seed: int = 0) -> PoseSource:
    """``n`` poses of the synthetic benchmark's kinematic generator, seeded by ``seed``."""
    from lib.data.kinematics import sample_pose

    rng = np.random.default_rng(seed)
    poses = [sample_pose(rng) for _ in range(n)]
    joints = np.stack([p.joints for p in poses])
    annotated = np.stack([p.annotated for p in poses])
    size = np.array([p.height for p in poses])
    return PoseSource("synthetic generator", joints, annotated, None, size, tuple(range(J.NUM_MPII_JOINTS)),
                      f"lib.data.kinematics.sample_pose, {n} poses, seed {seed}")


def pose_sources(data_root: str | Path | None = None, n_generator: int = 5000, seed: int = 0) -> dict[str, PoseSource]:
    """Every available source by name: MPII and LSP Extended when the data is there, always the generator."""
    found = [mpii_train_poses(data_root), lspet_train_poses(data_root), generator_poses(n_generator, seed)]
    return {s.name: s for s in found if s is not None}


def sources_table(sources: dict[str, PoseSource]) -> pd.DataFrame:
    """Name, poses, joints, annotated fraction and origin of each source."""
    return pd.DataFrame([{"source": s.name, "poses": len(s), "joints": len(s.joint_ids),
                          "annotated %": round(100 * float(s.annotated.mean()), 1), "from": s.origin}
                         for s in sources.values()]).set_index("source")
