"""The KPTransfer chapter's tables (Vats et al. 2019, Tables 1-5 and Fig. 3), from the records.

Table 1's subsets per split as this dataset has them, Tables 2-5 (our seed means above the
paper's numbers, and each configuration against random initialisation with its interval), and
the convergence curves of Fig. 3 with the epoch at which each run reaches a fraction of its best.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from lib import joints as J
from lib.experiments import kpt_subsets
from lib.paper import KPT_PAPER_TABLE, MEAN, PAPER_TABLES, Comparison
from lib.paper import column as paper_column
from lib.present import beside_paper, ci_text, present_mean, scale
from lib.record_source import RecordSource, seeds_text
from lib.stats import signed
from lib.verdicts import measure_comparison


def kpt_splits(dataset: str) -> pd.DataFrame:
    """KPTransfer Table 1: S1 and S2 of each split, as trained on ``dataset`` (LSP lacks pelvis and thorax)."""
    rows = []
    for split in J.KPTRANSFER_SPLITS:
        s1, s2 = kpt_subsets(split, dataset)
        rows.append({"split": split, "S1": ", ".join(J.MPII_JOINTS[j] for j in s1),
                     "S2": ", ".join(J.MPII_JOINTS[j] for j in s2), "|S1|": len(s1), "|S2|": len(s2)})
    return pd.DataFrame(rows).set_index("split")


#: The columns :func:`kpt_table` adds after the paper's: how much picking the best epoch adds, and the epochs.
EPOCH_COLUMNS = ("Mean (last epoch)", "selected − last", "selected epoch", "epochs")


def kpt_table(source: RecordSource, split: str) -> pd.DataFrame:
    """KPTransfer Tables 2-5 for ``split``: rows transfer / frozen / random, the paper's columns, Mean = its Average.

    The paper's columns are each run's selected epoch: KPTransfer keeps the epoch with the best
    validation Mean (Sec. 3.3), chosen on the same validation people the table reports, which
    flatters every row a little. ``Mean (last epoch)`` is the last epoch's validation Mean (the
    record's history), ``selected − last`` what the choice adds (seed means), ``selected epoch``
    and ``epochs`` (run) their seed means.
    """
    cols = list(PAPER_TABLES[KPT_PAPER_TABLE[split]].columns)
    rows = {}
    for role in ("transfer", "frozen", "random"):
        runs = source.runs(f"kpt/{split}-{role}")
        tabs = [r.data["metrics_by_visibility"]["all"] for r in runs]
        row = {c: round(present_mean([t.get(c) for t in tabs]), 1) for c in cols}
        selected = present_mean([t.get("Mean") for t in tabs])
        last = present_mean([r.data["history"][-1].get("val_Mean") if r.data.get("history") else None for r in runs])
        row["Mean (last epoch)"] = round(last, 1)
        row["selected − last"] = round(selected - last, 1)
        row["selected epoch"] = round(present_mean([r.data.get("selected_epoch") for r in runs]), 1)
        row["epochs"] = round(present_mean([r.data["epochs_run"] for r in runs]), 1)
        row["seeds"] = len(runs)
        rows[role] = row
    return pd.DataFrame(rows).T.astype({"seeds": int})


def kpt_vs_paper(source: RecordSource, split: str) -> pd.DataFrame:
    """KPTransfer's table for ``split`` (Tables 2-5): our rows above the paper's, in the paper's columns."""
    ours = kpt_table(source, split)
    fixed = {k: v for k, v in scale(source, f"kpt/{split}-transfer").items() if k != "seeds"}  # same for every role
    both = beside_paper(ours.assign(**fixed), KPT_PAPER_TABLE[split], f"ours ({source.profile}, {source.dataset})")
    extra = ours[list(EPOCH_COLUMNS)].set_index(pd.MultiIndex.from_product([[both.index[0][0]], ours.index]))
    return both.join(extra)


def kpt_differences(source: RecordSource, split: str) -> pd.DataFrame:
    """Transfer − random and frozen − random on S2 of ``split``, per column of the paper's table.

    Each cell is the difference of seed-mean PCK with its 95% interval (:func:`lib.stats.config_diff`
    via :func:`lib.verdicts.measure_comparison`: Welch t over seeds plus the shared image variance),
    the question Tables 2-5 answer by eye; ``one seed: no interval`` with one seed a side.
    """
    cols = list(PAPER_TABLES[KPT_PAPER_TABLE[split]].columns)
    rows: dict[str, dict[str, str]] = {}
    for role in ("transfer", "frozen"):
        row, seeds = {}, ""
        for col in cols:
            sel = MEAN if col == "Mean" else paper_column(col)
            try:
                m = measure_comparison(source, Comparison(f"kpt/{split}-{role}", f"kpt/{split}-random", sel))
            except LookupError:
                row[col] = "no record"
                continue
            except ValueError:
                row[col] = "not measurable"
                continue
            ci = ci_text(m.diff.low, m.diff.high, m.fewest_seeds, signed=True)
            row[col], seeds = f"{signed(m.diff.estimate, '.1f')} " + (ci if ci.startswith("[") else f"({ci})"), m.seeds()
        rows[f"{role} − random"] = {**row, "seeds": seeds}
    return pd.DataFrame(rows).T


def convergence_frame(source: RecordSource, splits: Sequence[str] = tuple(J.KPTRANSFER_SPLITS),
                      roles: Sequence[str] = ("transfer", "random", "frozen")) -> pd.DataFrame:
    """KPTransfer Fig. 3's data, long form: split, role, seed, epoch, validation Mean (S2 without pelvis, thorax)."""
    frames = []
    for split in splits:
        for role in roles:
            for r in source.runs(f"kpt/{split}-{role}"):
                h = r.history
                frames.append(pd.DataFrame({"split": split, "role": role, "seed": r.seed, "epoch": h["epoch"],
                                            "val_Mean": h["val_Mean"]}))
    cols = ["split", "role", "seed", "epoch", "val_Mean"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def epochs_to_fraction(curves: pd.DataFrame, fraction: float = 0.9) -> pd.DataFrame:
    """KPTransfer Fig. 3 as numbers: the first epoch each run reaches ``fraction`` of its own best.

    ``curves`` is :func:`convergence_frame`'s long form. One row per split and role: the mean of
    that epoch over seeds, its range, and the seeds. Each run is compared with its own best, so a
    configuration that ends lower is not made to look slower for it (convergence speed, not
    accuracy; the paper's claim that transfer learning converges faster, Sec. 4, Fig. 3).
    """
    cols = ["split", "role", f"epoch to {fraction:.0%} of best", "min", "max", "seeds"]
    if curves.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (split, role, seed), d in curves.groupby(["split", "role", "seed"], sort=False):
        best = d["val_Mean"].max()
        reached = d.loc[d["val_Mean"] >= fraction * best, "epoch"]
        rows.append({"split": split, "role": role, "seed": seed, "epoch": int(reached.min())})
    per_run = pd.DataFrame(rows)
    out = per_run.groupby(["split", "role"], sort=False).agg(
        mean=("epoch", "mean"), min=("epoch", "min"), max=("epoch", "max"),
        seeds=("seed", seeds_text)).reset_index()
    return out.rename(columns={"mean": cols[2]})[cols]


def selection_text(source: RecordSource, splits: Sequence[str] = tuple(J.KPTRANSFER_SPLITS)) -> str:
    """How much choosing each run's best validation epoch adds, per split and role, and what it does
    to transfer learning's lead over random initialisation (from :func:`kpt_table`'s columns).

    The paper's early stopping keeps the best epoch on the validation people it reports (Sec. 3.3);
    we do the same, so a reader should see the selected and the last epoch's scores side by side.
    """
    parts, leads = [], []
    for split in splits:
        t = kpt_table(source, split)
        if t["seeds"].min() == 0:
            continue
        adds = ", ".join(f"{role} {signed(t.loc[role, 'selected − last'], '.1f')}" for role in t.index)
        parts.append(f"split ({split}): {adds}")
        lead_sel = t.loc["transfer", "Mean"] - t.loc["random", "Mean"]
        lead_last = t.loc["transfer", "Mean (last epoch)"] - t.loc["random", "Mean (last epoch)"]
        leads.append(f"split ({split}) {signed(lead_sel, '.1f')} at the selected epochs, {signed(lead_last, '.1f')} at the last")
    if not parts:
        return "No split has records of all three networks yet."
    return ("Choosing the best epoch adds, in points of the S2 Mean (seed means): " + "; ".join(parts) + ". "
            "Transfer learning's lead over random initialisation: " + "; ".join(leads) + ".")
