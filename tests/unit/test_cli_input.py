"""Every argument and text field is validated before anything reaches the
kernel: plain decimal integers in range (whitespace around them allowed),
one clear line otherwise, exit 2 (3 for `check`), never a traceback."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditop import cli
from auditop.commands import config, record, sampling, tui
from auditop.core.errors import AuditError
from auditop.core.settings import U32_MAX, InvalidSetting, max_value, parse_setting
from auditop.tui.screens.value import SettingValidator

PLAIN = re.compile(r"[ \t\r\n]*[0-9]+[ \t\r\n]*")


class Reached(AuditError):
    """Stands in for the kernel: a command got past validation."""


def reached(*args, **kwargs):
    raise Reached("reached the kernel")


def run(argv) -> tuple[int, str, str]:
    """cli.main(argv) with every command that gets past validation raising
    Reached instead of acting: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for module, name in ((tui, "run"), (sampling, "live_source"), (record, "run"),
                             (config, "path"), (config, "show")):
            patch.setattr(module, name, reached)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


texts = st.one_of(st.text(max_size=40), st.from_regex(r"\s*-?[0-9]{1,30}\s*", fullmatch=True),
                  st.integers(-10, 2**33).map(str))


@given(texts)
def test_parse_setting_takes_plain_decimals_in_range_and_refuses_the_rest(text):
    for field in ("backlog_limit", "rate_limit", "backlog_wait_time"):
        try:
            value = parse_setting(field, text, allow_unlimited=True, hz=250)
        except InvalidSetting as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 200
            assert not PLAIN.fullmatch(text) or int(text) > max_value(field, 250)
        else:
            assert PLAIN.fullmatch(text) and value == int(text)
            assert 0 <= value <= max_value(field, 250) <= U32_MAX


@given(st.text(max_size=60))
def test_the_dialog_validator_never_raises(text):
    result = SettingValidator("backlog_limit", hz=250).validate(text)
    assert result.is_valid == bool(PLAIN.fullmatch(text) and 0 < int(text) <= U32_MAX)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_set_refuses_bad_values_in_one_line_before_the_kernel(text):
    code, out, err = run(["set", "backlog_limit", "--", text])
    if PLAIN.fullmatch(text) and 0 < int(text) <= U32_MAX:
        assert (code, err.strip()) == (1, "auditop: reached the kernel")
    else:
        assert code == 2 and err.count("\n") == 1 and err.startswith("auditop: "), err


arguments = st.lists(st.one_of(
    st.sampled_from(["status", "check", "set", "record", "--json", "--window", "--interval",
                     "--sample-rate", "--duration", "--read-only", "--yes", "--unlimited",
                     "--", "-o", "backlog_limit", "rate_limit", "0", "1", "-1", "nan",
                     "1e-300", "inf", "1e309", "--bogus", "exporter", "config", "path",
                     "show", "--format", "prometheus", "json", "--listen", "127.0.0.1:1",
                     "[::1]:0", "--textfile", "x.prom", "--every", "--no-read-only"]),
    st.text(max_size=12).filter(lambda t: t not in ("-h", "--help", "--version"))),
    max_size=6)


@settings(max_examples=300, deadline=None)
@given(arguments)
def test_no_command_line_gives_a_traceback(argv):
    if any(a.startswith("-h") or a.startswith("--h") or a.startswith("--v") or a == "-" + "h"
           for a in argv):
        return  # argparse's own help and version exit 0 by design
    try:
        code, out, err = run(argv)
    except SystemExit as exit_:  # only argparse's --help/--version abbreviations
        assert exit_.code == 0
        return
    if "check" in (argv[:argv.index("--")] if "--" in argv else argv):
        if code == 3:
            assert out.startswith("AUDIT UNKNOWN - ") and out.count("\n") == 1
            return
    assert code in (1, 2), (argv, code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)


times = st.one_of(st.text(max_size=30), st.from_regex(
    r"\+?[0-9]{1,3}(h|m|s)?|[0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?|2026-1[0-9]-[0-9]{2}T1[0-9]:00",
    fullmatch=True))


@settings(max_examples=150, deadline=None)
@given(times)
def test_from_and_to_are_checked_in_one_line_before_a_file_is_read(text):
    from auditop.commands import plot, replay
    from auditop.core.timespec import BadTime, parse
    try:
        parse(text)
        valid = True
    except BadTime:
        valid = False
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plot, "run", reached)
        patch.setattr(replay, "run", reached)
        for command in ("replay", "plot"):
            for flag in ("--from", "--to"):
                code, out, err = run([command, "x.jsonl", f"{flag}={text}"])
                if valid:
                    assert (code, err) == (1, "auditop: reached the kernel\n")
                else:
                    assert (code, out) == (2, "") and err.count("\n") == 1, err
                    assert err.startswith(f"auditop {command}: argument {flag}: ")


def test_a_bug_is_said_as_a_bug_in_one_line(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("rmem")
    monkeypatch.setattr(sampling, "live_source", broken)
    monkeypatch.delenv("AUDITOP_DEBUG", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["status"])
        check = cli.main(["check"])
    assert code == 70 and check == 3
    assert err.getvalue().startswith("auditop: internal error (a bug in auditop): KeyError")
    assert err.getvalue().count("\n") == 1 and "test_cli_input.py" in err.getvalue()
    assert out.getvalue().startswith("AUDIT UNKNOWN - internal error")


@pytest.mark.parametrize("argv", [["--read-only", "status", "--auditd-state"],
                                  ["status", "--auditd-state", "--read-only"]])
def test_auditd_state_is_refused_in_read_only_mode(argv):
    code, out, err = run(argv)
    assert (code, out) == (2, "")
    assert err == ("auditop: --auditd-state signals auditd to ask for its report; "
                   "read-only mode (command line) forbids that\n")


def test_read_only_status_alone_is_fine():
    code, out, err = run(["--read-only", "status"])
    assert "reached the kernel" in err  # got past validation: only the kernel is left


def test_web_cannot_replay_stdin():
    """Each browser tab's auditop replays the file anew; stdin is the browser's."""
    code, out, err = run(["web", "--replay", "-"])
    assert (code, out) == (2, "")
    assert err == ("auditop web: --replay - cannot be: each browser tab's replay reads the "
                   "file anew; give its path (see auditop --help)\n")
