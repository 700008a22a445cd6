"""Write the evidence report: report.md, a self-contained report.html, and every table as CSV.

Layout of the workdir after `write(sections, workdir)`:
  report.md                 "So why L2?" (the generated answer, the verdict table), then one
                            section per claim (images linked)
  report.html               the same, self-contained: plots embedded as base64 PNG, inline CSS
  verdicts.csv              the "So why L2?" table
  provenance.json           versions, git commit, machine, command line, per-claim wall times
  <key>/<table>.csv         every table of every section
  <key>/<plot>.png          every plot (written by the claim itself)

Text fields of a Section are markdown of a small subset (paragraphs, "- " bullet lists, **bold**,
*italic*, `code`, [links](url)); `markdown_to_html` converts exactly that subset, so the HTML
needs no third-party markdown package.
"""

from __future__ import annotations

import base64
import html
import math
import pathlib
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from experiments import provenance, result_files
from experiments.claims.section import VERDICTS, Section

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
VERDICTS_CSV = "verdicts.csv"
SUMMARY_ANCHOR = "so-why-l2"
MAX_SHOWN_ROWS = 40  # longer tables are cut in the report (the CSV has every row)

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #222; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2.2em; }
blockquote { border-left: 4px solid #999; margin: 1em 0; padding: .2em 1em; color: #444;
             background: #f6f6f6; }
table { border-collapse: collapse; font-size: 0.82em; margin: .6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
table.verdicts td, table.verdicts th { text-align: left; vertical-align: top; }
code { background: #f0f0f0; padding: 0 3px; border-radius: 3px; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold;
           color: white; }
.supported { background: #2e7d32; } .qualified { background: #ef6c00; }
.refuted { background: #c62828; } .missing { background: #777; }
.note { color: #666; font-size: 0.9em; }
"""


# --- formatting ---------------------------------------------------------------------------------


def format_value(value) -> str:
    """Compact cell text: floats to 4 significant digits, bools as yes/no, NaN as '—'."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.4g}"
    return str(value)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of `df` (index dropped), cells via format_value."""
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = [
        "| " + " | ".join(format_value(v).replace("|", "\\|") for v in row) + " |"
        for row in df.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_INLINE = [  # applied after code spans are set aside
    (re.compile(r"\*\*(.+?)\*\*"), lambda m: f"<strong>{m.group(1)}</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), lambda m: f"<em>{m.group(1)}</em>"),
    (
        re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"),
        lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>',
    ),
]


def _inline_html(text: str) -> str:
    # Code spans first, protected from the other rules by placeholders.
    codes: list[str] = []

    def stash(m):
        codes.append(m.group(1))
        return f"\x00{len(codes) - 1}\x00"

    text = re.sub(r"`([^`]+)`", stash, html.escape(text, quote=False))
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", text)


def markdown_to_html(text: str) -> str:
    """Paragraphs, '- ' bullet lists and inline **bold**, *italic*, `code`, [text](url)."""
    out, paragraph, items = [], [], []

    def flush():
        if paragraph:
            out.append(f"<p>{_inline_html(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("- "):
            if paragraph:
                flush()
            items.append(stripped[2:])
        elif items and line.startswith("  "):
            items[-1] += " " + stripped  # continuation of a bullet
        else:
            if items:
                flush()
            paragraph.append(stripped)
    flush()
    return "\n".join(out)


def claim_number(key: str) -> str:
    """'claim3b' -> '3b'."""
    return key.removeprefix("claim") or key


# --- the report ---------------------------------------------------------------------------------


def key_number_text(section: Section) -> str:
    """The section's key numbers, each with its interval ('name 0.5 [0.48, 0.52]'), or its
    generated summary sentence when it has none."""
    if section.key_numbers:
        return "; ".join(f"{name.replace('_', ' ')} {iv.format('.3g')}"
                         for name, iv in section.key_numbers.items())
    return section.summary


def verdict_table(
    sections: Sequence[Section], not_run: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per claim: number, statement, verdict, key number ± interval, where it stops
    holding, link (claims not run noted)."""
    rows = [
        {"claim": f"Claim {claim_number(s.key)}", "statement": s.claim, "verdict": s.verdict,
         "in_numbers": key_number_text(s), "stops_holding": s.limits, "section": f"#{s.key}",
         "key": s.key}
        for s in sections
    ]
    for key, reason in (not_run or {}).items():
        rows.append({"claim": f"Claim {claim_number(key)}", "statement": "", "verdict":
                     f"not run ({reason})", "in_numbers": "", "stops_holding": "",
                     "section": "", "key": key})
    columns = ["claim", "statement", "verdict", "in_numbers", "stops_holding", "section", "key"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("key", key=lambda k: k.map(_sort_key)).reset_index(drop=True)


def _sort_key(key: str):
    digits = re.sub(r"\D", "", key)
    return (int(digits) if digits else 10**6, key)


# The "So why L2?" answer: which claim speaks to which reason. Each entry: (claim keys, what the
# claim would establish). The sentences are generated from the sections' verdicts and key numbers.
WHY_DEFAULT = (
    (("claim1",), "it is smooth, so gradient training with it is stable"),
    (("claim2",), "minimizing it is least squares, the Gaussian maximum-likelihood fit and the "
                  "best linear unbiased estimator"),
    (("claim3a", "claim3"), "an L2 penalty is a Gaussian prior with a closed-form MAP estimate"),
    (("claim5",), "an L2 penalty combines with any loss"),
)
WHEN_WRONG = (
    (("claim8",), "biased shrinkage (ridge at the Bayes λ, James–Stein) beats unbiased least "
                  "squares in parameter error"),
    (("claim2",), "under heavy tails and outliers, nonlinear robust fits (L1, Huber) beat least "
                  "squares, which Gauss-Markov does not cover"),
    (("claim4",), "for classification, cross-entropy rather than squared error is the loss"),
    (("claim3b",), "with adaptive optimizers an L2 penalty is not decoupled weight decay"),
    (("claim7",), "on sparse truths an L1 penalty (a Laplace prior) beats L2"),
)
DATA_PICKS = (("claim6",), "fitting the loss's shape (Barron's adaptive α) picks squared error "
                           "under Gaussian noise and a heavier-tailed loss otherwise")
VERDICT_PHRASE = {"supported": "holds", "qualified": "holds only in part",
                  "refuted": "does not hold"}


def _find(sections: Sequence[Section], keys: Sequence[str]) -> Section | None:
    by_key = {s.key: s for s in sections}
    return next((by_key[k] for k in keys if k in by_key), None)


def _answer_sentence(sections: Sequence[Section], keys: Sequence[str], reason: str) -> str:
    s = _find(sections, keys)
    if s is None:
        return f"That {reason} was not tested in this run (Claim {claim_number(keys[0])} not run)."
    numbers = key_number_text(s).rstrip(".")
    limits = f" It stops holding where {s.limits.rstrip('.')}." if s.limits else ""
    return (f"That {reason}: [Claim {claim_number(s.key)}](#{s.key}) "
            f"**{VERDICT_PHRASE[s.verdict]}**" + (f" ({numbers})." if numbers else ".") + limits)


def answer(sections: Sequence[Section]) -> list[str]:
    """The 'So why L2?' answer in markdown lines, generated from the sections' verdicts, key
    numbers and limits; a claim that did not run is said to be untested."""
    held = [s for s in sections if s.verdict == "supported"]
    lines = [
        f"Squared error and the L2 penalty are the defaults because of the reasons below; "
        f"{len(held)} of the {len(sections)} claims tested here hold outright, each verdict "
        "computed from its section's tables by the rule stated there.",
        "",
        "**Why it is the default.**",
        "",
        *[f"- {_answer_sentence(sections, k, r)}" for k, r in WHY_DEFAULT],
        "",
        "**When it is the wrong choice.**",
        "",
        *[f"- {_answer_sentence(sections, k, r)}" for k, r in WHEN_WRONG],
        "",
        "**What the data picks when asked.**",
        "",
        f"- {_answer_sentence(sections, *DATA_PICKS)}",
    ]
    return lines


def _write_tables(section: Section, workdir: pathlib.Path) -> dict[str, pathlib.Path]:
    paths = {}
    for name, table in section.tables.items():
        if not isinstance(table, pd.DataFrame):
            raise ValueError(
                f"section {section.key}: table {name!r} is a {type(table).__name__}, "
                "not a pandas DataFrame"
            )
        path = workdir / section.key / f"{name}.csv"
        result_files.atomic_write(path, lambda p, t=table: t.to_csv(p, index=False))
        paths[name] = path
    return paths


def _shown(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if len(table) <= MAX_SHOWN_ROWS:
        return table, ""
    return table.head(MAX_SHOWN_ROWS), (
        f"first {MAX_SHOWN_ROWS} of {len(table)} rows; the CSV has all of them"
    )


def _relative(path: pathlib.Path, workdir: pathlib.Path) -> str:
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def render_markdown(
    sections: Sequence[Section], workdir: pathlib.Path, header: Mapping[str, str],
    verdicts: pd.DataFrame,
) -> str:
    parts = [f"# {header['title']}", "", header["intro"], ""]
    parts += [
        f'<a id="{SUMMARY_ANCHOR}"></a>',
        "",
        "## So why L2?",
        "",
        *answer(sections),
        "",
        markdown_table(
            verdicts.assign(
                claim=[f"[{c}]({s})" if s else c
                       for c, s in zip(verdicts["claim"], verdicts["section"], strict=True)]
            )[["claim", "statement", "verdict", "in_numbers", "stops_holding"]].rename(
                columns={"in_numbers": "key number [95% interval]",
                         "stops_holding": "where it stops holding"}
            )
        ),
        "",
        f"CSV: [{VERDICTS_CSV}]({VERDICTS_CSV})",
        "",
    ]
    parts += ["**Contents:** " + " · ".join(
        [f"[So why L2?](#{SUMMARY_ANCHOR})"]
        + [f"[Claim {claim_number(s.key)}](#{s.key})" for s in sections]
    ), ""]
    for s in sections:
        parts += [
            f'<a id="{s.key}"></a>',
            "",
            f"## Claim {claim_number(s.key)}: {s.title}",
            "",
            f"> {s.claim}",
            "",
            f"**Verdict: {s.verdict}**",
            "",
            "### Setup",
            "",
            s.setup,
            "",
            "### Verdict rule",
            "",
            s.rule,
            "",
            "### Findings",
            "",
            s.findings,
            "",
        ]
        for name, table in s.tables.items():
            shown, note = _shown(table)
            parts += [f"#### {name}", "", markdown_table(shown), ""]
            csv = f"{s.key}/{name}.csv"
            parts += [f"CSV: [{csv}]({csv})" + (f" ({note})" if note else ""), ""]
        for name, path in s.plots.items():
            parts += [f"![{name}]({_relative(path, workdir)})", ""]
    parts += [header["footer"], ""]
    return "\n".join(parts)


def _image_html(path: pathlib.Path, name: str) -> str:
    data = base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"></figure>'


def render_html(
    sections: Sequence[Section], header: Mapping[str, str], verdicts: pd.DataFrame
) -> str:
    body = [f"<h1>{html.escape(header['title'])}</h1>", markdown_to_html(header["intro"])]
    rows = "".join(
        "<tr>"
        + (f'<td><a href="{r.section}">{html.escape(r.claim)}</a></td>' if r.section
           else f"<td>{html.escape(r.claim)}</td>")
        + f"<td>{_inline_html(r.statement)}</td>"
        + (f'<td><span class="verdict {r.verdict}">{r.verdict}</span></td>' if r.verdict in
           VERDICTS else f'<td><span class="verdict missing">{html.escape(r.verdict)}</span></td>')
        + f"<td>{_inline_html(r.in_numbers)}</td><td>{_inline_html(r.stops_holding)}</td>"
        + "</tr>"
        for r in verdicts.itertuples(index=False)
    )
    body += [
        f'<h2 id="{SUMMARY_ANCHOR}">So why L2?</h2>',
        markdown_to_html("\n".join(answer(sections))),
        '<table class="verdicts"><thead><tr><th>claim</th><th>statement</th><th>verdict</th>'
        "<th>key number [95% interval]</th><th>where it stops holding</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>",
        f'<p class="note">CSV: <a href="{VERDICTS_CSV}">{VERDICTS_CSV}</a></p>',
    ]
    links = [f'<a href="#{SUMMARY_ANCHOR}">So why L2?</a>']
    links += [f'<a href="#{s.key}">Claim {claim_number(s.key)}</a>' for s in sections]
    body.append("<p><strong>Contents:</strong> " + " · ".join(links) + "</p>")
    for s in sections:
        body += [
            f'<h2 id="{s.key}">Claim {claim_number(s.key)}: {html.escape(s.title)}</h2>',
            f"<blockquote>{_inline_html(s.claim)}</blockquote>",
            f'<p>Verdict: <span class="verdict {s.verdict}">{s.verdict}</span></p>',
            "<h3>Setup</h3>", markdown_to_html(s.setup),
            "<h3>Verdict rule</h3>", markdown_to_html(s.rule),
            "<h3>Findings</h3>", markdown_to_html(s.findings),
        ]
        for name, table in s.tables.items():
            shown, note = _shown(table)
            csv = f"{s.key}/{name}.csv"
            body += [
                f"<h4>{html.escape(name)}</h4>", html_table(shown),
                f'<p class="note">CSV: <a href="{csv}">{csv}</a>'
                + (f" ({html.escape(note)})" if note else "") + "</p>",
            ]
        for name, path in s.plots.items():
            body.append(_image_html(path, name))
    body.append(markdown_to_html(header["footer"]))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(header['title'])}</title><style>{_CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write(
    sections: Sequence[Section],
    workdir: str | pathlib.Path,
    *,
    quick: bool = False,
    wall_times: Mapping[str, float] | None = None,
    not_run: Mapping[str, str] | None = None,
) -> dict[str, pathlib.Path]:
    """Write tables (CSV), report.md, report.html, verdicts.csv and provenance.json; return paths.

    `wall_times`: seconds per claim key (shown in the footer); `not_run`: claim key -> reason,
    listed in the verdict table without a verdict.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for s in sections:
        if s.verdict not in VERDICTS:  # Section checks this too; a report must never show others
            raise ValueError(f"section {s.key}: verdict {s.verdict!r} not in {VERDICTS}")
        for name, path in s.plots.items():
            if not pathlib.Path(path).is_file():
                raise ValueError(f"section {s.key}: plot {name!r} has no file at {path}")
    paths: dict[str, pathlib.Path] = {}
    for s in sections:
        for name, path in _write_tables(s, workdir).items():
            paths[f"{s.key}/{name}"] = path

    verdicts = verdict_table(sections, not_run)
    result_files.atomic_write(
        workdir / VERDICTS_CSV, lambda p: verdicts.drop(columns="key").to_csv(p, index=False)
    )
    record = provenance.record()
    record.update(quick=quick, wall_times_s=dict(wall_times or {}), not_run=dict(not_run or {}))
    result_files.write_json(workdir / "provenance.json", record)

    command = "python -m experiments.claims --workdir=" + workdir.as_posix() + (
        " --quick" if quick else "")
    times = ", ".join(f"{k} {v:.0f} s" for k, v in (wall_times or {}).items())
    git = record.get("git", {}) or {}
    header = {
        "title": "losslab evidence report: why L2?" + (" (quick sizes)" if quick else ""),
        "intro": (
            "Common claims about why squared error is the default loss and L2 the default "
            "regularizer, each tested by an experiment that runs in losslab's engine and checked "
            "against closed forms or reference implementations. Every verdict is computed from "
            "the section's tables by the rule the section states before its numbers; every "
            "table is also a CSV next to this report and every plot a PNG."
            + (" **Quick sizes**: smaller sweeps for a smoke test; use the default sizes for "
               "the numbers to quote." if quick else "")
        ),
        "footer": (
            f"Generated by `{command}` at {record.get('created', '')} (git commit "
            f"`{str(git.get('commit') or 'unknown')[:12]}`"
            f"{', uncommitted changes' if git.get('dirty') else ''}). "
            + (f"Wall time per claim: {times}. " if times else "")
            + "Versions, machine and command line: `provenance.json`."
        ),
    }
    md = render_markdown(sections, workdir, header, verdicts)
    result_files.atomic_write(workdir / REPORT_MD, lambda p: p.write_text(md, encoding="utf-8"))
    page = render_html(sections, header, verdicts)
    result_files.atomic_write(workdir / REPORT_HTML, lambda p: p.write_text(page, encoding="utf-8"))
    paths.update(
        markdown=workdir / REPORT_MD, html=workdir / REPORT_HTML,
        verdicts=workdir / VERDICTS_CSV, provenance=workdir / "provenance.json",
    )
    return paths
