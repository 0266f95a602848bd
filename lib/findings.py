"""The Findings page: what the study found, one sentence per main result, from the records.

The book opens on this page. Every sentence is built from :func:`lib.claims.claim_table` and
:func:`lib.claims.comparison_rows` over the committed records of one profile, never typed by
hand: the difference with its 95% interval, the seeds on each side, the dataset and its metric,
the scale the runs were trained at, the verdict, and a link to the chapter where the claim is
measured. As records land the page rewrites itself; a claim without records is listed at the end
as not yet measured.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from lib.present import metric_label


@dataclass(frozen=True)
class MainResult:
    """One headline claim: its id in :data:`lib.paper.CLAIMS_BY_ID`, a short title and its chapter.

    The title reads "A against B" in the order of the claim's comparison, so the signed number
    after it is A − B (the paper's sign).
    """

    claim: str
    title: str
    chapter: str


#: The study's main results, in the order the page states them (PBN first, then KPTransfer).
MAIN_RESULTS: tuple[MainResult, ...] = (
    MainResult("pbn-mi-k5", "Mutual-information groups of MPII's joints (PBN Fig. 2)", "02_mutual_information"),
    MainResult("pbn-vs-linear", "PBN against the plain stacked hourglass (linear baseline)", "03_pbn"),
    MainResult("pbn-vs-deep", "PBN against the deep baseline, which has more parameters", "03_pbn"),
    MainResult("pbn-depth-2", "Branch depth: two residual blocks (D = 2) against one (D = 1)", "03_pbn"),
    MainResult("pbn-width", "Branch width: wider branches (W = 128, 256) against W = 64", "03_pbn"),
    MainResult("pbn-stat-vs-body", "Mutual-information groups against body-structure groups", "03_pbn"),
    MainResult("pbn-occluded", "Occluded joints: PBN against the deep baseline", "03_pbn"),
    MainResult("pbn-overlap", "Overlapping groups against the five MI groups", "03_pbn"),
    MainResult("pbn-groups-2-5", "Number of groups: five against two", "03_pbn"),
    MainResult("pbn-groups-more", "Number of groups: more (8, 16) against five", "03_pbn"),
    MainResult("pbn-fusion-3", "Shared against specific feature fusion (the paper's three-stack comparison)", "03_pbn"),
    MainResult("pbn-negative-transfer-upper",
               "Negative transfer: the hourglass trained without the ankles against the plain one (upper body)",
               "03_pbn"),
    MainResult("pbn-negative-transfer-lower",
               "Negative transfer: the hourglass trained without the ankles against the plain one (other lower-body joints)",
               "03_pbn"),
    MainResult("kpt-c-average", "KPTransfer split (c): transfer learning against random initialisation", "04_kptransfer"),
    MainResult("kpt-d-average", "KPTransfer split (d): transfer learning against random initialisation", "04_kptransfer"),
    MainResult("kpt-frozen-vs-transfer", "KPTransfer: frozen source weights against transfer learning", "04_kptransfer"),
    MainResult("kpt-frozen-vs-random", "KPTransfer: frozen source weights against random initialisation", "04_kptransfer"),
    MainResult("kpt-convergence-d", "KPTransfer split (d): convergence", "04_kptransfer"),
)

#: How a dataset is named on the page (its metric: :func:`lib.present.metric_label`).
DATASET_TEXT: dict[str, str] = {
    "lspet": "LSP Extended (real photos)",
    "synthetic-mpii": "`synthetic-mpii` (MPII poses rendered with occlusion labels)",
    "synthetic": "the synthetic benchmark",
    "mpii": "MPII",
}

#: Verdicts that mean "nothing measured yet" (the claim goes to the last line).
UNMEASURED = ("no record", "no data", "not tested")


def _scale(our_scale: str) -> tuple[str, str]:
    """``(dataset, rest)`` from the claims table's "our scale" text (``"lspet, 64×64, ...; ... (only this scale)"``)."""
    dataset, _, rest = our_scale.partition(", ")
    return dataset, rest.replace(" (only this scale)", "")


def _seeds(rows: pd.DataFrame, claim: str) -> str:
    """``seeds 0-5 vs 0-2``; a claim of several comparisons on different seeds names each
    (``k=8 vs 5: seeds 0, 1 vs 0-5; k=16 vs 5: seeds 0 vs 0-5``), in the claim's order."""
    own = rows[(rows["claim"] == claim) & rows["seeds"].map(lambda s: isinstance(s, str) and s != "")]
    if own.empty:
        return ""
    if own["seeds"].nunique() == 1:
        return f"seeds {own['seeds'].iloc[0]}"
    return "; ".join(f"{c.split(': ')[0]}: seeds {s}" for c, s in zip(own["comparison"], own["seeds"]))


def book_link(chapter: str) -> str:
    """A link to a chapter inside the book (MyST's ``{doc}`` role)."""
    return f"{{doc}}`{chapter}`"


def readme_link(chapter: str) -> str:
    """A link to a chapter's notebook from the repository's README."""
    return f"[{chapter}](notebooks/{chapter}.ipynb)"


def sentence(row: Mapping[str, str], result: MainResult, seeds: str, over_training: str = "",
             link: Callable[[str], str] = book_link) -> str:
    """One main result as a sentence: difference, interval, seeds, dataset, metric, scale, verdict, link."""
    dataset, scale = _scale(row.get("our scale", "") or "")
    where, metric = DATASET_TEXT.get(dataset, dataset), metric_label(dataset)
    measured = row["measured"]
    trained = dataset in DATASET_TEXT
    if trained and row["verdict"] != "no record":
        unit = (f" {metric} points" if "convergence" not in row["id"] else
                f" {metric} points, mean over the epochs both runs trained")
        text = (f"**{result.title}** ({row['where']}): {measured}{unit}"
                f"{f' ({seeds})' if seeds else ''} on {where}, at the `{row['profile']}` scale ({scale}): "
                f"**{row['verdict']}**; the paper says {row['paper says']}.")
    else:  # a claim about the data (no training run), e.g. the MI groups
        text = f"**{result.title}** ({row['where']}): {measured or row['verdict']}: **{row['verdict']}** ({row['why']})."
    if over_training:
        text += f" Over training: {over_training}."
    return f"{text} See {link(result.chapter)}."


def findings_markdown(table: pd.DataFrame, rows: pd.DataFrame, profile: str,
                      over_training: Mapping[str, str] | None = None,
                      results: Sequence[MainResult] = MAIN_RESULTS, link: Callable[[str], str] = book_link) -> str:
    """The Findings page's list: one sentence per measured main result, then the ones not yet measured.

    Args:
        table: :func:`lib.claims.claim_table` of the profile's records.
        rows: :func:`lib.claims.comparison_rows` of the same source (the seeds each side rests on).
        profile: the profile the records belong to (named in every sentence).
        over_training: claim id → how the gap moved over training, if known
            (:func:`lib.trend_tables.stability_phrases`).
        link: how a sentence links its chapter (:func:`book_link`, :func:`readme_link`).
    """
    by_id = {r["id"]: {**r, "profile": profile} for r in table.to_dict("records")}
    measured, waiting = [], []
    for result in results:
        row = by_id.get(result.claim)
        if row is None:
            continue
        if row["verdict"] in UNMEASURED and row["id"] != "pbn-mi-k5":
            waiting.append(f"{result.title} ({row['verdict']})")
            continue
        measured.append("* " + sentence(row, result, _seeds(rows, result.claim),
                                        (over_training or {}).get(result.claim, ""), link))
    text = "\n".join(measured) if measured else "* No main result has records at this profile yet."
    if waiting:
        text += "\n\nNot yet measured at this profile: " + "; ".join(waiting) + "."
    return text


# --------------------------------------------------------------------------------------------
# The README's copy of the findings
# --------------------------------------------------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"
#: The lines around the generated block in the README; everything between them is rewritten.
README_START = "<!-- findings: written by `python -m lib.findings --readme` from the records; do not edit by hand -->"
README_END = "<!-- end of findings -->"


def measured(source, data_root: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """``(rows, table, over_training)`` for :func:`findings_markdown` from a :class:`lib.record_source.RecordSource`.

    The comparisons (:func:`lib.claims.comparison_rows`), the claims table over them and each
    claim's over-training phrase (:func:`lib.trend_tables.stability_phrases`): what the Findings
    page and the README's block both state.
    """
    from lib import claims, trend_tables

    rows = claims.comparison_rows(source)
    table = claims.claim_table(source, data_root=data_root, rows=rows)
    stability = trend_tables.stability_phrases(trend_tables.trend_table(trend_tables.trace_claims(source, rows=rows)))
    return rows, table, stability


def readme_block(profile: str = "cpu", *, data_root: str | Path | None = None,
                 results_dir: str | Path | None = None) -> str:
    """The README's findings: the Findings page's sentences for ``profile`` and the sweep's progress.

    The same sentences as the Findings page (:func:`measured`, every seed with a record), with links
    to the chapters' notebooks instead of the book's pages. :func:`lib.curves.sweep_arithmetic`
    gives the runs finished and the hours left.
    """
    from lib import curves
    from lib.record_source import RecordSource

    rows, table, stability = measured(RecordSource(profile=profile, results_dir=results_dir), data_root)
    _, sweep = curves.sweep_arithmetic(profile, results_dir)
    progress = (f"**Sweep progress** (`python -m lib.train --profile {profile} --all`): {sweep['finished']} of "
                f"{sweep['runs']} runs have records; at the speed the finished runs measured "
                f"({sweep['gmacs_per_s']:.0f} training GMACs per second of machine time) the others need about "
                f"{sweep['hours_left']:.0f} h ([05_cpu_profile](notebooks/05_cpu_profile.ipynb))."
                if sweep["finished"] else f"**Sweep progress**: no `{profile}` run has a record yet.")
    return "\n\n".join([README_START, findings_markdown(table, rows, profile, stability, link=readme_link),
                        progress, README_END])


def replace_block(text: str, block: str) -> str:
    """``text`` (the README) with its generated findings block replaced by ``block``."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no findings block: add a line {README_START!r} and, below it, "
                         f"a line {README_END!r} where the findings go")
    return text[:start] + block + text[end + len(README_END):]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lib.findings",
                                description="The study's findings from the records (the book's first page).")
    p.add_argument("--readme", action="store_true", help="rewrite the README's findings block")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--data-root", default=None, help="datasets folder (default $POSE_DATA)")
    p.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    args = p.parse_args(argv)
    block = readme_block(args.profile, data_root=args.data_root, results_dir=args.results)
    if not args.readme:
        print(block)
        return 0
    README.write_text(replace_block(README.read_text(), block))
    print(f"wrote the findings block of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
