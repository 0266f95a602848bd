"""The data chapter's tables: the datasets side by side, who is visible, the papers' joint columns.

:func:`dataset_overview` (what each dataset is, whether it is here, its role in the study),
:func:`visibility_sources` with :func:`visibility_table` / :func:`visibility_summary` (visible,
invisible and missing joints per source and joint: LSP Extended annotates visible joints only),
:func:`joint_columns` (the papers' table columns, PBN Tables 1-5) and :func:`sample_sets` (a few
people of each dataset for pictures). The poses come from :mod:`lib.pose_sources`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib import joints as J
from lib.pose_sources import lspet_train_poses, mpii_train_poses, optional_data_root


def dataset_overview(data_root: str | Path | None = None, profile: str = "smoke") -> pd.DataFrame:
    """One row per dataset: whether it is here, its people (train / validation), joints, flags, metric, role.

    ``profile`` says how many synthetic people a run of that profile renders.
    """
    from lib.experiments import get_profile

    p = get_profile(profile)
    mpii, lsp = mpii_train_poses(data_root), lspet_train_poses(data_root)
    root = optional_data_root(data_root)
    rows = []
    if mpii is not None:
        from lib.data.mpii import read_mpii

        ann = read_mpii(root / "mpii" / "mpii_annotations.json.gz")
        photos = len(list((root / "mpii" / "images").glob("*.jpg"))) if (root / "mpii" / "images").is_dir() else 0
        people = f"{int((~ann.is_validation).sum()):,} / {int(ann.is_validation.sum()):,} ({photos} photos here)"
    rows.append({"dataset": "MPII Human Pose", "here": mpii is not None, "people (train / val)": people if mpii else "",
                 "joints": 16, "visibility flags": "yes (occluded joints annotated)", "metric": "PCKh@0.5",
                 "role here": "mutual information (PBN Sec. 3.1); the papers' benchmark"})
    if lsp is not None:
        from lib.data.lsp import LSPET_TEST_SIZE

        n = len(lsp) + LSPET_TEST_SIZE
        people = f"{len(lsp):,} / {LSPET_TEST_SIZE:,}"
    rows.append({"dataset": "LSP Extended", "here": lsp is not None, "people (train / val)": people if lsp else "",
                 "joints": 14, "visibility flags": "visible joints only are annotated", "metric": "PCK@0.2 (torso)",
                 "role here": "real pixels: the book profile trains and validates on it"})
    syn = "generated on demand" if p.train_limit is None else f"{p.train_limit:,} / {p.val_limit:,} in profile {profile!r}"
    rows.append({"dataset": "synthetic benchmark", "here": True, "people (train / val)": syn, "joints": 16,
                 "visibility flags": "yes, from the rendering (self- and other-occlusion)", "metric": "PCKh@0.5",
                 "role here": "no download; the smoke profile and the CPU tests"})
    return pd.DataFrame(rows).set_index("dataset")


def visibility_sources(data_root: str | Path | None = None, profile: str = "smoke") -> dict[str, "object"]:
    """Annotations with visibility flags: MPII and LSP Extended training sets, the profile's synthetic training set."""
    from lib.data import load_poseset
    from lib.experiments import get_profile

    p = get_profile(profile)
    out: dict[str, object] = {s.name: s for s in (mpii_train_poses(data_root), lspet_train_poses(data_root)) if s}
    out["synthetic (train)"] = load_poseset("synthetic", "train", resolution=p.resolution,
                                            limit=p.train_limit or 2000)
    return out


def visibility_table(sources: dict[str, "object"]) -> pd.DataFrame:
    """Per joint and source: % visible, % invisible (annotated, occluded), % missing (not annotated).

    ``sources`` maps a name to anything with ``annotated``, ``visible`` (N×J bool, None allowed)
    and ``joint_ids`` (a :class:`PoseSource` or a :class:`lib.data.PoseSet`).
    """
    frames = {}
    for name, s in sources.items():
        if s.visible is None:
            continue
        ann, vis = np.asarray(s.annotated, bool), np.asarray(s.visible, bool) & np.asarray(s.annotated, bool)
        col = {}
        for c, j in enumerate(s.joint_ids):
            col[J.MPII_JOINTS[j]] = (100 * vis[:, c].mean(), 100 * (ann[:, c] & ~vis[:, c]).mean(), 100 * (~ann[:, c]).mean())
        frames[name] = pd.DataFrame(col, index=["visible %", "invisible %", "missing %"]).T
    out = pd.concat(frames, axis=1)
    return out.reindex([n for n in J.MPII_JOINTS if n in out.index]).round(1)


def visibility_summary(sources: dict[str, "object"]) -> pd.DataFrame:
    """One row per source: % of joints visible, invisible, missing, and invisible among the ten hard joints."""
    rows = []
    for name, s in sources.items():
        if s.visible is None:
            continue
        ann, vis = np.asarray(s.annotated, bool), np.asarray(s.visible, bool) & np.asarray(s.annotated, bool)
        hard = [c for c, j in enumerate(s.joint_ids) if j in J.HARD_JOINTS]
        inv = ann & ~vis
        rows.append({"source": name, "people": len(ann), "visible %": 100 * vis.mean(), "invisible %": 100 * inv.mean(),
                     "missing %": 100 * (~ann).mean(),
                     "invisible among annotated hard joints %": 100 * inv[:, hard].sum() / max(ann[:, hard].sum(), 1)})
    return pd.DataFrame(rows).set_index("source").round(1)


def joint_columns() -> pd.DataFrame:
    """The papers' table columns (PBN Tables 1-5, KPTransfer Tables 2-5): MPII joints pooled, and whether LSP has them."""
    lsp = set(J.LSP_TO_MPII)
    rows = {name: {"joints": ", ".join(J.MPII_JOINTS[j] for j in js), "in LSP": all(j in lsp for j in js)}
            for name, js in J.TABLE_COLUMNS.items()}
    rows["Mean"] = {"joints": "all but " + ", ".join(J.MPII_JOINTS[j] for j in J.MEAN_EXCLUDED), "in LSP": True}
    rows["Hard"] = {"joints": ", ".join(J.MPII_JOINTS[j] for j in J.HARD_JOINTS), "in LSP": True}
    return pd.DataFrame(rows).T


def sample_sets(data_root: str | Path | None = None, profile: str = "smoke", limit: int = 64) -> dict[str, "object"]:
    """A few people of each available dataset as :class:`lib.data.PoseSet` crops, for pictures.

    Synthetic: the profile's validation set; LSP Extended: its first ``limit`` validation people;
    MPII: the training people whose photos are in ``mpii/images`` (a sample of 50 photos).
    """
    import warnings

    from lib.data import load_poseset
    from lib.experiments import get_profile

    p = get_profile(profile)
    out = {"synthetic": load_poseset("synthetic", "val", resolution=p.resolution, limit=p.val_limit or limit)}
    root = optional_data_root(data_root)
    if root is not None and (root / "lspet" / "joints.mat").is_file():
        out["LSP Extended"] = load_poseset("lspet", "val", data_root=root, limit=limit)
    if root is not None and (root / "mpii" / "mpii_annotations.json.gz").is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "dropped N people whose images are missing": expected
            out["MPII"] = load_poseset("mpii", "train", data_root=root, require_images=False)
    return out
