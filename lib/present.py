"""How the book presents its tables: our rows beside the paper's, captions, provenance, the look.

* **Beside the paper.** Rows printed beside a paper's carry their scale (:data:`SCALE`: dataset,
  input size, stacks, channels, seeds, test-time augmentation; :func:`scale`), the paper's rows
  theirs (:data:`lib.paper.PAPER_SCALE`), so a three-stack 128×128 row never reads as the paper's
  eight-stack one (:func:`beside_paper`, :func:`blocks_beside_paper`). Cells are seed means of the
  records present (:func:`present_mean`).
* **Text.** Intervals (:func:`ci_text`), the metric's name (:func:`metric_label`), a caption naming
  profile, dataset and the seeds with records (:func:`caption`).
* **Provenance.** Which commits, devices and dates a chapter's records come from
  (:func:`provenance`, :func:`provenance_markdown`), and what smoke records are (:func:`smoke_warning`).
* **Look.** Claims tables with coloured verdicts (:func:`style_verdicts`), every other table with
  fixed decimals and integer counts (:func:`show`), and the shapes the notebooks' regression tests
  check (:func:`shapes`).

The tables themselves: :mod:`lib.pbn_tables`, :mod:`lib.kpt_tables`, :mod:`lib.study_tables`.
"""

from __future__ import annotations

import hashlib
import html
import math
from typing import Sequence

import numpy as np
import pandas as pd

from lib.paper import PAPER_SCALE, PAPER_TABLES
from lib.record_source import RecordSource, seeds_text
from lib.stats import MIN_SEEDS, NO_INTERVAL
from lib.stats import signed as signed_text
from lib.verdicts import base_verdict


# ---------------------------------------------------------------------------------------------
# Our rows beside the paper's


#: The scale columns of a row printed beside a paper's (PBN Sec. 4.1-4.3 report these for theirs).
SCALE: tuple[str, ...] = ("dataset", "input", "stacks", "channels", "seeds", "test-time aug.")


def present_mean(values: Sequence[float]) -> float:
    """The mean of the values that are present (neither None nor NaN); NaN when none is."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else math.nan


def scale(source: RecordSource, name: str) -> dict[str, object]:
    """The :data:`SCALE` columns of experiment ``name`` under ``source``'s profile, from its config."""
    exp = source.experiment(name, source.seeds[0])
    size = exp.model.input_size
    return {"dataset": source.dataset, "input": f"{size}×{size}", "stacks": exp.model.stacks,
            "channels": exp.model.channels, "seeds": len(source.runs(name)),
            "test-time aug.": "flip" if exp.flip_test else "none (single scale)"}


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


# ---------------------------------------------------------------------------------------------
# Text


def ci_text(low: float, high: float, seeds: int, signed: bool = False) -> str:
    """``[lo, hi]`` (signed for differences), ``no record`` without runs, ``one seed: no interval`` with one
    seed (on a side: ``seeds`` is the fewest), ``not measurable`` for an undefined interval of more seeds."""
    if seeds == 0:
        return "no record"
    if math.isnan(low) or math.isnan(high):
        return NO_INTERVAL if seeds < MIN_SEEDS else "not measurable"
    return f"[{signed_text(low, '.1f')}, {signed_text(high, '.1f')}]" if signed else f"[{low:.1f}, {high:.1f}]"


def metric_label(dataset: str) -> str:
    """The PCK the dataset is scored with: PCK@0.2 (torso) on LSP, PCKh@0.5 elsewhere."""
    return "PCK@0.2" if dataset == "lspet" else "PCKh@0.5"


def caption(source: RecordSource, names: Sequence[str], what: str = "") -> str:
    """One line naming what a table or figure shows: profile, dataset, seeds with records, runs found.

    ``*Fig. 5: profile `cpu`, dataset `lspet`, seeds 0-2 of 0-2; 9 of 12 runs have records.*`` The seeds
    and runs expected are the source's seeds plus any seed an experiment has records for beyond them
    (:meth:`lib.record_source.RecordSource.seeds_of`).
    """
    names = list(dict.fromkeys(names))
    runs = [r for n in names for r in source.runs(n)]
    have = sorted({r.seed for r in runs})
    wanted = sorted(set(source.seeds) | set(have))
    expected = sum(len(source.seeds_of(n)) for n in names)
    head = f"{what}: " if what else ""
    return (f"*{head}profile `{source.profile}`, dataset `{source.dataset}`, seeds {seeds_text(have)} of "
            f"{seeds_text(wanted)}; {len(runs)} of {expected} runs have records.*")


# ---------------------------------------------------------------------------------------------
# Provenance


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
    experiments = len(dict.fromkeys(names))
    planned = experiments * len(source.seeds)
    beyond = runs - (planned - len(missing))  # records at seeds beyond the profile's
    text = (f"**Records.** {planned - len(missing)} of the {planned} runs ({experiments} experiments × "
            f"{len(source.seeds)} seeds){f', and {beyond} more,' if beyond else ''} under {source.label()}, read from "
            f"`results/{source.profile}/{source.dataset}/`")
    for (device, torch_version), by_commit in prov.sort_values("dates").groupby(["device", "torch"], sort=False):
        commits = [f"`{r.commit}` ({r.dates}, {r[-1]} min{' of training' if i == 0 else ''})"
                   for i, r in enumerate(by_commit.itertuples(index=False))]
        text += f"; trained on {device} with torch {torch_version} at commit{'s' if len(commits) > 1 else ''} " + (
            ", ".join(commits))
    text += "." if not missing else f". **Missing** ({len(missing)}): " + ", ".join(missing[:8]) + (
        " ..." if len(missing) > 8 else "") + " (shown as empty; their claims read `no record`)."
    if source.is_smoke:
        text += "\n\n" + smoke_warning(source.profile)
    return text


# ---------------------------------------------------------------------------------------------
# Look


VERDICT_COLOURS = {"confirmed": "#d8f0d8", "not confirmed": "#f6d6d6", "inconclusive": "#fbf0c9",
                   "no record": "#e6e6e6", "not measurable": "#e6e6e6", "not applicable": "#e6e6e6",
                   "no data": "#e6e6e6", "not tested": "#eeeeee"}


#: Long columns of a claims table, folded into a ``<details>`` under the claim: read on demand, so the
#: visible columns keep widths in which words stay whole at the book's width (about 700 px of text).
FOLDED: tuple[str, ...] = ("why", "our scale", "paper's scale")

#: Relative widths of a styled table's columns (any other column weighs 1); normalised over those shown.
_WEIGHTS = {"claim": 3.3, "paper says": 1.7, "measured": 1.3, "verdict": 1.4, "over training": 2.3, "comparison": 1.2,
            "where": 1.2}

#: The look of a styled table: words wrap whole; only a claim's id line may break anywhere (long ids).
_TABLE_CSS = [
    {"selector": "td, th", "props": "text-align: left; vertical-align: top; white-space: normal; word-break: normal; "
                                    "overflow-wrap: break-word; padding: 0.25em 0.4em;"},
    {"selector": ".claim-ref", "props": "font-size: 0.9em; color: #555; overflow-wrap: anywhere;"},
    {"selector": ".claim-ref b", "props": "color: #222;"},
    {"selector": "details", "props": "margin-top: 0.3em;"},
    {"selector": "details summary", "props": "cursor: pointer; color: #555; font-size: 0.9em;"},
    {"selector": "details p", "props": "margin: 0.2em 0 0 0;"},
]


def _text(v: object) -> str:
    """A cell as HTML text: escaped, missing values empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return html.escape(str(v), quote=False)


def claim_cells(table: pd.DataFrame) -> pd.DataFrame:
    """A claims table as the book shows it: fewer, wider columns; every string cell escaped HTML.

    The ``claim`` cell opens with the claim's ``id`` and ``where`` (a small grey line) and ends with
    the :data:`FOLDED` columns in a ``<details>`` (``why``, ``our scale``, ``paper's scale``), which
    are dropped as columns; ``over training`` puts each comparison on its own line. A table without
    a ``claim`` column (e.g. :func:`lib.claims.comparison_rows`) only has its text escaped.
    """
    out = table.copy()
    text_cols = [c for c in out.columns if out[c].dtype == object or pd.api.types.is_string_dtype(out[c])]
    if "claim" in out:
        ref = [c for c in ("id", "where") if c in out]
        folded = [c for c in FOLDED if c in out]
        cells = []
        for _, r in out.iterrows():
            head = " · ".join(f"<b>{_text(r[c])}</b>" if c == "id" else _text(r[c]) for c in ref if _text(r[c]))
            parts = [f'<div class="claim-ref">{head}</div>' if head else "", f"<div>{_text(r['claim'])}</div>"]
            shown = [c for c in folded if _text(r[c])]
            if shown:
                body = "".join(f"<p><b>{html.escape(c)}:</b> {_text(r[c])}</p>" for c in shown)
                parts.append(f"<details><summary>{html.escape(', '.join(shown))}</summary>{body}</details>")
            cells.append("".join(parts))
        out = out.drop(columns=ref + folded)
        text_cols = [c for c in text_cols if c in out and c != "claim"]
        out["claim"] = cells
    for c in text_cols:
        out[c] = out[c].map(_text)
    if "over training" in out:
        out["over training"] = out["over training"].str.replace("; ", "<br>", regex=False)
    if "verdict" in out and "why" in table:  # the epoch-cap caveat stays visible, not only in the fold
        capped = table["why"].fillna("").str.contains(EPOCH_CAP_MARK, regex=False).to_numpy()
        out.loc[capped, "verdict"] = out.loc[capped, "verdict"] + f'<div class="claim-ref">{EPOCH_CAP_SHORT}</div>'
    return out


#: How :func:`lib.verdicts.epoch_cap_note` begins, and the line the verdict cell then carries.
EPOCH_CAP_MARK = "runs at the epoch cap"
EPOCH_CAP_SHORT = "runs at the epoch cap: a head start and a better end point are mixed"


def style_verdicts(table: pd.DataFrame, column: str = "verdict", paper: str | None = None):
    """A pandas Styler of a claims table that reads at the book's width: verdicts coloured, few wide columns.

    ``paper``: keep only that paper's rows and drop the ``paper`` column (one table per paper).
    :func:`claim_cells` folds ``id``, ``where`` and the long :data:`FOLDED` columns into the claim
    cell, so no column is so narrow that a word must break; widths come from :data:`_WEIGHTS`, and
    the table keeps a minimum width (the output box scrolls sideways on a narrower screen rather
    than squeezing it). No index.
    """
    if paper is not None:
        table = table[table["paper"] == paper].drop(columns="paper")
    elif "paper" in table and table["paper"].nunique() == 1:
        table = table.drop(columns="paper")
    uuid = "v" + hashlib.sha1("|".join(map(str, table.iloc[:, 0])).encode()).hexdigest()[:8]  # unique per table
    shown = claim_cells(table)

    def colour(v: str) -> str:  # by the base verdict: seeds, coverage and smoke qualifiers keep its colour
        return f"background-color: {VERDICT_COLOURS.get(base_verdict(html.unescape(v)), 'white')}"

    # without an id column (comparison rows) the claim column holds only ids: a narrow one
    weights = [_WEIGHTS.get(c, 1.0) if c != "claim" or "id" in table else 1.6 for c in shown.columns]
    styles = [{"selector": "", "props": f"table-layout: fixed; width: 100%; min-width: {4.5 * sum(weights):.0f}em; "
                                        "font-size: 0.8em;"}] + _TABLE_CSS
    styles += [{"selector": f"th.col_heading.col{i}", "props": f"width: {100 * w / sum(weights):.1f}%;"}
               for i, w in enumerate(weights)]
    return (shown.style.set_uuid(uuid).hide(axis="index").map(colour, subset=[column])
            .set_table_styles(styles).format(precision=2, na_rep="").set_table_attributes('class="dataframe"'))


#: Columns shown as whole numbers whatever their dtype (a concatenation with missing values makes them float).
_COUNTS = ("seeds", "stacks", "runs", "poses", "people", "joints", "experiments", "|S1|", "|S2|")


def _count(v: object) -> str:
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return "–" if math.isnan(float(v)) else f"{float(v):.0f}"
    return str(v)


def show(table: pd.DataFrame, precision: int = 2):
    """A table for the book: fixed decimals, counts as integers, large integers with thousands separators,
    a learning rate and losses at their own precision, missing values as an en dash, the theme's look.

    Text cells are escaped HTML (a direction such as ``A < B`` is text, not markup). A default
    index (0, 1, 2, ... without a name) says nothing to a reader and is hidden.
    """
    uuid = "r" + hashlib.sha1((table.to_json() + str(list(table.columns))).encode()).hexdigest()[:8]
    styler = table.style.set_uuid(uuid).format(precision=precision, na_rep="–", escape="html")
    if isinstance(table.index, pd.RangeIndex) and table.index.name is None:
        styler = styler.hide(axis="index")
    counts = [c for c in table.columns if c in _COUNTS]
    if counts:
        styler = styler.format(_count, subset=counts, na_rep="–", escape="html")
    whole = [c for c in table.columns if c not in counts and pd.api.types.is_integer_dtype(table[c])]
    if whole:  # 27,216,768 parameters, 115,200 images
        styler = styler.format("{:,}", subset=whole, na_rep="–")
    if "lr" in table.columns:  # 1e-4 at three decimals would read 0.000
        styler = styler.format("{:g}", subset=["lr"], na_rep="–")
    losses = [c for c in table.columns if isinstance(c, str) and c.endswith("loss")]
    if losses:  # a heatmap MSE of 0.0141 moves in its third significant digit
        styler = styler.format("{:.3e}", subset=losses, na_rep="–")
    return styler.set_table_attributes('class="dataframe"')


def shapes(**frames: pd.DataFrame) -> pd.DataFrame:
    """Rows and columns of each named table: what the notebooks' regression tests check."""
    return pd.DataFrame({name: {"rows": f.shape[0], "columns": f.shape[1]} for name, f in frames.items()}).T


# ---------------------------------------------------------------------------------------------
# The scale box that opens each results chapter

#: The papers' own set-up, one line each, for the scale box's "the paper" line (PBN Sec. 4.1-4.3,
#: KPTransfer Sec. 4).
PAPER_SETUP: dict[str, str] = {
    "PBN": ("MPII (22k training people, PCKh@0.5) at 256×256 input (64×64 heatmaps), 8 stacks for the "
            "benchmark rows and 3 for the ablations, C = 256, RMSProp 2.5e-4 for about 5.6 million "
            "training images, six-scale + flip testing for the benchmark rows"),
    "KPTransfer": ("MPII at 256×256 input (64×64 heatmaps), a two-stack source and four-stack transfer, frozen "
                   "and random networks (k = 2), C = 256, RMSProp with the learning rate ÷5 on a plateau and "
                   "early stopping after 10 epochs of 8,000 iterations, PCKh@0.5 on S2"),
}


def scale_box(source: RecordSource, names: Sequence[str], paper: str) -> str:
    """A MyST admonition stating the scale this chapter's records were trained at, from their configs.

    Networks (stacks, channels, input and heatmap size), data (dataset, training and validation
    people, metric), training (images a run, schedule) and the CPU or GPU precision the records
    actually used, then one line with the paper's set-up (:data:`PAPER_SETUP`), so that no number in
    the chapter reads as if it were measured at the paper's scale.
    """
    exps = [source.experiment(n, source.seeds[0]) for n in names]
    stacks = sorted({e.model.stacks for e in exps})
    channels = sorted({e.model.channels for e in exps})
    size = exps[0].model.input_size
    d, s = exps[0].data, exps[0].schedule
    images = s.epochs * s.iters_per_epoch * s.batch_size
    upto = "at most " if s.kind == "plateau" and s.early_stop else ""
    runs = [r for n in names for r in source.runs(n)]
    precisions = pd.Series([r.data["run"].get("precision", "?") for r in runs]).value_counts()
    devices = sorted({r.data["provenance"].get("device", "?") for r in runs})
    trained = (", ".join(f"{p} ({k} runs)" for p, k in precisions.items()) + f" on {'/'.join(devices)}"
               if runs else "no records yet")
    people = f"{d.train_limit:,}" if d.train_limit else "all"
    val = f"{d.val_limit:,}" if d.val_limit else "all"
    lines = [
        f"* **Networks:** {' or '.join(map(str, stacks))} stacks, C = {' or '.join(map(str, channels))} channels, "
        f"{size}×{size} input ({size // 4}×{size // 4} heatmaps).",
        f"* **Data:** `{source.dataset}`, {people} training and {val} validation people; "
        f"{metric_label(source.dataset)}.",
        f"* **Training:** {upto}{images:,} training images a run ({s.epochs} epochs, {s.kind} schedule); "
        f"precision {trained}.",
        f"* **The paper:** {PAPER_SETUP[paper]}.",
    ]
    return (f":::{{admonition}} Scale: profile `{source.profile}`, measured at this size only\n:class: note\n"
            + "\n".join(lines) + "\n:::")
