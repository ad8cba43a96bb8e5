"""The command line with the config file: flags over the file over defaults for
every command, a broken file is one line and exit 2 (3 for `check`) whatever
the command, `config path` / `config show`, the new status formats and the
exporter's usage. Commands that would ask the kernel get a scripted source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditop import cli
from auditop.commands import sampling
from auditop.sources.scripted import ScriptedSource, healthy, overflow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    """A config home of the test's own; returns a writer for the config file."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))

    def write(text: str) -> Path:
        path = home / "auditop" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
    write.home = home
    return write


@pytest.fixture
def scripted(monkeypatch):
    """Commands sample a scripted kernel; the sources made are kept."""
    made = []

    def make(script=None, *, ticker=False):
        source = ScriptedSource(script or healthy())
        made.append(source)
        return source
    monkeypatch.setattr(sampling, "live_source", make)
    return made


def resolved(*argv: str):
    args = cli._parser().parse_args(list(argv))
    cli._resolve_settings(args)
    return args


# -- precedence, for each command --------------------------------------------------

@pytest.mark.parametrize("argv, name, expected, origin", [
    ((), "interval", 2.0, "file"),
    (("--interval", "5"), "interval", 5.0, "command line"),
    (("record",), "interval", 2.0, "file"),
    (("record", "--interval", "4"), "interval", 4.0, "command line"),
    (("--interval", "4", "record"), "interval", 4.0, "command line"),  # not reset by record
    (("exporter",), "sample_rate", 20.0, "file"),
    (("exporter", "--sample-rate", "50"), "sample_rate", 50.0, "command line"),
    (("exporter",), "exporter.listen", "127.0.0.1:9999", "file"),
    (("exporter", "--listen", "[::1]:10090"), "exporter.listen", "[::1]:10090",
     "command line"),
    ((), "read_only", True, "file"),
    (("--no-read-only",), "read_only", False, "command line"),
    (("set", "backlog_limit", "1", "--no-read-only"), "read_only", False, "command line"),
    (("status",), "thresholds.q_depth", 4096, "file"),
    (("status",), "backlog_limit_step", 2, "default"),
])
def test_flags_win_over_the_file_and_the_file_over_defaults(xdg, argv, name, expected,
                                                            origin):
    path = xdg('interval = 2\nsample_rate = 20\nread_only = true\n'
               '[exporter]\nlisten = "127.0.0.1:9999"\n[thresholds]\nq_depth = 4096\n')
    value, came_from = resolved(*argv).resolved[name]
    assert value == expected
    assert came_from == (f"config file {path}" if origin == "file" else origin)


def test_thresholds_and_check_weights_reach_check(xdg, scripted, capsys):
    # The scripted auditd's q_depth is 2000: only "info" by default (below
    # backlog_limit), a warning under a threshold of 4096.
    assert cli.main(["check", "--window", "0.3"]) == 0
    assert capsys.readouterr().out.startswith("AUDIT OK - ")
    # A configuration risk is named, never raising the state (docs/check.md).
    xdg('[thresholds]\nq_depth = 4096\nbacklog_critical = 0.6\n')
    assert cli.main(["check", "--window", "0.3"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("AUDIT OK - audit backlog healthy; noted: q-depth-small |")
    assert ";4096;4915;" in line  # warn at 0.5 and crit at 0.6 of 8192, from the file
    xdg('[check]\nwarn = ["q-depth-small"]\n')
    assert cli.main(["check", "--window", "0.3"]) == 1
    assert capsys.readouterr().out.startswith("AUDIT WARNING - auditd's plugin queue is small")
    xdg('[check]\ncrit = ["q-depth-small"]\n')
    assert cli.main(["check", "--window", "0.3"]) == 2
    assert capsys.readouterr().out.startswith("AUDIT CRITICAL - ")
    # The command line wins over the file.
    assert cli.main(["check", "--window", "0.3", "--ok", "q-depth-small"]) == 0
    assert capsys.readouterr().out.startswith("AUDIT OK - ")


def test_thresholds_reach_status_findings(xdg, scripted, capsys):
    xdg('[thresholds]\nq_depth = 4096\n')
    assert cli.main(["status", "--json", "--window", "0.3"]) == 0
    found = {f["id"]: f["severity"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert found["q-depth-small"] == "warning"


# -- a broken file: one line, exit 2 (3 for check), before anything else ---------------

BROKEN = '# mine\n\ninterval = "fast"\n'
EVERY_COMMAND = [[], ["status"], ["status", "--format", "prometheus"], ["record"],
                 ["set", "backlog_limit", "8192", "--yes"], ["exporter"],
                 ["exporter", "--textfile", "/nonexistent/x.prom"], ["config", "show"],
                 ["--interval", "2"]]


def run(*argv: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditop", *argv], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def broken_env(xdg):
    path = xdg(BROKEN)
    return path, {**os.environ, "XDG_CONFIG_HOME": str(xdg.home)}


@pytest.mark.parametrize("argv", EVERY_COMMAND)
def test_a_broken_file_stops_every_command_in_one_line(broken_env, argv):
    path, env = broken_env
    result = run(*argv, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == (f'auditop: {path} line 3: interval must be a number between '
                             '0.1 and 3600, not "fast"\n')


def test_a_broken_file_makes_check_unknown(broken_env):
    path, env = broken_env
    result = run("check", env=env)
    assert result.returncode == 3
    assert result.stdout.startswith(f"AUDIT UNKNOWN - config: {path} line 3: ")
    assert result.stdout.count("\n") == 1


def test_config_path_works_with_a_broken_file_and_creates_nothing(tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cli.main(["config", "path"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'xdg' / 'auditop' / 'config.toml'}\n"
    assert cli.main(["config", "show"]) == 0
    assert not (tmp_path / "xdg").exists()


def test_config_show_says_where_each_value_came_from(xdg, capsys):
    path = xdg('sample_rate = 25\n[keymap]\npause = "z"\n')
    assert cli.main(["--interval", "3", "config", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "interval = 3.0  (command line)" in lines
    assert f"sample_rate = 25.0  (config file {path})" in lines
    assert f'keymap.pause = "z"  (config file {path})' in lines
    assert "read_only = false  (default)" in lines


def test_config_needs_what(capsys):
    assert cli.main(["config"]) == 2
    assert "required" in capsys.readouterr().err


def test_set_refuses_under_read_only_from_the_file(xdg, scripted, capsys):
    path = xdg("read_only = true\n")
    assert cli.main(["set", "backlog_limit", "8192", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err == (f"auditop: read-only (read_only = true, config file {path}): nothing is "
                   "changed; --no-read-only allows it this once\n")
    assert scripted == []  # the kernel was not even asked
    assert cli.main(["set", "backlog_limit", "8192", "--yes", "--no-read-only"]) == 0
    assert scripted[0].writes == [("backlog_limit", 8192)]


def test_tui_gets_every_setting_from_the_file(xdg, monkeypatch):
    xdg('interval = 2\nsample_rate = 20\nread_only = true\nbacklog_limit_step = 4\n'
        '[thresholds]\nq_depth = 4096\n[keymap]\npause = "z"\n')
    got = {}
    monkeypatch.setattr("auditop.tui.app.run",
                        lambda settings, **kw: got.setdefault("s", settings)
                        and 0)
    monkeypatch.setattr("auditop.commands.common.without_terminal", lambda: False)  # pytest has none
    assert cli.main([]) == 0
    s = got["s"]
    assert (s.interval, s.sample_rate, s.read_only, s.backlog_limit_step) == (2, 20, True, 4)
    assert s.thresholds.q_depth == 4096 and dict(s.keymap) == {"pause": "z"}


# -- status formats ---------------------------------------------------------------------

def test_status_format_prometheus_parses(xdg, scripted, capsys):
    assert cli.main(["status", "--format", "prometheus", "--window", "0.3"]) == 0
    families = {f.name: f for f in text_string_to_metric_families(capsys.readouterr().out)}
    assert families["auditop_backlog_limit"].samples[0].value == 8192
    assert families["auditop_auditd_up"].samples[0].value == 1
    assert "auditop_backlog_peak" in families and "auditop_lost" in families


def test_status_json_alias_and_format_json_agree(xdg, scripted, capsys):
    outputs = []
    for argv in (["status", "--json"], ["status", "--format", "json"],
                 ["status", "--json", "--format", "json"]):
        assert cli.main([*argv, "--window", "0.2"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert all(set(o) >= {"status", "findings", "system"} for o in outputs)


def test_status_format_prometheus_shows_the_peak_of_an_overflow(xdg, monkeypatch, capsys):
    flooding = overflow()  # floods start at its fifth second: begin there
    monkeypatch.setattr(sampling, "live_source",
                        lambda **_: ScriptedSource(lambda n: flooding(n + 50)))
    assert cli.main(["status", "--format", "prometheus", "--window", "1"]) == 0
    families = {f.name: f for f in text_string_to_metric_families(capsys.readouterr().out)}
    findings = {s.labels["id"] for s in families["auditop_finding"].samples}
    assert families["auditop_backlog_peak"].samples[0].value >= 1024 * 0.8
    assert "backlog-high" in findings


# -- exporter usage -------------------------------------------------------------------------

@pytest.mark.parametrize("argv, said", [
    (["exporter", "--listen", "127.0.0.1:1", "--textfile", "x.prom"], "give one"),
    (["exporter", "--every", "5"], "--every is for --textfile"),
    (["exporter", "--listen", "127.0.0.1:70000"], "port between 1 and 65535"),
    (["exporter", "--listen", "localhost"], "argument --listen"),
    (["exporter", "--textfile", "x.prom", "--every", "0.5"], "from 1 to 3600"),
    (["status", "--json", "--format", "prometheus"], "contradict"),
])
def test_exporter_usage_errors(xdg, argv, said, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1


def test_exporter_textfile_must_be_collectable(xdg, scripted, tmp_path, capsys):
    assert cli.main(["exporter", "--textfile", str(tmp_path / "auditop.txt")]) == 2
    assert "reads only *.prom files" in capsys.readouterr().err
    assert scripted == []


def test_exporter_cannot_listen_is_one_line(xdg, scripted, capsys):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["exporter", "--listen", f"127.0.0.1:{port}"]) == 1
    assert capsys.readouterr().err == (f"auditop: cannot listen on 127.0.0.1:{port}: "
                                       "Address already in use\n")
    assert scripted[0].writes == []


# -- record and record --demo: one writer ----------------------------------------------

def test_record_demo_keeps_the_settings_changed_underneath(xdg, scripted, tmp_path,
                                                           monkeypatch):
    """`record --demo` writes its lines through the live recorder's writer:
    a setting the tour changes is in them (`setting_changes`), and a line has
    the same fields as a live one."""
    from auditop.sources import demo_actions
    monkeypatch.setattr(demo_actions, "TOUR", (demo_actions.TourStep(
        0.4, "backlog_wait_time 0 -> 500", (("set_wait_time", (500,)),)),))
    demo, live = tmp_path / "demo.jsonl", tmp_path / "live.jsonl"
    assert cli.main(["record", "--demo", "--duration", "2", "--interval", "0.5",
                     "-o", str(demo)]) == 0
    assert cli.main(["record", "--duration", "0.6", "--interval", "0.5", "-o", str(live)]) == 0
    demo_lines = [json.loads(line) for line in demo.read_text().splitlines()]
    live_lines = [json.loads(line) for line in live.read_text().splitlines()]
    changed = [change for line in demo_lines for change in line["setting_changes"]]
    assert changed, demo_lines
    assert (changed[0]["field"], changed[0]["old"], changed[0]["new"]) == (
        "backlog_wait_time", 0, 500)
    assert demo_lines[-1].keys() == live_lines[-1].keys()


def test_record_demo_to_stdout_writes_json_lines_and_says_how_long_first(
        xdg, scripted, tmp_path, monkeypatch, capsys):
    """`record --demo -o -`: the lines on stdout (no file named "-"), and
    first, on stderr, how long it takes, from the tour's own length."""
    from auditop.sources import demo_actions
    monkeypatch.setattr(demo_actions, "TOUR", (demo_actions.TourStep(
        3.6, "backlog_wait_time 0 -> 500", (("set_wait_time", (500,)),)),))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["record", "--demo", "--duration", "1", "--interval", "0.5",
                     "-o", "-"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]  # nothing else on stdout
    assert len(lines) >= 2 and all(line["version"] == 2 for line in lines)
    assert lines[0]["time"] < lines[-1]["time"] and lines[0]["status"]["backlog_limit"] == 64
    # 3.6 s to the tour's last step, a 0.5 s window, a moment after: 4 s
    assert err.splitlines()[0] == ("recording 1 s of the 4 s demo to stdout (takes 1 s; "
                                   "Ctrl-C stops early)")
    assert not (tmp_path / "-").exists()


def test_record_demo_says_the_whole_tours_length():
    from auditop.commands.record import demo_announcement
    from auditop.sources.demo_actions import TOUR
    assert TOUR[-1].at == 35.0  # the flood that panics the machine at once
    assert demo_announcement("tour.jsonl", 1.0, None) == (
        "recording the 36 s demo to tour.jsonl (takes 36 s; Ctrl-C stops early)")
    assert demo_announcement("stdout", 2.0, 600.0).startswith("recording the 37 s demo")


def test_record_without_output_writes_a_new_file_in_the_state_dir_and_prints_it(
        xdg, scripted, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert cli.main(["record", "--duration", "0.6", "--interval", "0.5"]) == 0
    out, err = capsys.readouterr()
    path = Path(out.strip())
    assert path.parent == tmp_path / "state" / "auditop" and path.name.startswith("record-")
    assert err == f"recording to {path}\n"
    assert json.loads(path.read_text().splitlines()[0])["version"] == 2
