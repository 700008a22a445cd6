"""Write the evidence report: report.md, a self-contained report.html, and every table as CSV.

Layout of the workdir after `write(sections, workdir)`:
  report.md                 contents, then "So why L2?" (the generated answer of answer.py: bottom
                            line, decision guide, verdict table), then one section per claim
  report.html               the same as a document to share: contents in a side bar that stays in
                            view, plots embedded as base64 PNG, inline CSS, long tables collapsed
                            (<details>), wide tables scrolling inside their box
  verdicts.csv              one row per claim: text columns and the headline number as numeric
                            columns (estimate, low, high, unit), part and kind
  provenance.json           versions, git commit, machine, command line, per-claim wall times (a
                            re-render keeps it and appends to its `rerenders` list)
  <key>/<table>.csv         every table of every section
  <key>/<plot>.png          every plot (written by the claim itself)

The report is rendered from a list of blocks (`document`), once as markdown and once as HTML, so
the two never disagree. Its footer (creation time, wall times, command) comes from the
provenance record, so `--rerender` writes a report.md byte-identical to the run's.

Text fields of a Section are markdown of a small subset (paragraphs, "- " bullet lists, **bold**,
*italic*, `code`, [links](url)); `markdown_to_html` converts exactly that subset, so the HTML
needs no third-party markdown package.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import pathlib
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from absl import logging

from experiments import result_files
from experiments.claims import answer as answer_lib
from experiments.claims import claim_tables
from experiments.claims.answer import VERDICT_PHRASE, claim_number  # noqa: F401 (report's API)
from experiments.claims.section import PARTS, VERDICTS, Section

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
VERDICTS_CSV = "verdicts.csv"
PROVENANCE_JSON = "provenance.json"
SUMMARY_ANCHOR = "so-why-l2"
MAX_SHOWN_ROWS = 40  # longer tables are cut in the report (the CSV has every row)
COLLAPSE_ROWS = 12  # a run table longer than this is collapsed (<details>): the prose comes first

_CSS = """
* { box-sizing: border-box; }
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0;
       line-height: 1.45; color: #222; }
nav.contents { position: sticky; top: 0; z-index: 1; background: #fafafa;
               border-bottom: 1px solid #ddd; padding: .4em 1em; font-size: .9em;
               max-height: 35vh; overflow-y: auto; }
nav.contents ol { margin: .2em 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap;
                  gap: .1em 1.2em; }
nav.contents a { text-decoration: none; }
main { width: 100%; max-width: 1100px; margin: 0 auto; padding: 0 1em 2em; min-width: 0; }
@media (min-width: 1000px) {
  body { display: grid; grid-template-columns: 16em minmax(0, 1fr); }
  nav.contents { height: 100vh; max-height: none; border-bottom: none; align-self: start;
                 border-right: 1px solid #ddd; }
  nav.contents ol { display: block; }
}
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; margin-top: .6em; font-size: 1.7em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
p, li, blockquote { overflow-wrap: anywhere; }
td, th { overflow-wrap: break-word; }
blockquote { border-left: 4px solid #999; margin: 1em 0; padding: .2em 1em; color: #444;
             background: #f6f6f6; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.82em; margin: .6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
table.prose td, table.prose th { text-align: left; vertical-align: top; }
details { margin: .4em 0 1em; } summary { cursor: pointer; color: #333; }
code { background: #f0f0f0; padding: 0 3px; border-radius: 3px; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; margin: .5em 0; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 4px; font-weight: bold;
           color: white; white-space: nowrap; }
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


# --- the document: blocks rendered once as markdown, once as HTML -------------------------------


@dataclasses.dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclasses.dataclass(frozen=True)
class Prose:
    """Markdown text (the subset markdown_to_html converts)."""

    text: str


@dataclasses.dataclass(frozen=True)
class Quote:
    text: str


@dataclasses.dataclass(frozen=True)
class Badge:
    """'Verdict: supported', coloured in the HTML."""

    verdict: str


@dataclasses.dataclass(frozen=True)
class Table:
    """A table; `markdown_cells`: cells are markdown (the answer's tables), else values shown
    via format_value; `csv`: the CSV beside the report that holds every row; tables longer than
    COLLAPSE_ROWS are collapsed under `name`."""

    frame: pd.DataFrame
    name: str = ""
    csv: str = ""
    markdown_cells: bool = False


@dataclasses.dataclass(frozen=True)
class Image:
    name: str
    path: pathlib.Path


def answer(sections: Sequence[Section], not_run: Mapping[str, str] | None = None) -> list[str]:
    """The "So why L2?" answer as markdown lines: the bottom line, then the decision guide (one
    table per part); the verdict table follows it in the report."""
    return "\n".join(_markdown(_answer_blocks(sections, not_run))).splitlines()


def _answer_blocks(sections: Sequence[Section], not_run: Mapping[str, str] | None) -> list:
    blocks = [Prose("**Bottom line.**\n\n" + "\n".join(
        f"- {sentence}" for sentence in answer_lib.bottom_line(sections, not_run)))]
    blocks.append(Heading(3, "Decision guide", "decision-guide"))
    for part in PARTS:
        blocks.append(Heading(4, f"When to use {answer_lib.PART_NAME[part]}"))
        guide = answer_lib.guide_table(sections, part)
        blocks.append(Table(guide, markdown_cells=True) if len(guide) else Prose(
            f"No claim about {answer_lib.PART_NAME[part]} supplies a decision-guide row in "
            "this run."))
    return blocks


def _section_blocks(section: Section) -> list:
    blocks = [
        Heading(2, f"Claim {claim_number(section.key)}: {section.title}", section.key),
        Quote(section.claim), Badge(section.verdict),
        *([Prose(f"**In one sentence:** {section.takeaway}")] if section.takeaway else []),
        Prose(f"*About {answer_lib.PART_NAME[section.part]}; "
              + ("a theorem checked numerically" if section.kind == "theorem"
                 else "an empirical claim") + ".*"),
        Heading(3, "Setup"), Prose(section.setup),
        Heading(3, "Verdict rule"), Prose(section.rule),
        Heading(3, "Findings"), Prose(section.findings),
    ]
    blocks += [Table(table, name, f"{section.key}/{name}.csv")
               for name, table in section.tables.items()]
    blocks += [Image(name, pathlib.Path(path)) for name, path in section.plots.items()]
    return blocks


def document(sections: Sequence[Section], header: Mapping[str, str], verdicts: pd.DataFrame,
             not_run: Mapping[str, str] | None = None) -> list:
    """The whole report as blocks: intro, the answer, the verdict table, one part per claim,
    the footer (the title and the contents are drawn by each renderer)."""
    blocks = [Prose(header["intro"]), Heading(2, "So why L2?", SUMMARY_ANCHOR)]
    blocks += _answer_blocks(sections, not_run)
    blocks += [Heading(3, "Verdicts", "verdicts"),
               Table(answer_lib.shown_verdicts(verdicts), csv=VERDICTS_CSV, markdown_cells=True)]
    for section in sections:
        blocks += _section_blocks(section)
    return [*blocks, Prose(header["footer"])]


def contents(sections: Sequence[Section]) -> list[tuple[str, str]]:
    """(anchor, label) of the contents: the answer and its parts, then each claim with its
    verdict."""
    return [(SUMMARY_ANCHOR, "So why L2?"), ("decision-guide", "Decision guide"),
            ("verdicts", "Verdicts")] + [
        (s.key, f"Claim {claim_number(s.key)}: {s.verdict}") for s in sections]


def _shown(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if len(table) <= MAX_SHOWN_ROWS:
        return table, ""
    return table.head(MAX_SHOWN_ROWS), (
        f"first {MAX_SHOWN_ROWS} of {len(table)} rows; the CSV has all of them"
    )


def _markdown_block(block, workdir: pathlib.Path | None) -> list[str]:
    if isinstance(block, Heading):
        anchor = [f'<a id="{block.anchor}"></a>', ""] if block.anchor else []
        return [*anchor, "#" * block.level + " " + block.text]
    if isinstance(block, Prose):
        return [block.text]
    if isinstance(block, Quote):
        return [f"> {block.text}"]
    if isinstance(block, Badge):
        return [f"**Verdict: {block.verdict}**"]
    if isinstance(block, Image):
        path = _relative(block.path, workdir) if workdir else block.path.as_posix()
        return [f"![{block.name}]({path})"]
    return _markdown_table_block(block)


def _markdown_table_block(block: Table) -> list[str]:
    shown, note = _shown(block.frame)
    table = (_markdown_cells_table(shown) if block.markdown_cells else markdown_table(shown))
    csv = (["", f"CSV: [{block.csv}]({block.csv})" + (f" ({note})" if note else "")]
           if block.csv else [])
    if len(block.frame) <= COLLAPSE_ROWS:
        return ([f"#### {block.name}", ""] if block.name else []) + [table, *csv]
    # GitHub renders markdown inside <details> when blank lines surround it.
    return [f"<details><summary>{block.name} ({len(block.frame)} rows)</summary>", "", table,
            *csv, "", "</details>"]


def _markdown_cells_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _markdown(blocks: Sequence, workdir: pathlib.Path | None = None) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        lines += [*_markdown_block(block, workdir), ""]
    return lines[:-1]


def render_markdown(sections: Sequence[Section], workdir: pathlib.Path,
                    header: Mapping[str, str], verdicts: pd.DataFrame,
                    not_run: Mapping[str, str] | None = None) -> str:
    links = " · ".join(f"[{label}](#{anchor})" for anchor, label in contents(sections))
    lines = [f"# {header['title']}", "", f"**Contents:** {links}", ""]
    lines += _markdown(document(sections, header, verdicts, not_run), workdir)
    return "\n".join(lines) + "\n"


def _badge_html(verdict: str) -> str:
    css = verdict if verdict in VERDICTS else "missing"
    return f'<span class="verdict {css}">{html.escape(verdict)}</span>'


def _html_cells_table(df: pd.DataFrame) -> str:
    """A table whose cells are markdown; a 'verdict' column shows coloured badges."""
    def cell(column, value):
        return _badge_html(value) if column == "verdict" and value else _inline_html(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(c, v)}</td>" for c, v in zip(df.columns, row,
                                                                                strict=True))
                   + "</tr>" for row in df.itertuples(index=False))
    return f'<table class="prose"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _html_table_block(block: Table) -> str:
    shown, note = _shown(block.frame)
    table = _html_cells_table(shown) if block.markdown_cells else html_table(shown)
    parts = [f'<div class="scroll">{table}</div>']
    if block.csv:
        parts.append(f'<p class="note">CSV: <a href="{block.csv}">{block.csv}</a>'
                     + (f" ({html.escape(note)})" if note else "") + "</p>")
    if len(block.frame) <= COLLAPSE_ROWS:
        return (f"<h4>{html.escape(block.name)}</h4>" if block.name else "") + "".join(parts)
    return (f"<details><summary>{html.escape(block.name)} ({len(block.frame)} rows)</summary>"
            + "".join(parts) + "</details>")


def _html_block(block) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{block.anchor}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_inline_html(block.text)}</h{block.level}>"
    if isinstance(block, Prose):
        return markdown_to_html(block.text)
    if isinstance(block, Quote):
        return f"<blockquote>{_inline_html(block.text)}</blockquote>"
    if isinstance(block, Badge):
        return f"<p>Verdict: {_badge_html(block.verdict)}</p>"
    if isinstance(block, Image):
        return _image_html(block.path, block.name)
    return _html_table_block(block)


def render_html(sections: Sequence[Section], header: Mapping[str, str], verdicts: pd.DataFrame,
                not_run: Mapping[str, str] | None = None) -> str:
    items = "".join(f'<li><a href="#{anchor}">{html.escape(label)}</a></li>'
                    for anchor, label in contents(sections))
    nav = f'<nav class="contents"><strong>Contents</strong><ol>{items}</ol></nav>'
    body = [f"<h1>{html.escape(header['title'])}</h1>"]
    body += [_html_block(b) for b in document(sections, header, verdicts, not_run)]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(header['title'])}</title><style>{_CSS}</style></head>"
        f"<body>\n{nav}\n<main>\n" + "\n".join(body) + "\n</main>\n</body></html>\n"
    )


def _relative(path: pathlib.Path, workdir: pathlib.Path) -> str:
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _image_html(path: pathlib.Path, name: str) -> str:
    data = base64.b64encode(pathlib.Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}"></figure>'


# --- writing ------------------------------------------------------------------------------------


def _write_tables(section: Section, workdir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Each table as <key>/<name>.csv. A table that compute saved under that name (the claim's
    manifest lists it) is never replaced: it must be the same bytes, or this is an error."""
    outdir = workdir / section.key
    manifest = outdir / claim_tables.MANIFEST
    computed = set(claim_tables.names(outdir)) if manifest.is_file() else set()
    paths = {}
    for name, table in section.tables.items():
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"section {section.key}: table {name!r} is a "
                             f"{type(table).__name__}, not a pandas DataFrame")
        path = outdir / f"{name}.csv"
        if name in computed:
            if path.read_text(encoding="utf-8") != table.to_csv(index=False):
                raise ValueError(f"section {section.key}: table {name!r} differs from the "
                                 f"computed table {path} it would replace; rename it")
        else:
            result_files.atomic_write(path, lambda p, t=table: t.to_csv(p, index=False))
        paths[name] = path
    return paths


def _claim_key(section_key: str) -> str:
    """'claim3b' -> 'claim3': the claim (module) a section belongs to."""
    return re.sub(r"(?<=\d)[a-z]$", "", section_key)


def _check(sections: Sequence[Section]) -> None:
    for s in sections:
        if s.verdict not in VERDICTS:  # Section checks this too; a report must never show others
            raise ValueError(f"section {s.key}: verdict {s.verdict!r} not in {VERDICTS}")
        for name, path in s.plots.items():
            if not pathlib.Path(path).is_file():
                raise ValueError(f"section {s.key}: plot {name!r} has no file at {path}")


def run_record(workdir: pathlib.Path, *, quick: bool, claims: Sequence[str],
               wall_times: Mapping[str, float] | None, not_run: Mapping[str, str] | None,
               workers: int = 1) -> dict:
    """The provenance record of a run (imports JAX: it names the backend), with what the report's
    footer needs so a re-render can reproduce it (`workers`: claims computed side by side)."""
    from experiments import provenance  # JAX: only a run needs it, never a re-render

    record = provenance.record()
    record.update(
        quick=quick, claims=list(claims), wall_times_s=dict(wall_times or {}),
        not_run=dict(not_run or {}), workers=int(workers),
        command="python -m experiments.claims --workdir=" + workdir.as_posix()
        + (" --quick" if quick else ""))
    return record


def _side_by_side(record: Mapping) -> str:
    workers = int(record.get("workers") or 1)
    return f" ({workers} claims computed side by side)" if workers > 1 else ""


def header_of(record: Mapping, rendered: Sequence[str]) -> dict[str, str]:
    """Title, intro and footer, from the provenance record alone (so a re-render matches);
    wall times of the `rendered` claim keys only."""
    quick = bool(record.get("quick"))
    git = record.get("git", {}) or {}
    times = ", ".join(f"{k} {v:.0f} s" for k, v in (record.get("wall_times_s") or {}).items()
                      if k in rendered)
    return {
        "title": "losslab evidence report: why L2?" + (" (quick sizes)" if quick else ""),
        "intro": (
            "Common claims about why squared error is the default loss and L2 the default "
            "regularizer, each tested by an experiment in losslab's engine; every verdict is "
            "computed from its section's tables by the rule the section states before its "
            "numbers, and every table is also a CSV beside this report."
            + (" **Quick sizes**: a smoke test; quote the default sizes' numbers."
               if quick else "")
        ),
        "footer": (
            f"Computed by `{record.get('command', 'python -m experiments.claims')}` at "
            f"{record.get('created', '')} (git commit "
            f"`{str(git.get('commit') or 'unknown')[:12]}`"
            f"{', uncommitted changes' if git.get('dirty') else ''}). "
            + (f"Wall time per claim{_side_by_side(record)}: {times}. " if times else "")
            + "Versions, machine and command line: `provenance.json`."
        ),
    }


def write(
    sections: Sequence[Section],
    workdir: str | pathlib.Path,
    *,
    quick: bool = False,
    wall_times: Mapping[str, float] | None = None,
    not_run: Mapping[str, str] | None = None,
    claims: Sequence[str] | None = None,
    record: Mapping | None = None,
    workers: int = 1,
) -> dict[str, pathlib.Path]:
    """Write tables (CSV), report.md, report.html, verdicts.csv and provenance.json; return paths.

    `wall_times`: seconds per claim key (shown in the footer, with `workers`, the claims computed
    side by side); `not_run`: claim key -> reason,
    listed in the verdict table without a verdict; `claims`: the claim keys the run selected
    (default: those of the sections and of not_run). `record`: a re-render passes the run's
    provenance record (the footer comes from it; `quick` and `wall_times` are then ignored) and
    the caller keeps provenance.json; otherwise a new record is made and written.
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _check(sections)
    paths: dict[str, pathlib.Path] = {}
    for s in sections:
        for name, path in _write_tables(s, workdir).items():
            paths[f"{s.key}/{name}"] = path
    verdicts = answer_lib.verdict_table(sections, not_run)
    result_files.atomic_write(
        workdir / VERDICTS_CSV, lambda p: verdicts.drop(columns="key").to_csv(p, index=False))
    if record is None:
        if claims is None:
            claims = list(dict.fromkeys([*(_claim_key(s.key) for s in sections),
                                         *(not_run or {})]))
        record = run_record(workdir, quick=quick, claims=claims,
                            wall_times=wall_times, not_run=not_run, workers=workers)
        result_files.write_json(workdir / PROVENANCE_JSON, record)
    header = header_of(record, [_claim_key(s.key) for s in sections])
    md = render_markdown(sections, workdir, header, verdicts, not_run)
    said_twice = answer_lib.repeated_sentences(
        md[md.index("## So why L2?"):md.index(f"CSV: [{VERDICTS_CSV}]")].splitlines())
    if said_twice:  # a claim's takeaway or guide row repeats another's: its helper should know
        logging.warning("report: the answer says %d sentence(s) twice, e.g. %r",
                        len(said_twice), said_twice[0])
    result_files.atomic_write(workdir / REPORT_MD, lambda p: p.write_text(md, encoding="utf-8"))
    page = render_html(sections, header, verdicts, not_run)
    result_files.atomic_write(workdir / REPORT_HTML, lambda p: p.write_text(page, encoding="utf-8"))
    paths.update(markdown=workdir / REPORT_MD, html=workdir / REPORT_HTML,
                 verdicts=workdir / VERDICTS_CSV, provenance=workdir / PROVENANCE_JSON)
    return paths
