"""The poses behind the data and mutual-information chapters: sources, visibility, MI groups, the choice of k.

Three pose sources are compared (PBN Sec. 3.1 uses the first):

* **MPII** training annotations (22,246 people; ``$POSE_DATA/mpii/mpii_annotations.json.gz``),
  each pose scaled by its person height (200·scale px), as :mod:`lib.groups` does;
* **LSP Extended** training annotations (9,000 people, 14 joints, ``lspet/joints.mat``): its
  people are already scale-normalised (~150 px), so one size for all;
* the **synthetic generator**'s poses (:func:`lib.data.kinematics.sample_pose`), scaled by their
  standing height: what the synthetic benchmark trains on.

Without ``POSE_DATA`` only the generator is available; the MPII groups then come from
:mod:`lib.joints` (computed once from the annotations by ``python -m lib.groups``), and every
function says which it used. Poses are kept with their columns in MPII joint order
(:attr:`PoseSource.joint_ids` ascending), so matrices of different sources line up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lib import groups as G
from lib import joints as J

#: Groups stored in :mod:`lib.joints` for the MPII annotations, by k.
STORED_MPII_GROUPS: dict[int, J.Groups] = {2: J.MI2_GROUPS, 5: J.MI5_GROUPS, 6: J.MI6_GROUPS, 8: J.MI8_GROUPS,
                                           16: J.MI16_GROUPS}


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


def _root(data_root: str | Path | None) -> Path | None:
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
    root = _root(data_root)
    path = root / "mpii" / "mpii_annotations.json.gz" if root else None
    if path is None or not path.is_file():
        return None
    ann = _read_mpii_train(str(path))
    return PoseSource("MPII (train)", ann.joints, ann.annotated, ann.visible, G.MPII_SCALE_PX * ann.scale,
                      tuple(range(J.NUM_MPII_JOINTS)), "mpii/mpii_annotations.json.gz")


def lspet_train_poses(data_root: str | Path | None = None) -> PoseSource | None:
    """The 9,000 LSP Extended training poses (14 joints, reordered to MPII order), or None."""
    root = _root(data_root)
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


# ---------------------------------------------------------------------------------------------
# Mutual information and groups (PBN Sec. 3.1)


def canonical(groups: Sequence[Sequence[int]]) -> J.Groups:
    """Groups sorted within and between (comparable with ``==``)."""
    return G.canonical_groups(groups)


def source_mi(src: PoseSource, config: G.MIConfig = G.MIConfig()) -> np.ndarray:
    """PBN Eq. 1 on the lattice for ``src`` (``J×J``, nats; diagonal = entropies)."""
    return G.mutual_information(src.joints, src.annotated, config, person_size=src.person_size)


def source_groups(src: PoseSource, k: int, config: G.MIConfig = G.MIConfig(), seed: int = 0) -> J.Groups:
    """The k spectral MI groups of ``src`` in MPII joint ids (canonical)."""
    local = G.mi_groups(src.joints, src.annotated, k, config, person_size=src.person_size, seed=seed)
    return canonical([[src.joint_ids[i] for i in g] for g in local])


def mpii_groups(k: int, data_root: str | Path | None = None) -> tuple[J.Groups, str]:
    """The MPII groups for ``k``: computed from the annotations when present, else the stored ones.

    Returns the groups and where they came from.
    """
    src = mpii_train_poses(data_root)
    if src is not None:
        return source_groups(src, k), f"computed from the {len(src):,} MPII training poses"
    if k not in STORED_MPII_GROUPS:
        raise ValueError(f"no stored MPII groups for k = {k} (stored: {sorted(STORED_MPII_GROUPS)}); set POSE_DATA")
    return canonical(STORED_MPII_GROUPS[k]), "stored in lib.joints (no POSE_DATA: not recomputed)"


def groups_text(groups: Sequence[Sequence[int]]) -> str:
    """``r_ankle r_knee l_knee l_ankle | r_hip l_hip pelvis | ...``."""
    return " | ".join(" ".join(J.MPII_JOINTS[j] for j in g) for g in groups)


def groups_frame(groups: Sequence[Sequence[int]]) -> pd.DataFrame:
    """One row per group: its joints by name."""
    return pd.DataFrame({"joints": [", ".join(J.MPII_JOINTS[j] for j in g) for g in groups]},
                        index=pd.RangeIndex(1, len(groups) + 1, name="group"))


def mpii_groups_by_k(ks: Sequence[int] = (2, 5, 6, 8), data_root: str | Path | None = None) -> pd.DataFrame:
    """The MPII groups for each k, and whether they equal the groups the model zoo uses (lib.joints)."""
    rows = []
    for k in ks:
        g, _ = mpii_groups(k, data_root)
        stored = STORED_MPII_GROUPS.get(k)
        rows.append({"k": k, "groups": groups_text(g),
                     "= lib.joints": None if stored is None else g == canonical(stored)})
    return pd.DataFrame(rows).set_index("k")


def compare_sources(groups: dict[str, J.Groups], reference: str) -> pd.DataFrame:
    """Adjusted Rand index and equality of each source's groups against ``reference``'s, on shared joints."""
    ref = groups[reference]
    rows = []
    for name, g in groups.items():
        shared = sorted(set(j for gg in g for j in gg) & set(j for gg in ref for j in gg))
        a = J.restrict_groups(g, shared)
        b = J.restrict_groups(ref, shared)
        cmp = G.compare_groupings(a, b)
        rows.append({"source": name, "groups": groups_text(g), "same as " + reference: cmp.same,
                     "adjusted Rand": round(cmp.adjusted_rand, 3)})
    return pd.DataFrame(rows).set_index("source")


def coassignment(src: PoseSource, k: int, n_boot: int = 20, seed: int = 0) -> np.ndarray:
    """How often each pair of joints shares a group over ``n_boot`` pose resamples (:func:`lib.groups.bootstrap_coassignment`)."""
    return G.bootstrap_coassignment(src.joints, src.annotated, k, person_size=src.person_size, n_boot=n_boot, seed=seed)


def eigengaps(affinity: np.ndarray, k_max: int = 10) -> pd.Series:
    """Eigengap heuristic for the number of clusters: λ_{k+1} − λ_k of the normalised Laplacian.

    ``L = I − D^{-1/2} A D^{-1/2}`` of the MI affinity; a large gap after the k-th smallest
    eigenvalue means k well-separated clusters (von Luxburg 2007, Sec. 8.3). Not in PBN, which
    fixes k = 5 and reads k from accuracy (Fig. 5(e)).
    """
    a = np.asarray(affinity, dtype=np.float64)
    d = a.sum(1)
    inv = np.where(d > 0, 1 / np.sqrt(np.maximum(d, 1e-300)), 0.0)
    lap = np.eye(len(a)) - inv[:, None] * a * inv[None, :]
    lam = np.sort(np.linalg.eigvalsh(lap))
    k_max = min(k_max, len(a) - 1)
    return pd.Series(np.diff(lam)[:k_max], index=pd.RangeIndex(1, k_max + 1, name="k"), name="eigengap")


def stability_by_k(src: PoseSource, ks: Sequence[int] = (2, 5, 6, 8), n_boot: int = 20,
                   seed: int = 0) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """For each k: the groups, how often a bootstrap resample reproduces each pair's co-assignment.

    ``agreement``: mean over joint pairs of the fraction of resamples agreeing with the full
    sample's grouping (1 = every resample gives the same groups); ``weakest pair``: the pair
    with the lowest agreement and that agreement. Also returns the co-assignment matrices by k.
    """
    rows, mats = [], {}
    n = len(src.joint_ids)
    iu = np.triu_indices(n, 1)
    for k in ks:
        full_local = G.mi_groups(src.joints, src.annotated, k, person_size=src.person_size)
        together = np.zeros((n, n), dtype=bool)
        for g in full_local:
            together[np.ix_(g, g)] = True
        co = mats[k] = coassignment(src, k, n_boot, seed)
        agree = np.where(together, co, 1 - co)[iu]
        worst = int(np.argmin(agree))
        m, q = iu[0][worst], iu[1][worst]
        rows.append({"k": k, "groups": groups_text(canonical([[src.joint_ids[i] for i in g] for g in full_local])),
                     "agreement": round(float(agree.mean()), 3),
                     "weakest pair": f"{src.names[m]}–{src.names[q]}" if agree[worst] < 1 else "none: all agree",
                     "its agreement": round(float(agree[worst]), 3)})
    return pd.DataFrame(rows).set_index("k"), mats


def mi_bias_summary(src: PoseSource, config: G.MIConfig = G.MIConfig(), n_shuffles: int = 3) -> pd.DataFrame:
    """The plug-in estimator's bias (MI of shuffled pairs) beside the MI, over off-diagonal pairs.

    Rows: the weakest, median and strongest pair by MI; columns: MI, bias and bias / MI.
    """
    mi = source_mi(src, config)
    bias = G.shuffled_mi_bias(src.joints, src.annotated, config, person_size=src.person_size, n_shuffles=n_shuffles)
    iu = np.triu_indices(len(mi), 1)
    order = np.argsort(mi[iu])
    picks = {"weakest pair": order[0], "median pair": order[len(order) // 2], "strongest pair": order[-1]}
    rows = []
    for label, i in picks.items():
        m, q = iu[0][i], iu[1][i]
        rows.append({"": label, "pair": f"{src.names[m]}–{src.names[q]}", "MI (nats)": round(float(mi[m, q]), 3),
                     "bias (nats)": round(float(bias[m, q]), 3), "bias / MI": round(float(bias[m, q] / mi[m, q]), 3)})
    return pd.DataFrame(rows).set_index("")


# ---------------------------------------------------------------------------------------------
# Datasets and visibility


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


def table6_parameters() -> pd.DataFrame:
    """PBN Table 6's parameter counts beside ours: eight stacks, 16 joints, 256 channels, 256×256.

    Counted on PyTorch's ``meta`` device (shapes only), so it is instant and needs no memory.
    """
    import torch

    from lib.models import ModelConfig, build_model, count_params

    out = {}
    for label, head in (("Deep BS (8 stacks)", "deep"), ("Ours (8 stacks)", "pbn")):
        cfg = ModelConfig(num_joints=16, stacks=8, channels=256, head=head,
                          groups=J.MI5_GROUPS if head == "pbn" else (), input_size=256)
        with torch.device("meta"):
            out[label] = count_params(build_model(cfg))
    paper = {"Deep BS (8 stacks)": 27.22, "Ours (8 stacks)": 26.69}
    ours = pd.Series(out)
    return pd.DataFrame({"ours": ours, "ours (M)": (ours / 1e6).round(2), "paper (M)": pd.Series(paper)})


# ---------------------------------------------------------------------------------------------
# The data chapter


def dataset_overview(data_root: str | Path | None = None, profile: str = "smoke") -> pd.DataFrame:
    """One row per dataset: whether it is here, its people (train / validation), joints, flags, metric, role.

    ``profile`` says how many synthetic people a run of that profile renders.
    """
    from lib.experiments import get_profile

    p = get_profile(profile)
    mpii, lsp = mpii_train_poses(data_root), lspet_train_poses(data_root)
    root = _root(data_root)
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
    root = _root(data_root)
    if root is not None and (root / "lspet" / "joints.mat").is_file():
        out["LSP Extended"] = load_poseset("lspet", "val", data_root=root, limit=limit)
    if root is not None and (root / "mpii" / "mpii_annotations.json.gz").is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "dropped N people whose images are missing": expected
            out["MPII"] = load_poseset("mpii", "train", data_root=root, require_images=False)
    return out


def visibility_sources(data_root: str | Path | None = None, profile: str = "smoke") -> dict[str, "object"]:
    """Annotations with visibility flags: MPII and LSP Extended training sets, the profile's synthetic training set."""
    from lib.data import load_poseset
    from lib.experiments import get_profile

    p = get_profile(profile)
    out: dict[str, object] = {s.name: s for s in (mpii_train_poses(data_root), lspet_train_poses(data_root)) if s}
    out["synthetic (train)"] = load_poseset("synthetic", "train", resolution=p.resolution,
                                            limit=p.train_limit or 2000)
    return out


def affinities(sources: dict[str, PoseSource], config: G.MIConfig = G.MIConfig()) -> dict[str, tuple[np.ndarray, list[str]]]:
    """PBN Fig. 2(a) of each source: the normalised off-diagonal MI and the joint names."""
    return {name: (G.normalized_affinity(source_mi(s, config)), s.names) for name, s in sources.items()}


def groups_by_source(sources: dict[str, PoseSource], k: int, config: G.MIConfig = G.MIConfig(),
                     with_paper: bool = True) -> dict[str, J.Groups]:
    """The k MI groups of every source (MPII ids), and PBN Fig. 2(b)'s groups first when ``k == 5``."""
    out: dict[str, J.Groups] = {}
    if with_paper and k == 5:
        out["paper Fig. 2(b)"] = canonical(J.MI5_GROUPS)
    out.update({name: source_groups(s, k, config) for name, s in sources.items()})
    return out


def mpii_note(sources: dict[str, PoseSource]) -> str:
    """A sentence saying whether the MPII annotations were read or the stored groups stand in."""
    if "MPII (train)" in sources:
        return (f"The MPII annotations were found: every MPII number below is computed from its "
                f"{len(sources['MPII (train)']):,} training poses.")
    return ("**`POSE_DATA` is not set, or holds no MPII annotations**: MPII's matrix cannot be drawn, and MPII's "
            "groups below are the ones stored in `lib.joints` (computed once from the annotations with "
            "`python -m lib.groups`), not recomputed. The synthetic generator's poses are analysed in full.")


def joint_columns() -> pd.DataFrame:
    """The papers' table columns (PBN Tables 1-5, KPTransfer Tables 2-5): MPII joints pooled, and whether LSP has them."""
    lsp = set(J.LSP_TO_MPII)
    rows = {name: {"joints": ", ".join(J.MPII_JOINTS[j] for j in js), "in LSP": all(j in lsp for j in js)}
            for name, js in J.TABLE_COLUMNS.items()}
    rows["Mean"] = {"joints": "all but " + ", ".join(J.MPII_JOINTS[j] for j in J.MEAN_EXCLUDED), "in LSP": True}
    rows["Hard"] = {"joints": ", ".join(J.MPII_JOINTS[j] for j in J.HARD_JOINTS), "in LSP": True}
    return pd.DataFrame(rows).T


def eigengap_choice(gaps: dict[str, pd.Series], k_min: int = 2) -> pd.DataFrame:
    """Per source, the k ≥ ``k_min`` with the largest eigengap (the heuristic's choice) and the runner-up."""
    rows = []
    for name, s in gaps.items():
        s = s[s.index >= k_min].sort_values(ascending=False)
        rows.append({"source": name, "largest gap at k": int(s.index[0]), "gap": round(float(s.iloc[0]), 3),
                     "next largest at k": int(s.index[1]), "its gap": round(float(s.iloc[1]), 3)})
    return pd.DataFrame(rows).set_index("source")


#: Pairs of joints the PBN text singles out (Sec. 1, Fig. 1; Sec. 3.1; Sec. 4.3 "overlapping groups").
PAPER_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("r_ankle", "l_ankle", "Sec. 3.1: more related than ..."),
    ("r_ankle", "l_wrist", "... right ankle and left wrist"),
    ("r_ankle", "r_wrist", "Fig. 1: wrists tell little about the right ankle"),
    ("l_elbow", "l_shoulder", "Sec. 4.3: significant MI, different groups"),
    ("r_elbow", "r_shoulder", "Sec. 4.3: significant MI, different groups"),
)


def paper_pairs(matrices: dict[str, tuple[np.ndarray, list[str]]]) -> pd.DataFrame:
    """The normalised MI of the pairs PBN's text mentions (:data:`PAPER_PAIRS`), and its percentile among all pairs."""
    rows = {}
    for a, b, note in PAPER_PAIRS:
        row = {"paper": note}
        for name, (m, names) in matrices.items():
            if a in names and b in names:
                iu = np.triu_indices(len(m), 1)
                v = m[names.index(a), names.index(b)]
                row[f"{name}: MI"] = round(float(v), 2)
                row[f"{name}: percentile"] = int(round(100 * float((m[iu] < v).mean())))
        rows[f"{a}–{b}"] = row
    return pd.DataFrame(rows).T
