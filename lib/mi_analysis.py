"""The mutual-information chapter's analysis of the pose sources (PBN Sec. 3.1, Eq. 1, Fig. 2).

PBN Eq. 1 on each source's poses (:func:`source_mi`), its k spectral groups (:func:`source_groups`;
MPII's against Fig. 2(b) and the groups :mod:`lib.joints` stores), how the sources' groups compare,
how stable they are under resampling (:func:`stability_by_k`), the eigengap heuristic for k, the
plug-in estimator's bias, and the joint pairs the paper's text singles out. The estimator and the
clustering are :mod:`lib.groups`; the poses :mod:`lib.pose_sources`.

Without ``POSE_DATA`` the MPII groups come from :mod:`lib.joints` (computed once from the
annotations by ``python -m lib.groups``), and every function says which it used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lib import groups as G
from lib import joints as J
from lib.pose_sources import PoseSource, mpii_train_poses


#: Groups stored in :mod:`lib.joints` for the MPII annotations, by k.
STORED_MPII_GROUPS: dict[int, J.Groups] = {2: J.MI2_GROUPS, 5: J.MI5_GROUPS, 6: J.MI6_GROUPS, 8: J.MI8_GROUPS,
                                           16: J.MI16_GROUPS}


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


def eigengap_choice(gaps: dict[str, pd.Series], k_min: int = 2) -> pd.DataFrame:
    """Per source, the k ≥ ``k_min`` with the largest eigengap (the heuristic's choice) and the runner-up."""
    rows = []
    for name, s in gaps.items():
        s = s[s.index >= k_min].sort_values(ascending=False)
        rows.append({"source": name, "largest gap at k": int(s.index[0]), "gap": round(float(s.iloc[0]), 3),
                     "next largest at k": int(s.index[1]), "its gap": round(float(s.iloc[1]), 3)})
    return pd.DataFrame(rows).set_index("source")


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
