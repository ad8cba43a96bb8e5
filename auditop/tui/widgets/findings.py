"""The warnings pane: findings by severity; Enter shows one in full.

The severity is a word and a symbol (CRIT !!, WARN !, info i), so it reads
the same without colour.
"""

from __future__ import annotations

from rich.markup import escape
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from auditop.core.findings import Finding

SEVERITY_LABEL = {"critical": ("CRIT !!", "reverse b $error"),
                  "warning": ("WARN !", "b $warning"),
                  "info": ("info i", "$text-muted")}
NO_FINDINGS = "no findings: nothing to worry about right now"


def finding_prompt(finding: Finding) -> Content:
    label, style = SEVERITY_LABEL[finding.severity]
    return Content.from_markup(f"[{style}]{label:<7}[/] {escape(finding.title)}")


def findings_text(findings: tuple[Finding, ...]) -> str:
    """The pane as plain text, one line per finding (for tests and exports)."""
    if not findings:
        return NO_FINDINGS
    return "\n".join(finding_prompt(f).plain for f in findings)


def finding_detail(finding: Finding) -> Content:
    label, style = SEVERITY_LABEL[finding.severity]
    parts = [Content.from_markup(f"[{style}]{label}[/] [b]{escape(finding.title)}[/]"),
             Content(""), Content(finding.detail)]
    if finding.remedy:
        parts += [Content(""), Content.from_markup("[b]Remedy:[/]"),
                  Content.styled("  " + finding.remedy, "$accent")]
    parts += [Content(""), Content.styled(f"id: {finding.id}", "$text-muted")]
    return Content("\n").join(parts)


class FindingsList(OptionList):
    """Replaces its options only when the findings change, keeping the
    highlighted finding highlighted."""

    BORDER_TITLE = "findings"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.findings: tuple[Finding, ...] = ()
        self._shown: tuple[tuple[str, str, str], ...] | None = None

    def show(self, findings: tuple[Finding, ...]) -> None:
        key = tuple((f.id, f.severity, f.title) for f in findings)
        self.findings = findings
        if key == self._shown:
            return
        self._shown = key
        old = self.highlighted_option.id if self.highlighted_option else None
        self.clear_options()
        if findings:
            self.add_options([Option(finding_prompt(f), id=f.id) for f in findings])
            ids = [f.id for f in findings]
            self.highlighted = ids.index(old) if old in ids else 0
        else:
            self.add_option(Option(Content.styled(NO_FINDINGS, "$text-muted"), disabled=True))
        counts = [sum(f.severity == s for f in findings) for s in ("critical", "warning", "info")]
        self.border_title = (f"findings: {counts[0]} critical, {counts[1]} warning, "
                             f"{counts[2]} info (Enter: explain)") if findings else "findings"

    def finding(self, option_id: str | None) -> Finding | None:
        return next((f for f in self.findings if f.id == option_id), None)
