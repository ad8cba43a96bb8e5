"""The benchmark's table: each figure's median, min and max over its
rounds, its ratio to the anchors measured in the same run, and the budget it
is held to (pure: the unit tests check it, tests/unit/test_bench_table.py).

A figure is (subject, metric): "auditop" "CPU", "top -d 1" "CPU". A figure
names the subjects it is compared with; the ratio is taken against the
anchor's figure of the same metric, wherever in the run it was measured.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `limit` (and ideally at most `aim`)."""

    limit: float
    aim: float | None = None

    def verdict(self, value: float) -> str:
        if math.isnan(value) or value > self.limit:
            return "miss"
        if self.aim is not None and value > self.aim:
            return "pass (aim: miss)"
        return "pass"

    def text(self) -> str:
        aim = f" (aim {number(self.aim)})" if self.aim is not None else ""
        return f"<= {number(self.limit)}{aim}"


@dataclass(frozen=True, slots=True)
class Stats:
    median: float
    low: float
    high: float
    n: int


def stats(values: tuple[float, ...] | list[float]) -> Stats:
    """Median, min and max; the median of an even count is the mean of the
    middle two."""
    if not values:
        raise ValueError("no values")
    return Stats(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True, slots=True)
class Figure:
    subject: str  # what was measured: "auditop", "top -d 1", "C AUDIT_GET loop"
    metric: str  # "CPU", "wall per poll", ...
    unit: str
    values: tuple[float, ...] = ()  # one per round
    missing: str | None = None  # why there are no values ("not available: ...")
    anchors: tuple[str, ...] = ()  # subjects this one is compared with
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if not self.values and self.missing is None:
            raise ValueError(f"{self.subject} {self.metric}: no values and no reason")

    @property
    def stats(self) -> Stats | None:
        return stats(self.values) if self.values else None


def unavailable(subject: str, metric: str, unit: str, why: str, **kwargs) -> Figure:
    return Figure(subject, metric, unit, missing=f"not available: {why}", **kwargs)


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    figures: tuple[Figure, ...]
    notes: tuple[str, ...] = field(default=())


def ratio(figure: Figure, anchor: Figure) -> float | None:
    """figure's median over the anchor's; None when either has no values or
    the anchor's median is 0."""
    mine, theirs = figure.stats, anchor.stats
    if mine is None or theirs is None or theirs.median == 0:
        return None
    return mine.median / theirs.median


def number(value: float | None, *, whole: bool = True) -> str:
    """Three significant digits, never an exponent; whole from 100 up, and
    whole values (counts) without decimals unless `whole` is False."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if whole and value == int(value) and abs(value) < 1e15:
        return str(int(value))  # a count, or a figure that came out whole
    if value == 0:
        return "0"  # a ratio to a figure that was 0 (nothing written to the terminal)
    digits = 2 - math.floor(math.log10(abs(value)))
    if digits > 0:  # rounding may carry into a new digit: 9.996 -> 10.0
        value = round(value, digits)
        digits = 2 - math.floor(math.log10(abs(value)))
    return f"{value:.{max(digits, 0)}f}"


HEADERS = ("subject", "metric", "unit", "median", "min", "max", "n", "vs anchor",
           "budget", "verdict")


def rows(section: Section, everything: list[Section]) -> tuple[list[list[str]], list[str]]:
    """The section's table cells (one list per figure, HEADERS order) and its
    anchor legend ("a = C AUDIT_GET loop"). Anchors are found in the whole
    run, by subject and the same metric."""
    by_key = {(f.subject, f.metric): f for s in everything for f in s.figures}
    # Letters in the order the anchors were measured (those of no figure last).
    subjects = list(dict.fromkeys(f.subject for s in everything for f in s.figures))
    wanted = {anchor for figure in section.figures for anchor in figure.anchors}
    ordered = sorted(wanted, key=lambda a: (subjects.index(a) if a in subjects
                                            else len(subjects), a))
    letters = {anchor: "abcdefghijklmnopqrstuvwxyz"[i] for i, anchor in enumerate(ordered)}
    cells = []
    for figure in section.figures:
        head = [figure.subject, figure.metric, figure.unit]
        if figure.stats is None:
            cells.append(head + [figure.missing or "", "", "", "", "", "", ""])
            continue
        s = figure.stats
        versus = []
        if figure.subject in letters:
            versus.append(f"({letters[figure.subject]})")
        for anchor in figure.anchors:
            other = by_key.get((anchor, figure.metric))
            if other is None:
                continue  # the anchor has no such figure: nothing to compare
            value = ratio(figure, other)
            versus.append(f"{letters[anchor]} {number(value, whole=False)}x" if value is not None
                          else f"{letters[anchor]} -")
        budget = figure.budget
        cells.append(head + [number(s.median), number(s.low), number(s.high), str(s.n),
                             " ".join(versus),
                             budget.text() if budget else "",
                             budget.verdict(s.median) if budget else ""])
    legend = [f"{letter} = {subject}" for subject, letter in letters.items()]
    return cells, legend


_RIGHT = {"median", "min", "max", "n"}


def render(sections: list[Section], *, markdown: bool = False) -> str:
    """The whole run as plain text (columns padded) or as Markdown tables."""
    out: list[str] = []
    for number_, section in enumerate(sections, 1):
        cells, legend = rows(section, sections)
        title = f"{number_}. {section.title}"
        if legend:
            title += f"  (anchors: {', '.join(legend)})"
        out.append(f"### {title}" if markdown else title)
        if markdown:
            out.append("")
            out.append("| " + " | ".join(HEADERS) + " |")
            out.append("|" + "|".join("---:" if h in _RIGHT else "---" for h in HEADERS) + "|")
            out.extend("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                       for row in cells)
        else:
            shown = [row for row in cells if not _missing(row)]
            widths = [max([len(h)] + [len(row[i]) for row in (cells if i < 3 else shown)])
                      for i, h in enumerate(HEADERS)]
            out.append(_line(list(HEADERS), widths))
            for row in cells:
                out.append(_line(row, widths))
        for note in section.notes:
            out.append(f"{'- ' if markdown else '  '}{note}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _line(row: list[str], widths: list[int]) -> str:
    if _missing(row):
        head = "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths[:3]))
        return f"{head}  {row[3]}".rstrip()
    parts = [cell.rjust(w) if HEADERS[i] in _RIGHT else cell.ljust(w)
             for i, (cell, w) in enumerate(zip(row, widths))]
    return "  ".join(parts).rstrip()


def _missing(row: list[str]) -> bool:
    return row[3].startswith("not available")
