"""The data chapter's tables: the datasets side by side, who is visible, the papers' joint columns.

:func:`dataset_overview` (what each dataset is, whether it is here, its role in the study),
:func:`visibility_sources` with :func:`visibility_table` / :func:`visibility_summary` (visible,
invisible and missing joints per source and joint: LSP Extended annotates visible joints only),
:func:`joint_columns` (the papers' table columns, PBN Tables 1-5), :func:`sample_sets` (a few
people of each dataset for pictures), and the occlusion benchmark behind the PBN chapter's
occlusion verdicts: :func:`occlusion_sets` (``synthetic-mpii`` as a profile trains and validates
on it) and :func:`occlusion_counts` (its joints: visible, self-occluded, other-occluded). The
poses come from :mod:`lib.pose_sources`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.data import DEFAULT_SYNTHETIC_NUM
from lib.paper import OCCLUSION_CODES
from lib.pose_sources import lspet_train_poses, mpii_train_poses, optional_data_root

if TYPE_CHECKING:
    from lib.data.poseset import PoseSet
    from lib.experiments import DataConfig


#: The dataset behind every occlusion verdict (``lib.record_source.OCCLUSION_DATASETS``' first): MPII's
#: poses rendered with each joint's occlusion cause (``lib.data.synthetic``).
OCCLUSION_DATASET = "synthetic-mpii"

#: Seconds to render one synthetic person at the cpu profile's 80 px on one core of this project's
#: 2-core machine (20 people in 4.0 s while a training sweep shared the cores): sizes what the
#: chapter renders, and the caption's estimate for what it leaves out.
RENDER_SECONDS_PER_PERSON = 0.2

#: Rows of :func:`occlusion_counts`, in order: what each joint of a person is.
OCCLUSION_ROWS = ("visible", "self-occluded", "other-occluded", "not annotated")


def _here(found: bool) -> str:
    return "yes" if found else "no (set POSE_DATA)"


def dataset_overview(data_root: str | Path | None = None, profile: str = "smoke",
                     occlusion_profile: str | None = None) -> pd.DataFrame:
    """One row per dataset: whether it is here, its people (train / validation), joints, flags, metric, role.

    ``profile`` says how many synthetic people a run of that profile renders; ``occlusion_profile``
    (None: ``profile``) how many :data:`OCCLUSION_DATASET` people (:func:`occlusion_data`).
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
    rows.append({"dataset": "MPII Human Pose", "here": _here(mpii is not None), "people (train / val)": people if mpii else "",
                 "joints": 16, "visibility flags": "yes (occluded joints annotated)", "metric": "PCKh@0.5",
                 "role here": "mutual information (PBN Sec. 3.1); the papers' benchmark"})
    if lsp is not None:
        from lib.data.lsp import LSPET_TEST_SIZE

        n = len(lsp) + LSPET_TEST_SIZE
        people = f"{len(lsp):,} / {LSPET_TEST_SIZE:,}"
    rows.append({"dataset": "LSP Extended", "here": _here(lsp is not None), "people (train / val)": people if lsp else "",
                 "joints": 14, "visibility flags": "visible joints only are annotated", "metric": "PCK@0.2 (torso)",
                 "role here": "real pixels: profiles " + ", ".join(f"'{n}'" for n in _profiles_on("lspet"))
                              + " train and validate on it"})
    syn = "generated on demand" if p.train_limit is None else f"{p.train_limit:,} / {p.val_limit:,} in profile {profile!r}"
    rows.append({"dataset": "synthetic benchmark", "here": _here(True), "people (train / val)": syn, "joints": 16,
                 "visibility flags": "yes, from the rendering (self- and other-occlusion)", "metric": "PCKh@0.5",
                 "role here": "no download; the smoke profile and the CPU tests"})
    occ_profile = occlusion_profile or profile
    occ = occlusion_data(occ_profile)
    rows.append({"dataset": OCCLUSION_DATASET, "here": _here(mpii is not None),
                 "people (train / val)": f"{occ.train_limit or DEFAULT_SYNTHETIC_NUM['train']:,} / "
                                         f"{occ.val_limit or DEFAULT_SYNTHETIC_NUM['val']:,} in profile {occ_profile!r}",
                 "joints": 16, "visibility flags": "yes, from the rendering (self- and other-occlusion)",
                 "metric": "PCKh@0.5",
                 "role here": "MPII's poses rendered: the occlusion claims (PBN Tables 6-7, Fig. 7)"})
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


def _profiles_on(dataset: str) -> list[str]:
    """The profiles whose default dataset is ``dataset`` (``lib.experiments.PROFILES``)."""
    from lib.experiments import PROFILES

    return [name for name, p in PROFILES.items() if p.dataset == dataset]


def occlusion_data(profile: str = "cpu") -> "DataConfig":
    """The data a ``profile`` trains its occlusion runs on: resolution, margin, train and val people.

    Read from the experiments themselves (``lib.experiments.make_experiment`` on
    :data:`OCCLUSION_DATASET`), so the chapter counts exactly the people the verdicts are read from.
    """
    from lib.experiments import make_experiment

    return make_experiment("pbn/deep", profile, OCCLUSION_DATASET).data


def occlusion_sets(data_root: str | Path | None = None, profile: str = "cpu", splits: str | Sequence[str] = "val",
                   cache_dir: str | Path | None = None) -> dict[str, "PoseSet"]:
    """:data:`OCCLUSION_DATASET`'s ``splits`` as ``profile``'s runs load them (``lib.data.load_poseset``).

    ``splits``: ``"train"`` and/or ``"val"`` in any form :func:`lib.params.parse_str_list` reads
    (a notebook parameter as typed). Empty when the MPII annotations it renders from are absent
    and no pack of it is cached (in ``cache_dir``, default ``lib.data``'s). A split not cached is
    rendered once (:data:`RENDER_SECONDS_PER_PERSON`) and cached.
    """
    from lib.data import SPLITS, load_poseset
    from lib.params import parse_str_list

    chosen = parse_str_list("occlusion_splits", splits, allow_none=False, example=SPLITS, choices=SPLITS)
    d = occlusion_data(profile)
    out: dict[str, "PoseSet"] = {}
    for split in chosen:
        try:
            out[split] = load_poseset(OCCLUSION_DATASET, split, data_root=data_root, resolution=d.resolution,
                                      margin=d.margin, limit=d.train_limit if split == "train" else d.val_limit,
                                      cache_dir=cache_dir)
        except FileNotFoundError:  # no MPII annotations to render from, and no cached pack
            return {}
    return out


def occlusion_counts(sets: Mapping[str, "PoseSet"]) -> pd.DataFrame:
    """Joints of each set by what hides them (:data:`OCCLUSION_ROWS`), per column of the papers' tables.

    ``sets`` maps a name (a split) to a PoseSet with occlusion labels (``PoseSet.occlusion``, codes
    :data:`lib.paper.OCCLUSION_CODES`). Rows: (``"<name>: <N> people"``, visible / self-occluded /
    other-occluded / not annotated); columns: the papers' joint columns (PBN Tables 1-5, two joints
    each, counts summed), ``scored`` (the joints the papers' Mean scores: all but pelvis and thorax)
    and ``share %`` (of the scored joint slots, people × joints). The four rows of a set add up to
    its people times the joints of each column.
    """
    codes = {"visible": 0, "self-occluded": OCCLUSION_CODES["self_occluded"],
             "other-occluded": OCCLUSION_CODES["other_occluded"]}
    frames = {}
    for name, ps in sets.items():
        if ps.occlusion is None:
            raise ValueError(f"set {name!r} has no occlusion labels (only rendered datasets have them)")
        ann, occ = np.asarray(ps.annotated, bool), np.asarray(ps.occlusion)
        unknown = sorted(set(np.unique(occ[ann]).tolist()) - set(codes.values()))
        if unknown:
            raise ValueError(f"set {name!r} has occlusion codes {unknown}; known: {codes}")
        kinds = {row: ann & (occ == code) for row, code in codes.items()}
        kinds["not annotated"] = ~ann
        pos = {j: c for c, j in enumerate(ps.joint_ids)}
        scored = [pos[j] for j in ps.joint_ids if j not in J.MEAN_EXCLUDED]
        table = {}
        for col, js in J.TABLE_COLUMNS.items():
            cols = [pos[j] for j in js if j in pos]
            table[col] = {row: int(m[:, cols].sum()) for row, m in kinds.items()}
        table["scored"] = {row: int(m[:, scored].sum()) for row, m in kinds.items()}
        frame = pd.DataFrame(table).reindex(list(OCCLUSION_ROWS))
        frame["share %"] = 100 * frame["scored"] / max(len(ps) * len(scored), 1)
        frames[f"{name}: {len(ps):,} people"] = frame
    if not frames:
        return pd.DataFrame(columns=[*J.TABLE_COLUMNS, "scored", "share %"])
    return pd.concat(frames).round({"share %": 1})


def occlusion_caption(sets: Mapping[str, "PoseSet"], profile: str = "cpu") -> str:
    """What :func:`occlusion_counts` of ``sets`` (from :func:`occlusion_sets`) counts, as Markdown.

    Names the people ``profile``'s occlusion runs train and validate on (:func:`occlusion_data`)
    and which of them the table counts, so a table of the validation people alone says so.
    """
    d = occlusion_data(profile)
    train = d.train_limit or DEFAULT_SYNTHETIC_NUM["train"]
    val = d.val_limit or DEFAULT_SYNTHETIC_NUM["val"]
    uses = (f"Profile `{profile}` trains its occlusion runs on {train:,} `{OCCLUSION_DATASET}` people and "
            f"validates them on {val:,}, as {d.resolution}-px crops.")
    if not sets:
        return (f"{uses} They are rendered from MPII's annotations (`mpii/mpii_annotations.json.gz` under "
                "`POSE_DATA`), which are not here, and no pack of them is cached: nothing to count.")
    names = {"train": "training", "val": "validation"}
    counted = " and the ".join(f"{len(ps):,} {names.get(k, k)}" for k, ps in sets.items())
    text = f"{uses} The table counts the joints of the {counted} people."
    if "train" not in sets:
        minutes = max(1, round(train * RENDER_SECONDS_PER_PERSON / 60))
        text += (f" The training people are left out because counting needs them rendered: {train:,} people "
                 f"take about {minutes} minutes on a CPU core unless their pack is cached "
                 "(`occlusion_splits = \"train, val\"` counts them).")
    return text + (" Columns: the papers' joint columns (each sums a left and right joint, Head the upper "
                   "neck and head top); `scored`: the joints the papers' Mean scores (all but pelvis and "
                   "thorax), and their `share %`. Rows: visible, hidden by the person's own body "
                   "(self-occluded), hidden by an object or another person (other-occluded), or not "
                   "annotated in MPII (e.g. outside the photo).")
