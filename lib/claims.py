"""Our verdict on every claim of both papers (:mod:`lib.paper`) from the records of one profile.

The claims table (:func:`claim_table`): one row per claim with the paper's numbers, our
measurement, the verdict, why, and both scales (:func:`claim_scales`), from one row per comparison
(:func:`comparison_rows`). Each comparison A − B is read from the records of a
:class:`lib.record_source.RecordSource` (:meth:`~lib.record_source.RecordSource.for_claim`: the
occlusion claims from a dataset with occlusion labels), measured and judged by the rules of
:mod:`lib.verdicts` (:func:`lib.verdicts.measure_comparison`, :func:`lib.verdicts.comparison_verdict`),
and a claim's comparisons are combined by :func:`lib.verdicts.aggregate` (partial coverage, smoke
labels). :func:`rules_markdown` states those rules for the introduction.

Claims about the data rather than trained models (the mutual-information groups of PBN Sec. 3.1,
the parameter counts of Table 6) are checked by :func:`structural_verdicts`; the benchmark
comparisons with other published methods (PBN Tables 1-5) cannot be tested here and are listed as
``not tested`` with the reason. Verdicts computed from ``smoke`` records are labelled as such: tiny
CPU models trained for seconds exercise the code, they are not evidence.

This module reads records and never trains: runs without a record are trained beforehand by
:func:`lib.runner.ensure_records` (from :func:`lib.record_source.claim_experiments` or
:meth:`lib.record_source.RecordSource.experiments`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from lib import joints as J
from lib.experiments import Experiment, make_experiment
from lib.paper import CLAIMS_BY_ID, CONVERGENCE_MARGIN, NO_DIFFERENCE_MARGIN, Claim, paper_differences, profile_claims
from lib.record_source import NotApplicable, RecordSource
from lib.stats import MIN_SEEDS, NO_INTERVAL, Interval
from lib.verdicts import (FLOOR_PCK, LEVEL, VERDICTS, aggregate, aggregate_measured, base_verdict, comparison_verdict,
                          epoch_cap_note, fmt, format_interval, measure_comparison)


def scale_text(exp: Experiment) -> str:
    """What one run measured at: dataset, input size, stacks, channels, training people and images seen.

    ``≤`` before the images of a plateau schedule with early stopping (KPTransfer): a run may stop sooner.
    """
    m, d, s = exp.model, exp.data, exp.schedule
    images = s.epochs * s.iters_per_epoch * s.batch_size
    upto = "≤ " if s.kind == "plateau" and s.early_stop else ""
    people = f"{d.train_limit:,}" if d.train_limit else "all"
    return (f"{d.dataset}, {m.input_size}×{m.input_size}, {m.stacks} stacks, C = {m.channels}; "
            f"{upto}{images:,} training images ({people} people)")


def claim_scales(claim: Claim, source: RecordSource | None) -> tuple[str, str]:
    """``(ours, paper's)`` scale of ``claim``: the first comparison's A under the source's profile and
    dataset, and under the ``paper`` profile on MPII (the original claim's pair, e.g. eight stacks for
    Table 6 even where :func:`profile_claims` measured the ablation pair). Ours says "only this scale":
    every verdict rests on one profile's records.
    """
    if claim.kind == "params":
        return "8 stacks, 256×256, C = 256 (the paper's size; counted, not trained)", "8 stacks, 256×256, C = 256"
    if claim.kind == "groups":
        return "MPII training annotations", "MPII training annotations"
    if claim.kind != "records" or not claim.comparisons:
        return "", ""
    original = CLAIMS_BY_ID.get(claim.id, claim).comparisons[0]
    paper = scale_text(make_experiment(original.a, "paper", "mpii", 0))
    if source is None:
        return "", paper
    src = source.for_claim(claim)
    return f"{scale_text(src.experiment(claim.comparisons[0].a, src.seeds[0]))} (only this scale)", paper


def comparison_rows(source: RecordSource, claims: Sequence[Claim] | None = None) -> pd.DataFrame:
    """One row per comparison of the ``records`` claims: A, B, dataset, joints, A − B with its interval, seeds, verdict.

    ``claims``: None = :func:`profile_claims` of the source's profile. Each claim is read from
    :meth:`lib.record_source.RecordSource.for_claim`, whose dataset the row names.
    ``seeds`` names the seeds each side rests on (``0-2 vs 0-1``); ``reason`` the interval and any
    rule that decided the verdict (too few seeds, the floor, Bonferroni); ``note`` what the verdict
    cannot see, today runs that stopped at the epoch cap without converging
    (:func:`lib.verdicts.epoch_cap_note`; PCK comparisons only).
    """
    claims = profile_claims(source.profile) if claims is None else claims
    rows = []
    for claim in claims:
        if claim.kind != "records":
            continue
        family = len(claim.comparisons)
        src = source.for_claim(claim)
        for comp in claim.comparisons:
            missing = src.missing([comp.a, comp.b])
            row = {"claim": claim.id, "comparison": comp.label or f"{comp.a} − {comp.b}", "A": comp.a, "B": comp.b,
                   "dataset": src.dataset, "joints": comp.selection.label, "metric": comp.metric, "direction": claim.direction,
                   "estimate": math.nan, "low": math.nan, "high": math.nan, "seeds": "", "method": "",
                   "verdict": "", "reason": "", "missing": ", ".join(missing), "note": ""}
            try:
                m = measure_comparison(src, comp)
            except LookupError:
                row.update(verdict="no record", reason="no record of " + " and ".join(
                    n for n in (comp.a, comp.b) if not src.runs(n)) + f" on {src.dataset}")
            except NotApplicable as e:
                row.update(verdict="not applicable", reason=str(e))
            except ValueError as e:
                row.update(verdict="not measurable", reason=str(e))
            else:
                v, reason = comparison_verdict(m, claim, comp.metric, family)
                row.update(estimate=m.diff.estimate, low=m.diff.low, high=m.diff.high, seeds=m.seeds(),
                           method=m.diff.method, verdict=v, reason=reason,
                           note=epoch_cap_note(src.runs(comp.a) + src.runs(comp.b)) if comp.metric == "pck" else "")
            rows.append(row)
    return pd.DataFrame(rows)


def differences_table(rows: pd.DataFrame, claims: Sequence[Claim], *, measured_only: bool = False,
                      dataset: bool = False) -> pd.DataFrame:
    """The comparisons of ``claims`` as a chapter section shows them under its means: A − B with its
    95% interval, the seeds and the verdict, beside the paper: its A − B where its text gives one
    (:func:`lib.paper.paper_differences`), else the direction it claims (``A < B``).

    ``rows``: :func:`comparison_rows` output; claims without rows there (not tested under this
    profile) are left out, and with ``measured_only`` so are comparisons without records; with
    ``dataset``, a column says which dataset each row was measured on. Indexed by claim id and
    comparison; a labelled comparison (``W=64``, ``Wri.``) names its two experiments after the label.
    """
    out = {}
    for claim in claims:
        sub = rows[rows["claim"] == claim.id]
        for (_, r), paper in zip(sub.iterrows(), paper_differences(claim)):
            if measured_only and math.isnan(r["estimate"]):
                continue
            pair = f"{r['A']} − {r['B']}"
            diff = Interval(float(r["estimate"]), float(r["low"]), float(r["high"]), LEVEL, r["method"], 0)
            out[(claim.id, r["comparison"] if r["comparison"] == pair else f"{r['comparison']}: {pair}")] = {
                **({"dataset": r["dataset"]} if dataset else {}),
                "measured on": "final training loss" if r["metric"] == "train_loss" else r["joints"],
                "ours: A − B [95% CI]": "" if math.isnan(diff.estimate) else format_interval(diff, r["metric"]),
                "seeds": r["seeds"], "verdict": r["verdict"],
                "the paper": claim.direction if paper is None else fmt(paper, r["metric"])}
    return pd.DataFrame.from_dict(out, orient="index")


def comparisons_table(rows: pd.DataFrame, claims: Sequence[Claim]) -> pd.DataFrame:
    """Every comparison of ``claims``, with or without records, as a chapter's closing table shows it
    (:func:`lib.present.style_verdicts`): :func:`differences_table` with the dataset of each row and
    the claim and comparison as columns."""
    return differences_table(rows, claims, dataset=True).reset_index(names=["claim", "comparison"])


def _missing_text(rows: pd.DataFrame, limit: int = 4, dataset: str = "") -> str:
    runs = list(dict.fromkeys(m for cell in rows["missing"] for m in cell.split(", ") if m))
    if not runs:
        return ""
    more = f" and {len(runs) - limit} more" if len(runs) > limit else ""
    where = f" on {dataset}" if dataset else ""
    return f"missing {len(runs)} run{'s' * (len(runs) > 1)}{where}: " + ", ".join(runs[:limit]) + more


def _seeds_summary(rows: pd.DataFrame) -> str:
    seeds = [s for s in dict.fromkeys(rows["seeds"]) if s]
    if not seeds:
        return ""
    if len(seeds) == 1:
        return f"seeds {seeds[0]}" + (" in each comparison" if len(rows) > 1 else "")
    return "seeds " + "; ".join(seeds[:3]) + (" ..." if len(seeds) > 3 else "")


def _why(claim: Claim, rows: pd.DataFrame, dataset: str = "") -> str:
    """Why ``claim`` got its verdict, from its comparisons' ``rows``: the measured ones decide, the
    runs still missing (partial coverage) are named after them."""
    partial = _missing_text(rows, dataset=dataset)
    rows = rows[rows["verdict"] != "no record"]
    if rows.empty:
        return partial
    v = aggregate_measured(list(rows["verdict"]))
    if v in ("not measurable", "not applicable"):
        reasons = list(dict.fromkeys(rows.loc[rows["verdict"] == v, "reason"]))
        return reasons[0] + (f" (and {len(reasons) - 1} more like it)" if len(reasons) > 1 else "") + (
            f" ({partial})" if partial else "")
    side = {"A > B": "above 0", "A < B": "below 0", "A ≈ B": f"inside ±{claim.margin:g}",
            "A ≤ B": f"below +{claim.margin:g}", "A ≥ B": f"above −{claim.margin:g}"}[claim.direction]
    n = len(rows)
    seeds = _seeds_summary(rows)
    tail = "; ".join(t for t in (seeds, partial) if t)
    tail = f" ({tail})" if tail else ""
    if v == "confirmed":
        return (f"interval {side}" if n == 1 else f"all {n} intervals {side}") + tail
    if v.startswith("inconclusive ("):
        bad = rows[rows["verdict"] == v]
        first = bad.iloc[0]
        where = "" if n == 1 else f"{len(bad)} of {n}, e.g. {first['comparison']}: "
        return (f"{where}{NO_INTERVAL} (seeds {first['seeds']}; an interval needs at least {MIN_SEEDS} seeds per "
                f"side)" + (f" ({partial})" if partial else ""))
    bad = rows[rows["verdict"].map(base_verdict) == v]
    what = "wholly on the other side" if v == "not confirmed" else f"not wholly {side}"
    first = bad.iloc[0]
    if n == 1:
        return f"interval {what}: {first['reason']}{tail}"
    return f"{len(bad)} of {n} {what}, e.g. {first['comparison']}: {first['reason']}{tail}"


def structural_verdicts(data_root: str | Path | None = None) -> dict[str, tuple[str, str, str]]:
    """``id → (measured, verdict, why)`` for the claims checked without trained models.

    ``pbn-params``: the parameter counts of the eight-stack PBN and deep baseline at the paper's
    size, from :mod:`lib.model_cost` (no data needed). ``pbn-mi-k5`` / ``pbn-mi-k6``: the spectral
    groups of the MPII training annotations (:mod:`lib.groups`), ``no data`` without them.
    """
    from lib import mi_analysis
    from lib.model_cost import table6_parameters
    from lib.pose_sources import mpii_train_poses

    out: dict[str, tuple[str, str, str]] = {}
    counts = table6_parameters()
    pbn, deep = counts.loc["Ours (8 stacks)", "ours"], counts.loc["Deep BS (8 stacks)", "ours"]
    same = bool((counts["ours (M)"] == counts["paper (M)"]).all())
    out["pbn-params"] = (f"{pbn / 1e6:.2f}M vs {deep / 1e6:.2f}M",
                         "confirmed" if pbn < deep and same else "not confirmed",
                         "counted by lib.model_cost at 256×256, 16 joints, C = 256" + ("" if same else "; counts differ"))
    mpii = mpii_train_poses(data_root)
    if mpii is None:
        for cid in ("pbn-mi-k5", "pbn-mi-k6"):
            out[cid] = ("", "no data", "needs the MPII annotations (POSE_DATA)")
        return out
    k5, k6 = mi_analysis.source_groups(mpii, 5), mi_analysis.source_groups(mpii, 6)
    ok5 = k5 == mi_analysis.canonical(J.MI5_GROUPS)
    out["pbn-mi-k5"] = ("same 5 groups" if ok5 else mi_analysis.groups_text(k5), "confirmed" if ok5 else "not confirmed",
                        f"k = 5 groups of the {len(mpii):,} MPII training poses " + ("equal" if ok5 else "differ from")
                        + " Fig. 2(b)")
    legs = J.idx("r_ankle", "r_knee", "l_knee", "l_ankle")
    head, shoulders = set(J.idx("upper_neck", "head_top")), set(J.idx("thorax", "r_shoulder", "l_shoulder"))
    legs_ok = any(set(legs) <= set(g) for g in k6)
    head_ok = not any(head & set(g) and shoulders & set(g) for g in k6)
    ok6 = legs_ok and head_ok
    out["pbn-mi-k6"] = ("both hold" if ok6 else mi_analysis.groups_text(k6), "confirmed" if ok6 else "not confirmed",
                        f"knees and ankles together: {legs_ok}; head and neck apart from shoulders and thorax: {head_ok}")
    return out


def claim_table(source: RecordSource | None, claims: Sequence[Claim] | None = None, *,
                data_root: str | Path | None = None, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: paper, where, claim, the paper's numbers, our measurement, verdict, why, and both scales.

    ``source`` gives the records (None: every ``records`` claim is ``no record``); ``claims``:
    None = :func:`profile_claims` of the source's profile; ``rows`` reuses :func:`comparison_rows`
    output. ``our scale`` is what the verdict was measured at (:func:`claim_scales`; empty where
    nothing was measured), ``paper's scale`` the paper's recipe. Verdicts from smoke records get
    `` (smoke)``; a claim measured in part carries its coverage (:func:`lib.verdicts.aggregate`); ``why`` ends
    with :func:`lib.verdicts.epoch_cap_note` where the measured runs stopped at the epoch cap without converging.
    """
    if claims is None:
        claims = profile_claims(source.profile if source is not None else None)
    claims = list(claims)
    if rows is None:
        rows = comparison_rows(source, claims) if source is not None else pd.DataFrame()
    structural = structural_verdicts(data_root) if any(c.kind in ("groups", "params") for c in claims) else {}
    out = []
    for c in claims:
        base = {"id": c.id, "paper": c.paper, "where": c.where, "claim": c.statement, "paper says": c.paper_says}
        ours, paper = claim_scales(c, source)
        if c.kind == "untested":
            out.append({**base, "measured": "", "verdict": "not tested", "why": c.note})
        elif c.kind in ("groups", "params"):
            measured, v, why = structural[c.id]
            out.append({**base, "measured": measured, "verdict": v, "why": why})
            if v == "no data":
                ours = ""
        elif source is None or rows.empty:
            out.append({**base, "measured": "", "verdict": "no record", "why": "no records were read"})
            ours = ""
        else:
            r = rows[rows["claim"] == c.id]
            v = aggregate(r["verdict"], r["comparison"])
            done = r[~r["verdict"].isin(["no record", "not measurable", "not applicable"])]
            metric = done["metric"].iloc[0] if len(done) else "pck"
            if len(done) == 1:
                d = done.iloc[0]
                measured = format_interval(Interval(d["estimate"], d["low"], d["high"], LEVEL, d["method"], 0), metric)
            elif len(done) > 1:
                measured = (f"{len(done)} comparisons, from {fmt(done['estimate'].min(), metric)} "
                            f"to {fmt(done['estimate'].max(), metric)}")
            else:
                measured = ""
            if source.is_smoke and v != "no record":
                v = f"{v} (smoke)"
            if v == "no record":
                ours = ""
            src = source.for_claim(c)
            why = _why(c, r, src.dataset)
            note = epoch_cap_note(rec for d in done[done["metric"] == "pck"].itertuples() for name in (d.A, d.B)
                                  for rec in src.runs(name))
            out.append({**base, "measured": measured, "verdict": v, "why": f"{why}; {note}" if note else why})
        out[-1].update({"our scale": ours, "paper's scale": paper})
    return pd.DataFrame(out)


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims of each paper got each verdict (qualifiers such as smoke or seeds merged)."""
    v = table["verdict"].map(base_verdict)
    counts = pd.crosstab(table["paper"], pd.Categorical(v, categories=VERDICTS), dropna=False)
    counts.columns = pd.Index(counts.columns.astype(str), name="verdict")
    return counts.loc[:, counts.sum() > 0]


def rules_markdown() -> str:
    """How a verdict is reached, as implemented in :mod:`lib.verdicts` and :mod:`lib.stats` (for the introduction)."""
    one_sided = 100 * (1 - LEVEL) / 2
    return (
        "**How a verdict is reached.** Each claim is tested by one or more comparisons A − B of two configurations, "
        "each trained with several seeds and evaluated on the same validation people. Two sources of noise enter "
        f"every {100 * LEVEL:g}% interval. *Seeds*: Welch's t over the per-seed PCKs of A and of B "
        "(Welch-Satterthwaite degrees of freedom), so two or three seeds give the wide interval they should. "
        "*Validation people*: the delta-method variance of pooled PCK over images, the part shared by all runs "
        "added to the seed variance; the interval is never narrower than the paired image-only interval "
        "(`lib.stats.config_diff`; analytic, so no verdict depends on a number of bootstrap replicates). Training "
        "losses and convergence use a Student-t interval over differences paired by seed (`lib.stats.seed_interval`). "
        f"A comparison needs at least {MIN_SEEDS} seeds on each side, else it is *inconclusive (n seeds)*; every "
        "verdict's explanation names the seeds it rests on. A claim that A beats B is **confirmed** when the whole "
        "interval lies above 0, **not confirmed** when it lies wholly below 0, and **inconclusive** otherwise (an "
        f"interval touching 0 shows no direction); each conclusion errs at most {one_sided:g}% of the time. A claim "
        f"of *no difference* (A ≈ B) is confirmed when the interval lies inside ±{NO_DIFFERENCE_MARGIN:g} PCK points "
        f"(±{CONVERGENCE_MARGIN:g} for convergence); *no gain* (A ≤ B) when its upper end is below "
        f"+{NO_DIFFERENCE_MARGIN:g}; *no loss* (A ≥ B) when its lower end is above −{NO_DIFFERENCE_MARGIN:g}; and none "
        f"of these when both configurations score below {FLOOR_PCK:g}% (models at the floor agree without "
        "telling us anything). A claim with k comparisons (\"for every width\") is confirmed only when all k "
        f"intervals are (all must hold: the family errs at most {one_sided:g}%), and not confirmed when some "
        f"comparison's Bonferroni interval, at level 1 − {1 - LEVEL:g}/k, lies on the other side. While only some "
        "of the k comparisons have records, the verdict is that of those measured and says what it covers, e.g. "
        "*inconclusive (W = 64 only: 1 of 4 widths)*: it is never the whole claim's. Each comparison uses every "
        "seed either side has a record for, and a side with one seed has no interval (*one seed: no interval*). "
        "KPTransfer's recipe trains until validation stops improving (early stopping); where our runs instead ran "
        "every epoch of the cap without early stopping firing (their best epoch among the last few: still "
        "improving), the verdict's explanation says *runs at the epoch cap*: the gap then mixes a head start with a "
        "better end point. PBN's fixed schedule ends at its last epoch by design, in the paper as here, so its runs "
        "get no such note. `no record`: no comparison of the claim has been trained under this profile; "
        "`not measurable`: the records cannot answer it (e.g. no occlusion labels); `not applicable`: a claim about "
        "visible against invisible joints on a dataset without invisible joints (LSP Extended annotates only "
        "visible joints; there these claims are read from `synthetic-mpii`); `not tested`: outside what this study "
        "can run, with the reason."
    )
