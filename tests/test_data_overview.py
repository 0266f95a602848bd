"""The data chapter's occlusion benchmark: its counts by occlusion cause, the people it counts,
and the picture of occluded joints (lib.data_overview, lib.data.preview)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from lib import data_overview as D
from lib import joints as J
from lib.data.poseset import PoseSet
from lib.data.preview import OCCLUSION_MARKERS, occlusion_samples, pick_occluded
from lib.data.synthetic import SyntheticConfig, render_poseset
from lib.experiments import CPU_PLAN, make_experiment
from lib.paper import OCCLUSION_CODES

SELF, OTHER = OCCLUSION_CODES["self_occluded"], OCCLUSION_CODES["other_occluded"]


def labelled_set(occlusion: np.ndarray, annotated: np.ndarray | None = None, resolution: int = 32) -> PoseSet:
    """People with the given ``N×16`` occlusion codes, joints spread over the crop."""
    n = len(occlusion)
    annotated = np.ones_like(occlusion, bool) if annotated is None else annotated
    rng = np.random.default_rng(0)
    joints = rng.uniform(4, resolution - 4, size=(n, 16, 2)).astype(np.float32)
    return PoseSet(images=np.zeros((n, resolution, resolution, 3), np.uint8), joints=joints, annotated=annotated,
                   visible=annotated & (occlusion == 0), norm=np.ones(n, np.float32), joint_ids=tuple(range(16)),
                   metric="pckh", margin=1.25, occlusion=occlusion.astype(np.int8))


def test_counts_by_cause_per_column():
    occ = np.zeros((3, 16), np.int8)
    r_wri, l_wri, r_ank, pelvis = J.idx("r_wrist", "l_wrist", "r_ankle", "pelvis")
    occ[0, r_wri], occ[1, l_wri], occ[2, r_wri] = SELF, SELF, OTHER
    occ[:, pelvis] = OTHER  # pelvis is not scored: in no column, not in "scored"
    ann = np.ones((3, 16), bool)
    ann[1, r_ank] = False
    t = D.occlusion_counts({"val": labelled_set(occ, ann)})
    rows = t.loc["val: 3 people"]
    assert list(rows.index) == list(D.OCCLUSION_ROWS)
    assert rows.loc["self-occluded", "Wri."] == 2 and rows.loc["other-occluded", "Wri."] == 1
    assert rows.loc["visible", "Wri."] == 3 and rows.loc["not annotated", "Ank."] == 1
    assert rows.loc["other-occluded", "scored"] == 1 and rows.loc["self-occluded", "scored"] == 2
    scored = 16 - len(J.MEAN_EXCLUDED)
    assert rows["scored"].sum() == 3 * scored
    for col in J.TABLE_COLUMNS:  # each column's four kinds add up to people × its joints
        assert rows[col].sum() == 3 * len(J.TABLE_COLUMNS[col])
    assert rows["share %"].sum() == pytest.approx(100, abs=0.2)


def test_counts_of_a_rendering_match_its_labels():
    ps = render_poseset(SyntheticConfig(num=6, resolution=64))
    t = D.occlusion_counts({"train": ps})
    scored = [j for j in range(16) if j not in J.MEAN_EXCLUDED]
    occ, ann = ps.occlusion[:, scored], ps.annotated[:, scored]
    expect = {"visible": (ann & (occ == 0)).sum(), "self-occluded": (ann & (occ == SELF)).sum(),
              "other-occluded": (ann & (occ == OTHER)).sum(), "not annotated": (~ann).sum()}
    assert t.loc["train: 6 people", "scored"].to_dict() == expect
    assert expect["visible"] == (ps.visible[:, scored]).sum()  # visible <=> annotated and code 0


def test_counts_refuse_sets_without_labels_or_with_unknown_codes():
    ps = labelled_set(np.zeros((2, 16), np.int8))
    with pytest.raises(ValueError, match="no occlusion labels"):
        D.occlusion_counts({"lspet": PoseSet(**{**vars(ps), "occlusion": None})})
    bad = labelled_set(np.full((2, 16), 7, np.int8))
    with pytest.raises(ValueError, match="occlusion codes"):
        D.occlusion_counts({"x": bad})


def test_the_chapter_counts_the_people_the_occlusion_verdicts_read():
    """The dataset is the one the claims read occlusion verdicts from, and every run of it in the
    cpu plan loads the data occlusion_data describes."""
    from lib.record_source import OCCLUSION_DATASETS, RecordSource

    assert D.OCCLUSION_DATASET == OCCLUSION_DATASETS[0] == RecordSource(profile="cpu", dataset="lspet").occlusion_dataset
    d = D.occlusion_data("cpu")
    assert d.dataset == D.OCCLUSION_DATASET
    runs = [make_experiment(n, "cpu", ds, s) for ds, names, seeds in CPU_PLAN if ds == D.OCCLUSION_DATASET
            for n in names for s in seeds]
    assert runs and all(e.data == d for e in runs)


def test_occlusion_sets_is_empty_without_annotations_or_pack(tmp_path, monkeypatch):
    monkeypatch.delenv("POSE_DATA", raising=False)
    assert D.occlusion_sets(tmp_path, "tiny", cache_dir=tmp_path) == {}
    with pytest.raises(ValueError, match="unknown .test."):
        D.occlusion_sets(tmp_path, "tiny", splits=("test",), cache_dir=tmp_path)


def test_pick_occluded_prefers_people_with_both_causes():
    occ = np.zeros((6, 16), np.int8)
    occ[1, [0, 1]] = (SELF, OTHER)   # both
    occ[4, [2, 3]] = (OTHER, SELF)   # both
    occ[2, 0] = SELF                 # one cause
    ps = labelled_set(occ)
    assert pick_occluded(ps, 2).tolist() == [1, 4]
    assert pick_occluded(ps, 3).tolist() == [1, 2, 4]
    assert pick_occluded(ps, 10).tolist() == list(range(6))
    with pytest.raises(ValueError, match="no occlusion labels"):
        pick_occluded(PoseSet(**{**vars(ps), "occlusion": None}), 2)


def test_occlusion_samples_marks_each_joint_by_its_cause():
    occ = np.zeros((4, 16), np.int8)
    occ[0, [0, 1, 2]] = (SELF, OTHER, OTHER)
    occ[3, [5, 6]] = (SELF, OTHER)
    ann = np.ones((4, 16), bool)
    ann[0, 15] = False  # not drawn
    ps = labelled_set(occ, ann)
    fig = occlusion_samples(ps, n=2, cols=2)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 2
    for ax, i in zip(panels, (0, 3)):
        markers = [line for line in ax.lines if line.get_marker() != "None"]
        assert len(markers) == ps.annotated[i].sum()
        crosses = sum(line.get_marker() == "X" for line in markers)
        hollow = sum(line.get_marker() == "o" and line.get_markerfacecolor() == "none" for line in markers)
        assert (crosses, hollow) == ((occ[i] == OTHER).sum(), (occ[i] == SELF).sum())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert [label for label, _, _ in OCCLUSION_MARKERS.values()] == legend[:3]


def test_caption_names_what_is_counted_and_what_is_not():
    d = D.occlusion_data("cpu")
    val_only = D.occlusion_caption({"val": labelled_set(np.zeros((5, 16), np.int8))}, "cpu")
    assert f"{d.train_limit:,}" in val_only and f"{d.val_limit:,}" in val_only
    assert "5 validation people" in val_only and "training people are left out" in val_only
    both = D.occlusion_caption({"train": labelled_set(np.zeros((7, 16), np.int8)),
                                "val": labelled_set(np.zeros((5, 16), np.int8))}, "cpu")
    assert "7 training and the 5 validation" in both and "left out" not in both
    assert "nothing to count" in D.occlusion_caption({}, "cpu")
    assert D.occlusion_counts({}).empty


def test_the_overview_says_which_datasets_are_here_and_how_to_add_the_others(tmp_path, monkeypatch):
    monkeypatch.delenv("POSE_DATA", raising=False)
    here = D.dataset_overview(tmp_path)["here"]
    assert here["synthetic benchmark"] == "yes"
    assert {here["MPII Human Pose"], here["LSP Extended"], here[D.OCCLUSION_DATASET]} == {"no (set POSE_DATA)"}
