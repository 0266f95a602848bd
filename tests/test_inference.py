"""lib.inference and lib.evaluate: a finished run's weights evaluated with the papers' test protocols, tables
with AUC, run listing; the engine's validation pass is the same evaluator."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lib import checkpoint as ckpt
from lib import evaluate as E
from lib import inference as I
from lib.data.augment import DeviceData, eval_inputs, heatmap_to_crop
from lib.data.poseset import PoseSet
from lib.engine import heatmap_loss, stack_columns
from lib.experiments import config_hash, make_experiment
from lib.heatmaps import PYRAMID_SCALES, decode, flip_pairs_for, multiscale_test

NAME = "pbn/mi5-d1-w64"


@pytest.fixture(scope="module")
def run(tiny_runs):
    """A finished ``tiny`` run (fp32, so its record does not depend on the CPU's bf16 support)."""
    root, exp, record = tiny_runs.root, tiny_runs.experiment(NAME), tiny_runs.record(NAME)
    return {"root": root, "exp": exp, "record": record, "dirs": ["--checkpoint-dir", str(root / "runs"), "--results",
                                                                  str(root / "results"), "--cache-dir", str(root / "packs")]}


def loaded(run):
    exp, model, _ = I.load_model(run["exp"], checkpoint_dir=run["root"] / "runs")
    return exp, model, I.load_split(exp, cache_dir=run["root"] / "packs")


@pytest.mark.slow
def test_single_protocol_reproduces_the_runs_own_evaluation(run):
    exp, model, ps = loaded(run)
    ev = E.evaluate(model, exp, ps, "single")
    stored = run["record"].arrays()
    assert len(ev) == exp.data.val_limit
    assert np.array_equal(ev.hits, stored["hits"]) and np.array_equal(ev.evaluated, stored["evaluated"])
    assert np.array_equal(ev.pred.astype(np.float16), stored["pred"])  # the record keeps float16 of the same
    assert np.array_equal(ev.image_pred, stored["pred_image"]) and np.array_equal(ev.image, stored["image"])
    for key, value in ev.table.items():
        assert value == pytest.approx(run["record"].metrics[key]), key


@pytest.mark.slow
@pytest.mark.parametrize("protocol", E.PROTOCOLS)
def test_the_engines_validation_pass_is_the_same_evaluator(run, protocol):
    """With the engine's loss (its unaugmented batches), every protocol predicts what inference does."""
    exp, model, ps = loaded(run)
    cols = stack_columns(exp, ps.joint_ids)
    loss_fn = heatmap_loss(cols, exp.loss_stacks, ps.num_joints, torch.device("cpu"))
    engine = E.evaluate(model, exp, ps, protocol, loss_fn=loss_fn, batch_size=5)
    plain = E.evaluate(model, exp, ps, protocol)
    assert np.array_equal(engine.pred, plain.pred) and np.array_equal(engine.hits, plain.hits)
    assert plain.loss is None and engine.loss > 0
    if protocol == "single":
        assert engine.loss == pytest.approx(run["record"].metrics["val_loss"], rel=1e-5)


@pytest.mark.slow
def test_multiscale_is_the_six_scale_flip_pyramid_of_lib_heatmaps(run):
    exp, model, ps = loaded(run)
    data = DeviceData.from_poseset(ps, "cpu")
    pairs = flip_pairs_for(exp.eval_joints)
    pred = E.predict(model, data, exp.model.input_size, "multiscale", flip_pairs=pairs).pred
    with torch.no_grad():
        heatmaps = multiscale_test(lambda x: model(x)[-1], eval_inputs(data, torch.arange(len(ps)), exp.model.input_size),
                                   PYRAMID_SCALES, flip_pairs_for(exp.eval_joints))
    expected = heatmap_to_crop(decode(heatmaps)[0], data, exp.model.input_size).numpy()
    np.testing.assert_allclose(pred, expected, atol=1e-4)
    assert PYRAMID_SCALES == (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
    # one scale of the pyramid is plain flip testing
    one = E.evaluate(model, exp, ps, "multiscale", scales=(1.0,))
    flip = E.evaluate(model, exp, ps, "flip")
    np.testing.assert_allclose(one.pred, flip.pred, atol=1e-4)


def scored(errors: np.ndarray, metric: str = "pckh") -> E.Evaluation:
    """Predictions ``errors`` normalisers to the right of the ground truth, scored by ``lib.evaluate.score``."""
    n, j = errors.shape
    ps = PoseSet(images=np.zeros((n, 8, 8, 3), np.uint8), joints=np.zeros((n, j, 2), np.float32),
                 annotated=np.ones((n, j), bool), visible=np.ones((n, j), bool), norm=np.ones(n, np.float32),
                 joint_ids=tuple(range(j)), metric=metric, margin=1.25)
    pred = np.stack([errors, np.zeros_like(errors)], axis=-1)
    return E.score(ps, pred, range(j), np.zeros((n, j), np.float32))


def test_auc_is_the_area_under_the_pck_curve():
    # PCKh curve 0 up to 0.25, 100 from 0.26: trapezoids give 0.5·0.01·100 + 0.24·100 over 0.5
    assert scored(np.full((4, 16), 0.255)).auc["Mean"] == pytest.approx(49.0)
    assert scored(np.zeros((4, 16))).auc["Mean"] == pytest.approx(99.0)
    # LSP's curve stops at 0.2: 0.105 errors are right from 0.11 on
    assert scored(np.full((4, 16), 0.105), "pck").auc["Mean"] == pytest.approx(100 * 0.095 / 0.2)
    # half the people perfect, half never right: half the area
    errors = np.zeros((4, 16))
    errors[:2] = np.inf
    assert scored(errors).auc["Head"] == pytest.approx(49.5)


def test_threshold_and_curve_range_are_separate_facts_of_each_metric():
    pckh, pck = E.pck_metric("pckh"), E.pck_metric("pck")
    assert (pckh.threshold, pckh.curve_max, pckh.title, pckh.curve_title) == (0.5, 0.5, "PCKh@0.5", "AUC@0-0.5")
    assert (pck.threshold, pck.curve_max, pck.title, pck.curve_title) == (0.2, 0.2, "PCK@0.2", "AUC@0-0.2")
    assert len(pckh.curve_thresholds()) == 51 and len(pck.curve_thresholds()) == 21
    # a joint is right strictly below the threshold, whatever the curve
    ev = scored(np.full((2, 16), 0.2), "pck")
    assert not ev.hits.any() and ev.threshold == 0.2
    with pytest.raises(ValueError, match="unknown PCK metric 'oks'"):
        E.pck_metric("oks")


@pytest.mark.slow
def test_command_evaluates_with_six_scales_and_prints_the_table_with_auc(run, capsys):
    rc = I.main(["eval", NAME, "--profile", "tiny", "--protocol", "multiscale", "--json", *run["dirs"]])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[1].split() == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank.", "Mean", "Hard"]
    assert lines[2].startswith("PCKh@0.5") and lines[3].startswith("AUC@0-0.5")
    result = json.loads(lines[-1])
    assert result["protocol"] == "multiscale" and result["people"] == 16
    assert set(result["auc"]) == set(result["columns"]) and 0 <= result["auc"]["Mean"] <= 100


@pytest.mark.slow
def test_a_weights_file_alone_names_its_experiment(run):
    weights = I.weights_path(run["exp"], run["root"] / "runs")
    assert weights == ckpt.run_folder(config_hash(run["exp"]), run["root"] / "runs") / ckpt.FINAL and weights.exists()
    exp, _, path = I.load_model(weights=weights, results_dir=run["root"] / "results")
    assert exp == run["exp"] and path == weights
    other = make_experiment("pbn/linear", "tiny")
    with pytest.raises(ValueError, match="not of pbn/linear"):
        I.load_model(other, weights)


@pytest.mark.slow
def test_list_shows_every_run_with_its_seed_score_and_weights(run, capsys):
    assert I.main(["list", "--json", "--results", str(run["root"] / "results"),
                   "--checkpoint-dir", str(run["root"] / "runs")]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (entry,) = [e for e in entries if e["experiment"] == NAME]  # the session's other tiny runs are listed too
    assert {e["experiment"] for e in entries} == {r.stem.rsplit("-s", 1)[0].replace("-", "/", 1)
                                                  for r in (run["root"] / "results").rglob("*.json")}
    assert (entry["experiment"], entry["profile"], entry["dataset"], entry["seed"]) == (NAME, "tiny", "synthetic", 0)
    assert entry["weights_exist"] and Path(entry["weights"]) == I.weights_path(run["exp"], run["root"] / "runs")
    assert entry["Mean"] == pytest.approx(run["record"].metrics["Mean"])


@pytest.mark.slow
def test_a_run_without_weights_is_a_one_line_error_with_the_fix(run, capsys):
    rc = I.main(["eval", NAME, "--profile", "tiny", "--seed", "7", *run["dirs"]])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "final.pt" in err and f"python -m lib.train {NAME} --profile tiny" in err and "--seed 7" in err
