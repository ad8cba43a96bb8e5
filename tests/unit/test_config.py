"""auditop/config.py: defaults, a full file, precedence, one-line errors that
name the file, the line and the key, and fuzzing (only ConfigError escapes)."""

from __future__ import annotations

import dataclasses
import re
import string
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from auditop import config
from auditop.config import ConfigError, Settings, effective, load, load_settings, parse, show_text
from auditop.core.findings import Finding, Thresholds

FULL = textwrap.dedent("""\
    # every setting there is
    interval = 2.5
    sample_rate = 50
    read_only = true
    backlog_limit_step = 4

    [thresholds]
    rmem_default = 4194304
    backlog_limit = 16384
    backlog_warning = 0.6
    backlog_critical = 0.9
    q_depth = 2048

    [check]
    warn = ["rate-limit"]
    crit = ["flush-sync"]
    ok = ["log-format-enriched", "q-depth-small"]

    [exporter]
    listen = "[::1]:9999"

    [keymap]
    pause = "z"
    quit = "ctrl+q,Q"
    "interval.shorter" = "comma"
    interval.longer = "full_stop"
""")


@pytest.fixture
def config_file(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path
    return write


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


# --- where the file is -------------------------------------------------------

def test_config_path_follows_xdg_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = config.config_path()
    assert path == tmp_path / "xdg" / "auditop" / "config.toml"
    assert load().exists is False  # the default path, missing
    assert not (tmp_path / "xdg").exists()


def test_missing_file_means_defaults(tmp_path):
    file_settings = load(tmp_path / "nope" / "config.toml")
    assert file_settings.values == {} and not file_settings.exists
    assert load_settings(path=tmp_path / "nope" / "config.toml") == Settings()
    assert not (tmp_path / "nope").exists()


# --- defaults ----------------------------------------------------------------

def test_defaults():
    s = Settings.from_effective(effective())
    assert (s.interval, s.sample_rate, s.read_only, s.backlog_limit_step) == (1.0, 10.0, False, 2)
    assert s.thresholds == Thresholds()
    assert s.listen == ("127.0.0.1", config.DEFAULT_EXPORTER_PORT)
    assert dict(s.keymap) == {} and dict(s.check_weights) == {}
    assert all(origin == "default" for _, origin in effective().values())


def test_defaults_agree_with_the_modules_that_own_them():
    from auditop.core.sampler import DEFAULT_RATE_HZ
    from auditop.export.prometheus import DEFAULT_PORT
    assert config.SPECS["sample_rate"].default == DEFAULT_RATE_HZ
    assert config.DEFAULT_EXPORTER_PORT == DEFAULT_PORT


def test_keymap_ids_and_keys_are_the_tui_bindings():
    from auditop.tui.app import tui_bindings
    keys = {binding.id: binding.key for binding in tui_bindings()}
    assert config.DEFAULT_KEYS == keys
    assert set(config.KEYMAP_IDS) == set(keys)


def test_a_key_taken_from_a_binding_that_is_remapped_too_is_fine(config_file):
    s = load_settings(path=config_file('[keymap]\npause = "q"\nquit = "x"\n'))
    assert dict(s.keymap) == {"pause": "q", "quit": "x"}


def test_every_threshold_field_is_a_setting():
    names = {f"thresholds.{f.name}" for f in dataclasses.fields(Thresholds)}
    assert names <= set(config.SPECS)


# --- a full file ---------------------------------------------------------------

def test_full_file(config_file):
    path = config_file(FULL)
    s = load_settings(path=path)
    assert (s.interval, s.sample_rate, s.read_only, s.backlog_limit_step) == (2.5, 50.0, True, 4)
    assert isinstance(s.sample_rate, float)
    assert s.thresholds == Thresholds(rmem_default=4194304, backlog_limit=16384,
                                      backlog_warning=0.6, backlog_critical=0.9, q_depth=2048)
    assert s.listen == ("::1", 9999)
    assert dict(s.check_weights) == {"rate-limit": "warning", "flush-sync": "critical",
                                     "log-format-enriched": "ok", "q-depth-small": "ok"}
    assert dict(s.keymap) == {"pause": "z", "quit": "ctrl+q,Q", "interval.shorter": "comma",
                              "interval.longer": "full_stop"}
    origins = {origin for _, origin in effective(load(path)).values()}
    assert origins == {f"config file {path}"}


def test_weigh_applies_check_overrides(config_file):
    s = load_settings(path=config_file(FULL))
    found = [Finding("rate-limit", "info", "t", "d"), Finding("flush-sync", "warning", "t", "d"),
             Finding("q-depth-small", "warning", "t", "d"),
             Finding("backlog-high", "critical", "t", "d")]
    assert [(f.id, f.severity) for f in s.weigh(found)] == [
        ("rate-limit", "warning"), ("flush-sync", "critical"),
        ("q-depth-small", "info"), ("backlog-high", "critical")]


def test_show_text_one_line_per_setting(config_file):
    path = config_file("interval = 3\n[keymap]\npause = \"z\"\n")
    text = show_text(effective(load(path), {"read_only": True, "sample_rate": None}))
    lines = text.splitlines()
    assert f"interval = 3.0  (config file {path})" in lines
    assert "read_only = true  (command line)" in lines
    assert "sample_rate = 10.0  (default)" in lines
    assert f'keymap.pause = "z"  (config file {path})' in lines
    assert 'check.warn = []  (default)' in lines
    assert len(lines) == len(config.SPECS) + 1


def test_show_text_without_keymap_says_built_in():
    assert show_text(effective()).splitlines()[-1] == "keymap = {}  (default: the built-in keys)"


# --- precedence ----------------------------------------------------------------

def test_command_line_beats_file_beats_default(config_file):
    path = config_file("interval = 2\nsample_rate = 20\n")
    result = effective(load(path), {"interval": 5.0, "sample_rate": None, "read_only": None})
    assert result["interval"] == (5.0, "command line")
    assert result["sample_rate"] == (20.0, f"config file {path}")
    assert result["read_only"] == (False, "default")


def test_command_line_values_are_checked():
    with pytest.raises(ConfigError, match=r"^command line: interval must be a number"):
        effective(None, {"interval": 0.01})
    with pytest.raises(ValueError, match="not a setting"):
        effective(None, {"intervall": 1.0})


def test_command_line_inconsistency_is_blamed_on_the_command_line(config_file):
    path = config_file("[thresholds]\nbacklog_critical = 0.7\n")
    with pytest.raises(ConfigError, match=r"^command line: thresholds.backlog_warning \(0.75\)"):
        effective(load(path), {"thresholds.backlog_warning": 0.75})


# --- errors: one line, naming the file, the line and the key ---------------------

@pytest.mark.parametrize("text, line, needle", [
    # TOML syntax
    ('# c\n\ninterval = fast\n', 3, 'not valid TOML at "interval = fast": Invalid value'),
    ('interval = 1\ninterval = 2\n', 2, "interval is set twice"),
    ('[thresholds]\nq_depth = 1\n[thresholds]\n', 3, "not valid TOML"),
    # wrong type
    ('read_only = "yes"\n', 1, 'read_only must be true or false, not "yes"'),
    ('\ninterval = "fast"\n', 2, 'interval must be a number between 0.1 and 3600, not "fast"'),
    ('[check]\nwarn = "rate-limit"\n', 2, 'check.warn must be a list of finding ids'),
    ('thresholds = 3\n', 1, "thresholds must be a table ([thresholds]), not 3"),
    ('[thresholds]\nq_depth = 1.5\n', 2, "thresholds.q_depth must be a whole number"),
    ('[keymap]\npause = 3\n', 2, "keymap.pause must be Textual key names"),
    # unknown key
    ('sample_rte = 5\n', 1, "unknown setting sample_rte (did you mean sample_rate?)"),
    ('[exporter]\nlisten = "127.0.0.1:1"\nport = 3\n', 3, "unknown setting exporter.port"),
    ('[colours]\nx = 1\n', 1, "unknown table [colours]"),
    ('[keymap]\npaws = "z"\n', 2, "keymap.paws is not a binding id (known: quit, help"),
    # bad value
    ('interval = 0.05\n', 1, "interval must be a number between 0.1 and 3600, not 0.05"),
    ('sample_rate = 500\n', 1, "sample_rate must be a number between 0.1 and 200, not 500"),
    ('backlog_limit_step = 1\n', 1, "backlog_limit_step must be a whole number between 2 and 16"),
    ('[thresholds]\n\nbacklog_warning = 0\n', 3, "thresholds.backlog_warning must be a fraction"),
    ('[thresholds]\nbacklog_critical = 1.01\n', 2, "must be a fraction above 0 and at most 1"),
    ('[thresholds]\nrmem_default = 0\n', 2, "thresholds.rmem_default must be a whole number"),
    ('thresholds.backlog_limit = -5\n', 1, "thresholds.backlog_limit must be a whole number"),
    ('[exporter]\nlisten = "localhost"\n', 2, 'exporter.listen must be "host:port"'),
    ('[exporter]\nlisten = "127.0.0.1:70000"\n', 2, "port between 1 and 65535"),
    ('[exporter]\nlisten = "::1:9000"\n', 2, "exporter.listen must be"),
    ('[check]\ncrit = ["Backlog High"]\n', 2, "check.crit must be a list of finding ids"),
    ('[keymap]\npause = "+"\n', 2, 'punctuation by name: "plus"'),
    ('[keymap]\npause = "z, x"\n', 2, "comma-separated without spaces"),
    # across settings
    ('[thresholds]\nbacklog_warning = 0.9\n', 2, "backlog_warning (0.9) must not be above"),
    ('[check]\nwarn = ["rate-limit"]\nok = ["rate-limit"]\n', 3,
     'finding "rate-limit" is in both check.warn and check.ok'),
    ('[keymap]\npause = "z"\nhelp = "x,z"\n', 3,
     'key "z" is bound to both keymap.pause and keymap.help'),
    ('[keymap]\n\npause = "q"\n', 3,
     'keymap.pause: key "q" is already quit\'s; give keymap.quit another key too'),
    ('[keymap]\npause = "z,enter"\n', 2, 'key "enter" is kept for the findings list'),
    ('[keymap]\nhelp = "ctrl+q"\n', 2, "kept for Textual's own quit"),
])
def test_error_names_file_line_and_key(config_file, text, line, needle):
    path = config_file(text)
    message = error_of(path)
    assert message.startswith(f"{path} line {line}: "), message
    assert needle in message


def test_error_example_from_the_brief(config_file):
    path = config_file('# auditop\n\ninterval = "fast"\n')
    assert error_of(path) == (f'{path} line 3: interval must be a number between 0.1 '
                              'and 3600, not "fast"')


def test_value_in_an_inline_table_is_found_by_key(config_file):
    path = config_file('thresholds = { q_depth = 0 }\n')
    assert "thresholds.q_depth must be a whole number" in error_of(path)


def test_unreadable_and_non_utf8_files(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    assert "cannot read it" in error_of(tmp_path / "dir.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"interval = 1\n# \xff\xfe\n")
    assert error_of(binary) == f"{binary} line 2: not UTF-8 text"


def test_deep_nesting_is_a_config_error(config_file):
    path = config_file("x = " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in error_of(path)


# --- listen -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:10090", ("127.0.0.1", 10090)),
    ("0.0.0.0:1", ("0.0.0.0", 1)),
    ("[::]:65535", ("::", 65535)),
    ("[::1]:9100", ("::1", 9100)),
    ("metrics.example.org:8080", ("metrics.example.org", 8080)),
])
def test_parse_listen(text, expected):
    assert config.parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", ":9100", "host", "host:", "host:0", "host:65536",
                                  "host:+1", "::1:9100", "[nope]:9100", "a b:9100", "h:١٢"])
def test_parse_listen_rejects(text):
    with pytest.raises(ValueError):
        config.parse_listen(text)


# --- fuzzing: nothing but ConfigError ever escapes --------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_raises_only_config_error(text):
    try:
        values = parse(text, "/x/config.toml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("/x/config.toml")
    else:
        assert set(values) <= set(config.SPECS) | {f"keymap.{i}" for i in config.KEYMAP_IDS}


_TOKENS = st.sampled_from([
    *'[]{}="\'.,#\\ \n', " = ", "[keymap]\n", "[thresholds]\n", "[check]\n", "[exporter]\n",
    "interval", "sample_rate", "read_only", "thresholds", "q_depth", "backlog_warning", "check",
    "warn", "ok", "keymap", "pause", "interval.shorter", "exporter", "listen", "1", "0.5", "-3",
    "1e400", "true", '"z"', '"127.0.0.1:80"', '["rate-limit"]'])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=30).map("".join))
def test_toml_like_text_raises_only_config_error(text):
    # Text made of the file's own words reaches validation far more often.
    try:
        parse(text, "/x/config.toml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("/x/config.toml")


_names = st.sampled_from([*config.SPECS, *(f"keymap.{i}" for i in config.KEYMAP_IDS),
                          "intervall", "thresholds.x", "keymap.x", "check"])
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["z", "ctrl+p", "127.0.0.1:80", "rate-limit",
                                           "[::1]:1", "a,b", "q"]),
    st.dates(), st.datetimes(), st.times())
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.text(string.ascii_lowercase, max_size=5), inner, max_size=3)),
    max_leaves=8)


def _document(pairs: dict) -> dict:
    """Flat names into TOML's nesting, as tomllib would return them."""
    document: dict = {}
    for name, value in pairs.items():
        table, dot, key = name.partition(".")
        if dot and isinstance(document.setdefault(table, {}), dict):
            document[table][key] = value
        elif not dot:
            document[table] = value
    return document


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_names, _values, max_size=6), st.text(max_size=40))
def test_arbitrary_values_raise_only_config_error(pairs, text):
    try:
        values = config.validate(_document(pairs), text, "/x/config.toml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("/x/config.toml")
        return
    file_settings = config.FileSettings(Path("/x/config.toml"), True, values)
    s = Settings.from_effective(effective(file_settings))  # usable as it stands
    assert 0.1 <= s.interval <= 3600 and isinstance(s.read_only, bool)
    assert s.thresholds.backlog_warning <= s.thresholds.backlog_critical


# --- the examples in the docs load ------------------------------------------------

@pytest.mark.parametrize("doc", ["README.md", "docs/fleet.md", "docs/tui.md"])
def test_toml_examples_in_the_docs_are_valid(doc):
    text = (Path(__file__).resolve().parents[2] / doc).read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    assert blocks, doc
    for block in blocks:
        parse(block, doc)  # raises ConfigError with the line if a doc is wrong
