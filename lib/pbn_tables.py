"""The PBN chapter's tables (Tang & Wu 2019, Tables 1-7 and Fig. 5), from the records in ``results/``.

Every table averages over the seeds that have a record (via :class:`lib.record_source.RecordSource`)
and says how many; rows without a record are kept and left empty, so a missing run is visible
rather than silently dropped. Intervals are those of the verdicts (:func:`lib.stats.config_mean`:
t over seeds plus the image variance shared by runs). The layouts follow the paper: Fig. 5's
panels (:data:`FIG5`, :func:`fig5_frame`), Tables 1-5 (per-joint PCK: Head, Sho., Elb., Wri.,
Hip, Knee, Ank., Mean; :func:`per_joint_results`), Table 6 (invisible / visible / all ten hard
joints and parameters; :func:`table6`), Table 7 (invisible hard joints by column; :func:`table7`)
and the occlusion comparison of the abstract and Fig. 7 (:func:`occlusion_table`). How a row
stands beside the paper's, with the scale it was measured at, is :mod:`lib.present`; the
KPTransfer chapter's tables are :mod:`lib.kpt_tables`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.metrics import visibility_tables
from lib.paper import HARD, PAPER_SCALE, PAPER_TABLES, Comparison, Selection, trains_large_pair
from lib.present import SCALE, ci_text, present_mean, scale
from lib.record_source import RecordSource, common_joints, has_invisible_joints, seeds_text, selected_hits
from lib.stats import config_mean, pooled_pck, signed
from lib.verdicts import measure_comparison


#: Column order of the papers' per-joint tables.
LAYOUT: tuple[str, ...] = (*J.TABLE_COLUMNS, "Mean")


#: The experiments of PBN Fig. 5, panel by panel, with what varies: (panel, experiment, x, series).
FIG5: tuple[tuple[str, str, object, str], ...] = (
    *(("a", f"pbn/mi5-d{d}-w{w}", w, f"D = {d}") for d in (1, 2, 3) for w in (32, 64, 128, 256)),
    *(("b", f"pbn/mi5-d1-w{w}", w, "D = 1") for w in (32, 64, 128, 256)),
    ("c", "pbn/linear", "Linear BS", "3 stacks"), ("c", "pbn/deep", "Deep BS", "3 stacks"),
    ("c", "pbn/mi5-d1-w64", "Ours", "3 stacks"),
    *(("d", f"pbn/{g}-d1-w{w}", w, "Stat" if g == "mi5" else "Body") for g in ("mi5", "body") for w in (32, 64, 128, 256)),
    ("e", "pbn/groups2", 2, "k"), ("e", "pbn/mi5-d1-w64", 5, "k"), ("e", "pbn/groups8", 8, "k"),
    ("e", "pbn/groups16", 16, "k"),
    ("f", "pbn/mi5-d1-w64", "Disjoint", "groups"), ("f", "pbn/overlap", "Overlapping", "groups"),
)


def score(source: RecordSource, name: str, selection: Selection = HARD) -> dict[str, float]:
    """Seed-averaged pooled PCK of ``name`` on ``selection`` with the 95% interval of the verdicts.

    :func:`lib.stats.config_mean`: Student's t over the per-seed PCKs plus the image variance
    shared by the runs, never narrower than the image-only interval; undefined (NaN) with one
    seed. Keys: ``mean``, ``low``, ``high``, ``seeds`` (NaN and 0 without records).
    """
    runs = source.runs(name)
    if not runs:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "seeds": 0}
    joints = common_joints(runs, selection)
    hits = [selected_hits(r, joints, selection.visibility) for r in runs]
    if any(e.sum() == 0 for _, e in hits):
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "seeds": len(runs)}
    ci = config_mean(hits)
    return {"mean": ci.estimate, "low": ci.low, "high": ci.high, "seeds": len(runs)}


def _split_people(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation people to choose a model on (even positions) and to report it on (odd positions)."""
    idx = np.arange(n)
    return idx[0::2], idx[1::2]


def _subset_pck(source: RecordSource, name: str, people: str, selection: Selection = HARD) -> float:
    """Seed-mean pooled PCK of ``name`` on ``selection`` over the ``choose`` or ``report`` half of the people."""
    runs = source.runs(name)
    if not runs:
        return math.nan
    joints = common_joints(runs, selection)
    vals = []
    for r in runs:
        h, e = selected_hits(r, joints, selection.visibility)
        rows = _split_people(len(h))[0 if people == "choose" else 1]
        if e[rows].sum() == 0:
            return math.nan
        vals.append(pooled_pck((h[rows], e[rows])))
    return float(np.mean(vals))


def fig5_frame(source: RecordSource) -> pd.DataFrame:
    """The points of PBN Fig. 5 (a)-(f): panel, experiment, x, series, Hard PCK with its interval, parameters."""
    rows = []
    for panel, name, x, series in FIG5:
        runs = source.runs(name)
        rows.append({"panel": panel, "experiment": name, "x": x, "series": series, **score(source, name, HARD),
                     "params": runs[0].data["model"]["params"] if runs else math.nan,
                     "train_loss": present_mean([r.metrics.get("train_loss") for r in runs])})
    return pd.DataFrame(rows)


def ablation_table(source: RecordSource, names: Sequence[str]) -> pd.DataFrame:
    """Per experiment: Hard and Mean PCK (seed mean), Hard's interval, final training loss, parameters, seeds."""
    rows = []
    for name in names:
        runs = source.runs(name)
        s = score(source, name, HARD)
        rows.append({"experiment": name, "Hard": round(s["mean"], 2), "Hard 95% CI": _ci(s),
                     "Mean": round(present_mean([r.metrics.get("Mean") for r in runs]), 2),
                     "train loss (×1e-3)": round(1e3 * present_mean([r.metrics.get("train_loss") for r in runs]), 3),
                     "params (M)": round(runs[0].data["model"]["params"] / 1e6, 3) if runs else math.nan,
                     "seeds": len(runs)})
    return pd.DataFrame(rows).set_index("experiment")


def _ci(s: dict) -> str:
    return ci_text(s["low"], s["high"], s["seeds"])


def _report_tables(rec, visibility: str) -> dict[str, float]:
    """A record's per-joint table (PBN Tables 1-5) on the ``report`` half of the validation people."""
    a = rec.arrays()
    rows = _split_people(len(a["hits"]))[1]
    tabs = visibility_tables(a["hits"][rows].astype(bool), a["evaluated"][rows].astype(bool),
                             a["visible"][rows].astype(bool), [int(j) for j in a["joint_ids"]])
    return tabs[visibility]


def per_joint_table(source: RecordSource, names: Sequence[str], visibility: str = "all",
                    labels: Sequence[str] | None = None, people: str = "all") -> pd.DataFrame:
    """PBN Tables 1-5's layout: one row per experiment, Head ... Ank., Mean (seed means), seeds and scale.

    ``visibility``: ``all`` (Tables 1, 2, 4, 5) or ``invisible`` (Table 3) or ``visible``.
    ``people``: ``all`` validation people (the records' stored tables) or ``report``, the half not
    used to choose a model (:func:`best_experiment`).
    """
    if people not in ("all", "report"):
        raise ValueError(f"people must be 'all' or 'report', got {people!r}")
    rows = {}
    for i, name in enumerate(names):
        runs = source.runs(name)
        tabs = [r.data["metrics_by_visibility"][visibility] if people == "all" else _report_tables(r, visibility)
                for r in runs]
        row = {c: round(present_mean([t.get(c) for t in tabs]), 1) for c in LAYOUT}
        rows[labels[i] if labels else name] = {**row, **scale(source, name)}
    df = pd.DataFrame(rows).T
    df["seeds"] = df["seeds"].astype(int)
    return df.dropna(axis=1, how="all")


def best_experiment(source: RecordSource, candidates: Sequence[str] | None = None) -> str | None:
    """The three-stack PBN variant (branches, not a baseline) with the highest seed-mean Hard PCK (None without records).

    Chosen on the even-numbered validation people only, so that the odd-numbered ones, where
    :func:`per_joint_results` reports it, are not the people it was picked on (a maximum over
    many candidates scored on the same people is biased upwards).
    """
    names = list(candidates) if candidates else list(dict.fromkeys(
        e for _, e, _, _ in FIG5 if e not in ("pbn/linear", "pbn/deep")))
    scores = {n: _subset_pck(source, n, "choose") for n in names}
    scores = {n: v for n, v in scores.items() if not math.isnan(v)}
    return max(scores, key=scores.get) if scores else None


def paper_layout_key(dataset: str, visibility: str = "all") -> str:
    """The paper table to print beside a per-joint table: Table 4 (LSP), Table 3 (invisible), else Table 2."""
    if visibility == "invisible":
        return "PBN Table 3"
    return "PBN Table 4" if dataset == "lspet" else "PBN Table 2"


def per_joint_results(source: RecordSource, datasets: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """PBN Tables 1-5's layout for the best three-stack variant and both baselines, on each dataset.

    ``datasets``: None = ``source``'s dataset, its occlusion dataset, then synthetic and LSP Extended. Returns
    ``{"all": ..., "invisible": ...}``, each indexed by (dataset, model) with the paper's
    eight-stack row (Table 2 or 4; Table 3 for invisible joints) under its own key, every row
    with its :data:`lib.present.SCALE`; a dataset without invisible joints has no block in
    ``"invisible"``. The best variant is chosen on the even-numbered validation people
    (:func:`best_experiment`) and every row of ours is scored on the odd-numbered ones.
    """
    if datasets is None:
        datasets = list(dict.fromkeys([source.dataset, source.occlusion_dataset, "synthetic", "lspet"]))
    columns = [*LAYOUT, *SCALE]
    out = {}
    for vis in ("all", "invisible"):
        parts = {}
        for ds in datasets:
            src = source.on(ds)
            best = best_experiment(src)
            if best is None:
                continue
            names = list(dict.fromkeys([best, "pbn/linear", "pbn/deep"]))
            labels = [f"best PBN ({n}, chosen on the other half)" if n == best else n for n in names]
            table = per_joint_table(src, names, vis, labels, people="report")
            if not any(c in table.columns for c in LAYOUT):
                continue  # no joint of this visibility (LSP Extended annotates visible joints only)
            parts[f"ours: {ds}, odd-numbered val people"] = table
            key = paper_layout_key(ds, vis)
            parts.setdefault(f"paper: {key}", PAPER_TABLES[key].assign(**PAPER_SCALE[key]))
        if not any(k.startswith("ours") for k in parts):
            out[vis] = pd.DataFrame(columns=columns)
            continue
        out[vis] = pd.concat({k: v.astype(object) for k, v in parts.items()}).reindex(columns=columns).dropna(
            axis=1, how="all")
    return out


def table6(source: RecordSource, pairs: Sequence[tuple[str, str]] = (("pbn/deep", "Deep BS"), ("pbn/mi5-d1-w64", "Ours"),
                                                                  ("pbn/large-deep", "Deep BS (large)"),
                                                                  ("pbn/large-mi5", "Ours (large)"))) -> pd.DataFrame:
    """PBN Table 6's layout: invisible, visible and all ten hard joints, parameters; one row per experiment.

    On a dataset without invisible joints (LSP Extended annotates only visible ones) Invisible and
    Visible are left empty: "visible" would repeat Overall. Table 6's columns belong together on one
    dataset with both kinds (the claims read them from the occlusion dataset, ``synthetic-mpii``).
    """
    rows = {}
    for name, label in pairs:
        runs = source.runs(name)
        split = not runs or has_invisible_joints(runs, common_joints(runs, HARD))
        row = {col: score(source, name, Selection(col, J.HARD_JOINTS, vis))["mean"] if split or vis == "all"
               else math.nan for col, vis in (("Invisible", "invisible"), ("Visible", "visible"), ("Overall", "all"))}
        row = {k: round(v, 2) for k, v in row.items()}
        row["Params (M)"] = round(runs[0].data["model"]["params"] / 1e6, 2) if runs else math.nan
        rows[label] = {**row, **scale(source, name)}
    return pd.DataFrame(rows).T.astype({"stacks": int, "channels": int, "seeds": int})


def table6_pairs(profile: str) -> list[tuple[str, str]]:
    """The rows of the Table 6-7 analogues: both baselines and the PBN at the ablations' size, and the
    large pair where ``profile``'s plan trains it (:func:`lib.paper.trains_large_pair`)."""
    rows = [("pbn/linear", "Linear BS"), ("pbn/deep", "Deep BS"), ("pbn/mi5-d1-w64", "Ours")]
    if trains_large_pair(profile):
        rows += [("pbn/large-deep", "Deep BS (large)"), ("pbn/large-mi5", "Ours (large)")]
    return rows


def fusion_experiments(profile: str) -> list[str]:
    """PBN Sec. 4.3's feature-fusion comparison: shared (the default) and specific fusion at the
    ablations' size, and at the large size where ``profile``'s plan trains the large pair."""
    names = ["pbn/mi5-d1-w64", "pbn/fusion-specific"]
    if trains_large_pair(profile):
        names += ["pbn/large-mi5", "pbn/large-fusion-specific"]
    return names


def table7(source: RecordSource, pairs: Sequence[tuple[str, str]] = (("pbn/large-deep", "Deep BS (large)"),
                                                                  ("pbn/large-mi5", "Ours (large)")),
           visibility: str = "invisible") -> pd.DataFrame:
    """PBN Table 7's layout: PCK on invisible joints (or ``visibility``'s), by hard-joint column, and their pooled mean."""
    rows = {}
    for name, label in pairs:
        runs = source.runs(name)
        tabs = [r.data["metrics_by_visibility"].get(visibility, {}) for r in runs]
        row = {c: round(present_mean([t.get(c) for t in tabs]), 2) for c in ("Elb.", "Wri.", "Hip", "Knee", "Ank.")}
        row["Mean"] = round(present_mean([t.get("Hard") for t in tabs]), 2)
        rows[label] = {**row, **scale(source, name)}
    return pd.DataFrame(rows).T.astype({"stacks": int, "channels": int, "seeds": int})


#: The columns of the occlusion table: label and :data:`lib.paper.VISIBILITIES` value.
OCCLUSION_COLUMNS: tuple[tuple[str, str], ...] = (("visible", "visible"), ("self-occluded", "self_occluded"),
                                                   ("other-occluded", "other_occluded"))


def occlusion_counts(source: RecordSource, name: str, joints: Sequence[int]) -> dict[str, int]:
    """Evaluated joints of ``name``'s first record in each :data:`OCCLUSION_COLUMNS` (empty without one)."""
    runs = source.runs(name)
    out = {}
    for label, vis in OCCLUSION_COLUMNS:
        try:
            out[label] = int(selected_hits(runs[0], joints, vis)[1].sum()) if runs else 0
        except ValueError:
            out[label] = 0
    return out


def occlusion_table(source: RecordSource, pbn: tuple[str, str] = ("pbn/mi5-d1-w64", "Ours"),
                    baselines: Sequence[tuple[str, str]] = (("pbn/linear", "Linear BS"), ("pbn/deep", "Deep BS")),
                    joints: Sequence[int] = J.HARD_JOINTS, joints_label: str = "ten hard joints") -> pd.DataFrame:
    """PCK on visible, self-occluded and other-occluded joints (PBN abstract, Table 6, Fig. 7), PBN against baselines.

    One row per model (seed-mean pooled PCK with :func:`lib.stats.config_mean`'s 95% interval) and
    one per difference PBN − baseline, signed (:func:`lib.stats.config_diff` on the same masked joints, via
    :func:`lib.verdicts.measure_comparison`: Welch t over seeds plus the shared image variance). The
    columns name how many joints each category holds in one run. A cell without a record says
    ``no record``; with one seed, ``one seed: no interval``; a record without occlusion labels,
    ``no occlusion labels``.
    """
    joints = tuple(joints)
    counts = occlusion_counts(source, pbn[0], joints)
    heads = {label: f"{label} (n = {counts[label]:,})" if counts[label] else label for label, _ in OCCLUSION_COLUMNS}
    rows: dict[str, dict[str, object]] = {}
    for name, label in (pbn, *baselines):
        row: dict[str, object] = {}
        for col, vis in OCCLUSION_COLUMNS:
            try:
                s = score(source, name, Selection(f"{joints_label}, {col}", joints, vis))
                ci = ci_text(s["low"], s["high"], s["seeds"])
            except ValueError:
                s, ci = {"mean": math.nan, "seeds": len(source.runs(name))}, "no occlusion labels"
            row[heads[col]], row[f"{col} 95% CI"] = round(s["mean"], 2), ci
        row["seeds"] = seeds_text([r.seed for r in source.runs(name)])
        rows[f"{label} ({name})"] = row
    for name, label in baselines:
        row = {}
        for col, vis in OCCLUSION_COLUMNS:
            comp = Comparison(pbn[0], name, Selection(f"{joints_label}, {col}", joints, vis))
            try:
                m = measure_comparison(source, comp)
            except LookupError:
                row[heads[col]], row[f"{col} 95% CI"] = math.nan, "no record"
                continue
            except ValueError as e:
                row[heads[col]] = math.nan
                row[f"{col} 95% CI"] = "no occlusion labels" if "occlusion" in str(e) else "not measurable"
                continue
            row[heads[col]] = signed(m.diff.estimate)  # a difference reads +1.23 / −0.49, as its interval
            row[f"{col} 95% CI"] = ci_text(m.diff.low, m.diff.high, m.fewest_seeds, signed=True)
            row["seeds"] = m.seeds()
        row.setdefault("seeds", "")
        rows[f"{pbn[1]} − {label}"] = row
    return pd.DataFrame(rows).T


def selection_table(source: RecordSource, names: Sequence[str], selections: Sequence[Selection]) -> pd.DataFrame:
    """Seed-mean pooled PCK of each experiment (rows) on each joint selection (columns), e.g. upper / lower body."""
    rows = {n: {s.label: round(score(source, n, s)["mean"], 2) for s in selections} for n in names}
    df = pd.DataFrame(rows).T
    df["seeds"] = [len(source.runs(n)) for n in names]
    return df
