"""Every claim traced over training, and the chapters' tables and text about it (issue 30).

For the ``records`` claims of :mod:`lib.paper`, read from the same records the claims table reads
(:class:`lib.record_source.RecordSource`, :meth:`~lib.record_source.RecordSource.for_claim`):
:func:`trace_claims` (every comparison of the claims with records as a
:class:`lib.gap_curves.GapCurve`, or the reason it has no curve), :func:`trend_table` (trend,
slope, sign-holding epoch, and the answer at a quarter and half of training: :mod:`lib.trends`),
:func:`stability_text` (that answer in words), :func:`over_training_column` (the claims table's
``over training`` column) and :func:`lib.figures.gap_panels` (one small panel per comparison, the
paper's own A − B drawn beside ours: :func:`lib.paper.paper_differences`).

The claims table measures KPTransfer at each run's selected (best) epoch, so its estimate can
differ from the last epoch's gap: :func:`trace_claims` takes the table's estimate as the final
sign when the traced column is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import pandas as pd

from lib.gap_curves import GapCurve, NoHistory, gap_over_training
from lib.paper import Claim, Comparison, paper_differences, profile_claims
from lib.record_source import RecordSource
from lib.stats import interval_text
from lib.trends import classify_trend, slope_spec, snapshot
from lib.verdicts import format_interval


#: Fractions of training at which :func:`trend_table` asks whether the answer was already clear.
FRACTIONS = (0.25, 0.5)


_SKIPPED = ["claim", "comparison", "family", "reason"]


@dataclass
class Traces:
    """The gap curves of every comparison of the ``records`` claims, and those that could not be traced.

    ``skipped``: one row per comparison without a curve: claim, comparison, family (the claim's
    number of comparisons), reason (``no record of ...``, ``no per-epoch data: ...``).
    """

    curves: list[GapCurve]
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_SKIPPED))

    def of(self, claim_id: str) -> list[GapCurve]:
        return [c for c in self.curves if c.claim is not None and c.claim.id == claim_id]


def _row_estimate(rows: pd.DataFrame | None, claim: Claim, comp: Comparison) -> float | None:
    if rows is None or rows.empty:
        return None
    hit = rows[(rows["claim"] == claim.id) & (rows["A"] == comp.a) & (rows["B"] == comp.b)
               & (rows["joints"] == comp.selection.label) & (rows["metric"] == comp.metric)]
    return None if hit.empty else float(hit["estimate"].iloc[0])


def trace_claims(source: RecordSource, claims: Sequence[Claim] | None = None, *, rows: pd.DataFrame | None = None,
                 paired: bool | None = None, visibility_fallback: bool = False) -> Traces:
    """:func:`lib.gap_curves.gap_over_training` for every comparison of the ``records`` claims that has records.

    ``claims``: None = :func:`lib.paper.profile_claims` of the source's profile (the claims table's);
    ``rows``: :func:`lib.claims.comparison_rows` output, whose estimates give each exactly traced
    curve its final sign (else the last epoch's gap). Each claim is read from
    ``source.for_claim(claim)``, as the claims table reads it; ``paired`` and
    ``visibility_fallback`` are :func:`lib.gap_curves.gap_over_training`'s.
    """
    claims = profile_claims(source.profile) if claims is None else claims
    curves, skipped = [], []
    for claim in claims:
        if claim.kind != "records":
            continue
        src = source.for_claim(claim)
        paper = paper_differences(claim)
        family = len(claim.comparisons)
        for comp, theirs in zip(claim.comparisons, paper):
            label = comp.label or f"{comp.a} − {comp.b}"
            try:
                curve = gap_over_training(src, comp, paired=paired, visibility_fallback=visibility_fallback)
            except LookupError:
                missing = [n for n in (comp.a, comp.b) if not src.runs(n)]
                reason = (f"no record of {' and '.join(missing)} on {src.dataset}" if missing
                          else f"{comp.a} and {comp.b} have no seed in common")
                skipped.append({"claim": claim.id, "comparison": label, "family": family, "reason": reason})
                continue
            except NoHistory as e:
                skipped.append({"claim": claim.id, "comparison": label, "family": family, "reason": str(e)})
                continue
            final = _row_estimate(rows, claim, comp) if curve.exact else None
            curves.append(replace(curve, claim=claim, family=family,
                                  paper=theirs if comp.metric == "pck" else None, final=final))
    return Traces(curves, pd.DataFrame(skipped, columns=_SKIPPED))


def trend_table(traces: Traces, fractions: Sequence[float] = FRACTIONS) -> pd.DataFrame:
    """One row per traced comparison: what was traced, the last half's trend, and the answer at ``fractions`` of training.

    Columns: claim, comparison, traced (column; ``exact``), pairing, seeds, trend, metric, slope/epoch, low,
    high, slope per M images, sign from, band from, final gap, then per fraction f (``1/4``, ``1/2``):
    ``epoch@f``, ``gap@f`` (with its seeds-only band), ``clear@f``, ``verdict@f``; and note.
    """
    out = []
    for c in traces.curves:
        t = classify_trend(c)
        row = {"claim": c.claim.id if c.claim else "", "comparison": c.label, "traced": c.column, "exact": c.exact,
               "pairing": c.pairing, "seeds": int(c.frame[["n_a", "n_b"]].min(axis=1).iloc[-1]), "trend": t.kind,
               "metric": c.comparison.metric, "slope/epoch": t.slope.estimate, "low": t.slope.low, "high": t.slope.high,
               "slope per M images": t.slope_per_million.estimate, "sign from": t.sign_from,
               "band from": t.band_from, "final gap": t.final}
        for f in fractions:
            s = snapshot(c, f)
            key = _fraction_label(f)
            row.update({f"epoch@{key}": s.epoch, f"gap@{key}": format_interval(s.diff, c.comparison.metric),
                        f"clear@{key}": s.clear, f"verdict@{key}": s.verdict})
        row["over training"] = t.text()
        row["note"] = c.note
        out.append(row)
    return pd.DataFrame(out)


def _fraction_label(f: float) -> str:
    from fractions import Fraction

    q = Fraction(f).limit_denominator(16)
    return f"{q.numerator}/{q.denominator}"


def over_training_column(source: RecordSource, rows: pd.DataFrame, *, traces: Traces | None = None) -> pd.Series:
    """The claims table's ``over training`` column: one text per ``records`` claim in ``rows``, indexed by claim id.

    ``rows`` is :func:`lib.claims.comparison_rows`' output for ``source`` (its estimates give the
    final signs); ``traces`` reuses :func:`trace_claims`' output. A single comparison gets
    :meth:`lib.trends.Trend.text` (``widening +0.120/epoch [+0.050, +0.190]; sign from epoch 6``); a family
    one :meth:`lib.trends.Trend.short` per comparison; a comparison without a curve its reason (``no record``: the
    ``why`` column names the runs; ``no per-epoch data: ...``); ``≈`` marks a
    curve read from the closest stored column. Map it onto the claim table with
    ``table["id"].map(column).fillna("")``.
    """
    traces = trace_claims(source, rows=rows) if traces is None else traces
    by_comparison: dict[tuple[str, str], str] = {}
    for c in traces.curves:
        t = classify_trend(c)
        mark = "" if c.exact else "≈ "
        by_comparison[(c.claim.id, c.label)] = mark + (t.text() if c.family == 1 else f"{c.label}: {t.short()}")
    for _, s in traces.skipped.iterrows():
        reason = "no record" if s["reason"].startswith("no record") else s["reason"]
        by_comparison[(s["claim"], s["comparison"])] = reason if s["family"] == 1 else f"{s['comparison']}: {reason}"
    ids = list(dict.fromkeys(rows["claim"])) if not rows.empty else []
    claims = {c.id: c for c in profile_claims(source.profile)}
    out = {}
    for cid in ids:
        labels = [x.label or f"{x.a} − {x.b}" for x in claims[cid].comparisons] if cid in claims else []
        out[cid] = "; ".join(by_comparison[(cid, lab)] for lab in labels if (cid, lab) in by_comparison)
    return pd.Series(out, name="over training", dtype=object)


def stability_text(table: pd.DataFrame, claim_id: str) -> str:
    """One sentence per comparison of ``claim_id`` from :func:`trend_table`: was the answer clear at 1/4 and 1/2?"""
    rows = table[table["claim"] == claim_id]
    if rows.empty:
        return f"{claim_id}: no per-epoch trace."
    parts = []
    for _, r in rows.iterrows():
        when = []
        for key in ("1/4", "1/2"):
            if f"clear@{key}" not in r:
                continue
            c = r[f"clear@{key}"]
            state = "no band" if c is None or (isinstance(c, float) and math.isnan(c)) else (
                "already clear" if c else "not yet clear")
            when.append(f"{state} at {key} of training (epoch {r[f'epoch@{key}']}: {r[f'gap@{key}']}, "
                        f"{r[f'verdict@{key}'] or 'no verdict'})")
        name = claim_id if len(rows) == 1 else f"{claim_id} ({r['comparison']})"
        parts.append(f"{name}: " + "; ".join(when) + f"; over the last half {r['over training']}.")
    return " ".join(parts)


def with_over_training(table: pd.DataFrame, source: RecordSource, rows: pd.DataFrame,
                       traces: Traces | None = None) -> pd.DataFrame:
    """``table`` (:func:`lib.claims.claim_table`) with the ``over training`` column after ``verdict``."""
    text = over_training_column(source, rows, traces=traces)
    text = text.where(~text.str.split("; ").map(lambda parts: all(p.endswith("no record") for p in parts)), "")
    column = table["id"].map(text).fillna("")
    out = table.copy()
    out.insert(list(out.columns).index("verdict") + 1 if "verdict" in out else len(out.columns), "over training", column)
    return out


def stability_phrases(table: pd.DataFrame) -> dict[str, str]:
    """Claim id → how stable its answer was over training, in a few words, from :func:`trend_table`.

    For the Findings page: when the seeds-only band first excluded 0 with the final sign (already at
    a quarter of training, by half, or not yet at half), then the last half's trend
    (:class:`lib.trends.Trend`). A comparison traced on one seed has no band and says so. Claims with
    several comparisons join their comparisons' phrases.
    """
    out: dict[str, list[str]] = {}
    for _, r in table.iterrows():
        quarter, half = (r.get(f"clear@{key}") for key in ("1/4", "1/2"))
        if any(c is None or (isinstance(c, float) and math.isnan(c)) for c in (quarter, half)):
            seeds = int(r.get("seeds", 0) or 0)
            when = "traced on one seed so far (no band yet)" if seeds < 2 else "no band at 1/4 or 1/2 of training"
        elif quarter:
            when = "already clear at 1/4 of training" if half else "clear at 1/4 of training but not at 1/2"
        elif half:
            when = "clear by 1/2 of training (not yet at 1/4)"
        else:
            when = "not yet clear at 1/2 of training"
        trend = "" if r["trend"] == "no interval" else f", {r['trend']} over the last half"
        n_comparisons = int((table["claim"] == r["claim"]).sum())
        name = f"{r['comparison']}: " if n_comparisons > 1 else ""
        out.setdefault(r["claim"], []).append(f"{name}{when}{trend}")
    return {k: "; ".join(v) for k, v in out.items()}


def trend_summary(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`trend_table` for reading: one row per comparison, the slope with its interval in one
    cell, whole epochs, and the gap with its band at a quarter and at half of training."""
    if table.empty:
        return pd.DataFrame()

    def epoch(x) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(x))

    def slope(r) -> str:
        if pd.isna(r["slope/epoch"]):
            return "–"
        spec = slope_spec(r["metric"])
        return interval_text(r["slope/epoch"], r["low"], r["high"], spec, undefined="no interval")

    out = pd.DataFrame({
        "claim": table["claim"], "comparison": table["comparison"], "seeds": table["seeds"],
        "last half": table["trend"], "slope per epoch": table.apply(slope, axis=1),
        "sign from": table["sign from"].map(epoch), "band from": table["band from"].map(epoch),
    })
    for key in ("1/4", "1/2"):
        if f"gap@{key}" in table:
            out[f"gap at {key}"] = table[f"gap@{key}"]
    return out.set_index(["claim", "comparison"])


def untraced_text(traces: Traces) -> str:
    """The comparisons with records but no per-epoch curve, grouped by reason (``""`` when none)."""
    s = traces.skipped
    if s.empty:
        return ""
    s = s[~s["reason"].str.startswith("no record")]
    groups = s.groupby("reason", sort=False)["claim"].agg(lambda c: ", ".join(dict.fromkeys(c)))
    return " ".join(f"Not traced ({reason.removeprefix('no per-epoch data: ')}): {claims}."
                    for reason, claims in groups.items())
