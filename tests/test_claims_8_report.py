"""The report's generated "So why L2?" answer and self-contained HTML (claim 8's own tests:
tests/test_claim8.py)."""

from __future__ import annotations

import dataclasses
import html.parser

import matplotlib
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments import statistics
from experiments.claims import report
from experiments.claims.section import Section

# --- the generated answer ------------------------------------------------------------------------


def _section(tmp_path, key, verdict, estimate=0.5, limits=""):
    (tmp_path / key).mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = tmp_path / key / "p.png"
    fig.savefig(path)
    plt.close(fig)
    return Section(key=key, title=key, claim=f"claim {key}", setup="s", rule="r",
                   verdict=verdict, findings="f", plots={"p": path},
                   tables={"t": pd.DataFrame({"a": [1.0]})},
                   key_numbers={"ratio": statistics.Interval(estimate, estimate - 0.01,
                                                             estimate + 0.01)},
                   limits=limits)


def test_answer_changes_with_verdicts_and_numbers(tmp_path):
    """Sections without the new fields (legacy): each sentence from the verdict, the first key
    number and the limits; flip a verdict and its sentence and the tally change."""
    sections = [_section(tmp_path, "claim1", "supported"),
                _section(tmp_path, "claim8", "supported", 0.501, "p = 2")]
    text = "\n".join(report.answer(sections, {"claim6": "module missing"}))
    assert ("[Claim 8](#claim8) **holds** (ratio 0.501 [0.491, 0.511]); it stops holding where "
            "p = 2.") in text
    assert "claim 6 did not run" in text  # the adaptive-α claim absent: said so, no error
    assert "2 hold, 0 hold only in part, 0 do not hold" in text
    flipped = [sections[0], dataclasses.replace(
        sections[1], verdict="refuted",
        key_numbers={"ratio": statistics.Interval(1.02, 0.99, 1.05)})]
    new = "\n".join(report.answer(flipped))
    assert "[Claim 8](#claim8) **does not hold** (ratio 1.02 [0.99, 1.05])" in new
    assert "0.501" not in new and new != text
    assert "1 holds, 0 hold only in part, 1 does not hold" in new


def test_report_starts_with_answer_then_verdict_table(tmp_path):
    sections = [_section(tmp_path, "claim8", "qualified", limits="p = 2"),
                _section(tmp_path, "claim1", "supported")]
    paths = report.write(sections, tmp_path, not_run={"claim6": "module missing"})
    md = paths["markdown"].read_text()
    assert md.index("## So why L2?") < md.index("| claim |") < md.index("## Claim 1")
    assert "**holds only in part**" in md and "| p = 2 |" in md
    assert "claim 6 did not run" in md and "| Claim 6 |" in md
    page = paths["html"].read_text()
    assert page.index("So why L2?</h2>") < page.index('<h2 id="claim1">')


class _Checker(html.parser.HTMLParser):
    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.refs, self.images, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for name in ("src", "href"):
            if name in attrs and tag != "img":
                self.refs.append(attrs[name])
        if tag == "link" or (tag == "script" and "src" in attrs):
            self.errors.append(f"external {tag}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def test_html_is_self_contained_and_balanced(tmp_path):
    sections = [_section(tmp_path, "claim8", "supported"), _section(tmp_path, "claim2", "refuted")]
    page = report.write(sections, tmp_path)["html"].read_text()
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert len(checker.images) == 2 and all(
        src.startswith("data:image/png;base64,") for src in checker.images)
    # Links are in-page anchors or the CSVs written next to the report (downloads, not needed to
    # render); nothing else is referenced.
    for ref in checker.refs:
        assert ref.startswith("#") or (tmp_path / ref).is_file(), ref
    assert "<style>" in page
