import pandas as pd

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
    assert "Not yet measured at this profile: Overlapping groups (no record)" in text


def test_no_measured_claim_says_so():
    rows = pd.DataFrame(columns=["claim", "seeds"])
    text = findings.findings_markdown(_table("no record", ""), rows, "book")
    assert text.startswith("* No main result has records at this profile yet.")
