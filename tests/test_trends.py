"""Gains traced over training (lib.gap_curves, lib.trends, lib.trend_tables, issue 30): synthetic histories with
a known trend, and the cpu records."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd
import pytest

from drawing import drawn
from lib import claims as C
from lib import gap_curves as G
from lib import joints as J
from lib import paper as P
from lib import record_source as R
from lib import trend_tables as TT
from lib import trends as T
from lib import verdicts as V
from lib.experiments import make_experiment
from lib.results import DEFAULT_RESULTS, record_path, write_record

EPOCHS = 24
N_IMAGES = 60
PBN, LINEAR = "pbn/mi5-d1-w64", "pbn/linear"
OFFSETS = (-1.0, 0.0, 1.0)  # per-seed level offsets: seed noise the slopes must see through
TILTS = (-0.02, 0.0, 0.02)  # per-seed slope offsets: seeds disagree a little about the trend


def write_run(results, name: str, seed: int, curve, *, rate: float = 0.5, visible_rate: float = 1.0,
              columns: dict[str, np.ndarray] | None = None, loss=None) -> None:
    """A smoke record of ``name`` whose history has ``curve[e - 1]`` as ``val_Hard`` and ``val_Mean`` at epoch e."""
    exp = make_experiment(name, "smoke", None, seed)
    ids = list(exp.eval_joints)
    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])
    shape = (N_IMAGES, len(ids))
    evaluated = np.ones(shape, bool)
    evaluated[: N_IMAGES // 3, ::3] = False  # joints with different evaluated counts
    visible = np.random.default_rng(7).random(shape) < visible_rate
    hits = rng.random(shape) < rate
    history = []
    for e, v in enumerate(curve, start=1):
        h = {"epoch": e, "val_Hard": float(v), "val_Mean": float(v),
             "train_loss": float(loss[e - 1]) if loss is not None else 1.0 / e}
        for col, values in (columns or {}).items():
            h[f"val_{col}"] = float(values[e - 1])
        history.append(h)
    record = {"experiment": name, "profile": "smoke", "dataset": exp.data.dataset, "seed": seed, "hash": "x" * 64,
              "config": {}, "metrics": {"train_loss": history[-1]["train_loss"]}, "joint_ids": ids,
              "history": history, "epochs_run": len(curve)}
    arrays = {"hits": hits & evaluated, "evaluated": evaluated, "visible": visible,
              "joint_ids": np.asarray(ids, np.int8)}
    write_record(record_path(exp, results), record, arrays)


def write_pair(results, gap, *, seeds=(0, 1, 2), rate_a: float = 0.6, rate_b: float = 0.4, a=PBN, b=LINEAR,
               visible_rate: float = 1.0) -> None:
    """A and B at ``seeds`` with A − B = ``gap(epoch, seed index)`` over a rising baseline B."""
    e = np.arange(1, EPOCHS + 1, dtype=float)
    for i, s in enumerate(seeds):
        base = 10.0 + 1.5 * e + 3.0 * OFFSETS[i % 3]
        write_run(results, b, s, base, rate=rate_b, visible_rate=visible_rate)
        write_run(results, a, s, base + gap(e, i % 3), rate=rate_a, visible_rate=visible_rate)


def source(results, seeds=(0, 1, 2)) -> R.RecordSource:
    return R.RecordSource(profile="smoke", results_dir=results, seeds=seeds)


HARD_PBN_LINEAR = P.Comparison(PBN, LINEAR, P.HARD)


@pytest.fixture
def results(tmp_path):
    return tmp_path / "results"


# ---- the three trends ---------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "kind", "sign"), [
    (lambda e, i: 1.0 + (0.2 + TILTS[i]) * e + 0.3 * OFFSETS[i], "widening", +1),
    (lambda e, i: 8.0 - (0.2 + TILTS[i]) * e + 0.3 * OFFSETS[i], "narrowing", +1),
    (lambda e, i: -1.0 - (0.2 + TILTS[i]) * e + 0.3 * OFFSETS[i], "widening", -1),
    (lambda e, i: 2.0 + (0.05, -0.06, 0.01)[i] * (e - 18) + 0.3 * OFFSETS[i], "flat", +1),
], ids=["widening", "narrowing", "widening-negative", "flat"])
@pytest.mark.parametrize("paired", [None, True], ids=["welch", "paired"])
def test_a_known_trend_is_classified(results, gap, kind, sign, paired):
    write_pair(results, gap)
    curve = G.gap_over_training(source(results), HARD_PBN_LINEAR, paired=paired)
    assert curve.paired is bool(paired) and curve.exact and curve.column == "val_Hard"
    assert list(curve.frame["epoch"]) == list(range(1, EPOCHS + 1)) and curve.epochs == EPOCHS
    e = curve.frame["epoch"].to_numpy(float)
    truth = np.mean([gap(e, i) for i in range(3)], axis=0)
    assert np.allclose(curve.frame["gap"], truth)
    assert (curve.frame["low"] <= curve.frame["gap"]).all() and (curve.frame["gap"] <= curve.frame["high"]).all()
    trend = T.classify_trend(curve)
    assert trend.kind == kind
    assert trend.window == (13, 24)
    assert np.sign(trend.final) == sign
    true_slope = np.polyfit(e[12:], truth[12:], 1)[0]
    assert trend.slope.estimate == pytest.approx(true_slope, abs=1e-9)
    assert trend.slope.low <= true_slope <= trend.slope.high
    assert trend.slope_per_million.estimate == pytest.approx(trend.slope.estimate * 1e6 / curve.images_per_epoch)
    assert trend.text().startswith(kind)


def test_the_slope_interval_is_over_seeds(results):
    """Seeds that disagree about the slope widen its interval; seeds that agree narrow it."""
    widths = {}
    for spread in (0.0, 0.1):
        root = results / str(spread)
        write_pair(root, lambda e, i: 1.0 + (0.2 + spread * OFFSETS[i]) * e)
        s = T.classify_trend(G.gap_over_training(source(root), HARD_PBN_LINEAR, paired=True)).slope
        widths[spread] = s.high - s.low
    assert widths[0.0] == pytest.approx(0.0, abs=1e-9) and widths[0.1] > 0.1


def test_the_epoch_from_which_the_sign_holds(results):
    # −3.2 + 0.5 e: negative to epoch 6, positive from 7 on; the same in every seed (paired: a zero-width band)
    write_pair(results, lambda e, i: -3.2 + 0.5 * e)
    curve = G.gap_over_training(source(results), HARD_PBN_LINEAR, paired=True)
    trend = T.classify_trend(curve)
    assert trend.sign_from == 7
    assert trend.band_from == 7
    assert "sign from epoch 7" in trend.text()
    quarter, half = T.snapshot(curve, 0.25), T.snapshot(curve, 0.5)
    assert (quarter.epoch, half.epoch) == (6, 12)
    assert quarter.diff.estimate == pytest.approx(-0.2) and quarter.clear is False
    assert half.diff.estimate == pytest.approx(2.8) and half.clear is True
    # Welch over the two sides' seeds sees each side's seed offsets: the same gap, not yet clear
    welch = G.gap_over_training(source(results), HARD_PBN_LINEAR)
    assert T.snapshot(welch, 0.5).diff.estimate == pytest.approx(2.8) and T.clear_at(welch, 0.5) is False
    assert T.clear_at(curve, 0.25) is False and T.clear_at(curve, 0.5) is True
    # a final sign given from outside (the claims table's estimate) that the last epoch does not share
    other = T.classify_trend(G.GapCurve(**{**curve.__dict__, "final": -1.0}))
    assert other.sign_from is None and "not held" in other.text()


def test_one_seed_gives_a_slope_but_no_interval(results):
    write_pair(results, lambda e, i: 1.0 + 0.2 * e, seeds=(0,))
    curve = G.gap_over_training(source(results, seeds=(0,)), HARD_PBN_LINEAR)
    assert curve.frame["low"].isna().all()
    trend = T.classify_trend(curve)
    assert trend.kind == "no interval" and not trend.slope.defined
    assert trend.slope.estimate == pytest.approx(0.2)
    assert "1 seed: no interval" in trend.text()
    assert trend.band_from is None and trend.sign_from == 1
    assert T.clear_at(curve, 0.5) is None


def test_unequal_seeds_are_not_paired(results):
    write_pair(results, lambda e, i: 1.0 + 0.2 * e)
    write_run(results, PBN, 3, np.arange(1, EPOCHS + 1) * 2.0)
    curve = G.gap_over_training(source(results, seeds=(0, 1, 2, 3)), HARD_PBN_LINEAR, paired=True)
    assert not curve.paired and curve.pairing == "Welch over seeds"
    assert set(curve.frame["n_a"]) == {4} and set(curve.frame["n_b"]) == {3}


# ---- what is traced -----------------------------------------------------------------------------


def test_convergence_is_the_claims_measure_at_every_epoch(results):
    write_pair(results, lambda e, i: 5.0 - 0.1 * e + OFFSETS[i])
    comp = P.Comparison(PBN, LINEAR, P.MEAN, "convergence")
    src = source(results)
    curve = G.gap_over_training(src, comp)
    assert curve.paired and curve.column == "running mean of val_Mean"
    e = np.arange(1, EPOCHS + 1)
    assert np.allclose(curve.frame["gap"], np.cumsum(5.0 - 0.1 * e) / e)
    assert curve.frame["gap"].iloc[-1] == pytest.approx(V.measure_comparison(src, comp).diff.estimate)


def test_training_loss_is_traced(results):
    e = np.arange(1, EPOCHS + 1, dtype=float)
    for s in (0, 1):  # B − A = 0.01 (1 + s), with a slope of ±0.001 that the two seeds disagree on
        write_run(results, PBN, s, e, loss=1.0 / e)
        write_run(results, LINEAR, s, e, loss=1.0 / e + 0.01 * (1 + s) + 0.001 * (-1) ** s * (e - 18))
    comp = P.Comparison(PBN, LINEAR, P.HARD, "train_loss")
    curve = G.gap_over_training(source(results), comp)
    assert curve.column == "train_loss" and curve.unit == "training loss"
    assert np.allclose(curve.frame["gap"], -0.015)  # the seeds' slopes cancel in the mean
    assert curve.frame["gap"].iloc[-1] == pytest.approx(V.measure_comparison(source(results), comp).diff.estimate)
    assert T.classify_trend(curve).kind == "flat"


def test_a_loss_gaps_slope_is_written_in_scientific_notation(results):
    e = np.arange(1, EPOCHS + 1, dtype=float)
    for s in (0, 1):  # B − A = 1e-4 (1 + s) + 2e-6 e: the gap's slope, −2e-6 an epoch, is invisible at 3 decimals
        write_run(results, PBN, s, e, loss=1.0 / e)
        write_run(results, LINEAR, s, e, loss=1.0 / e + 1e-4 * (1 + s) + 2e-6 * e)
    curve = G.gap_over_training(source(results), P.Comparison(PBN, LINEAR, P.HARD, "train_loss"))
    table = TT.trend_table(TT.Traces([curve]))
    assert table["metric"].tolist() == ["train_loss"]
    assert TT.trend_summary(table)["slope per epoch"].iloc[0].startswith("−2.00e−06 [")


def test_a_union_of_columns_is_pooled_by_evaluated_joints(results):
    """Upper body = Head + Sho. + Elb. + Wri. pooled by counts; thorax is in no column, so the curve is approximate."""
    e = np.arange(1, EPOCHS + 1, dtype=float)
    cols = {"Head": 10 + e, "Sho.": 20 + e, "Elb.": 30 + 2 * e, "Wri.": 40 + 0 * e}
    for name in ("pbn/no-ankles", LINEAR):
        for s in (0, 1):
            write_run(results, name, s, e, columns=cols)
    src = source(results)
    curve = G.gap_over_training(src, P.Comparison("pbn/no-ankles", LINEAR, P.UPPER))
    assert curve.column == "val_Head + val_Sho. + val_Elb. + val_Wri. (pooled)"
    assert not curve.exact and "thorax" in curve.note
    pooled = {}
    for side, name in (("A", "pbn/no-ankles"), ("B", LINEAR)):
        a = src.runs(name)[0].arrays()
        ids = [int(j) for j in a["joint_ids"]]
        counts = {c: a["evaluated"][:, [ids.index(j) for j in J.TABLE_COLUMNS[c]]].sum() for c in cols}
        assert len(set(counts.values())) > 1  # the weights matter
        pooled[side] = sum(cols[c] * counts[c] for c in cols) / sum(counts.values())
        assert np.allclose(curve.per_seed.query(f"side == '{side}' and seed == 0")["value"], pooled[side])
    assert np.allclose(curve.frame["gap"], pooled["A"] - pooled["B"])


def test_visibility_selections(results):
    write_pair(results, lambda e, i: 1.0 + 0.1 * e, visible_rate=0.7)
    src = source(results)
    with pytest.raises(G.NoHistory, match="no per-epoch data.*invisible"):
        G.gap_over_training(src, P.Comparison(PBN, LINEAR, P.HARD_INVISIBLE))
    with pytest.raises(G.NoHistory, match="visible"):
        G.gap_over_training(src, P.Comparison(PBN, LINEAR, P.HARD_VISIBLE))
    approx = G.gap_over_training(src, P.Comparison(PBN, LINEAR, P.HARD_INVISIBLE), visibility_fallback=True)
    assert not approx.exact and "all joints" in approx.note and approx.title.startswith("≈ ")
    # where every evaluated joint is visible (LSP Extended), visible joints are all joints: exact
    seen = results / "all-visible"
    write_pair(seen, lambda e, i: 1.0 + 0.1 * e, visible_rate=1.0)
    curve = G.gap_over_training(source(seen), P.Comparison(PBN, LINEAR, P.HARD_VISIBLE))
    assert curve.exact and "every evaluated joint is visible" in curve.note


def test_a_missing_side_is_a_lookup_error(results):
    write_run(results, PBN, 0, np.arange(EPOCHS, dtype=float))
    with pytest.raises(LookupError, match="pbn/linear"):
        G.gap_over_training(source(results), HARD_PBN_LINEAR)


# ---- claims -------------------------------------------------------------------------------------


def test_paper_differences_are_read_from_the_claims():
    by_id = P.CLAIMS_BY_ID
    assert P.paper_differences(by_id["kpt-c-wrist"]) == [pytest.approx(1.1)]
    assert P.paper_differences(by_id["kpt-a-average"]) == [0.0]
    assert P.paper_differences(by_id["pbn-negative-transfer-lower"]) == [pytest.approx(-0.45)]
    assert P.paper_differences(by_id["kpt-frozen-vs-transfer"]) == [-16.4, -15.0, -8.8, -2.5]
    assert P.paper_differences(by_id["pbn-table7"]) == [2.02, 1.85, 1.91]
    assert P.paper_differences(by_id["pbn-fusion-3-loss"]) == [pytest.approx(-0.04e-3)]
    assert P.paper_differences(by_id["pbn-vs-linear"]) == [None]
    assert P.paper_differences(by_id["pbn-depth-2"]) == [None] * 4


def test_claims_are_traced_or_skipped_with_a_reason(results):
    write_pair(results, lambda e, i: 1.0 + (0.2 + TILTS[i]) * e + 0.3 * OFFSETS[i], seeds=(0, 1))
    src = source(results)
    rows = C.comparison_rows(src)
    traces = TT.trace_claims(src, rows=rows)
    ids = {c.claim.id for c in traces.curves}
    assert "pbn-vs-linear" in ids
    (curve,) = traces.of("pbn-vs-linear")
    assert curve.final == pytest.approx(rows.set_index("claim").loc["pbn-vs-linear", "estimate"])
    assert curve.paper is None and curve.family == 1
    skipped = traces.skipped.set_index("claim")
    assert skipped.loc["pbn-vs-deep", "reason"] == "no record of pbn/deep on synthetic"
    assert all(r.startswith("no record of pbn/deep") for r in skipped.loc[["pbn-fig7"], "reason"])
    column = TT.over_training_column(src, rows, traces=traces)
    assert column.name == "over training"
    assert column["pbn-vs-linear"].startswith("widening +0.190/epoch [")  # seeds 0-1: tilts −0.02 and 0
    assert column["pbn-vs-deep"] == "no record"
    assert column["pbn-depth-2"] == "W=32: no record; W=64: no record; W=128: no record; W=256: no record"
    table = TT.trend_table(traces)
    row = table.set_index("claim").loc["pbn-vs-linear"]
    assert row["trend"] == "widening" and row["epoch@1/4"] == 6 and row["clear@1/2"] in (True, False)
    assert "1/4 of training" in TT.stability_text(table, "pbn-vs-linear")
    phrases = TT.stability_phrases(table)
    assert phrases["pbn-vs-linear"].endswith(", widening over the last half")
    assert phrases["pbn-vs-linear"].split(",")[0] in ("already clear at 1/4 of training", "not yet clear at 1/2 of training",
                                                      "clear by 1/2 of training (not yet at 1/4)",
                                                      "clear at 1/4 of training but not at 1/2")
    claim_table = C.claim_table(src, rows=rows)
    with_column = TT.with_over_training(claim_table, src, rows, traces)
    cols = list(with_column.columns)
    assert cols[cols.index("verdict") + 1] == "over training" and len(with_column) == len(claim_table)
    by_id = with_column.set_index("id")["over training"]
    assert by_id["pbn-vs-linear"] == column["pbn-vs-linear"] and by_id["pbn-depth-2"] == ""  # no record: blank


def test_gap_panels_draw_one_panel_per_curve(results):
    from lib import figures as F

    write_pair(results, lambda e, i: 1.0 + 0.2 * e)
    curve = G.gap_over_training(source(results), HARD_PBN_LINEAR)
    claim = P.CLAIMS_BY_ID["kpt-c-wrist"]
    plot = F.gap_panels([curve, G.GapCurve(**{**curve.__dict__, "claim": claim, "paper": 1.1})], cols=3)
    titles = [ax.get_title() for ax in plot.figure.axes if ax.get_title()]
    assert titles == ["pbn/mi5-d1-w64 − pbn/linear", "kpt-c-wrist"]
    assert any("over seeds only" in t.get_text() for t in plot.figure.texts)
    assert plot._repr_png_()[:4] == b"\x89PNG"
    assert "no comparison" in F.gap_panels([]).figure.axes[0].texts[0].get_text()


def test_gap_panels_title_clears_the_panels_titles(results):  # the PBN chapter draws 20 panels
    from lib import figures as F

    write_pair(results, lambda e, i: 1.0 + 0.2 * e)
    curve = G.gap_over_training(source(results), HARD_PBN_LINEAR)
    fig = F.gap_panels([curve] * 20, cols=3, title="profile `cpu`, dataset `lspet`, seeds 0, 1, 2").figure
    assert fig._suptitle.get_text() == "profile cpu, dataset lspet, seeds 0, 1, 2"  # Markdown's code ticks dropped
    fig, renderer = drawn(fig)
    top = fig._suptitle.get_window_extent(renderer)
    assert top.y1 <= fig.bbox.y1
    for ax in fig.axes[:3]:
        assert ax.title.get_window_extent(renderer).y1 < top.y0


# ---- the committed cpu records ------------------------------------------------------------------


@pytest.mark.skipif(not (DEFAULT_RESULTS / "cpu" / "lspet").is_dir(), reason="no committed cpu records")
def test_cpu_records_trace_the_kptransfer_and_pbn_gains():
    src = R.RecordSource(profile="cpu")
    claims = {c.id: c for c in P.profile_claims("cpu")}
    wanted = ("kpt-c-average", "kpt-d-average", "pbn-vs-linear")
    if any(not src.runs(n) for cid in wanted for x in claims[cid].comparisons for n in (x.a, x.b)):
        pytest.skip("the cpu records of KPTransfer (c)/(d) or PBN vs linear are not all there")
    traces = TT.trace_claims(src, [claims[c] for c in wanted])
    assert traces.skipped.empty
    for curve in traces.curves:
        f = curve.frame
        assert curve.exact and len(f) == curve.epochs and (f[["n_a", "n_b"]] >= 2).all().all()
        assert f[["gap", "low", "high"]].notna().all().all()
        assert T.classify_trend(curve).kind in T.KINDS
    kpt = [c for c in traces.curves if c.claim.paper == "KPTransfer"]
    assert [c.column for c in kpt] == ["val_Mean", "val_Mean"] and [c.paper for c in kpt] == [0.5, 0.4]
    # PBN's runs are measured at their last epoch: the trace ends on the claims table's estimate
    (pbn,) = traces.of("pbn-vs-linear")
    measured = V.measure_comparison(src, pbn.comparison).diff.estimate
    assert pbn.frame["gap"].iloc[-1] == pytest.approx(measured, abs=1e-6)
    assert not math.isnan(T.snapshot(pbn, 0.25).diff.low)


def test_runs_stopped_before_the_last_half_are_too_short(results):
    from dataclasses import replace

    write_pair(results, lambda e, i: 1.0 + 0.2 * e, seeds=(0, 1))
    curve = G.gap_over_training(source(results, seeds=(0, 1)), HARD_PBN_LINEAR)
    first_of_last_half = curve.epochs // 2 + 1
    short = replace(curve, per_seed=curve.per_seed[curve.per_seed["epoch"] <= first_of_last_half])
    trend = T.classify_trend(short)
    assert trend.kind == "too short" and trend.text().startswith("too short: no slope")


def test_trend_summary_and_untraced_text(results):
    write_pair(results, lambda e, i: 1.0 + (0.2 + TILTS[i]) * e + 0.3 * OFFSETS[i], seeds=(0, 1))
    src = source(results)
    traces = TT.trace_claims(src, rows=C.comparison_rows(src))
    summary = TT.trend_summary(TT.trend_table(traces))
    row = summary.loc["pbn-vs-linear"].iloc[0]
    assert row["last half"] == "widening" and row["slope per epoch"].startswith("+0.190 [")
    assert row["sign from"].isdigit() and row["gap at 1/4"].startswith("+")
    assert TT.trend_summary(pd.DataFrame()).empty
    assert TT.untraced_text(TT.Traces([])) == ""


def test_an_invisible_selection_is_traced_from_the_per_visibility_columns(results):
    e = np.arange(1, EPOCHS + 1, dtype=float)
    for i, s in enumerate((0, 1)):
        base = 10.0 + e + OFFSETS[i]
        for name, extra in ((LINEAR, 0.0), (PBN, 0.5)):  # invisible gap widens by 0.5 an epoch
            write_run(results, name, s, base, visible_rate=0.5,
                      columns={"invisible_Hard": base + extra * e, "invisible_Mean": base + extra * e})
    comp = P.Comparison(PBN, LINEAR, P.Selection("hard, invisible", J.HARD_JOINTS, "invisible"))
    curve = G.gap_over_training(source(results, seeds=(0, 1)), comp)
    assert curve.exact and curve.column == "val_invisible_Hard"
    assert curve.frame["gap"].to_numpy() == pytest.approx(0.5 * e)
    assert T.classify_trend(curve).kind == "widening"
    visible = P.Comparison(PBN, LINEAR, P.Selection("hard, visible", J.HARD_JOINTS, "visible"))
    with pytest.raises(G.NoHistory):  # no val_visible_* columns in these records, and not all joints visible
        G.gap_over_training(source(results, seeds=(0, 1)), visible)


def test_older_records_without_the_visibility_split_leave_the_newer_seeds_traced(results):
    e = np.arange(1, EPOCHS + 1, dtype=float)
    for i, s in enumerate((0, 1, 2, 3)):
        base = 10.0 + e + OFFSETS[i % 3]
        for name, extra in ((LINEAR, 0.0), (PBN, 0.5)):
            logged = ({"invisible_Hard": base + extra * e, "invisible_Mean": base + extra * e} if s >= 2
                      else None)  # seeds 0-1: older records
            write_run(results, name, s, base, visible_rate=0.5, columns=logged)
    comp = P.Comparison(PBN, LINEAR, P.Selection("hard, invisible", J.HARD_JOINTS, "invisible"))
    curve = G.gap_over_training(source(results, seeds=(0, 1, 2, 3)), comp)
    assert not curve.exact and "seeds 2, 3 vs 2, 3 only" in curve.note
    assert set(curve.per_seed["seed"]) == {2, 3} and curve.frame["gap"].to_numpy() == pytest.approx(0.5 * e)


def test_stability_phrases_say_when_the_band_cleared_zero_or_why_there_is_none():
    def row(claim, q, h, trend, seeds=3, comparison="A − B"):
        return {"claim": claim, "comparison": comparison, "clear@1/4": q, "clear@1/2": h, "trend": trend, "seeds": seeds}

    table = pd.DataFrame([row("early", True, True, "flat"), row("mid", False, True, "widening"),
                          row("late", False, False, "narrowing"), row("lost", True, False, "flat"), row("one-seed", None, None, "no interval", seeds=1),
                          row("fam", True, True, "flat", comparison="x"), row("fam", False, False, "flat", comparison="y")])
    phrases = TT.stability_phrases(table)
    assert phrases["early"] == "already clear at 1/4 of training, flat over the last half"
    assert phrases["mid"] == "clear by 1/2 of training (not yet at 1/4), widening over the last half"
    assert phrases["late"] == "not yet clear at 1/2 of training, narrowing over the last half"
    assert phrases["lost"] == "clear at 1/4 of training but not at 1/2, flat over the last half"
    assert phrases["one-seed"] == "traced on one seed so far (no band yet)"
    assert phrases["fam"] == ("x: already clear at 1/4 of training, flat over the last half; "
                              "y: not yet clear at 1/2 of training, flat over the last half")
