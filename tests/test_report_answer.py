"""The report's generated answer ("So why L2?"): bottom line, decision guide, verdict table,
verdicts.csv's numeric columns; all from hand-made Sections (no training)."""

from __future__ import annotations

import pandas as pd

from experiments.claims import answer, report
from experiments.claims.section import GuideRow, Section
from experiments.statistics import Interval


def _section(key, verdict="supported", *, kind="empirical", part="loss", estimate=0.5,
             headline="ratio", takeaway=None, guide=(), summary="", limits=""):
    numbers = {"ratio": Interval(estimate, estimate - 0.01, estimate + 0.01)}
    return Section(
        key=key, title=f"title {key}", claim=f"Claim text of {key}.", setup="s", rule="r",
        verdict=verdict, findings="f", summary=summary, limits=limits, key_numbers=numbers,
        kind=kind, part=part, headline=headline, units={"ratio": "ratio to OLS"},
        takeaway=(f"For {key}, the ratio is {numbers['ratio']} ({verdict})."
                  if takeaway is None else takeaway),
        guide=list(guide))


def _sentences(lines) -> list[str]:
    return answer.sentences(lines)


def test_heavy_tails_sentence_does_not_repeat_claim2_blue_verdict():
    """Regression (issue 28): the heavy-tails bullet reused claim 2's BLUE verdict and numbers,
    repeating the bullet above it word for word."""
    blue = Section(key="claim2", title="Gauss-Markov", claim="Least squares is BLUE.", setup="s",
                   rule="r", verdict="supported", findings="f",
                   key_numbers={"mse_fit_minus_lstsq": Interval(8e-8, 0.0, 1e-7)})
    text = "\n".join(report.answer([blue]))
    assert text.count("8e-08") == 1, text
    sentences = _sentences(report.answer([blue]))
    assert len(sentences) == len(set(sentences)), sentences


def _nine(**flips):
    """Nine sections shaped like the report's: theorems 2, 3a, 8; the rest empirical."""
    spec = {"claim1": ("empirical", "loss"), "claim2": ("theorem", "loss"),
            "claim3a": ("theorem", "penalty"), "claim3b": ("empirical", "penalty"),
            "claim4": ("empirical", "loss"), "claim5": ("empirical", "penalty"),
            "claim6": ("empirical", "loss"), "claim7": ("empirical", "penalty"),
            "claim8": ("theorem", "penalty")}
    verdicts = {"claim1": "qualified", "claim6": "qualified", "claim7": "refuted"} | flips
    return [_section(key, verdicts.get(key, "supported"), kind=kind, part=part,
                     estimate=0.1 * (n + 1),
                     guide=[GuideRow(f"situation of {key}", f"choice of {key}",
                                     f"{key}: ratio {0.1 * (n + 1):.1f} (evidence)",
                                     NINE_FAVOURS[key])])
            for n, (key, (kind, part)) in enumerate(spec.items())]


# Which side each of _nine's guide rows takes: L2, something else, or none.
NINE_FAVOURS = {"claim1": "other", "claim2": "l2", "claim3a": "l2", "claim3b": "",
                "claim4": "", "claim5": "l2", "claim6": "l2", "claim7": "other", "claim8": "l2"}


def _answer_part(md: str) -> list[str]:
    """The report's answer: from "So why L2?" to the first claim's section."""
    return md[md.index("## So why L2?"):md.index('<a id="claim1">')].splitlines()


def _bottom(sections) -> list[str]:
    lines = report.answer(sections)
    bottom = lines[lines.index("**Bottom line.**") + 1:lines.index("### Decision guide")]
    return [b[2:] for b in bottom if b.startswith("- ")]


def test_bottom_line_answers_why_and_when_not_in_six_sentences():
    bullets = _bottom(_nine())
    assert len(bullets) == 6 and all(len(_sentences([b])) == 1 for b in bullets), bullets
    # Scope: theorems are not counted as empirical support, and are said to be theorems.
    assert bullets[0].startswith("This run tested 6 empirical claims (decided by data and "
                                 "training), 3 about the L2 loss (squared error")
    assert "3 hold, 2 hold only in part, 1 does not hold; claims 2, 3a and 8 are theorems" in (
        bullets[0]) and bullets[0].endswith("and all hold.")
    why_loss, not_loss, why_penalty, not_penalty, unsettled = bullets[1:]
    # Why L2: the rows that favour it, per part, each with its claim (a theorem marked).
    assert why_loss == ("**Why the L2 loss is the default: the evidence favours squared error "
                        "for** situation of claim2 ([Claim 2](#claim2), a theorem); situation of "
                        "claim6 ([Claim 6](#claim6)).")
    # When not: the rows that favour another choice, with what to use; loss and penalty apart.
    assert not_loss == ("**When the L2 loss is the wrong choice, use instead:** situation of "
                        "claim1: choice of claim1 ([Claim 1](#claim1)).")
    assert "claim7" not in why_penalty and "claim8 ([Claim 8](#claim8), a theorem)" in why_penalty
    assert not_penalty.endswith("situation of claim7: choice of claim7 ([Claim 7](#claim7)).")
    assert unsettled == ("**Not settled by these runs:** situation of claim4: choice of claim4 "
                         "([Claim 4](#claim4)); situation of claim3b: choice of claim3b "
                         "([Claim 3b](#claim3b)).")
    # No number in the bottom line: the numbers live in the guide and the verdict table.
    assert not any("(evidence)" in b for b in bullets)


def test_bottom_line_merges_a_situation_two_claims_support_and_follows_a_flip():
    sections = _nine()
    sections[6].guide.append(GuideRow("situation of claim2", "choice of claim2", "e", "l2"))
    why_loss = _bottom(sections)[1]
    assert "situation of claim2 ([Claim 2](#claim2), a theorem; [Claim 6](#claim6))" in why_loss
    # A row that changes side with the numbers moves between the sentences.
    sections = _nine()
    sections[0].guide[0] = GuideRow("situation of claim1", "choice of claim1", "e", "l2")
    bullets = _bottom(sections)
    assert "situation of claim1 ([Claim 1](#claim1))" in bullets[1]
    assert not any(b.startswith("**When the L2 loss") for b in bullets)


def test_claims_without_guide_rows_speak_for_themselves_or_are_named():
    sections = _nine()
    for s in sections[5:]:
        s.guide.clear()  # claims 5, 6, 7, 8 give no advice
    bullets = _bottom(sections)
    assert len(bullets) <= answer.MAX_BOTTOM_LINE
    # Only empirical claims without rows are listed (loss first, as in the report); claim 8 (a
    # theorem) is in the scope sentence.
    assert bullets[-1] == ("For claim 6 (holds only in part), claim 5 (holds) and claim 7 (does "
                           "not hold), see the verdict table below.")


def test_flipping_a_verdict_changes_its_sentences():
    before = "\n".join(report.answer(_nine()))
    for flipped_key in ("claim4", "claim8"):
        after = "\n".join(report.answer(_nine(**{flipped_key: "refuted"})))
        assert after != before
    after = report.answer(_nine(claim8="refuted"))
    assert any("[Claim 8](#claim8): does not hold (theorem)" in line for line in after)
    assert "claim 2 holds; claim 3a holds; claim 8 does not hold." in "\n".join(after)
    assert "[Claim 8](#claim8): holds (theorem)" in before


def test_no_sentence_repeated_in_the_whole_answer(tmp_path):
    sections = _nine()
    for s in sections:
        s.plots.clear()
    md = report.write(sections, tmp_path, not_run={"claim9": "module missing"})["markdown"]
    lines = _answer_part(md.read_text())
    assert len(_sentences(lines)) > 15
    assert not answer.repeated_sentences(lines)
    assert answer.repeated_sentences(["- A sentence said twice here.", "- A sentence said twice "
                                      "here. Another one after it."]) == [
        "A sentence said twice here."]
    choice = "add an L2 penalty tuned on validation"
    guide = ["| situation | use |", "|---|---|", f"| digits, cross-entropy | {choice} |",
             f"| mnist1d, cross-entropy | {choice} |"]
    assert not answer.repeated_sentences(guide)  # one choice for two situations: a table's shape
    assert answer.repeated_sentences([*guide, "- Add an L2 penalty tuned on validation."]) == []
    assert answer.repeated_sentences([*guide, "", f"- {choice}"]) == [choice]


def test_loss_and_penalty_apart_claim8_not_under_wrong_choice(tmp_path):
    sections = _nine()
    lines = report.answer(sections)
    text = "\n".join(lines)
    loss, penalty = text.index("#### When to use the L2 loss"), text.index(
        "#### When to use the L2 penalty")
    # Claim 8 (a penalty theorem that supports L2) is not under the loss's "wrong choice".
    wrong_loss = next(line for line in lines if "When the L2 loss is the wrong choice" in line)
    assert "claim8" not in wrong_loss and "claim1" in wrong_loss
    assert penalty < text.index("| situation of claim8 |")
    assert loss < text.index("| situation of claim4 |") < penalty
    assert "[Claim 8](#claim8): holds (theorem)" in text
    assert "[Claim 4](#claim4): holds |" in text


def test_legacy_sections_fall_back_to_verdict_number_and_limits():
    legacy = Section(key="claim7", title="t", claim="c", setup="s", rule="r", verdict="qualified",
                     findings="f", limits="the truth is dense.",
                     key_numbers={"l1_over_l2": Interval(0.8, 0.7, 0.9),
                                  "other": Interval(1.0, 0.9, 1.1)})
    text = "\n".join(report.answer([legacy]))
    assert ("- [Claim 7](#claim7) **holds only in part** (l1 over l2 0.8 [0.7, 0.9]); it stops "
            "holding where the truth is dense.") in text
    assert "other 1" not in text  # only the headline (first) number, not every key number
    summary_only = Section(key="claim5", title="t", claim="c", setup="s", rule="r",
                           verdict="refuted", findings="f", summary="No loss gained.")
    assert "[Claim 5](#claim5) **does not hold** (No loss gained)." in "\n".join(
        report.answer([summary_only]))


def test_verdicts_csv_has_numeric_headline_columns(tmp_path):
    sections = _nine()
    for s in sections:
        s.plots.clear()
    legacy = Section(key="claim10", title="t", claim="c", setup="s", rule="r", verdict="refuted",
                     findings="f")
    path = report.write([*sections, legacy], tmp_path,
                        not_run={"claim11": "module missing"})["verdicts"]
    table = pd.read_csv(path)
    assert list(table["claim"])[-3:] == ["Claim 8", "Claim 10", "Claim 11"]
    row = table.set_index("claim").loc["Claim 4"]
    assert (row["estimate"], row["low"], row["high"]) == (0.5, 0.49, 0.51)
    assert (row["unit"], row["kind"], row["part"], row["headline"]) == (
        "ratio to OLS", "empirical", "loss", "ratio")
    assert table.set_index("claim").loc["Claim 8", "kind"] == "theorem"
    assert table[["estimate", "low", "high"]].dtypes.map(pd.api.types.is_float_dtype).all()
    assert table.set_index("claim").loc[["Claim 10", "Claim 11"], "estimate"].isna().all()


def test_who_won_names_the_winner_in_words():
    said = answer.who_won(Interval(-0.0485, -0.09, -0.01), "AdamW", "Adam + L2", "test MSE")
    assert said == "AdamW wins: its test MSE is lower than Adam + L2's by 0.0485 [0.01, 0.09]"
    said = answer.who_won(Interval(0.02, 0.01, 0.03), "AdamW", "Adam + L2", "test MSE")
    assert said.startswith("Adam + L2 wins: its test MSE is lower than AdamW's by 0.02")
    said = answer.who_won(Interval(0.02, 0.01, 0.03), "CE", "square", "accuracy",
                          lower_is_better=False)
    assert said.startswith("CE wins: its accuracy is higher than square's by 0.02 [0.01, 0.03]")
    assert answer.who_won(Interval(0.01, -0.02, 0.04), "A", "B", "MSE") == (
        "neither A nor B wins beyond noise (A − B MSE 0.01 [-0.02, 0.04])")


def test_headline_in_words_uses_its_unit_and_says_n_a_for_a_missing_number():
    """The verdict table's key number reads '4.1 [3.45, 4.86] ratio of ...' (its unit), not the
    column name 'l1 over l2 max lr 4.1 ...'; a NaN estimate (nothing to compute it from, e.g. no
    converged cell) reads 'n/a', never 'nan [nan, nan]'."""
    section = Section(key="claim1", title="t", claim="c", setup="s", rule="r",
                      verdict="qualified", findings="f", headline="l1_over_l2_max_lr",
                      key_numbers={"l1_over_l2_max_lr": Interval(4.1, 3.45, 4.86)},
                      units={"l1_over_l2_max_lr": "ratio of max stable learning rates"})
    assert answer.headline_text(section) == "4.1 [3.45, 4.86] ratio of max stable learning rates"
    nan = Interval(float("nan"), float("nan"), float("nan"))
    section.key_numbers["l1_over_l2_max_lr"] = nan
    assert answer.headline_text(section) == "n/a ratio of max stable learning rates"
    assert "nan" not in answer.verdict_table([section])["in_numbers"].iloc[0]
