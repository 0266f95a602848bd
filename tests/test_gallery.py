"""lib.gallery: failure gallery and per-joint error distributions rebuilt from records."""

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from lib import evaluate as E
from lib import gallery as G
from lib.experiments import make_experiment
from lib.results import Record


@pytest.fixture(scope="module")
def records(tiny_runs):
    """Two finished ``tiny`` runs on the same validation people, and where their packs are."""
    return [tiny_runs.record(n) for n in ("pbn/mi5-d1-w64", "pbn/linear")], tiny_runs.dirs["packs"]


@pytest.mark.slow
def test_records_keep_their_stored_hits_on_rebuilt_validation_people(records):
    recs, packs = records
    ps, runs = G.compare(recs, cache_dir=packs)
    assert len(ps) == make_experiment("pbn/linear", "tiny").data.val_limit
    for rec, run in zip(recs, runs):
        stored = rec.arrays()
        assert run.label == f"{rec.experiment} s0"
        assert np.array_equal(run.hits, stored["hits"]) and np.array_equal(run.evaluated, stored["evaluated"])
        assert run.table == pytest.approx({k: rec.metrics[k] for k in run.table})
        assert np.array_equal(run.image_pred, stored["pred_image"]) and run.auc is None
        assert np.isinf(run.errors[~run.evaluated]).all() and np.isfinite(run.errors[run.evaluated]).all()


@pytest.mark.slow
def test_other_people_are_refused(records):
    recs, packs = records
    ps, _ = G.compare(recs, cache_dir=packs)
    with pytest.raises(ValueError, match="validation data has"):
        E.stored(recs[0], ps.subset(slice(0, 8)))
    moved = ps.subset(np.arange(len(ps)))
    moved.annotated = moved.annotated.copy()
    moved.annotated[0] = False  # another annotation: the run evaluated joints these people lack
    with pytest.raises(ValueError, match="differ from the run's in their evaluated joints"):
        E.stored(recs[0], moved)
    renamed = ps.subset(np.arange(len(ps)))
    renamed.meta["images"] = [f"photo{i}.jpg" for i in range(len(ps))]  # people of other images
    with pytest.raises(ValueError, match="differ from the run's in their images"):
        E.stored(recs[0], renamed)


def run_with(errors: np.ndarray, evaluated: np.ndarray | None = None, label: str = "m") -> E.Evaluation:
    evaluated = np.ones(errors.shape, bool) if evaluated is None else evaluated
    n, j = errors.shape
    hits, visible, ids = (errors < 0.5) & evaluated, np.ones((n, j), bool), tuple(range(j))
    return E.Evaluation(pred=np.zeros((n, j, 2)), image_pred=np.zeros((n, j, 2)), maxvals=np.zeros((n, j)),
                        errors=np.where(evaluated, errors, np.inf), hits=hits, evaluated=evaluated, visible=visible,
                        joint_ids=ids, columns=ids, metric="pckh", threshold=0.5,
                        tables=E.tables_of(hits, evaluated, visible, ids), label=label)


def test_worst_people_rank_by_capped_mean_error_over_runs():
    a = run_with(np.array([[0.1, 0.1], [5.0, 0.1], [0.9, 0.9], [0.2, 0.2]]))
    b = run_with(np.array([[0.1, 0.1], [0.1, 0.1], [0.9, 0.9], [0.2, 0.2]]))
    # person 1's one far-off joint counts as RANK_CAP: (1.0 + 0.1) / 2 in a, 0.1 in b -> 0.325 < 0.9
    assert G.worst_people([a, b], 3).tolist() == [2, 1, 3]
    none = np.ones((4, 2), bool)
    none[2] = False
    c = run_with(np.full((4, 2), 0.3), none)
    assert 2 not in G.worst_people([a, c], 4).tolist()  # a person one run does not evaluate is left out


@pytest.mark.slow
def test_gallery_and_distribution_figures(records):
    recs, packs = records
    ps, runs = G.compare(recs, cache_dir=packs)
    plot = G.failure_gallery(ps, runs, k=3)
    titles = [ax.get_title() for ax in plot.figure.axes]
    assert len(titles) == 3 * (1 + len(runs))
    assert titles[0].endswith("ground truth") and titles[1].startswith("pbn/mi5-d1-w64 s0:")
    worst = G.worst_people(runs, 3)
    assert titles[0] == f"#{worst[0]} ground truth"
    assert titles[2] == f"pbn/linear s0: {int(runs[1].hits[worst[0]].sum())}/16 right"
    dist = G.error_distribution(runs)
    (ax,) = dist.figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank."]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pbn/mi5-d1-w64 s0", "pbn/linear s0"]
    assert plot._repr_jpeg_()[:2] == b"\xff\xd8" and dist._repr_png_()[:4] == b"\x89PNG"


def poses(visible: np.ndarray, occlusion: np.ndarray | None = None):
    from lib.data.poseset import PoseSet

    n, j = visible.shape
    return PoseSet(images=np.zeros((n, 8, 8, 3), np.uint8), joints=np.zeros((n, j, 2), np.float32),
                   annotated=np.ones((n, j), bool), visible=visible, norm=np.ones(n, np.float32),
                   joint_ids=tuple(range(j)), metric="pckh", margin=1.25, occlusion=occlusion)


def test_occlusion_pairs_count_occluded_joints_only_and_show_both_directions():
    visible = np.array([[True, False, False], [False, False, True], [True, True, True], [False, True, False]])
    ps = poses(visible, np.where(visible, 0, 1).astype(np.int8))
    #               person 0: hidden 1,2   person 1: hidden 0,1   person 2: none   person 3: hidden 0,2
    base = run_with(np.array([[0.9, 0.9, 0.9], [0.1, 0.1, 0.9], [0.9, 0.9, 0.9], [0.9, 0.1, 0.1]]), label="deep")
    model = run_with(np.array([[0.1, 0.1, 0.1], [0.9, 0.1, 0.1], [0.1, 0.1, 0.1], [0.9, 0.1, 0.9]]), label="pbn")
    occluded, right_base, right_model = G.occluded_hits(ps, base, model)
    assert occluded.tolist() == [2, 2, 0, 2]
    assert right_base.tolist() == [0, 2, 0, 1] and right_model.tolist() == [2, 1, 0, 0]  # visible hits never count
    better, worse = G.occlusion_pairs(ps, base, model, k=3)
    assert better.tolist() == [0] and worse.tolist() == [1, 3]  # most different first; ties: lower index
    plot = G.occlusion_contrast(ps, base, model, k=3)
    titles = [ax.get_title() for ax in plot.figure.axes]
    assert titles[:3] == ["#0 ground truth (pbn better)", "deep: 0/2 occluded right", "pbn: 2/2 occluded right"]
    assert titles[3] == "#1 ground truth (deep better)" and len(titles) == 9
    assert "pbn better on 1, deep better on 2, same on 0" in plot.figure._suptitle.get_text()
    assert plot._repr_jpeg_()[:2] == b"\xff\xd8"


def test_occlusion_contrast_without_differences():
    ps = poses(np.ones((2, 2), bool))
    run = run_with(np.full((2, 2), 0.1))
    plot = G.occlusion_contrast(ps, run, run, k=2)
    assert len(plot.figure.axes) == 3 and "same on 0" in plot.figure._suptitle.get_text()


def test_seed_records_take_the_first_seed_where_every_run_has_one():
    have = {("a", 0): "a0", ("a", 1): "a1", ("b", 1): "b1", ("b", 2): "b2"}
    src = SimpleNamespace(seeds=(0, 1, 2), record=lambda n, s: have.get((n, s)))
    assert G.seed_records(src, ["a", "b"]) == (1, ["a1", "b1"])
    assert G.seed_records(src, ["b", "c"]) == (0, [None, None])  # no common seed: the first, as it is


@pytest.mark.slow
def test_compare_or_reason_says_why_instead_of_failing(records, tmp_path):
    recs, packs = records
    assert G.compare_or_reason([None, None])[2] == "No records of these runs under this profile yet."
    assert G.compare_or_reason([recs[0], None], cache_dir=packs)[2] == ""  # one run is enough by default
    ps, runs, why = G.compare_or_reason([recs[0], None], cache_dir=packs, need_all=True)
    assert (ps, runs) == (None, []) and "Not every compared run has a record" in why
    lsp = Record(recs[0].path, copy.deepcopy(recs[0].data))
    lsp.data["config"]["data"]["dataset"] = "lspet"  # real data that this data root does not hold
    ps, runs, why = G.compare_or_reason([lsp], data_root=tmp_path, cache_dir=tmp_path / "packs")
    assert (ps, runs) == (None, []) and why.startswith("The validation people cannot be rebuilt here")
    assert "set POSE_DATA to draw them" in why
