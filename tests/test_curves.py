"""Learning curves, run costs and sweep arithmetic from records (lib.curves)."""

import copy

import numpy as np
import pytest

from lib import curves, figures
from lib.experiments import priority_plan
from lib.results import load_record, record_path, write_record
from lib.runner import estimated_cost


@pytest.fixture(scope="module")
def tiny_record(tiny_runs):
    return tiny_runs.record("pbn/linear")


@pytest.mark.slow
def test_learning_curve_has_one_row_per_epoch_with_images_and_minutes(tiny_record):
    df = curves.learning_curves([tiny_record])
    s = tiny_record.data["config"]["schedule"]
    assert list(df["epoch"]) == list(range(1, s["epochs"] + 1))
    assert list(df["images"]) == [e * s["iters_per_epoch"] * s["batch_size"] for e in df["epoch"]]
    assert (np.diff(df["minutes"]) > 0).all() and df["minutes"].iloc[-1] * 60 <= tiny_record.data["run"]["wall_s"]
    assert df["Mean"].iloc[-1] == pytest.approx(tiny_record.history["val_Mean"].iloc[-1])
    costs = curves.run_costs([tiny_record])
    assert costs.loc[0, "images"] == tiny_record.data["run"]["images"] and costs.loc[0, "precision"] == "fp32"
    assert figures.learning_curves(df)._repr_png_()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_sweep_arithmetic_prices_the_plan_at_the_measured_speed(tiny_record, tmp_path):
    plan = priority_plan("cpu")
    empty, summary = curves.sweep_arithmetic("cpu", tmp_path)
    assert summary["runs"] == len(plan) and summary["finished"] == 0 and np.isnan(summary["hours_left"])
    # One finished run of the plan's first experiment that took exactly one hour for its full schedule.
    first = plan[0]
    data = copy.deepcopy(tiny_record.data)
    s = first.schedule
    data["run"].update(wall_s=3600.0, images=s.epochs * s.iters_per_epoch * s.batch_size)
    write_record(record_path(first, tmp_path), data, tiny_record.arrays())
    assert load_record(record_path(first, tmp_path)).data["run"]["wall_s"] == 3600.0
    groups, summary = curves.sweep_arithmetic("cpu", tmp_path)
    macs: dict = {}
    per_hour = estimated_cost(first, macs)
    expected_left = sum(estimated_cost(e, macs) for e in plan[1:]) / per_hour
    assert summary["finished"] == 1 and summary["hours_done"] == pytest.approx(1.0)
    assert summary["hours_left"] == pytest.approx(expected_left)
    assert summary["hours_total"] == pytest.approx(1.0 + expected_left)
    assert groups["runs"].sum() == len(plan) and groups["finished"].sum() == 1
    assert groups["left_h"].sum() == pytest.approx(expected_left)
    # A second run trained side by side with the first (same hour): the machine time stays one hour.
    second = plan[1]
    data2 = copy.deepcopy(data)
    s2 = second.schedule
    data2["run"]["images"] = s2.epochs * s2.iters_per_epoch * s2.batch_size
    write_record(record_path(second, tmp_path), data2, tiny_record.arrays())
    _, both = curves.sweep_arithmetic("cpu", tmp_path)
    assert both["hours_done"] == pytest.approx(1.0) and both["run_hours_done"] == pytest.approx(2.0)
    done_cost = per_hour + estimated_cost(second, macs)
    assert both["hours_left"] == pytest.approx(sum(estimated_cost(e, macs) for e in plan[2:]) / done_cost)


def test_busy_seconds_counts_overlapping_runs_once():
    assert curves.busy_seconds([]) == 0
    assert curves.busy_seconds([(0, 10), (5, 15), (20, 30)]) == 25
    assert curves.busy_seconds([(0, 10), (2, 4), (10, 12)]) == 12


def test_plan_hours_at_a_speed_is_the_plans_training_macs_over_it():
    macs: dict = {}
    total = sum(estimated_cost(e, macs) for e in priority_plan("cpu"))
    assert curves.plan_hours_at("cpu", total / 3600) == pytest.approx(1.0)
    assert curves.plan_hours_at("cpu", total / 7200) == pytest.approx(2.0)


@pytest.mark.slow
def test_bench_speeds_pick_each_profiles_eager_fast_path_and_price_runs(tiny_record, tmp_path):
    import json

    row = {"macs": 10, "batch_size": 16, "mode": "bf16 channels-last"}
    bench = {"device": "cpu", "threads": 2, "date": "2026-12-02T00:00:00", "precision": "auto", "rows": [
        {**row, "model": "tiny: 2-stack linear", "mode": "fp32 eager", "images_per_s": 10.0, "speedup": 1.0},
        {**row, "model": "tiny: 2-stack linear", "images_per_s": 20.0, "speedup": 2.0},
        {**row, "model": "tiny: 2-stack linear", "mode": "bf16 channels-last compiled", "images_per_s": 40.0,
         "speedup": 4.0},
        {"model": "tiny: 2-stack linear", "mode": "compiled", "error": "no compiler"}]}
    (tmp_path / "cpu-x.json").write_text(json.dumps(bench))
    loaded = curves.load_bench(str(tmp_path / "cpu-*.json"))
    assert curves.fast_speeds(loaded)["tiny"][0] == 20.0  # not fp32, not compiled, not the failed row
    table = curves.bench_table(loaded)
    assert len(table) == 4 and table["% of ceiling"].isna().all()  # a file from before CPU ceilings
    with_ceiling = {**bench, "rows": [{**bench["rows"][1], "train_tflops": 0.05, "fraction_of_ceiling": 0.25}]}
    (tmp_path / "ceiling.json").write_text(json.dumps(with_ceiling))
    assert curves.bench_table(curves.load_bench(str(tmp_path / "ceiling.json")))["% of ceiling"].tolist() == [25.0]
    assert curves.layout_table(loaded).empty
    layouts = {**bench, "rows": [], "layouts": [
        {"model": "tiny: 2-stack linear", "processes": 1, "threads": 2, "images_per_s": 50.0, "ratio": 1.0},
        {"model": "tiny: 2-stack linear", "processes": 2, "threads": 1, "images_per_s": 75.0, "ratio": 1.5}]}
    (tmp_path / "cpu-y.json").write_text(json.dumps(layouts))
    loaded = curves.load_bench(str(tmp_path / "cpu-*.json"))
    assert list(curves.layout_table(loaded)["ratio"]) == [1.0, 1.5] and len(curves.bench_table(loaded)) == 4
    assert set(curves.layout_table(loaded)["precision"]) == {"auto"}
    assert curves.fast_speeds(loaded)["tiny"][0] == 20.0
    slower = {**bench, "date": "2026-12-03T00:00:00", "rows": [
        {**row, "model": "tiny: 2-stack linear", "mode": "fp32 channels-last (no native bf16)", "images_per_s": 12.0,
         "speedup": 1.2}]}
    (tmp_path / "cpu-z.json").write_text(json.dumps(slower))
    loaded = curves.load_bench(str(tmp_path / "cpu-*.json"))
    assert curves.fast_speeds(loaded)["tiny"][0] == 20.0  # a newer file from a slower machine does not win
    table = curves.recipe_table([tiny_record], loaded)
    assert table.loc[0, "idle min"] == pytest.approx(tiny_record.data["run"]["images"] / 20.0 / 60)


def test_cost_summary_groups_runs_by_paper_precision_and_threads(tiny_record):
    costs = curves.run_costs([tiny_record, tiny_record])
    summary = curves.cost_summary(costs)
    assert summary["runs"].sum() == 2 and summary.index.names == ["paper", "precision", "threads"]
    row = summary.iloc[0]
    assert row["fewest min"] == row["median min"] == row["most min"] == pytest.approx(costs.loc[0, "wall min"])
    assert curves.cost_summary(costs.iloc[:0]).empty


def test_the_minutes_the_book_quotes_for_a_cpu_run_hold_for_the_committed_records():
    """The intro, the reproducibility page and ``CPU_PROFILE_NOTES`` say: under an hour per run in bf16, up to
    about two and a half hours in fp32 (two runs side by side). Committed records must not contradict that."""
    from lib.experiments import CPU_PROFILE_NOTES
    from lib.results import iter_records

    recs = [r for d in ("lspet", "synthetic-mpii") for r in iter_records("cpu", d)]
    if not recs:
        pytest.skip("no cpu records committed")
    from lib.provenance import REPO_ROOT

    most = curves.cost_summary(curves.run_costs(recs)).groupby(level="precision")["most min"].max()
    pages = {"CPU_PROFILE_NOTES": CPU_PROFILE_NOTES, **{p: (REPO_ROOT / p).read_text()
                                                          for p in ("book/reproducibility.md", "notebooks/00_intro.ipynb")}}
    for page, text in pages.items():
        text = " ".join(text.replace('\\n",', " ").replace('"', " ").split())  # notebook JSON lines as prose
        assert "under an hour" in text and "about two and a half hours" in text and "half an hour" not in text, page
    assert most.get("bf16", 0) < 60 and most.get("fp32", 0) < 165, most.to_dict()
