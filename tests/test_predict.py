"""lib.predict: a trained model's skeleton drawn on a user's own image."""

import json

import numpy as np
import pytest
from PIL import Image

from lib import inference as I
from lib import predict as P
from lib.evaluate import evaluate

NAME = "pbn/mi5-d1-w64"


@pytest.fixture(scope="module")
def run(tiny_runs):
    root, exp = tiny_runs.root, tiny_runs.experiment(NAME)
    tiny_runs.record(NAME)
    exp, model, _ = I.load_model(exp, checkpoint_dir=root / "runs")
    ps = I.load_split(exp, cache_dir=root / "packs")
    return {"root": root, "exp": exp, "model": model, "ps": ps}


@pytest.mark.slow
def test_a_box_framing_a_validation_crop_reproduces_the_evaluation(run, tmp_path):
    """The person box of crop i, given as --box on that crop saved as a photo, gives evaluate()'s joints."""
    exp, model, ps = run["exp"], run["model"], run["ps"]
    ev = evaluate(model, exp, ps, "flip")
    r = ps.resolution
    half = r / exp.data.margin / P.BOX_FACTOR / 2  # the box that BOX_FACTOR turns into the training person box
    c = (r - 1) / 2
    for i in (0, 5):
        Image.fromarray(ps.images[i]).save(tmp_path / "person.png")
        pred = P.predict_image(model, exp, Image.open(tmp_path / "person.png"), (c - half, c - half, c + half, c + half),
                               "flip")
        np.testing.assert_allclose(pred.joints, ev.pred[i], atol=1e-3)
        np.testing.assert_allclose(pred.scores, ev.maxvals[i], atol=1e-5)


@pytest.mark.slow
def test_command_draws_the_skeleton_on_a_photo_of_any_size(run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)).save(tmp_path / "mine.jpg")
    weights = I.weights_path(run["exp"], run["root"] / "runs")
    for extra in ([], ["--box", "40,10,100,85"]):
        out = tmp_path / f"pose{len(extra)}.png"
        rc = P.main([str(tmp_path / "mine.jpg"), "--weights", str(weights), "--results", str(run["root"] / "results"),
                     "--out", str(out), "--json", *extra])
        assert rc == 0
        joints = json.loads(capsys.readouterr().out.splitlines()[-1])["joints"]
        assert len(joints) == 16
        xy = np.array([v[:2] for v in joints.values()])
        # the joints lie inside the network's view: the person box (whole image: 160 px wide, centred)
        centre, side = P.person_box((160, 90), None if not extra else (40, 10, 100, 85))
        assert (np.abs(xy - centre) <= side / 2 + 1).all()
        with Image.open(out) as img:
            assert img.format == "PNG" and min(img.size) > 100


@pytest.mark.slow
def test_bad_box_and_missing_image_are_one_line_errors(run, tmp_path, capsys):
    weights = str(I.weights_path(run["exp"], run["root"] / "runs"))
    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    assert P.main([str(tmp_path / "a.png"), "--weights", weights, "--box", "1,2,3", "--out", str(tmp_path / "o.png")]) == 2
    assert "x0,y0,x1,y1" in capsys.readouterr().err
    assert P.main([str(tmp_path / "none.png"), "--weights", weights, "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none.png" in err
