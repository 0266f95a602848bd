"""The book's tables, computed from the records in ``results/`` (via :class:`lib.claims.RecordSource`).

Every table here averages over the seeds that have a record and says how many; rows without a
record are kept and left empty, so a missing run is visible rather than silently dropped. Rows
printed beside a paper's carry their scale (:data:`SCALE`: dataset, input size, stacks, channels,
seeds, test-time augmentation), the paper's rows theirs (:data:`lib.paper.PAPER_SCALE`), so a
three-stack 128×128 row never reads as the paper's eight-stack one. Intervals are those of the
verdicts (:func:`lib.stats.config_mean`: t over seeds plus the image variance shared by runs). The
layouts follow the papers: PBN Tables 1-5 (per-joint PCK: Head, Sho., Elb., Wri., Hip, Knee,
Ank., Mean), Table 6 (invisible / visible / all ten hard joints and parameters), Table 7
(invisible hard joints by column) and KPTransfer Tables 2-5 (S2's joints under transfer
learning, frozen weights and random initialisation).
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.claims import RecordSource, common_joints, measure_comparison, seeds_text, selected_hits
from lib.metrics import visibility_tables
from lib.paper import HARD, PAPER_SCALE, PAPER_TABLES, Comparison, Selection, trains_large_pair
from lib.stats import MIN_SEEDS, config_mean, pooled_pck

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


def present_mean(values: Sequence[float]) -> float:
    """The mean of the values that are present (neither None nor NaN); NaN when none is."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else math.nan


#: The scale columns of a row printed beside a paper's (PBN Sec. 4.1-4.3 report these for theirs).
SCALE: tuple[str, ...] = ("dataset", "input", "stacks", "channels", "seeds", "test-time aug.")


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


def scale(source: RecordSource, name: str) -> dict[str, object]:
    """The :data:`SCALE` columns of experiment ``name`` under ``source``'s profile, from its config."""
    exp = source.experiment(name, source.seeds[0])
    size = exp.model.input_size
    return {"dataset": source.dataset, "input": f"{size}×{size}", "stacks": exp.model.stacks,
            "channels": exp.model.channels, "seeds": len(source.runs(name)),
            "test-time aug.": "flip" if exp.flip_test else "none (single scale)"}


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
    return "" if math.isnan(s["low"]) else f"[{s['low']:.1f}, {s['high']:.1f}]"


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


def table6(source: RecordSource, pairs: Sequence[tuple[str, str]] = (("pbn/deep", "Deep BS"), ("pbn/mi5-d1-w64", "Ours"),
                                                                  ("pbn/large-deep", "Deep BS (large)"),
                                                                  ("pbn/large-mi5", "Ours (large)"))) -> pd.DataFrame:
    """PBN Table 6's layout: invisible, visible and all ten hard joints, parameters; one row per experiment."""
    rows = {}
    for name, label in pairs:
        runs = source.runs(name)
        row = {col: score(source, name, Selection(col, J.HARD_JOINTS, vis))["mean"]
               for col, vis in (("Invisible", "invisible"), ("Visible", "visible"), ("Overall", "all"))}
        row = {k: round(v, 2) for k, v in row.items()}
        row["Params (M)"] = round(runs[0].data["model"]["params"] / 1e6, 2) if runs else math.nan
        rows[label] = {**row, **scale(source, name)}
    return pd.DataFrame(rows).T.astype({"stacks": int, "channels": int, "seeds": int})


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


def beside_paper(ours: pd.DataFrame, paper_key: str, ours_label: str) -> pd.DataFrame:
    """``ours`` stacked over the paper's table ``paper_key`` (:data:`lib.paper.PAPER_TABLES`).

    Shared score columns, then the :data:`SCALE` columns ``ours`` has, filled for the paper's rows
    from :data:`lib.paper.PAPER_SCALE`: what each row measured stays beside its numbers.
    """
    return blocks_beside_paper({ours_label: ours}, paper_key)


def blocks_beside_paper(blocks: dict[str, pd.DataFrame], paper_key: str) -> pd.DataFrame:
    """Several blocks of our rows (e.g. one per dataset) stacked over the paper's table ``paper_key``.

    The columns are the paper's that any block has, then the :data:`SCALE` columns; a block
    without a column (LSP Extended has no invisible joints) shows it empty.
    """
    paper = PAPER_TABLES[paper_key]
    cols = [c for c in paper.columns if any(c in b.columns for b in blocks.values())]
    scale_cols = [c for c in SCALE if any(c in b.columns for b in blocks.values())]
    theirs = paper[cols].astype(object).assign(**{c: PAPER_SCALE[paper_key].get(c, "not stated") for c in scale_cols})
    parts = {k: b.reindex(columns=cols + scale_cols).astype(object) for k, b in blocks.items()}
    return pd.concat({**parts, f"paper ({paper_key})": theirs})


def table6_pairs(profile: str) -> list[tuple[str, str]]:
    """The rows of the Table 6-7 analogues: both baselines and the PBN at the ablations' size, and the
    large pair where ``profile``'s plan trains it (:func:`lib.paper.trains_large_pair`)."""
    rows = [("pbn/linear", "Linear BS"), ("pbn/deep", "Deep BS"), ("pbn/mi5-d1-w64", "Ours")]
    if trains_large_pair(profile):
        rows += [("pbn/large-deep", "Deep BS (large)"), ("pbn/large-mi5", "Ours (large)")]
    return rows


def caption(source: RecordSource, names: Sequence[str], what: str = "") -> str:
    """One line naming what a table or figure shows: profile, dataset, seeds with records, runs found.

    ``*Fig. 5: profile `cpu`, dataset `lspet`, seeds 0-2 of 0-2; 9 of 12 runs have records.*``
    """
    names = list(dict.fromkeys(names))
    runs = [r for n in names for r in source.runs(n)]
    have = sorted({r.seed for r in runs})
    head = f"{what}: " if what else ""
    return (f"*{head}profile `{source.profile}`, dataset `{source.dataset}`, seeds {seeds_text(have)} of "
            f"{seeds_text(source.seeds)}; {len(runs)} of {len(names) * len(source.seeds)} runs have records.*")


#: The columns of the occlusion table: label and :data:`lib.paper.VISIBILITIES` value.
OCCLUSION_COLUMNS: tuple[tuple[str, str], ...] = (("visible", "visible"), ("self-occluded", "self_occluded"),
                                                   ("other-occluded", "other_occluded"))


def ci_text(low: float, high: float, seeds: int, signed: bool = False) -> str:
    """``[lo, hi]`` (signed for differences), ``no record`` without runs, ``needs 2 seeds (n)`` with too few."""
    if seeds == 0:
        return "no record"
    if math.isnan(low):
        return f"needs {MIN_SEEDS} seeds ({seeds})"
    return f"[{low:+.1f}, {high:+.1f}]" if signed else f"[{low:.1f}, {high:.1f}]"


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
    one per difference PBN − baseline (:func:`lib.stats.config_diff` on the same masked joints, via
    :func:`lib.claims.measure_comparison`: Welch t over seeds plus the shared image variance). The
    columns name how many joints each category holds in one run. A cell without a record says
    ``no record``; with one seed, ``needs 2 seeds``; a record without occlusion labels,
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
            row[heads[col]] = round(m.diff.estimate, 2)
            row[f"{col} 95% CI"] = ci_text(m.diff.low, m.diff.high, m.fewest_seeds, signed=True)
            row["seeds"] = m.seeds()
        row.setdefault("seeds", "")
        rows[f"{pbn[1]} − {label}"] = row
    return pd.DataFrame(rows).T


def provenance(source: RecordSource, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Where the records come from (those of ``names``, or all read so far): one row per (commit, device)."""
    recs = [r for n in names for r in source.runs(n)] if names is not None else source.loaded()
    rows = []
    for r in recs:
        p = r.data["provenance"]
        rows.append({"profile": r.data["profile"], "dataset": r.data["dataset"],
                     "commit": (p["git"]["commit"] or "unknown")[:10] + ("+dirty" if p["git"].get("dirty") else ""),
                     "device": f"{p['device']} ({p['device_name']})", "torch": p["torch"], "date": p["date"][:10],
                     "wall_s": r.data["run"]["wall_s"], "seed": r.seed})
    if not rows:
        return pd.DataFrame(columns=["profile", "dataset", "commit", "device", "torch", "runs", "seeds", "dates",
                                     "training time (min)"])
    df = pd.DataFrame(rows)
    g = df.groupby(["profile", "dataset", "commit", "device", "torch"])
    return g.agg(runs=("seed", "size"), seeds=("seed", lambda s: ", ".join(map(str, sorted(set(s))))),
                 dates=("date", lambda d: d.min() if d.min() == d.max() else f"{d.min()} to {d.max()}"),
                 **{"training time (min)": ("wall_s", lambda w: round(w.sum() / 60, 1))}).reset_index()


def smoke_warning(profile: str = "smoke") -> str:
    """What the smoke profile's runs are, from its definition, and why they are not evidence."""
    from lib.experiments import get_profile

    p = get_profile(profile)
    return (f"> **Smoke records.** Models of {p.pbn_stacks} stacks ({p.pbn_large_stacks} for the \"large\" "
            f"ones) and {p.channels} channels at {p.input_size}×{p.input_size} pixels, trained for "
            f"{p.step.epochs * p.step.iters_per_epoch} iterations of {p.step.batch_size} on {p.train_limit} "
            f"{p.dataset} people and validated on {p.val_limit}, on a CPU. They show that every experiment runs "
            "end to end and how the analysis reads; their scores are near chance and are **not evidence** for or "
            "against either paper. Rerun the chapter with `profile='book'` (GPU records) for the study itself.")


def provenance_markdown(source: RecordSource, names: Sequence[str]) -> str:
    """A paragraph stating which records the chapter's numbers rest on, and what is missing."""
    prov = provenance(source, names)
    missing = source.missing(names)
    runs = int(prov["runs"].sum()) if len(prov) else 0
    text = (f"**Records.** {runs} runs of {len(names)} experiments under {source.label()}, read from `results/"
            f"{source.profile}/{source.dataset}/`")
    if len(prov):
        text += "; " + "; ".join(f"commit `{r.commit}` on {r.device} with torch {r.torch}, {r.dates}, "
                                 f"{r[-1]} min of training" for r in prov.itertuples(index=False))
    text += "." if not missing else f". **Missing** ({len(missing)}): " + ", ".join(missing[:8]) + (
        " ..." if len(missing) > 8 else "") + " (shown as empty; their claims read `no record`)."
    if source.is_smoke:
        text += "\n\n" + smoke_warning(source.profile)
    return text


VERDICT_COLOURS = {"confirmed": "#d8f0d8", "not confirmed": "#f6d6d6", "inconclusive": "#fbf0c9",
                   "no record": "#e6e6e6", "not measurable": "#e6e6e6", "no data": "#e6e6e6", "not tested": "#eeeeee"}


#: Relative widths of a claims table's columns in the book (the rest share what is left).
_WIDTHS = {"id": "9%", "where": "8%", "claim": "19%", "paper says": "11%", "measured": "10%", "verdict": "9%",
           "why": "14%", "our scale": "11%", "paper's scale": "9%"}


def style_verdicts(table: pd.DataFrame, column: str = "verdict", paper: str | None = None):
    """A pandas Styler of a claims table: verdict cells coloured, fixed column widths, wrapped text, no index.

    ``paper``: keep only that paper's rows and drop the ``paper`` column (one table per paper).
    """
    if paper is not None:
        table = table[table["paper"] == paper].drop(columns="paper")
    elif "paper" in table and table["paper"].nunique() == 1:
        table = table.drop(columns="paper")

    def colour(v: str) -> str:
        key = str(v).replace(" (smoke)", "")
        return f"background-color: {VERDICT_COLOURS.get(key, 'white')}"

    styles = [{"selector": "", "props": "table-layout: fixed; width: 100%; font-size: 0.8em;"},
              {"selector": "td, th", "props": "text-align: left; vertical-align: top; white-space: normal; "
                                              "overflow-wrap: anywhere; padding: 0.2em 0.35em;"}]
    styles += [{"selector": f"th.col_heading.col{i}", "props": f"width: {_WIDTHS[c]};"}
               for i, c in enumerate(table.columns) if c in _WIDTHS]
    uuid = "v" + hashlib.sha1("|".join(map(str, table.iloc[:, 0])).encode()).hexdigest()[:8]  # unique per table
    return (table.style.set_uuid(uuid).hide(axis="index").map(colour, subset=[column])
            .set_table_styles(styles).format(precision=2, na_rep="").set_table_attributes('class="dataframe"'))


#: Columns shown as whole numbers whatever their dtype (a concatenation with missing values makes them float).
_COUNTS = ("seeds", "stacks", "runs", "poses", "people", "joints", "experiments", "|S1|", "|S2|")


def _count(v: object) -> str:
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return "–" if math.isnan(float(v)) else f"{float(v):.0f}"
    return str(v)


def show(table: pd.DataFrame, precision: int = 2):
    """A table for the book: fixed decimals, counts as integers, missing values as an en dash, the theme's look."""
    uuid = "r" + hashlib.sha1((table.to_json() + str(list(table.columns))).encode()).hexdigest()[:8]
    styler = table.style.set_uuid(uuid).format(precision=precision, na_rep="–")
    counts = [c for c in table.columns if c in _COUNTS]
    if counts:
        styler = styler.format(_count, subset=counts, na_rep="–")
    return styler.set_table_attributes('class="dataframe"')


def selection_table(source: RecordSource, names: Sequence[str], selections: Sequence[Selection]) -> pd.DataFrame:
    """Seed-mean pooled PCK of each experiment (rows) on each joint selection (columns), e.g. upper / lower body."""
    rows = {n: {s.label: round(score(source, n, s)["mean"], 2) for s in selections} for n in names}
    df = pd.DataFrame(rows).T
    df["seeds"] = [len(source.runs(n)) for n in names]
    return df


def metric_label(dataset: str) -> str:
    """The PCK the dataset is scored with: PCK@0.2 (torso) on LSP, PCKh@0.5 elsewhere."""
    return "PCK@0.2" if dataset == "lspet" else "PCKh@0.5"


def paper_layout_key(dataset: str, visibility: str = "all") -> str:
    """The paper table to print beside a per-joint table: Table 4 (LSP), Table 3 (invisible), else Table 2."""
    if visibility == "invisible":
        return "PBN Table 3"
    return "PBN Table 4" if dataset == "lspet" else "PBN Table 2"


def profiles_table(names: Sequence[str] = ("smoke", "cpu", "book", "paper")) -> pd.DataFrame:
    """Profiles side by side: data, model size, schedule, seeds, device (:data:`lib.experiments.PROFILES`).

    Names that are not (or no longer) profiles are left out.
    """
    from lib.experiments import PROFILES, get_profile

    rows = {}
    for name in (n for n in names if n in PROFILES):
        p = get_profile(name)
        rows[name] = {"dataset": p.dataset, "device": p.device, "input": f"{p.input_size}×{p.input_size}",
                      "channels": p.channels, "PBN stacks": f"{p.pbn_stacks} (large: {p.pbn_large_stacks})",
                      "KPTransfer stacks": f"{p.kpt_stacks} + {p.kpt_stacks}",
                      "PBN schedule": f"{p.step.epochs} epochs × {p.step.iters_per_epoch} iterations × {p.step.batch_size}",
                      "KPTransfer schedule": f"≤ {p.plateau.epochs} epochs, early stop {p.plateau.early_stop}",
                      "train / val people": f"{p.train_limit or 'all'} / {p.val_limit or 'all'}",
                      "seeds": ", ".join(map(str, p.seeds))}
    return pd.DataFrame(rows)


def shapes(**frames: pd.DataFrame) -> pd.DataFrame:
    """Rows and columns of each named table: what the notebooks' regression tests check."""
    return pd.DataFrame({name: {"rows": f.shape[0], "columns": f.shape[1]} for name, f in frames.items()}).T


def per_joint_results(source: RecordSource, datasets: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """PBN Tables 1-5's layout for the best three-stack variant and both baselines, on each dataset.

    ``datasets``: None = ``source``'s dataset, its occlusion dataset, then synthetic and LSP Extended. Returns
    ``{"all": ..., "invisible": ...}``, each indexed by (dataset, model) with the paper's
    eight-stack row (Table 2 or 4; Table 3 for invisible joints) under its own key, every row
    with its :data:`SCALE`. The best variant is chosen on the even-numbered validation people
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
            parts[f"ours: {ds}, odd-numbered val people"] = per_joint_table(src, names, vis, labels, people="report")
            key = paper_layout_key(ds, vis)
            parts.setdefault(f"paper: {key}", PAPER_TABLES[key].assign(**PAPER_SCALE[key]))
        if not any(k.startswith("ours") for k in parts):
            out[vis] = pd.DataFrame(columns=columns)
            continue
        out[vis] = pd.concat({k: v.astype(object) for k, v in parts.items()}).reindex(columns=columns).dropna(
            axis=1, how="all")
    return out


def training_time(results_dir: str | None = None) -> pd.DataFrame:
    """Every profile and dataset with records in ``results/``: runs, experiments, seeds, devices, training hours."""
    from pathlib import Path

    from lib.results import DEFAULT_RESULTS, records

    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    rows = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        df = records(folder.parent.name, folder.name, results_dir=root)
        if df.empty:
            continue
        rows.append({"profile": folder.parent.name, "dataset": folder.name, "runs": len(df),
                     "experiments": df["experiment"].nunique(),
                     "seeds": ", ".join(map(str, sorted(df["seed"].unique()))),
                     "devices": ", ".join(sorted(df["device_name"].unique())),
                     "training (h)": round(df["wall_s"].sum() / 3600, 2),
                     "median run (min)": round(df["wall_s"].median() / 60, 2),
                     "dates": f"{df['date'].min()[:10]} to {df['date'].max()[:10]}"})
    cols = ["profile", "dataset", "runs", "experiments", "seeds", "devices", "training (h)", "median run (min)", "dates"]
    return pd.DataFrame(rows, columns=cols).set_index(["profile", "dataset"])


def notebook_times(folder: str | None = None) -> pd.DataFrame:
    """How long each chapter notebook took at its last papermill execution, from the notebooks' metadata."""
    import json
    from pathlib import Path

    from lib.provenance import REPO_ROOT

    root = Path(folder) if folder is not None else REPO_ROOT / "notebooks"
    rows = []
    for path in sorted(root.glob("*.ipynb")):
        try:
            meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        except json.JSONDecodeError:  # being written (e.g. papermill executing this very chapter in place)
            meta = {}
        rows.append({"chapter": path.stem, "seconds": round(meta["duration"], 1) if meta.get("duration") else None,
                     "executed": (meta.get("end_time") or "")[:16].replace("T", " "),
                     "parameters": ", ".join(f"{k}={v!r}" for k, v in (meta.get("parameters") or {}).items()) or "defaults"})
    return pd.DataFrame(rows).set_index("chapter")


def book_profile_estimate() -> pd.DataFrame:
    """The book profile's GPU time as planned (:func:`lib.experiments.book_budget`), before measurements replace it."""
    from lib.experiments import book_budget

    b = book_budget()
    return pd.DataFrame({"estimate": {"training images / s (assumed)": round(b["images_per_s"]),
                                      "minutes per seed of the sweep": round(b["seconds_per_seed"] / 60, 1),
                                      "30-minute GPU sessions for three seeds": round(b["sessions_for_3_seeds"], 1)}})
