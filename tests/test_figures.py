"""The book's figures (lib.figures) and the pose statistics behind the data and MI chapters
(lib.pose_sources, lib.data_overview, lib.mi_analysis)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from drawing import drawn
from lib import figures as F
from lib import joints as J
from lib import data_overview as D
from lib import mi_analysis as M
from lib import pose_sources as S

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def generator():
    return S.generator_poses(n=600, seed=0)


def test_plot_displays_as_png_whatever_the_backend():
    import matplotlib

    matplotlib.use("Agg")  # what lib.data.preview does on import
    frame = pd.DataFrame({"split": ["d"] * 4, "role": ["transfer", "transfer", "random", "random"], "seed": 0,
                          "epoch": [1, 2, 1, 2], "val_Mean": [10.0, 20.0, 5.0, 15.0]})
    plot = F.convergence(frame)
    assert plot._repr_png_().startswith(PNG)
    assert repr(plot) == "<Plot: 1 axes: split (d)>"


def test_convergence_band_spans_the_seeds_where_two_reached_the_epoch():
    frame = pd.DataFrame({"split": "c", "role": "transfer", "seed": [0, 0, 0, 1, 1],
                          "epoch": [1, 2, 3, 1, 2], "val_Mean": [10.0, 20.0, 25.0, 14.0, 30.0]})
    ax = F.convergence(frame).figure.axes[0]
    (band,) = ax.collections
    xs, ys = band.get_paths()[0].vertices.T
    assert xs.min() == 1 and xs.max() == 2  # epoch 3 has one seed: no band there
    assert ys.min() == 10.0 and ys.max() == 30.0
    mean = [line for line in ax.lines if line.get_linewidth() == 2][0]
    assert list(mean.get_ydata()) == [12.0, 25.0, 25.0]


def test_generator_poses_and_their_groups(generator):
    assert generator.joints.shape == (600, 16, 2) and generator.annotated.all()
    groups = M.source_groups(generator, 5)
    assert len(groups) == 5 and sorted(j for g in groups for j in g) == list(range(16))
    found = M.groups_by_source({"gen": generator}, 5)
    assert list(found) == ["paper Fig. 2(b)", "gen"] and found["paper Fig. 2(b)"] == M.canonical(J.MI5_GROUPS)
    # the comparison itself: a relabelled copy is the same grouping, a merged one is not
    merged = (tuple(sorted(groups[0] + groups[1])), *groups[2:])
    cmp = M.compare_sources({"ref": groups, "relabelled": tuple(reversed(groups)), "merged": merged}, "ref")
    assert cmp.loc["relabelled", "adjusted Rand"] == 1.0 and cmp.loc["relabelled", "same as ref"]
    assert cmp.loc["merged", "adjusted Rand"] < 1.0 and not cmp.loc["merged", "same as ref"]


def test_mi_figures(generator):
    mats = M.affinities({"gen": generator})
    m, names = mats["gen"]
    assert m.shape == (16, 16) and m.min() == 0.0 and m.max() == 1.0 and names[0] == "r_ankle"
    assert F.mi_heatmaps(mats)._repr_png_().startswith(PNG)
    sk = F.groups_skeletons({"paper": J.MI5_GROUPS, "lsp-like": J.restrict_groups(J.MI5_GROUPS, range(14))},
                            {"lsp-like": sorted(J.LSP_TO_MPII)})
    assert sk._repr_png_().startswith(PNG)
    pairs = M.paper_pairs(mats)
    assert list(pairs.index)[0] == "r_ankle–l_ankle" and pairs["gen: percentile"].between(0, 100).all()


def test_eigengaps_find_planted_clusters():
    blocks = np.kron(np.eye(3), np.ones((4, 4))) * 0.9 + 0.05
    np.fill_diagonal(blocks, 0)
    gaps = M.eigengaps(blocks, k_max=8)
    assert gaps.idxmax() == 3
    choice = M.eigengap_choice({"planted": gaps})
    assert choice.loc["planted", "largest gap at k"] == 3
    assert F.eigengap_plot({"planted": gaps})._repr_png_().startswith(PNG)


def test_stability_by_k(generator):
    table, mats = M.stability_by_k(generator, (2, 5), n_boot=3)
    assert list(table.index) == [2, 5] and table["agreement"].between(0, 1).all()
    assert mats[5].shape == (16, 16) and np.allclose(np.diag(mats[5]), 1.0)
    assert F.coassignment_heatmaps({"k = 5": (mats[5], generator.names)})._repr_png_().startswith(PNG)


def test_mi_bias_is_positive_and_below_the_mi(generator):
    bias = M.mi_bias_summary(generator, n_shuffles=1)
    assert list(bias.index) == ["weakest pair", "median pair", "strongest pair"]
    assert (bias["bias (nats)"] > 0).all() and (bias["bias / MI"] < 1).all()


def test_mpii_groups_fall_back_to_the_stored_ones(monkeypatch):
    monkeypatch.delenv("POSE_DATA", raising=False)
    groups, origin = M.mpii_groups(6)
    assert groups == M.canonical(J.MI6_GROUPS) and "stored" in origin and "not recomputed" in origin
    assert M.groups_frame(groups).shape == (6, 1)
    with pytest.raises(ValueError, match="POSE_DATA"):
        M.mpii_groups(7)
    assert "not set" in M.mpii_note({"synthetic generator": None})
    # the "= lib.joints" column compares what mpii_groups returns with the stored groups; here that is the
    # stored groups themselves, so check the comparison with groups that differ instead
    swapped = (tuple(sorted(J.MI6_GROUPS[0] + J.MI6_GROUPS[1])), *J.MI6_GROUPS[2:])
    monkeypatch.setattr(M, "mpii_groups", lambda k, data_root=None: (M.canonical(swapped), "test"))
    table = M.mpii_groups_by_k((6,))
    assert not table.loc[6, "= lib.joints"]
    monkeypatch.setattr(M, "mpii_groups", lambda k, data_root=None: (M.canonical(J.MI6_GROUPS), "test"))
    assert M.mpii_groups_by_k((6,)).loc[6, "= lib.joints"]


@pytest.mark.slow
@pytest.mark.realdata
def test_mpii_groups_from_the_annotations_equal_the_stored_ones():
    if not os.environ.get("POSE_DATA"):
        pytest.skip("needs POSE_DATA (MPII annotations)")
    table = M.mpii_groups_by_k((2, 5, 6, 8))
    assert table["= lib.joints"].all()


def test_visibility_tables_and_bars(generator):
    n = 50
    rng = np.random.default_rng(0)
    ann = rng.random((n, 14)) < 0.9
    src = S.PoseSource("lsp-like", np.zeros((n, 14, 2)), ann, ann.copy(), None, tuple(sorted(J.LSP_TO_MPII)), "test")
    vis = rng.random((n, 16)) < 0.7
    other = S.PoseSource("mpii-like", np.zeros((n, 16, 2)), np.ones((n, 16), bool), vis, None, tuple(range(16)), "test")
    sources = {"lsp-like": src, "mpii-like": other, "no flags": generator}
    table = D.visibility_table(sources)
    assert list(table.index) == list(J.MPII_JOINTS)
    assert (table["lsp-like"]["invisible %"].dropna() == 0).all()
    summary = D.visibility_summary(sources)
    assert list(summary.index) == ["lsp-like", "mpii-like"]  # no flags, no row
    row = summary.loc["mpii-like"]
    assert row["visible %"] + row["invisible %"] + row["missing %"] == pytest.approx(100, abs=0.2)
    assert F.visibility_bars(table)._repr_png_().startswith(PNG)


def test_skeleton_grids_draw_any_poseset():
    from lib.data.poseset import PoseSet

    n, r = 5, 64
    rng = np.random.default_rng(0)
    ps = PoseSet(images=rng.integers(0, 255, (n, r, r, 3), dtype=np.uint8), joints=rng.uniform(10, 50, (n, 14, 2)),
                 annotated=np.ones((n, 14), bool), visible=rng.random((n, 14)) < 0.5, norm=np.ones(n, np.float32),
                 joint_ids=J.LSP_TO_MPII, metric="pck", margin=1.25)
    plot = F.skeleton_grids({"lsp-like": ps}, n=4)
    assert plot._repr_png_() is None and plot._repr_jpeg_().startswith(b"\xff\xd8") and len(plot.figure.axes) == 4


def test_fig5_from_a_frame():
    from lib.pbn_tables import FIG5

    frame = pd.DataFrame([{"panel": p, "experiment": e, "x": x, "series": s, "mean": 50.0, "low": 48.0, "high": 52.0,
                           "seeds": 2, "params": 1e6, "train_loss": 1e-3} for p, e, x, s in FIG5])
    frame.loc[frame["experiment"] == "pbn/overlap", ["mean", "low", "high"]] = np.nan  # a missing record
    plot = F.fig5(frame)
    assert len(plot.figure.axes) == 6 and plot._repr_png_().startswith(PNG)


def test_joint_columns():
    cols = D.joint_columns()
    assert list(cols.index) == [*J.TABLE_COLUMNS, "Mean", "Hard"] and cols["in LSP"].all()


def test_curve_bands_are_seed_mean_and_range_and_render():
    rows = []
    for seed, offset in ((0, 0.0), (1, 4.0), (2, 2.0)):
        for epoch in (1, 2, 3):
            rows.append({"experiment": "pbn/deep", "dataset": "lspet", "seed": seed, "epoch": epoch,
                         "images": 100 * epoch, "Hard": 10.0 * epoch + offset})
    rows.append({"experiment": "pbn/linear", "dataset": "synthetic-mpii", "seed": 0, "epoch": 1, "images": 100,
                 "Hard": 5.0})
    frame = pd.DataFrame(rows)
    bands = F.curve_bands(frame, "Hard")
    deep = bands[bands["experiment"] == "pbn/deep"].set_index("images")
    assert deep.loc[200, ["mean", "low", "high", "seeds"]].tolist() == [22.0, 20.0, 24.0, 3]
    assert bands[bands["experiment"] == "pbn/linear"]["seeds"].tolist() == [1]
    plot = F.learning_curve_bands(frame, "Hard", title="profile cpu")
    assert [ax.get_title() for ax in plot.figure.axes] == ["lspet", "synthetic-mpii"]
    legend = [t.get_text() for t in plot.figure.axes[0].get_legend().get_texts()]
    assert legend == ["pbn/deep (3 seeds)"] and plot._repr_png_().startswith(PNG)
    assert len(plot.figure.axes[0].collections) == 1 and not plot.figure.axes[1].collections  # no band for one seed
    empty = F.learning_curve_bands(frame.iloc[:0], "Hard")
    assert [ax.get_title() for ax in empty.figure.axes] == ["no records"] and F.curve_bands(frame.iloc[:0]).empty


def test_fig5_carries_its_title():
    frame = pd.DataFrame([{"panel": p, "x": 1, "series": "s", "mean": 50.0, "low": 45.0, "high": 55.0, "params": 1e6}
                          for p in "abcdef"])
    plot = F.fig5(frame, title="profile cpu, dataset lspet, seeds 0-2")
    assert plot.figure._suptitle.get_text() == "profile cpu, dataset lspet, seeds 0-2"


def test_epochs_to_fraction_of_best_per_run_then_over_seeds():
    import pandas as pd

    from lib.kpt_tables import epochs_to_fraction

    curves = pd.DataFrame({
        "split": ["d"] * 8, "role": ["transfer"] * 4 + ["random"] * 4, "seed": [0, 0, 1, 1, 0, 0, 0, 0],
        "epoch": [1, 2, 1, 2, 1, 2, 3, 4], "val_Mean": [50.0, 52.0, 40.0, 60.0, 10.0, 30.0, 45.0, 47.0]})
    out = epochs_to_fraction(curves, 0.9).set_index("role")
    # transfer: seed 0 reaches 90% of 52 at epoch 1, seed 1 (90% of 60 = 54) at epoch 2; random: 42.3 at epoch 3
    assert out.loc["transfer", "epoch to 90% of best"] == 1.5 and out.loc["transfer", "seeds"] == "0, 1"
    assert (out.loc["transfer", "min"], out.loc["transfer", "max"]) == (1, 2)
    assert out.loc["random", "epoch to 90% of best"] == 3
    assert epochs_to_fraction(curves.iloc[:0]).empty


# ---- read at the book's width (issue 31): no legend over the data, lines apart, labels legible ----------------


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _curves_frame() -> pd.DataFrame:
    rows = []
    exps = ["pbn/linear", "pbn/deep", "pbn/mi5-d1-w64", "kpt/c-source", "kpt/c-transfer", "kpt/c-random",
            "kpt/c-frozen", "kpt/d-source", "kpt/d-transfer", "kpt/d-random", "kpt/d-frozen"]
    for i, exp in enumerate(exps):
        for seed in (0, 1):
            for epoch in range(1, 9):
                rows.append({"profile": "cpu", "experiment": exp, "dataset": "lspet", "seed": seed, "epoch": epoch,
                             "images": 4800 * epoch, "minutes": 2.0 * epoch + i, "Mean": 10 + 4 * epoch + i,
                             "Hard": 5 + 4 * epoch + i + seed})
    return pd.DataFrame(rows)


def test_learning_curves_facet_by_family_with_distinct_lines_and_legends_beside_the_data():
    frame = _curves_frame()
    plot = F.learning_curves(frame[frame["seed"] == 0], "Mean")
    fig, renderer = drawn(plot.figure)
    assert fig.get_figwidth() <= F.BOOK_WIDTH
    rows = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in rows] == ["pbn, lspet (profile cpu, seed 0)",
                                                         "kpt, lspet (profile cpu, seed 0)"]
    for ax in fig.axes:
        styles = [(line.get_color(), line.get_linestyle(), line.get_marker()) for line in ax.lines]
        assert len(set(styles)) == len(styles) and len(styles) <= 8  # every line of a panel looks different
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert len(legends) == 2 and [t.get_text() for t in legends[0].get_texts()][:2] == ["pbn/linear", "pbn/deep"]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(_overlap(box, ax.get_window_extent(renderer)) for ax in fig.axes)
    probe = F.learning_curves(frame[(frame["experiment"] == "pbn/linear") & (frame["seed"] == 0)].assign(
        profile=lambda d: np.where(d["epoch"] > 4, "cpu", "cpu-128")), "Mean")
    assert probe.figure.axes[0].get_title(loc="left") == "pbn/linear, lspet (seed 0)"
    assert [t.get_text() for t in probe.figure.axes[1].get_legend().get_texts()] == ["profile cpu-128", "profile cpu"]


@pytest.mark.parametrize("make", [
    lambda: F.learning_curve_bands(_curves_frame().assign(
        dataset=lambda d: np.where(d["experiment"].str.startswith("pbn"), "lspet", "synthetic-mpii")), "Hard"),
    lambda: F.convergence(pd.DataFrame({"split": ["c"] * 6 + ["d"] * 6, "role": ["transfer", "random", "frozen"] * 4,
                                        "seed": 0, "epoch": [1, 1, 1, 2, 2, 2] * 2, "val_Mean": np.arange(12.0)})),
    lambda: F.fig5(pd.DataFrame([{"panel": p, "x": x, "series": s, "mean": 40.0 + x / 64, "low": 38.0, "high": 43.0,
                                  "params": 1e6} for p in "abcdef" for x in (32, 64) for s in ("D = 1", "D = 2")])),
])
def test_no_legend_sits_on_the_data_and_the_figure_fits_the_book(make):
    fig, renderer = drawn(make().figure)
    assert fig.get_figwidth() <= F.BOOK_WIDTH
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(_overlap(box, ax.get_window_extent(renderer)) for ax in fig.axes), legend


def test_heatmap_joint_names_are_legible_and_do_not_overlap(generator):
    mats = M.affinities({"a": generator, "b": generator, "c": generator})
    for plot in (F.mi_heatmaps(mats), F.coassignment_heatmaps({"k = 5": mats["a"], "k = 6": mats["b"]})):
        fig, renderer = drawn(plot.figure)
        assert fig.get_figwidth() <= F.BOOK_WIDTH + 0.1
        heatmaps = [ax for ax in fig.axes if ax.images]
        assert len(heatmaps) == len(plot.figure.axes) - 1  # one colour bar, no empty panel
        for ax in heatmaps:
            for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
                assert len(labels) == 16 and all(t.get_fontsize() >= 8 for t in labels)
                boxes = [t.get_window_extent(renderer) for t in labels]
                assert not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:]))


def test_gap_panels_fit_the_book_width():
    assert F.gap_panels([]).figure.get_figwidth() <= F.BOOK_WIDTH
