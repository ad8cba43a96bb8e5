"""Every subcommand's --help page says what it does and shows examples that
the parser accepts; each option's help fits its command."""

from __future__ import annotations

import argparse
import shlex

import pytest

from auditop import cli


def pages(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, by its name ("status", "config show")."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, page in action.choices.items():
                found[prefix + name] = page
                found.update(pages(page, f"{prefix}{name} "))
    return found


PAGES = pages(cli._parser())


def test_every_subcommand_is_found():
    assert {"status", "check", "set", "record", "replay", "plot", "web", "exporter",
            "config", "config path", "config show"} <= set(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_subcommand_help_has_a_description_and_an_example(name):
    text = PAGES[name].format_help()
    description = PAGES[name].description
    assert description and len(description.split()) >= 8, name
    assert description.splitlines()[0] in text  # kept as written, not reflowed
    assert all(len(line) <= 79 for line in description.splitlines()), name
    _, examples = text.split("\nexamples:\n")
    lines = examples.rstrip().splitlines()
    assert lines and all(line.startswith(f"  auditop {name.split()[0]}")
                         or line.startswith("  auditop --") for line in lines), lines


@pytest.mark.parametrize("line", [line for name, page in sorted(PAGES.items())
                                  for line in page.epilog.splitlines()[1:]])
def test_every_example_is_accepted_by_the_parser(line):
    argv = shlex.split(line)[1:]
    args = cli._parser().parse_args(argv)  # a UsageError would fail the test
    cli._check_usage(args)
    assert callable(cli.command(args.command))


def test_status_help_runs_and_describes_read_only_for_status(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "examples: auditop status" in out
    assert "--read-only, --no-read-only never signal auditd: --auditd-state is refused" in out
    assert "change keys" not in out  # status has none
    set_help = " ".join(PAGES["set"].format_help().split())
    assert "--read-only, --no-read-only change nothing: refuse, exit 2" in set_help
    assert "change keys" in " ".join(cli._parser().format_help().split())  # the TUI has them
