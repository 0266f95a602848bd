"""What the two papers claim and report, and how this study tests each claim.

A :class:`Claim` names where a paper makes it (section, table, figure), what it says in the
paper's own numbers, and how we test it: one or more :class:`Comparison` of two experiments of
:mod:`lib.experiments` (A − B) on a :class:`Selection` of joints, with the claimed direction of
A − B. :data:`CLAIMS` lists every claim of PBN (Tang & Wu 2019) and KPTransfer (Vats et al.
2019) in the order the book discusses them; :data:`PAPER_TABLES` and :data:`PAPER_SCALE` hold the
papers' own numbers and what they were measured at, for printing beside ours. How a verdict is
reached from the records is :mod:`lib.claims`.

Directions (of A − B): ``"A > B"``, ``"A < B"``, ``"A ≈ B"`` (inside ±``margin``), ``"A ≤ B"``
(A is not better by more than ``margin``: "does not improve") and ``"A ≥ B"`` (A is not worse by
more than ``margin``: "retains the accuracy").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd

from lib import joints as J
from lib.experiments import get_profile
from lib.stats import signed

#: The largest difference, in PCK points, still read as "no difference" / "no gain" (claims
#: with direction ``A ≈ B``, ``A ≤ B``, ``A ≥ B`` on PCK). Half a point is about the size of the
#: smallest effects the papers report as real (PBN's negative transfer, 0.30 / 0.45).
NO_DIFFERENCE_MARGIN = 0.5
#: The same for the convergence measure (mean validation PCK over the epochs both runs have).
CONVERGENCE_MARGIN = 1.0

DIRECTIONS = ("A > B", "A < B", "A ≈ B", "A ≤ B", "A ≥ B")
METRICS = ("pck", "train_loss", "convergence")

#: Which annotated joints a selection keeps: all, visible or invisible ones (the records' ``visible``
#: flags), or those hidden by the person's own body / by something else (the records' ``occlusion``
#: codes 1 and 2, PBN Fig. 7's two cases; only datasets rendered with occlusion labels have them).
VISIBILITIES = ("all", "visible", "invisible", "self_occluded", "other_occluded")
#: ``occlusion`` code of each occlusion visibility (``lib.data.poseset.PoseSet.occlusion``).
OCCLUSION_CODES = {"self_occluded": 1, "other_occluded": 2}


@dataclass(frozen=True)
class Selection:
    """Which joints a comparison scores: MPII ids (``None``: every evaluated joint but pelvis and
    thorax, the papers' "Mean"/"Average"), and which of them (:data:`VISIBILITIES`)."""

    label: str
    joints: tuple[int, ...] | None = None
    visibility: str = "all"

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}, got {self.visibility!r}")


MEAN = Selection("Mean")
HARD = Selection("ten hard joints", J.HARD_JOINTS)
HARD_VISIBLE = Selection("ten hard joints, visible", J.HARD_JOINTS, "visible")
HARD_INVISIBLE = Selection("ten hard joints, invisible", J.HARD_JOINTS, "invisible")
HARD_SELF = Selection("ten hard joints, self-occluded", J.HARD_JOINTS, "self_occluded")
HARD_OTHER = Selection("ten hard joints, other-occluded", J.HARD_JOINTS, "other_occluded")
MEAN_INVISIBLE = Selection("all joints, invisible", None, "invisible")
UPPER = Selection("upper body", J.UPPER_BODY)
LOWER_NO_ANKLES = Selection("lower body without ankles", tuple(j for j in J.LOWER_BODY if j not in J.ANKLES))


def column(name: str, visibility: str = "all") -> Selection:
    """The joints of a paper table column (``Wri.``, ``Knee``, ...; :data:`lib.joints.TABLE_COLUMNS`)."""
    label = name if visibility == "all" else f"{name}, {visibility}"
    return Selection(label, J.TABLE_COLUMNS[name], visibility)


@dataclass(frozen=True)
class Comparison:
    """A − B: experiment ``a`` against experiment ``b`` on ``selection``, by ``metric``.

    ``metric``: ``pck`` (pooled PCK of the selection, bootstrap over images and seeds),
    ``train_loss`` (final training loss, per-seed differences), ``convergence`` (mean validation
    ``Mean`` over the epochs both runs have, per-seed differences; KPTransfer Fig. 3).
    """

    a: str
    b: str
    selection: Selection = HARD
    metric: str = "pck"
    label: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and how this study tests it.

    Attributes:
        id: short stable name (``pbn-depth``, ``kpt-c-average`` ...).
        paper: ``PBN`` (Tang & Wu 2019) or ``KPTransfer`` (Vats et al. 2019).
        where: section / table / figure of the paper.
        statement: the claim as we test it.
        paper_says: what the paper reports (its numbers, or a quote when it gives none).
        chapter: the book chapter that studies it (``mi``, ``pbn``, ``kpt``).
        comparisons: the experiments compared (empty for structural and untested claims).
        direction: the claimed sign of A − B (:data:`DIRECTIONS`).
        margin: points counted as no difference for ``A ≈ B``, ``A ≤ B``, ``A ≥ B``.
        kind: ``records`` (trained runs), ``groups`` / ``params`` (:func:`structural_verdicts`)
            or ``untested`` (reason in ``note``).
        note: why it is untested, or a caveat of our test.
        data: ``main`` (the records of the source's dataset) or ``occlusion`` (those of its
            :attr:`RecordSource.occlusion_dataset`, one rendered with visibility and occlusion
            labels: claims about occluded joints cannot be answered on LSP Extended, which
            annotates visible joints only). Table 6's three claims (invisible, visible, overall)
            are all ``occlusion``: its columns come from one dataset that has both kinds of joint.
    """

    id: str
    paper: str
    where: str
    statement: str
    paper_says: str
    chapter: str
    comparisons: tuple[Comparison, ...] = ()
    direction: str = "A > B"
    margin: float = 0.0
    kind: str = "records"
    note: str = ""
    data: str = "main"

    def __post_init__(self) -> None:
        if self.data not in ("main", "occlusion"):
            raise ValueError(f"claim {self.id}: data must be 'main' or 'occlusion', got {self.data!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.direction in ("A ≈ B", "A ≤ B", "A ≥ B") and self.kind == "records" and self.margin <= 0:
            raise ValueError(f"claim {self.id}: direction {self.direction} needs a margin > 0")


def _widths(a: str, b: str, sel: Selection = HARD, metric: str = "pck") -> tuple[Comparison, ...]:
    """One comparison per branch width W ∈ {32, 64, 128, 256}; ``{w}`` in the names is filled in."""
    return tuple(Comparison(a.format(w=w), b.format(w=w), sel, metric, f"W={w}") for w in (32, 64, 128, 256))


def _kpt(split: str, sel: Selection = MEAN, a: str = "transfer", b: str = "random", metric: str = "pck") -> Comparison:
    return Comparison(f"kpt/{split}-{a}", f"kpt/{split}-{b}", sel, metric, f"split ({split})")


_M, _CM = NO_DIFFERENCE_MARGIN, CONVERGENCE_MARGIN
_PBN_BASE = "pbn/mi5-d1-w64"

#: PBN Table 6 (Sec. 4.3) as printed: eight stacks on MPII validation, single-scale PCKh@0.5 of the
#: ten hard joints (invisible, visible, all) and the parameters in millions. The one place these
#: numbers are typed: the claims below, :data:`PAPER_TABLES` and :func:`lib.model_cost.table6_parameters` read them.
PBN_TABLE6 = pd.DataFrame(
    {"Invisible": [70.29, 71.59], "Visible": [93.22, 93.31], "Overall": [87.74, 88.14],
     "Params (M)": [27.22, 26.69]}, index=["Deep BS (8 stacks)", "Ours (8 stacks)"])


def _table6(column: str) -> str:
    """Table 6's ``column`` as a claim quotes it: ``"71.59 vs 70.29 (+1.30)"`` (PBN vs deep baseline)."""
    ours, deep = PBN_TABLE6.loc["Ours (8 stacks)", column], PBN_TABLE6.loc["Deep BS (8 stacks)", column]
    if column == "Params (M)":
        return f"{ours:.2f}M vs {deep:.2f}M"
    return f"{ours:.2f} vs {deep:.2f} ({signed(ours - deep)})"


#: Every claim of both papers, in the order the book discusses them.
CLAIMS: tuple[Claim, ...] = (
    # ---- PBN Sec. 3.1: mutual information -----------------------------------------------------
    Claim("pbn-mi-k5", "PBN", "Sec. 3.1, Fig. 2(b)",
          "Spectral clustering of the MPII joints' mutual information into k = 5 gives Fig. 2(b)'s groups: "
          "knees with ankles; hips with pelvis; head, neck, thorax and shoulders; each elbow with its wrist.",
          "Fig. 2(b) (groups drawn on a skeleton)", "mi", kind="groups", direction="A ≈ B"),
    Claim("pbn-mi-k6", "PBN", "Sec. 3.1",
          "With k = 6 the knees and ankles stay together and the head and neck detach from the shoulders and thorax.",
          "\"These four parts will still be in the same group even if the cluster number is increased by one.\"",
          "mi", kind="groups", direction="A ≈ B"),
    # ---- PBN Sec. 4.3, Fig. 5: ablations of three-stack PBNs ----------------------------------
    Claim("pbn-depth-2", "PBN", "Sec. 4.3, Fig. 5(a)",
          "Two residual blocks per branch (D = 2) are worse than one (D = 1), for every width W.",
          "\"using more residual blocks generally worsens pose estimation regardless of the channel numbers\"",
          "pbn", _widths("pbn/mi5-d2-w{w}", "pbn/mi5-d1-w{w}"), "A < B"),
    Claim("pbn-depth-3", "PBN", "Sec. 4.3, Fig. 5(a)",
          "D = 3 is also worse than D = 1, for every width W.",
          "\"We have also tried D = 3 and got the same observation.\"",
          "pbn", _widths("pbn/mi5-d3-w{w}", "pbn/mi5-d1-w{w}"), "A < B"),
    Claim("pbn-depth-loss", "PBN", "Sec. 4.3, Fig. 5(a)",
          "Deeper branches (D = 2) reach a lower final training loss than D = 1 (the overfitting explanation).",
          "\"increasing D always results in a lower training loss\"",
          "pbn", _widths("pbn/mi5-d2-w{w}", "pbn/mi5-d1-w{w}", metric="train_loss"), "A < B"),
    Claim("pbn-width", "PBN", "Sec. 4.3, Fig. 5(b)",
          "Widening the branches beyond W = 64 (to 128 or 256) brings no gain of more than the margin.",
          "\"Using more feature channels does not always lead to a gain ... W = 64 turns out to be a good balance\"",
          "pbn", (Comparison("pbn/mi5-d1-w128", _PBN_BASE, HARD, label="W=128 vs 64"),
                  Comparison("pbn/mi5-d1-w256", _PBN_BASE, HARD, label="W=256 vs 64")), "A ≤ B", _M),
    Claim("pbn-vs-linear", "PBN", "Sec. 4.3, Fig. 5(c)",
          "The PBN (D = 1, W = 64, five MI groups) beats the linear baseline (the plain stacked hourglass).",
          "\"it performs much worse than our original model\" (Fig. 5(c))",
          "pbn", (Comparison(_PBN_BASE, "pbn/linear", HARD),), "A > B"),
    Claim("pbn-vs-deep", "PBN", "Sec. 4.3, Fig. 5(c)",
          "The PBN beats the deep baseline (a 256-channel residual block before the linear layer), "
          "which has more parameters.",
          "\"our network, having fewer parameters and a lower computational complexity, clearly outperforms this deep baseline\"",
          "pbn", (Comparison(_PBN_BASE, "pbn/deep", HARD),), "A > B"),
    Claim("pbn-occluded", "PBN", "Abstract, Sec. 5",
          "Learning specific features improves the localisation of occluded (invisible) joints: "
          "PBN vs deep baseline on every invisible joint, at the ablations' size.",
          "\"learning specific features for related body parts significantly improves the localization of occluded parts\"",
          "pbn", (Comparison(_PBN_BASE, "pbn/deep", MEAN_INVISIBLE),), "A > B", data="occlusion"),
    Claim("pbn-params", "PBN", "Sec. 4.3, Table 6",
          f"The eight-stack PBN has fewer parameters than its deep baseline: {_table6('Params (M)')}.",
          _table6("Params (M)"), "pbn", kind="params", direction="A < B"),
    Claim("pbn-table6-invisible", "PBN", "Sec. 4.3, Table 6",
          "Eight stacks: the PBN beats the deep baseline on invisible hard joints.",
          _table6("Invisible"), "pbn",
          (Comparison("pbn/large-mi5", "pbn/large-deep", HARD_INVISIBLE),), "A > B", data="occlusion"),
    Claim("pbn-table6-visible", "PBN", "Sec. 4.3, Table 6",
          "Eight stacks: the PBN retains the deep baseline's accuracy on visible hard joints.",
          _table6("Visible"), "pbn",
          (Comparison("pbn/large-mi5", "pbn/large-deep", HARD_VISIBLE),), "A ≥ B", _M, data="occlusion"),
    Claim("pbn-table6-overall", "PBN", "Sec. 4.3, Table 6",
          "Eight stacks: the PBN beats the deep baseline on all hard joints.",
          _table6("Overall"), "pbn", (Comparison("pbn/large-mi5", "pbn/large-deep", HARD),), "A > B",
          data="occlusion"),
    Claim("pbn-table7", "PBN", "Sec. 4.3, Table 7",
          "Eight stacks: the PBN beats the deep baseline on invisible wrists, hips and ankles.",
          "+2.02 (wrists), +1.85 (hips), +1.91 (ankles)", "pbn",
          tuple(Comparison("pbn/large-mi5", "pbn/large-deep", column(c, "invisible"), label=c)
                for c in ("Wri.", "Hip", "Ank.")), "A > B", data="occlusion"),
    Claim("pbn-fig7", "PBN", "Sec. 4.4, Fig. 7",
          "The PBN handles both self-occlusion and other-occlusion: it beats the deep baseline on hard joints "
          "hidden by the person's own body and on those hidden by something else.",
          "Fig. 7: examples only (self-occlusion top row, other-occlusion bottom row); no numbers", "pbn",
          (Comparison(_PBN_BASE, "pbn/deep", HARD_SELF, label="self-occluded"),
           Comparison(_PBN_BASE, "pbn/deep", HARD_OTHER, label="other-occluded")), "A > B", data="occlusion",
          note="needs occlusion labels: measured on a dataset rendered with them (synthetic-mpii)"),
    Claim("pbn-stat-vs-body", "PBN", "Sec. 4.3, Fig. 5(d)",
          "Mutual-information groups (Stat) beat the body-structure groups (Body) for every width W.",
          "\"the proposed data-driven approach always outperforms the handcrafted one regardless of the width\"",
          "pbn", _widths("pbn/mi5-d1-w{w}", "pbn/body-d1-w{w}"), "A > B"),
    Claim("pbn-groups-2-5", "PBN", "Sec. 4.3, Fig. 5(e)",
          "Five groups beat two groups.",
          "\"increasing the group number from 2 to 5 boosts the performance\"",
          "pbn", (Comparison(_PBN_BASE, "pbn/groups2", HARD),), "A > B"),
    Claim("pbn-groups-more", "PBN", "Sec. 4.3, Fig. 5(e)",
          "More than five groups (8, 16) bring no gain over five.",
          "\"using more than 5 groups can hardly result in further improvement\"",
          "pbn", (Comparison("pbn/groups8", _PBN_BASE, HARD, label="k=8 vs 5"),
                  Comparison("pbn/groups16", _PBN_BASE, HARD, label="k=16 vs 5")), "A ≤ B", _M),
    Claim("pbn-overlap", "PBN", "Sec. 4.3, Fig. 5(f)",
          "Overlapping groups (each shoulder also in its arm's group) bring no gain.",
          "\"using overlapping groups does not improve the performance\"",
          "pbn", (Comparison("pbn/overlap", _PBN_BASE, HARD),), "A ≤ B", _M),
    Claim("pbn-fusion-3", "PBN", "Sec. 4.3 (feature fusion)",
          "Three stacks: propagating shared features beats propagating specific features.",
          "87.30 vs 87.21 (+0.09)", "pbn", (Comparison(_PBN_BASE, "pbn/fusion-specific", HARD),), "A > B"),
    Claim("pbn-fusion-3-loss", "PBN", "Sec. 4.3 (feature fusion)",
          "Three stacks: shared fusion reaches a lower training loss than specific fusion.",
          "1.95e-3 vs 1.99e-3", "pbn",
          (Comparison(_PBN_BASE, "pbn/fusion-specific", HARD, "train_loss"),), "A < B"),
    Claim("pbn-fusion-8", "PBN", "Sec. 4.3 (feature fusion)",
          "Eight stacks: shared fusion beats specific fusion, by more than at three stacks.",
          "88.14 vs 87.68 (+0.46)", "pbn",
          (Comparison("pbn/large-mi5", "pbn/large-fusion-specific", HARD),), "A > B"),
    Claim("pbn-fusion-8-loss", "PBN", "Sec. 4.3 (feature fusion)",
          "Eight stacks: shared fusion reaches a lower training loss than specific fusion.",
          "4.99e-3 vs 5.11e-3", "pbn",
          (Comparison("pbn/large-mi5", "pbn/large-fusion-specific", HARD, "train_loss"),), "A < B"),
    Claim("pbn-negative-transfer-upper", "PBN", "Sec. 4.3 (negative transfer)",
          "Removing the ankles from a stacked hourglass's tasks improves the upper body.",
          "+0.30", "pbn", (Comparison("pbn/no-ankles", "pbn/linear", UPPER),), "A > B"),
    Claim("pbn-negative-transfer-lower", "PBN", "Sec. 4.3 (negative transfer)",
          "Removing the ankles degrades the remaining lower-body joints (knees, hips, pelvis).",
          "−0.45", "pbn", (Comparison("pbn/no-ankles", "pbn/linear", LOWER_NO_ANKLES),), "A < B"),
    # ---- PBN Sec. 4.2: benchmarks against other published methods ----------------------------
    Claim("pbn-mpii-test", "PBN", "Sec. 4.2, Table 1",
          "The eight-stack PBN is the best published method on the MPII test set (PCKh@0.5 92.7).",
          "92.7 mean; best on every joint", "pbn", kind="untested",
          note="needs the MPII test server and the other methods' results; not a question about branching"),
    Claim("pbn-mpii-val", "PBN", "Sec. 4.2, Tables 2-3",
          "On the MPII validation set the PBN beats Yang et al. and Tang et al., most on invisible joints.",
          "91.8 vs 91.0 / 91.2; invisible 78.2 vs 76.8 / 76.7", "pbn", kind="untested",
          note="needs those methods' released predictions and the paper profile (8 stacks, 250 epochs, full MPII images)"),
    Claim("pbn-lsp-test", "PBN", "Sec. 4.2, Tables 4-5",
          "The PBN is the best published method on the LSP test set (PCK@0.2 94.5; 95.4 on corrected labels).",
          "94.5 / 95.4", "pbn", kind="untested",
          note="needs the original LSP test set and MPII's training images; we have LSP Extended and a sample of MPII photos"),
    # ---- KPTransfer Sec. 4, Tables 2-5 and Fig. 3 ----------------------------------------------
    Claim("kpt-a-average", "KPTransfer", "Sec. 4, Table 2",
          "Split (a): transfer learning and random initialisation reach the same average PCKh on S2.",
          "83.9 vs 83.9", "kpt", (_kpt("a"),), "A ≈ B", _M),
    Claim("kpt-a-wrist", "KPTransfer", "Sec. 4.1 (2), Table 2",
          "Split (a): transfer learning from the torso joints improves the wrists.",
          "84.2 vs 83.9 (+0.3)", "kpt", (_kpt("a", column("Wri.")),), "A > B"),
    Claim("kpt-b-average", "KPTransfer", "Sec. 4, Table 3",
          "Split (b): transfer learning and random initialisation reach the same average PCKh on S2.",
          "83.4 vs 83.4", "kpt", (_kpt("b"),), "A ≈ B", _M),
    Claim("kpt-c-average", "KPTransfer", "Abstract, Sec. 4.1 (2), Table 4",
          "Split (c): transfer learning beats random initialisation on the S2 average.",
          "83.7 vs 83.2 (+0.5)", "kpt", (_kpt("c"),), "A > B"),
    Claim("kpt-c-wrist", "KPTransfer", "Abstract, Table 4",
          "Split (c): transfer learning improves the wrists over random initialisation.",
          "84.0 vs 82.9 (+1.1)", "kpt", (_kpt("c", column("Wri.")),), "A > B"),
    Claim("kpt-d-average", "KPTransfer", "Sec. 4.1 (2), Table 5",
          "Split (d): transfer learning beats random initialisation on the S2 average.",
          "89.8 vs 89.4 (+0.4)", "kpt", (_kpt("d"),), "A > B"),
    Claim("kpt-d-knee", "KPTransfer", "Abstract, Table 5",
          "Split (d): transfer learning improves the knees over random initialisation.",
          "84.4 vs 83.3 (+1.1)", "kpt", (_kpt("d", column("Knee")),), "A > B"),
    Claim("kpt-frozen-vs-transfer", "KPTransfer", "Sec. 4.1 (1), Tables 2-5",
          "Frozen source weights are worse than transfer learning, in every split.",
          "−16.4, −15.0, −8.8, −2.5 (average, splits a-d)", "kpt",
          tuple(_kpt(s, a="frozen", b="transfer") for s in "abcd"), "A < B"),
    Claim("kpt-frozen-vs-random", "KPTransfer", "Sec. 4.1 (1), Tables 2-5",
          "Frozen source weights are worse than random initialisation, in every split.",
          "−16.4, −15.0, −8.3, −2.1 (average, splits a-d)", "kpt",
          tuple(_kpt(s, a="frozen", b="random") for s in "abcd"), "A < B"),
    Claim("kpt-convergence-d", "KPTransfer", "Sec. 4.1 (3), Fig. 3(d)",
          "Split (d): transfer learning converges faster than random initialisation "
          "(higher mean validation PCK over the epochs both runs have).",
          "\"the convergence of transfer learning case is much better\" (Fig. 3(d))", "kpt",
          (_kpt("d", metric="convergence"),), "A > B"),
    Claim("kpt-convergence-a", "KPTransfer", "Sec. 4.1 (3), Fig. 3(a)",
          "Split (a): transfer learning and random initialisation converge alike.",
          "\"the convergence between random initialization and transfer learning configurations is comparable\"",
          "kpt", (_kpt("a", metric="convergence"),), "A ≈ B", _CM),
)

CLAIMS_BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}

#: PBN Tables 6-7 compare the eight-stack pair; where a profile's plan trains no large pair
#: (the ``cpu`` plan, ``lib.experiments.CPU_PLAN``), they are answered by the pair of Fig. 5(c).
LARGE_PAIR_CLAIMS = ("pbn-table6-invisible", "pbn-table6-visible", "pbn-table6-overall", "pbn-table7")
_SMALL_FOR_LARGE = {"pbn/large-mi5": _PBN_BASE, "pbn/large-deep": "pbn/deep"}


def trains_large_pair(profile: str) -> bool:
    """Whether ``profile``'s plan (:func:`lib.experiments.priority_plan`) trains ``pbn/large-mi5`` and ``pbn/large-deep``."""
    from lib.experiments import priority_plan

    names = {e.name for e in priority_plan(profile, experiments=tuple(_SMALL_FOR_LARGE))}
    return set(_SMALL_FOR_LARGE) <= names


def profile_claims(profile: str | None = None, claims: Sequence[Claim] = CLAIMS) -> tuple[Claim, ...]:
    """``claims`` as ``profile`` answers them.

    Where the profile's plan trains no large pair, the Table 6-7 claims (:data:`LARGE_PAIR_CLAIMS`)
    compare the ablation pair (``pbn/mi5-d1-w64`` vs ``pbn/deep``, the profile's ``pbn_stacks``)
    instead of leaving them without a record; the statement says so, and the claim table's scale
    columns give both sizes. The other claims about the large pair (fusion at eight stacks) have
    no small stand-in: they are ``untested`` there, with the reason, rather than waiting for records
    the plan never trains. The rule depends on the profile only, never on which records exist.
    """
    if profile is None or trains_large_pair(profile):
        return tuple(claims)
    stacks = get_profile(profile).pbn_stacks
    out = []
    for c in claims:
        if c.id in LARGE_PAIR_CLAIMS:
            comps = tuple(replace(x, a=_SMALL_FOR_LARGE.get(x.a, x.a), b=_SMALL_FOR_LARGE.get(x.b, x.b))
                          for x in c.comparisons)
            c = replace(c, comparisons=comps, statement=c.statement.replace("Eight stacks:", f"{stacks} stacks "
                        f"(the paper: eight; profile {profile} trains no large pair):"))
        elif any(x.a.startswith("pbn/large-") or x.b.startswith("pbn/large-") for x in c.comparisons):
            c = replace(c, comparisons=(), kind="untested",
                        note=f"profile {profile}'s plan trains no large pair: this eight-stack comparison "
                             "needs the book profile (a GPU)")
        out.append(c)
    return tuple(out)

#: The papers' own tables, for printing beside ours (PCKh@0.5 in percent; parameters as counts).
PAPER_TABLES: dict[str, pd.DataFrame] = {
    "PBN Table 6": PBN_TABLE6,
    "PBN Table 7": pd.DataFrame(
        {"Elb.": [75.05, 75.14], "Wri.": [62.10, 64.12], "Hip": [83.43, 85.28], "Knee": [69.30, 69.92],
         "Ank.": [61.57, 63.48], "Mean": PBN_TABLE6["Invisible"].tolist()},  # Table 7's mean is Table 6's invisible
        index=["Deep BS (8 stacks)", "Ours (8 stacks)"]),
    "PBN Table 2": pd.DataFrame(
        {"Head": [97.5], "Sho.": [96.5], "Elb.": [91.7], "Wri.": [87.7], "Hip": [91.1], "Knee": [87.7],
         "Ank.": [85.2], "Mean": [91.8]}, index=["PBN, 8 stacks, MPII val"]),
    "PBN Table 3": pd.DataFrame(
        {"Sho.": [92.0], "Elb.": [76.2], "Wri.": [64.6], "Hip": [86.1], "Knee": [70.3], "Ank.": [63.2],
         "Mean": [78.2]}, index=["PBN, 8 stacks, MPII val, invisible"]),
    "PBN Table 4": pd.DataFrame(
        {"Head": [98.6], "Sho.": [95.4], "Elb.": [93.3], "Wri.": [89.8], "Hip": [94.3], "Knee": [95.7],
         "Ank.": [94.4], "Mean": [94.5]}, index=["PBN, 8 stacks, LSP test, PCK@0.2"]),
    "KPTransfer Table 2": pd.DataFrame(
        {"Elb.": [87.9, 74.7, 87.9], "Wri.": [84.2, 56.0, 83.9], "Knee": [82.9, 72.7, 83.4],
         "Ank.": [80.6, 66.8, 80.5], "Mean": [83.9, 67.5, 83.9]}, index=["transfer", "frozen", "random"]),
    "KPTransfer Table 3": pd.DataFrame(
        {"Wri.": [84.1, 69.7, 83.6], "Knee": [84.5, 73.0, 85.0], "Ank.": [81.5, 62.6, 81.6],
         "Mean": [83.4, 68.43, 83.4]}, index=["transfer", "frozen", "random"]),
    "KPTransfer Table 4": pd.DataFrame(
        {"Wri.": [84.0, 71.2, 82.9], "Hip": [87.1, 83.7, 87.0], "Ank.": [80.1, 69.9, 79.7],
         "Mean": [83.7, 74.9, 83.2]}, index=["transfer", "frozen", "random"]),
    "KPTransfer Table 5": pd.DataFrame(
        {"Head": [96.8, 91.1, 97.1], "Elb.": [88.3, 87.9, 87.9], "Knee": [84.4, 82.9, 83.3],
         "Mean": [89.8, 87.3, 89.4]}, index=["transfer", "frozen", "random"]),
}
#: What each paper table measured, in the columns our tables carry beside it (:data:`lib.present.SCALE`), so that
#: a small model's row never reads as the paper's. PBN Sec. 4.1-4.3: MPII validation, 256×256 crops, eight stacks
#: of 256 channels; single-scale testing in the ablations (Tables 6-7), six scales with flipping for the benchmarks
#: (Tables 2-4). KPTransfer Sec. 3: MPII, 256×256, two + two stacks. Neither paper reports seeds or repeated runs.
_PBN_VAL = {"dataset": "MPII val", "input": "256×256", "stacks": 8, "channels": 256, "seeds": "not stated"}
_KPT = {"dataset": "MPII val", "input": "256×256", "stacks": 4, "channels": 256, "seeds": "not stated",
        "test-time aug.": "not stated"}
PAPER_SCALE: dict[str, dict[str, object]] = {
    "PBN Table 6": {**_PBN_VAL, "test-time aug.": "none (single scale)"},
    "PBN Table 7": {**_PBN_VAL, "test-time aug.": "none (single scale)"},
    "PBN Table 2": {**_PBN_VAL, "test-time aug.": "6 scales + flip"},
    "PBN Table 3": {**_PBN_VAL, "test-time aug.": "6 scales + flip"},
    "PBN Table 4": {**_PBN_VAL, "dataset": "LSP test", "test-time aug.": "6 scales + flip"},
    **{f"KPTransfer Table {i}": _KPT for i in (2, 3, 4, 5)},
}
#: KPTransfer's table per split.
KPT_PAPER_TABLE = {"a": "KPTransfer Table 2", "b": "KPTransfer Table 3", "c": "KPTransfer Table 4",
                   "d": "KPTransfer Table 5"}


def claims_overview(claims: Sequence[Claim] = CLAIMS) -> pd.DataFrame:
    """The claims without verdicts: id, paper, where, how tested, A and B, joints, direction."""
    rows = []
    for c in claims:
        how = {"records": "trained runs", "groups": "MPII annotations", "params": "model definition",
               "untested": "not tested"}[c.kind]
        first = c.comparisons[0] if c.comparisons else None
        comps = "" if first is None else f"{first.a} vs {first.b}" + (
            f" (+{len(c.comparisons) - 1} more)" if len(c.comparisons) > 1 else "")
        rows.append({"id": c.id, "paper": c.paper, "where": c.where, "tested with": how, "compares": comps,
                     "on": first.selection.label if first else "", "metric": first.metric if first else "",
                     "claimed": c.direction if first else "", "margin": c.margin or None})
    return pd.DataFrame(rows).set_index("id")


def chapter_claims(chapter: str, profile: str | None = None) -> list[Claim]:
    """The claims a chapter (``mi``, ``pbn``, ``kpt``) closes with, as ``profile`` answers them (:func:`profile_claims`)."""
    out = [c for c in profile_claims(profile) if c.chapter == chapter]
    if not out:
        raise ValueError(f"no claims for chapter {chapter!r}; chapters are mi, pbn, kpt")
    return out


def experiments_of(claims: Sequence[Claim] = CLAIMS, data: str | None = None) -> list[str]:
    """Every experiment the claims compare, in order of first use; ``data``: only claims read from
    that source (``main`` or ``occlusion``, :attr:`Claim.data`)."""
    return list(dict.fromkeys(n for c in claims if data is None or c.data == data
                              for x in c.comparisons for n in (x.a, x.b)))


_SIGNED = re.compile(r"(?<![\w.])([+−-]\d+\.\d+)")
_VERSUS = re.compile(r"(\d+(?:\.\d+)?(?:e[+−-]?\d+)?)\s*vs\.?\s*(\d+(?:\.\d+)?(?:e[+−-]?\d+)?)")


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def paper_differences(claim: Claim) -> list[float | None]:
    """The paper's A − B for each comparison of ``claim``, read from :attr:`Claim.paper_says` (None where it gives none).

    Signed numbers (``+0.30``, ``−16.4, −15.0, ...``) when there is one per comparison; else
    ``X vs Y`` for a single comparison (``84.2 vs 83.9`` → +0.3).
    """
    k = len(claim.comparisons)
    signs = _SIGNED.findall(claim.paper_says)
    if len(signs) == k:
        return [_number(s) for s in signs]
    versus = _VERSUS.findall(claim.paper_says)
    if k == 1 and len(versus) == 1:
        a, b = versus[0]
        return [_number(a) - _number(b)]
    return [None] * k
