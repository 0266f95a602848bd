"""lib.present.style_verdicts: a claims table that reads at the book's width (issue 31 §4).

Few visible columns, the long ones folded into a ``<details>`` under the claim, words wrapping
whole, every text escaped.
"""

from __future__ import annotations

import re

import pandas as pd

from lib import present

CLAIMS = pd.DataFrame([
    {"id": "pbn-negative-transfer-upper", "paper": "PBN", "where": "Sec. 4.3, Fig. 5(a)",
     "claim": "Branches help when PCKh < 50", "paper says": "+1.2", "measured": "+0.5 [-0.3, +1.3]",
     "verdict": "inconclusive (W = 64 only: 1 of 4 widths)", "over training": "W=32: no record; W=64: flat",
     "why": "missing 21 runs on lspet", "our scale": "lspet, 64×64", "paper's scale": "mpii, 256×256"},
    {"id": "kpt-c-wrist", "paper": "KPTransfer", "where": "Table 4", "claim": "Transfer helps the wrists",
     "paper says": "84.0 vs 82.9", "measured": "", "verdict": "not tested", "over training": "", "why": "",
     "our scale": "", "paper's scale": ""},
])


def headers(html: str) -> list[str]:
    return re.findall(r'<th [^>]*class="col_heading[^"]*"[^>]*>([^<]*)</th>', html)


def test_claims_table_shows_five_columns_and_folds_the_long_ones():
    html = present.style_verdicts(CLAIMS, paper="PBN").to_html()
    assert headers(html) == ["claim", "paper says", "measured", "verdict", "over training"]
    assert '<div class="claim-ref"><b>pbn-negative-transfer-upper</b> · Sec. 4.3, Fig. 5(a)</div>' in html
    details = re.search(r"<details>.*?</details>", html).group(0)
    assert "<summary>why, our scale, paper&#x27;s scale</summary>" in details
    assert "missing 21 runs on lspet" in details and "mpii, 256×256" in details
    assert "PCKh &lt; 50" in html  # text is escaped: a "<" in a claim never opens a tag
    assert "no record<br>W=64: flat" in html  # one comparison a line
    assert present.VERDICT_COLOURS["inconclusive"] in html


def test_words_wrap_whole_and_widths_add_up():
    html = present.style_verdicts(CLAIMS, paper="PBN").to_html()
    cells = re.search(r"#T_\w+ td \{([^}]*)\}", html).group(1)
    assert "word-break: normal" in cells and "overflow-wrap: break-word" in cells and "anywhere" not in cells
    widths = [float(w) for w in re.findall(r"th\.col_heading\.col\d+ \{\s*width: ([\d.]+)%", html)]
    assert len(widths) == 5 and abs(sum(widths) - 100) < 0.5 and max(widths) == widths[0]  # the claim is widest
    assert "min-width" in html  # narrower than that, the output box scrolls instead of squeezing the table


def test_a_claim_with_nothing_to_fold_has_no_details_and_other_tables_keep_their_columns():
    html = present.style_verdicts(CLAIMS, paper="KPTransfer").to_html()
    assert "<details>" not in html and present.VERDICT_COLOURS["not tested"] in html
    rows = pd.DataFrame({"claim": ["pbn-vs-deep"], "comparison": ["W=64"], "estimate": [1.234], "low": [0.5],
                         "high": [2.0], "verdict": ["confirmed"]})
    html = present.style_verdicts(rows).to_html()
    assert headers(html) == ["claim", "comparison", "estimate", "low", "high", "verdict"]
    assert ">1.23<" in html and "<div>pbn-vs-deep</div>" in html


def test_a_verdict_on_runs_at_the_epoch_cap_says_so_in_its_cell():
    capped = CLAIMS.assign(why=["interval above 0; runs at the epoch cap: 6 of 6 ran all 24 epochs", ""])
    cells = present.claim_cells(capped)
    assert cells["verdict"].iloc[0].endswith(f'<div class="claim-ref">{present.EPOCH_CAP_SHORT}</div>')
    assert present.EPOCH_CAP_SHORT not in cells["verdict"].iloc[1]
    assert present.EPOCH_CAP_SHORT not in present.claim_cells(CLAIMS)["verdict"].iloc[0]


def test_show_escapes_text_cells():
    """A claim's direction ``A < B`` is text in the book's tables, not the start of a tag."""
    page = present.show(pd.DataFrame({"the paper": ["A < B"], "seeds": [3]})).to_html()
    assert "A &lt; B" in page and "A < B" not in page


def test_show_hides_a_default_index_but_keeps_a_meaningful_one():
    """0, 1, 2 beside a table's rows is noise; an index of names (experiments, splits) is its first column."""
    rows = pd.DataFrame({"experiment": ["pbn/deep", "pbn/linear"], "Mean": [43.0, 42.0]})
    assert 'class="row_heading' not in present.show(rows).to_html()
    named = present.show(rows.set_index("experiment")).to_html()
    assert 'class="row_heading' in named and "pbn/deep</th>" in named


def test_show_keeps_a_learning_rate_readable_at_any_precision():
    page = present.show(pd.DataFrame({"lr": [1e-3, 1e-4, 1e-5], "Mean": [40.0, 41.0, 42.0]}), precision=3).to_html()
    assert ">0.0001<" in page and ">1e-05<" in page and ">0.000<" not in page


def test_show_writes_losses_to_their_significant_digits():
    """The last epochs' training loss, 0.01412 then 0.01398, must not read 0.014 twice."""
    page = present.show(pd.DataFrame({"train_loss": [0.01412, 0.01398], "Mean": [40.0, 41.0]}), precision=3).to_html()
    assert ">1.412e-02<" in page and ">1.398e-02<" in page and ">40.000<" in page


def test_show_separates_the_thousands_of_large_integers():
    page = present.show(pd.DataFrame({"ours": [27216768], "images": [115200], "seeds": [6]})).to_html()
    assert ">27,216,768<" in page and ">115,200<" in page and ">6<" in page
