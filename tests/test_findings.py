import os
from pathlib import Path

import pandas as pd
import pytest

from lib import findings


def _table(verdict: str, measured: str = "+1.75 [+0.63, +2.87]") -> pd.DataFrame:
    return pd.DataFrame([
        {"id": "pbn-vs-linear", "where": "Sec. 4.3, Fig. 5(c)", "measured": measured, "verdict": verdict,
         "why": "interval above 0", "paper says": '"much worse"',
         "our scale": "lspet, 64×64, 2 stacks, C = 128; 115,200 training images (9,000 people) (only this scale)"},
        {"id": "pbn-overlap", "where": "Fig. 5(f)", "measured": "", "verdict": "no record", "why": "missing runs",
         "paper says": "", "our scale": ""},
    ])


def test_a_measured_claim_states_difference_interval_seeds_dataset_scale_verdict_and_link():
    rows = pd.DataFrame([{"claim": "pbn-vs-linear", "seeds": "0-2 vs 0-2"}])
    text = findings.findings_markdown(_table("confirmed"), rows, "cpu", {"pbn-vs-linear": "flat"})
    first = text.splitlines()[0]
    for part in ("+1.75 [+0.63, +2.87] PCK@0.2 points", "seeds 0-2 vs 0-2", "LSP Extended", "`cpu` scale",
                 "64×64, 2 stacks", "**confirmed**", "Over training: flat", "{doc}`03_pbn`"):
        assert part in first, part
    assert "(only this scale)" not in first
    assert "Not yet measured at this profile: Overlapping groups against the five MI groups (no record)" in text


def test_a_claim_of_comparisons_on_different_seeds_names_each_comparisons_seeds():
    rows = pd.DataFrame([
        {"claim": "pbn-vs-linear", "comparison": "k=8 vs 5: pbn/groups8 − pbn/mi5-d1-w64", "seeds": "0, 1 vs 0-5"},
        {"claim": "pbn-vs-linear", "comparison": "k=16 vs 5: pbn/groups16 − pbn/mi5-d1-w64", "seeds": "0 vs 0-5"},
        {"claim": "pbn-overlap", "comparison": "pbn/overlap − pbn/mi5-d1-w64", "seeds": "0-2 vs 0-5"},
    ])
    first = findings.findings_markdown(_table("confirmed"), rows, "cpu").splitlines()[0]
    assert "(k=8 vs 5: seeds 0, 1 vs 0-5; k=16 vs 5: seeds 0 vs 0-5)" in first
    same = rows.assign(seeds="0-2 vs 0-5")
    assert "(seeds 0-2 vs 0-5)" in findings.findings_markdown(_table("confirmed"), same, "cpu").splitlines()[0]


def test_no_measured_claim_says_so():
    rows = pd.DataFrame(columns=["claim", "seeds"])
    text = findings.findings_markdown(_table("no record", ""), rows, "book")
    assert text.startswith("* No main result has records at this profile yet.")


def test_the_readme_links_chapters_to_their_notebooks():
    rows = pd.DataFrame([{"claim": "pbn-vs-linear", "seeds": "0-2 vs 0-2"}])
    text = findings.findings_markdown(_table("confirmed"), rows, "cpu", link=findings.readme_link)
    assert "See [03_pbn](notebooks/03_pbn.ipynb)." in text.splitlines()[0] and "{doc}" not in text


def test_replacing_the_block_keeps_the_rest_and_names_the_markers_when_missing():
    text = f"intro\n{findings.README_START}\nold\n{findings.README_END}\nrest\n"
    new = f"{findings.README_START}\nnew\n{findings.README_END}"
    assert findings.replace_block(text, new) == f"intro\n{new}\nrest\n"
    with pytest.raises(ValueError, match="no findings block"):
        findings.replace_block("intro\n", new)


@pytest.mark.slow
@pytest.mark.realdata  # the claims and trend tables over every committed cpu record
def test_the_readme_findings_are_written_from_todays_records():
    root = os.environ.get("POSE_DATA")
    if not root or not (Path(root) / "mpii" / "mpii_annotations.json.gz").is_file():
        pytest.skip("needs POSE_DATA (MPII annotations: the README's MI sentence reads them)")
    text = findings.README.read_text()
    block = findings.readme_block("cpu", data_root=root)
    assert findings.replace_block(text, block) == text, "README.md's findings are stale: run python -m lib.findings --readme"
