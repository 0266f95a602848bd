"""lib.inference: a finished run's weights evaluated with the papers' test protocols, tables with AUC, run listing."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lib import inference as I
from lib.data.augment import DeviceData, eval_inputs, heatmap_to_crop
from lib.experiments import make_experiment
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


def test_single_protocol_reproduces_the_runs_own_evaluation(run):
    exp, model, ps = loaded(run)
    ev = I.evaluate(model, exp, ps, "single")
    stored = run["record"].arrays()
    assert len(ev) == exp.data.val_limit
    assert np.array_equal(ev.hits, stored["hits"]) and np.array_equal(ev.evaluated, stored["evaluated"])
    np.testing.assert_allclose(ev.pred, stored["pred"], atol=0.05)  # the record keeps float16
    for key, value in ev.table.items():
        assert value == pytest.approx(run["record"].metrics[key]), key


def test_multiscale_is_the_six_scale_flip_pyramid_of_lib_heatmaps(run):
    exp, model, ps = loaded(run)
    data = DeviceData.from_poseset(ps, "cpu")
    pred, _ = I.predict(model, data, exp.model.input_size, "multiscale", flip_pairs=flip_pairs_for(exp.eval_joints))
    with torch.no_grad():
        heatmaps = multiscale_test(lambda x: model(x)[-1], eval_inputs(data, torch.arange(len(ps)), exp.model.input_size),
                                   PYRAMID_SCALES, flip_pairs_for(exp.eval_joints))
    expected = heatmap_to_crop(decode(heatmaps)[0], data, exp.model.input_size).numpy()
    np.testing.assert_allclose(pred, expected, atol=1e-4)
    assert PYRAMID_SCALES == (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
    # one scale of the pyramid is plain flip testing
    one = I.evaluate(model, exp, ps, "multiscale", scales=(1.0,))
    flip = I.evaluate(model, exp, ps, "flip")
    np.testing.assert_allclose(one.pred, flip.pred, atol=1e-4)


def test_auc_is_the_area_under_the_pck_curve():
    ids = list(range(16))
    evaluated = np.ones((4, 16), bool)
    errors = np.full((4, 16), 0.255)
    # PCKh curve 0 up to 0.25, 100 from 0.26: trapezoids give 0.5·0.01·100 + 0.24·100 over 0.5
    assert I.auc(errors, evaluated, ids, 0.5)["Mean"] == pytest.approx(49.0)
    assert I.auc(np.zeros((4, 16)), evaluated, ids, 0.5)["Mean"] == pytest.approx(99.0)
    # LSP's curve stops at 0.2: 0.105 errors are right from 0.11 on
    assert I.auc(np.full((4, 16), 0.105), evaluated, ids, 0.2)["Mean"] == pytest.approx(100 * 0.095 / 0.2)
    # half the people perfect, half never right: half the area
    errors[:2] = np.inf
    errors[2:] = 0.0
    assert I.auc(errors, evaluated, ids, 0.5)["Head"] == pytest.approx(49.5)


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


def test_a_weights_file_alone_names_its_experiment(run):
    weights = I.weights_path(run["exp"], run["root"] / "runs")
    exp, _, path = I.load_model(weights=weights, results_dir=run["root"] / "results")
    assert exp == run["exp"] and path == weights
    other = make_experiment("pbn/linear", "tiny")
    with pytest.raises(ValueError, match="not of pbn/linear"):
        I.load_model(other, weights)


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


def test_a_run_without_weights_is_a_one_line_error_with_the_fix(run, capsys):
    rc = I.main(["eval", NAME, "--profile", "tiny", "--seed", "7", *run["dirs"]])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "final.pt" in err and f"python -m lib.train {NAME} --profile tiny" in err and "--seed 7" in err
