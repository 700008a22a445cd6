"""report.html in a real browser (headless Chromium; skipped only where none is installed, CI
installs it): the answer and the contents on the first screen, the contents still in view at
the bottom of the page, no element wider than the viewport (wide tables scroll in their box),
long run tables collapsed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments.claims import report
from experiments.claims.section import GuideRow, Section
from experiments.statistics import Interval

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
FIRST_SCREEN_PX = 1000

# Measured in the page once it has loaded, written into the DOM for --dump-dom to return: the
# answer's and the contents' tops, the widest layout, every element (outside a horizontal scroll
# box) that sticks out of the viewport, and the contents' position after scrolling to the end.
MEASURE = """
<script>
window.addEventListener("load", () => {
  const top = (el) => el.getBoundingClientRect().top + window.scrollY;
  const vw = document.documentElement.clientWidth;
  const nav = document.querySelector("nav.contents");
  const out = {
    viewport: vw, scrollWidth: document.documentElement.scrollWidth,
    answer: top(document.getElementById("so-why-l2")),
    bottomLine: top(document.querySelector("main ul li")),
    contents: top(nav), contentsLinks: nav.querySelectorAll("a").length,
    collapsed: document.querySelectorAll("details").length,
    wide: [],
  };
  for (const el of document.querySelectorAll("body *")) {
    if (el.parentElement.closest(".scroll")) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 1 || r.left < -1)) {
      out.wide.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  window.scrollTo(0, document.documentElement.scrollHeight);
  const after = nav.getBoundingClientRect();
  out.contentsAtEnd = [after.top, after.bottom, window.innerHeight];
  const pre = document.createElement("pre");
  pre.id = "measurements";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _plot(path):
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(np.arange(10), np.arange(10) ** 2)
    fig.savefig(path)
    plt.close(fig)
    return path


def _sections(tmp_path) -> list[Section]:
    """Nine sections shaped like the report's, one with a wide table and a long run table."""
    sections = []
    for n, key in enumerate(["claim1", "claim2", "claim3a", "claim3b", "claim4", "claim5",
                             "claim6", "claim7", "claim8"]):
        (tmp_path / key).mkdir()
        number = Interval(0.2 + n / 10, 0.1 + n / 10, 0.3 + n / 10)
        verdict = ("supported", "qualified", "refuted")[n % 3]
        sections.append(Section(
            key=key, title=f"the claim of {key}", claim=f"Claim {key} says something long. " * 3,
            setup="Setup " * 60, rule="Rule " * 40,
            verdict=verdict, findings="- finding\n" * 5,
            tables={"runs": pd.DataFrame({f"column_with_a_long_name_{i}": np.arange(60.0) / 7
                                          for i in range(30)}),
                    "comparison": pd.DataFrame({"arm": ["l2", "l1"]} | {
                        f"mse_at_learning_rate_{i}": [0.1, 0.2] for i in range(30)})},
            plots={"curve": _plot(tmp_path / key / "curve.png")},
            key_numbers={"ratio": number}, headline="ratio", units={"ratio": "ratio to OLS"},
            kind="theorem" if key in ("claim2", "claim3a", "claim8") else "empirical",
            part="penalty" if key.startswith(("claim3", "claim5", "claim7", "claim8"))
            else "loss",
            takeaway=f"In {key}, the ratio is {number} ({verdict}).",
            guide=[GuideRow(f"situation {key}", "Huber loss", f"{key}: ratio {number}")]))
    return sections


def _measure(page, width: int) -> dict:
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    out = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--virtual-time-budget=5000", f"--window-size={width},{FIRST_SCREEN_PX}", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measurements">(.*?)</pre>', out.stdout, re.S)
    assert found, (out.returncode, out.stderr[-2000:])
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed")
@pytest.mark.parametrize("width", [1280, 700])
def test_answer_and_contents_on_the_first_screen_nothing_wider_than_the_page(tmp_path, width):
    page = report.write(_sections(tmp_path), tmp_path, quick=True)["html"]
    m = _measure(page, width)
    assert m["answer"] < FIRST_SCREEN_PX and m["bottomLine"] < FIRST_SCREEN_PX, m
    assert m["contents"] < FIRST_SCREEN_PX and m["contentsLinks"] == 3 + 9, m
    top, bottom, height = m["contentsAtEnd"]
    assert -1 <= top < height and bottom > top, m  # the contents stay in view (sticky; the
    # page's last pixel row may leave it a sub-pixel above the top)
    assert m["scrollWidth"] <= m["viewport"] and not m["wide"], m
    assert m["collapsed"] == 9, m  # each 60-row run table in <details>; the 2-row (wide) open
