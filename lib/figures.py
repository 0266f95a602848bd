"""The book's figures: each function takes a table or frame and returns a :class:`Plot`.

By chapter: data (:func:`skeleton_grids`, :func:`augmented_samples`, :func:`visibility_bars` of
:mod:`lib.data_overview`'s tables); mutual information (:func:`mi_heatmaps`, PBN Fig. 2(a);
:func:`groups_skeletons`, Fig. 2(b); :func:`coassignment_heatmaps`, :func:`eigengap_plot`, from
:mod:`lib.mi_analysis`); PBN (:func:`fig5`, Fig. 5 from :func:`lib.pbn_tables.fig5_frame`;
:func:`learning_curve_bands`); KPTransfer (:func:`convergence`, Fig. 3 from
:mod:`lib.kpt_tables`); the claims (:func:`verdict_bars`, :func:`gap_panels` of
:mod:`lib.gap_curves`); training on a CPU (:func:`learning_curves` of :mod:`lib.curves`).

A :class:`Plot` wraps a closed matplotlib Figure and displays itself as a PNG in a notebook,
whatever matplotlib backend is active (``lib.data.preview`` selects ``Agg`` on import, which
would otherwise stop inline figures); its text form names the panels, stable for nbval.

Width: the book leaves about 750 px for a figure at a 1400 px window and scales wider images down
(text with them), so the curves, heat maps and panel figures are at most :data:`BOOK_WIDTH` inches
wide (about 830 px at 110 dpi) with text of 7 pt or more; panels wrap into rows (two or three a row)
instead of widening the figure. Their legends sit outside the axes (beside or below), never over
the data.

Colours: right joints red, left blue, centre green (as :mod:`lib.data.preview`); groups use the
``tab10`` palette; configurations compared by a claim use C0 (A) and C1 (B) where it applies; the
lines of one panel get :func:`line_style` (tab10 colour, and a line style and marker of their own,
so that they stay apart in grey or to a colour-blind reader).
Error bars are the verdicts' 95% intervals (:func:`lib.pbn_tables.score`, i.e. :func:`lib.stats.config_mean`:
Student's t over seeds plus the image variance shared by the runs); a point with one seed has no
interval and is drawn hollow.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lib import joints as J
from lib.data.preview import LIMBS, SIDE_COLOURS, draw_skeleton

#: An upright person facing the camera, MPII joint order, (x, y) with y down; the person's right
#: is on the image's left. Only for drawing groups (PBN Fig. 2(b)).
TEMPLATE_POSE = np.array([
    (-0.12, 1.00), (-0.11, 0.75), (-0.09, 0.50), (0.09, 0.50), (0.11, 0.75), (0.12, 1.00),
    (0.00, 0.50), (0.00, 0.21), (0.00, 0.14), (0.00, 0.00),
    (-0.36, 0.50), (-0.27, 0.35), (-0.16, 0.21), (0.16, 0.21), (0.27, 0.35), (0.36, 0.50),
])

class Plot:
    """A finished figure: ``.figure`` is the matplotlib Figure; notebooks display it as a PNG."""

    def __init__(self, figure: Figure, dpi: int = 110, photo: bool = False) -> None:
        self.figure, self.dpi, self.photo = figure, dpi, photo
        plt.close(figure)

    def _render(self, fmt: str) -> bytes:
        import io

        buf = io.BytesIO()
        kw = {"pil_kwargs": {"quality": 85}} if fmt == "jpeg" else {}
        self.figure.savefig(buf, format=fmt, dpi=self.dpi, bbox_inches="tight", **kw)
        return buf.getvalue()

    def _repr_png_(self) -> bytes | None:
        return None if self.photo else self._render("png")

    def _repr_jpeg_(self) -> bytes | None:
        """Photographs (``photo=True``) go out as JPEG: a tenth of the PNG's size in the notebook."""
        return self._render("jpeg") if self.photo else None

    def __repr__(self) -> str:
        titles = [t for ax in self.figure.axes if (t := ax.get_title() or ax.get_title(loc="left"))]
        return f"<Plot: {len(self.figure.axes)} axes" + (f": {'; '.join(titles)}" if titles else "") + ">"

    def save(self, path) -> None:
        """Write the figure to ``path`` (format from the suffix)."""
        self.figure.savefig(path, dpi=self.dpi, bbox_inches="tight")


plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "axes.spines.top": False, "axes.spines.right": False,
                     "font.size": 9})

#: The widest a figure is drawn, in inches: at the :class:`Plot`'s 110 dpi about the book's text
#: column at a 1400 px window (wider images are scaled down, their text with them).
BOOK_WIDTH = 7.6

_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _suptitle(fig: Figure, title: str, **kwargs) -> None:
    """The figure's title, 9 pt; a title shared with the page's Markdown (``profile `cpu` ...``) loses its
    code backticks, which matplotlib would print."""
    fig.suptitle(title.replace("`", ""), fontsize=9, **kwargs)


def line_style(i: int) -> dict[str, object]:
    """The ``i``-th line of a panel: a ``tab10`` colour, a line style and a marker (each cycling on its own)."""
    return {"color": plt.get_cmap("tab10").colors[i % 10], "ls": _LINESTYLES[i % len(_LINESTYLES)],
            "marker": _MARKERS[i % len(_MARKERS)]}


def _grid(n: int, cols: int, panel: tuple[float, float], extra_height: float = 0.0, **kw):
    """``n`` panels in rows of at most ``cols`` (each ``panel`` inches), the unused cells removed."""
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel[0] * cols, panel[1] * rows + extra_height), squeeze=False,
                             **kw)
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, list(axes.flat[:n])


def skeleton_grid(ps, n: int = 8, seed: int = 0, title: str = "", cols: int = 8) -> Plot:
    """``n`` random people of a :class:`lib.data.PoseSet` as they are stored (unaugmented), with skeletons.

    Visible joints are filled dots, invisible (annotated but occluded) ones hollow; joints
    without annotation are not drawn.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(ps), size=min(n, len(ps)), replace=False))
    rows = int(np.ceil(len(pick) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows + (0.3 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, pick):
        ax.imshow(ps.images[i])
        draw_skeleton(ax, ps.joints[i], ps.annotated[i], ps.visible[i], ps.joint_ids, ms=3.5)
        ax.set_title(f"#{i}", fontsize=7)
    if title:
        _suptitle(fig, title)
    fig.tight_layout()
    return Plot(fig, photo=True)


def visibility_bars(table: pd.DataFrame, columns: Sequence[str] = ("invisible %", "missing %")) -> Plot:
    """Per joint, the share of each of ``columns`` (from :func:`lib.data_overview.visibility_table`), one panel each."""
    fig, axes = plt.subplots(len(columns), 1, figsize=(9, 2.6 * len(columns)), sharex=True, squeeze=False)
    for ax, column in zip(axes.flat, columns):
        data = table.xs(column, axis=1, level=1)
        data.plot.bar(ax=ax, width=0.8, legend=ax is axes.flat[0])
        ax.set_ylabel(f"{column.replace(' %', '')} (%)")
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelrotation=45)
    axes.flat[0].legend(fontsize=8, frameon=False, ncols=len(table.columns.levels[0]))
    fig.tight_layout()
    return Plot(fig)


def _heatmaps(matrices: Mapping[str, tuple[np.ndarray, Sequence[str]]], cmap: str, vmax: float, label: str) -> Plot:
    """Joint-by-joint matrices, two a row, joint names at 8 pt (x names upright: one a cell), one colour bar."""
    fig, axes = _grid(len(matrices), 2, (3.6, 3.7), layout="constrained")
    im = None
    for ax, (name, (m, names)) in zip(axes, matrices.items()):
        im = ax.imshow(m, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.tick_params(length=2, pad=2)
        ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.7 if len(axes) > 2 else 0.9, label=label)
    return Plot(fig)


def mi_heatmaps(matrices: Mapping[str, tuple[np.ndarray, Sequence[str]]], vmax: float = 1.0) -> Plot:
    """PBN Fig. 2(a) per source: the normalised off-diagonal mutual information (0-1), joints in MPII order."""
    return _heatmaps(matrices, "viridis", vmax, "normalised MI")


def groups_skeletons(groups: Mapping[str, Sequence[Sequence[int]]], joint_sets: Mapping[str, Sequence[int]] | None = None) -> Plot:
    """PBN Fig. 2(b) per entry: the groups drawn on an upright template skeleton, one colour per group."""
    k = len(groups)
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 3.6), squeeze=False)
    palette = plt.get_cmap("tab10").colors
    for ax, (name, gs) in zip(axes.flat, groups.items()):
        present = set(joint_sets[name]) if joint_sets and name in joint_sets else set(range(J.NUM_MPII_JOINTS))
        for a, b in LIMBS:
            if a in present and b in present:
                ax.plot(TEMPLATE_POSE[[a, b], 0], TEMPLATE_POSE[[a, b], 1], color="0.75", lw=2, zorder=1)
        for gi, g in enumerate(gs):
            pts = TEMPLATE_POSE[list(g)]
            ax.scatter(pts[:, 0], pts[:, 1], s=70, color=palette[gi % 10], edgecolor="k", lw=0.5, zorder=2,
                       label=f"group {gi + 1}")
        absent = sorted(set(range(J.NUM_MPII_JOINTS)) - present)
        if absent:
            ax.scatter(*TEMPLATE_POSE[absent].T, s=40, facecolor="none", edgecolor="0.6", zorder=2)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(-0.5, 0.5)
        ax.set_ylim(1.08, -0.08)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return Plot(fig)


def coassignment_heatmaps(matrices: Mapping[str, tuple[np.ndarray, Sequence[str]]]) -> Plot:
    """How often two joints share a group over bootstrap resamples of the poses (0-1), per k or source."""
    return _heatmaps(matrices, "magma", 1.0, "fraction of resamples in the same group")


def eigengap_plot(gaps: Mapping[str, pd.Series]) -> Plot:
    """Eigengaps of the MI affinity's normalised Laplacian by k, one line per source."""
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for name, s in gaps.items():
        ax.plot(s.index, s.values, "o-", label=name)
    ax.set_xlabel("number of groups k")
    ax.set_ylabel("eigengap λ(k+1) − λ(k)")
    ax.set_xticks(list(next(iter(gaps.values())).index))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return Plot(fig)


_FIG5_TITLES = {"a": "(a) depth D of branches", "b": "(b) width W of branches", "c": "(c) branches vs baselines",
                "d": "(d) grouping strategy", "e": "(e) number of groups", "f": "(f) overlapping groups"}


def fig5(frame: pd.DataFrame, metric: str = "PCK on the ten hard joints (%)", title: str = "") -> Plot:
    """PBN Fig. 5 (a)-(f) from :func:`lib.pbn_tables.fig5_frame`: seed-mean PCK with the verdicts' 95% intervals.

    Three rows of two panels (the book's width); a panel comparing several series has its legend
    between its title and its axes. ``title`` (e.g. the profile, dataset and seeds the points rest
    on) goes above the panels.
    """
    fig, axes = plt.subplots(3, 2, figsize=(BOOK_WIDTH, 8.4), layout="constrained")
    if title:
        _suptitle(fig, title)
    for ax, (panel, df) in zip(axes.flat, frame.groupby("panel", sort=True)):
        xs = list(dict.fromkeys(df["x"]))
        pos = {x: i for i, x in enumerate(xs)}
        series = list(dict.fromkeys(df["series"]))
        for si, s in enumerate(series):
            d = df[df["series"] == s]
            off = (si - (len(series) - 1) / 2) * 0.08
            x = np.array([pos[v] for v in d["x"]]) + off
            y = d["mean"].to_numpy(float)
            err = np.abs(np.vstack([y - d["low"].to_numpy(float), d["high"].to_numpy(float) - y]))
            style = line_style(si)
            line = ax.errorbar(x, y, yerr=np.nan_to_num(err), color=style["color"], marker=style["marker"], ms=5,
                               ls=style["ls"] if len(xs) > 1 and panel not in "cf" else "none",
                               capsize=3, label=s if len(series) > 1 else None)
            undefined = np.isnan(err).any(axis=0) & ~np.isnan(y)  # one seed: no interval, drawn hollow
            if undefined.any():
                ax.plot(x[undefined], y[undefined], style["marker"], mfc="white", color=line[0].get_color(), zorder=3)
        if panel == "b":
            for _, r in df.iterrows():
                if not np.isnan(r["mean"]):
                    ax.annotate(f"{r['params'] / 1e6:.2f}M", (pos[r["x"]], r["mean"]), fontsize=7,
                                textcoords="offset points", xytext=(4, -10))
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_xlabel({"a": "W", "b": "W", "d": "W", "e": "k"}.get(panel, ""))
        ax.grid(axis="y", alpha=0.3)
        if len(series) > 1:  # above the axes, under the title: never over a point
            ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(series),
                      borderaxespad=0.2, handlelength=2.5)
        ax.set_title(_FIG5_TITLES[panel], fontsize=9, pad=20 if len(series) > 1 else 6)
        if panel in "ace":
            ax.set_ylabel(metric, fontsize=8)
    return Plot(fig)


_ROLE_STYLE = {"transfer": ("C0", "-", "transfer learning"), "random": ("C1", "-.", "random initialisation"),
               "frozen": ("0.5", "--", "frozen weights")}


def convergence(frame: pd.DataFrame, metric: str = "validation PCK, S2 mean (%)") -> Plot:
    """KPTransfer Fig. 3: validation accuracy by epoch per split, two splits a row, the legend below.

    Thick lines are the seed mean, the band the range of the seeds (where at least two reached that
    epoch), thin lines the single seeds: early stopping ends runs at different epochs, so the mean
    of late epochs rests on fewer seeds.
    """
    splits = list(dict.fromkeys(frame["split"])) or list(J.KPTRANSFER_SPLITS)
    fig, axes = _grid(len(splits), 2, (3.7, 2.9), extra_height=0.4, sharey=True, layout="constrained")
    for ax, split in zip(axes, splits):
        d = frame[frame["split"] == split]
        for role, (colour, ls, label) in _ROLE_STYLE.items():
            r = d[d["role"] == role]
            if r.empty:
                continue
            for _, s in r.groupby("seed"):
                ax.plot(s["epoch"], s["val_Mean"], color=colour, ls=ls, lw=0.6, alpha=0.4)
            by_epoch = r.groupby("epoch")["val_Mean"]
            m, spread = by_epoch.mean(), by_epoch.agg(["min", "max", "count"])
            spread = spread[spread["count"] >= 2]
            ax.fill_between(spread.index, spread["min"], spread["max"], color=colour, alpha=0.15, lw=0)
            ax.plot(m.index, m.values, color=colour, ls=ls, lw=2, label=label)
        ax.set_title(f"split ({split})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[::2]:
        ax.set_ylabel(metric)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=len(handles), frameon=False,
                   fontsize=8)
    return Plot(fig)


def skeleton_grids(sets: Mapping[str, object], n: int = 8, seed: int = 0) -> Plot:
    """One row of :func:`skeleton_grid`-style crops per dataset (a mapping of name to PoseSet)."""
    rows = len(sets)
    fig, axes = plt.subplots(rows, n, figsize=(1.6 * n, 1.8 * rows), squeeze=False)
    for r, (name, ps) in enumerate(sets.items()):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(ps), size=min(n, len(ps)), replace=False))
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if c >= len(pick):
                continue
            i = pick[c]
            ax.imshow(ps.images[i])
            draw_skeleton(ax, ps.joints[i], ps.annotated[i], ps.visible[i], ps.joint_ids, lw=1.0, ms=3)
            ax.set_xlim(-0.5, ps.resolution - 0.5)
            ax.set_ylim(ps.resolution - 0.5, -0.5)
        axes[r, 0].set_ylabel(name, fontsize=9)
    fig.tight_layout()
    return Plot(fig, photo=True)


def augmented_samples(ps, n: int = 8, seed: int = 0, input_size: int = 128, augment: str = "pbn"):
    """What the network trains on: :func:`lib.data.preview.preview`'s augmented samples, as an IPython image."""
    import tempfile
    from pathlib import Path

    from IPython.display import Image

    from lib.data.augment import AUGMENTS
    from lib.data.preview import preview

    import io

    from PIL import Image as PILImage

    if augment not in AUGMENTS:
        raise ValueError(f"unknown augmentation {augment!r}; choose one of {sorted(AUGMENTS)}")
    aug = AUGMENTS[augment]
    with tempfile.TemporaryDirectory() as tmp:
        path = preview(ps, Path(tmp) / "preview.png", n=n, seed=seed, aug=aug, input_size=input_size)
        buf = io.BytesIO()
        PILImage.open(path).convert("RGB").save(buf, format="JPEG", quality=85)  # photographs: JPEG is far smaller
        return Image(data=buf.getvalue(), format="jpeg")


def verdict_bars(counts: pd.DataFrame) -> Plot:
    """How many claims of each paper got each verdict (:func:`lib.claims.verdict_counts`), as stacked bars."""
    from lib.present import VERDICT_COLOURS

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(counts) + 1.2))
    left = np.zeros(len(counts))
    for verdict in counts.columns:
        v = counts[verdict].to_numpy(float)
        ax.barh(counts.index, v, left=left, color=VERDICT_COLOURS.get(verdict, "0.8"), edgecolor="0.4", lw=0.5,
                label=verdict)
        for y, (l, w) in enumerate(zip(left, v)):
            if w:
                ax.text(l + w / 2, y, str(int(w)), ha="center", va="center", fontsize=8)
        left += v
    ax.set_xlabel("claims")
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.spines["left"].set_visible(False)
    fig.tight_layout()
    return Plot(fig)


def learning_curves(frame: pd.DataFrame, metric: str = "Mean", label: str = "validation PCK (%)") -> Plot:
    """Validation ``metric`` against training images (left) and training minutes (right) (``lib.curves``).

    One row of two panels per experiment family (``pbn``, ``kpt``: the part of the name before
    ``/``) and dataset, so that a panel holds a few lines; each run (experiment, profile, seed) is
    a line with its own :func:`line_style`, named in a legend beside its row by what tells the
    row's runs apart (the rest is in the row's title). The two columns show what a recipe learns
    per image seen and per minute of this machine, the two views a CPU profile is sized from.
    """
    frame = frame.assign(family=frame["experiment"].astype(str).str.split("/").str[0]) if len(frame) else frame
    keys = ["family", "dataset"]
    groups = list(frame.groupby(keys, sort=False)) if len(frame) else [(("no records", ""), frame)]
    fig, axes = plt.subplots(len(groups), 2, figsize=(BOOK_WIDTH, 2.5 * len(groups) + 0.3), squeeze=False,
                             sharey="row", layout="constrained")
    for ((family, dataset), d), row in zip(groups, axes):
        runs = ["experiment", "profile", "seed"]
        varying = [k for k in runs if k in d and d[k].nunique() > 1] or ["experiment"]
        fixed = [f"{k} {d[k].iloc[0]}" for k in runs[1:] if k in d and k not in varying and len(d)]
        head = d["experiment"].iloc[0] if "experiment" not in varying and len(d) else family
        for i, (key, r) in enumerate(d.groupby(varying, sort=False) if len(d) else []):
            key = key if isinstance(key, tuple) else (key,)
            run = ", ".join(str(v) if k == "experiment" else f"{k} {v}" for k, v in zip(varying, key))
            style = dict(**line_style(i), ms=2.5, lw=1.2, label=run)
            row[0].plot(r["images"] / 1000, r[metric], **style)
            row[1].plot(r["minutes"], r[metric], **style)
        row[0].set_title(f"{head}, {dataset}" + (f" ({', '.join(fixed)})" if fixed else "") if dataset else head,
                         fontsize=9, loc="left")
        row[0].set_ylabel(label, fontsize=8)
        for ax in row:
            ax.grid(alpha=0.3)
        if len(d):
            row[1].legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    axes[-1, 0].set_xlabel("training images (thousands)")
    axes[-1, 1].set_xlabel("training minutes on this machine")
    return Plot(fig)


def curve_bands(frame: pd.DataFrame, metric: str = "Hard") -> pd.DataFrame:
    """Seed mean and range of validation ``metric`` per experiment, dataset and training images (``lib.curves`` rows).

    Columns: experiment, dataset, images, mean, low, high (the lowest and highest seed), seeds (how
    many seeds reached that epoch). The range, not an interval: with three seeds it shows the spread
    honestly without pretending to a distribution.
    """
    cols = ["experiment", "dataset", "images", "mean", "low", "high", "seeds"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    g = frame.dropna(subset=[metric]).groupby(["experiment", "dataset", "images"], sort=False)[metric]
    out = g.agg(mean="mean", low="min", high="max", seeds="count").reset_index()
    return out[cols]


def learning_curve_bands(frame: pd.DataFrame, metric: str = "Hard", label: str = "validation PCK (%)",
                         title: str = "") -> Plot:
    """Learning curves of the compared models: seed mean (line) and the seeds' range (band), one panel per dataset.

    ``frame`` is :func:`lib.curves.learning_curves`' output for several experiments and seeds;
    x is training images (thousands). A model with one seed is a line without a band. Two panels a
    row; each panel's legend, below it, says how many seeds each line averages there. A model keeps
    its colour and line style (:func:`line_style`) in every panel.
    """
    bands = curve_bands(frame, metric)
    datasets = list(dict.fromkeys(bands["dataset"])) or ["no records"]
    fig, axes = _grid(len(datasets), 2, (3.8, 3.3), extra_height=0.3 if title else 0.0, sharey=True,
                      layout="constrained")
    styles: dict[str, dict] = {}
    for ax, ds in zip(axes, datasets):
        d = bands[bands["dataset"] == ds]
        for exp, e in d.groupby("experiment", sort=False):
            st = styles.setdefault(exp, line_style(len(styles)))
            x = e["images"].to_numpy(float) / 1000
            n = int(e["seeds"].max())
            ax.plot(x, e["mean"], **st, ms=2.5, lw=1.4, label=f"{exp} ({n} seed{'s' * (n != 1)})")
            if n > 1:
                ax.fill_between(x, e["low"].to_numpy(float), e["high"].to_numpy(float), color=st["color"], alpha=0.2,
                                lw=0)
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("training images (thousands)")
        ax.grid(alpha=0.3)
        if len(d):
            ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=1)
        else:
            ax.text(0.5, 0.5, "no records", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel(label)
    if title:
        _suptitle(fig, title)
    return Plot(fig)


#: What every gain-over-training panel's band is, for its caption (:func:`gap_panels`).
GAP_CAPTION = ("A − B by epoch: seed mean (line) and its 95% t-interval band over seeds only (per-epoch hits are "
               "not stored, so the image variance in the verdicts' intervals is not in it); dashed red: the paper's "
               "difference, at the paper's scale; dotted: a quarter and half of training; ≈: read from the closest "
               "stored column (see the trend table's note).")


def gap_panels(curves: Sequence, cols: int = 3, title: str = "") -> Plot:
    """Each claimed gain traced over training, one small panel per comparison (issue 30).

    ``curves`` are :class:`lib.gap_curves.GapCurve` (``lib.trend_tables.trace_claims(...).curves``): per
    panel the seed-mean A − B by epoch with its band over seeds, the zero line, the paper's A − B
    (dashed, when the claim gives a number) and the epochs at a quarter and half of training
    (dotted). The caption (:data:`GAP_CAPTION`) says the band is over seeds only.
    """
    curves = list(curves)
    n = max(len(curves), 1)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    caption_in = 0.55  # the caption below the panels: three lines of 7 pt at the book's width
    fig, axes = plt.subplots(rows, cols, figsize=(BOOK_WIDTH * cols / 3, 2.3 * rows + caption_in), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    if not curves:
        axes.flat[0].text(0.5, 0.5, "no comparison with per-epoch records", ha="center", va="center",
                          transform=axes.flat[0].transAxes)
    for i, (ax, c) in enumerate(zip(axes.flat, curves)):
        f = c.frame
        x = f["epoch"].to_numpy(float)
        ax.fill_between(x, f["low"].to_numpy(float), f["high"].to_numpy(float), color="C0", alpha=0.2, lw=0)
        ax.plot(x, f["gap"].to_numpy(float), color="C0", lw=1.5, marker="o", ms=2)
        ax.axhline(0, color="0.3", lw=0.8)
        if c.paper is not None:
            ax.axhline(c.paper, color="C3", ls="--", lw=1)
        for fraction in (0.25, 0.5):
            ax.axvline(int(np.ceil(fraction * c.epochs - 1e-9)), color="0.6", ls=":", lw=0.8)
        ax.set_title(c.title, fontsize=8)
        ax.set_xlabel(f"epoch ({c.images_per_epoch / 1000:g}k images)", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        if i % cols == 0 or c.unit != curves[i - 1].unit:
            ax.set_ylabel(f"A − B ({c.unit})", fontsize=7)
        ax.grid(alpha=0.3)
    title_in = 0.3 if title else 0.0  # tight_layout given a rect leaves no room for a suptitle itself
    if title:
        _suptitle(fig, title, y=1 - 0.05 / fig.get_figheight(), va="top")
    fig.tight_layout(rect=(0, caption_in / fig.get_figheight(), 1, 1 - title_in / fig.get_figheight()))
    fig.text(0.01, 0.005, GAP_CAPTION, fontsize=7, wrap=True, va="bottom")
    return Plot(fig)
