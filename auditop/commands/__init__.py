"""What each `auditop` command does, one module per command; auditop/cli.py
parses the command line, resolves the settings (`args.settings`: command
line over config file over defaults) and calls the command's `run(args)`.

    common     exit codes, how a host is written in a URL, the TUI's terminal
    sampling   the Monitor over the live kernel, for the commands that sample
    status, check, set, record, exporter, config      headless
    tui (live and --demo), replay, plot, web           no root needed but live

Nothing heavy is imported here or at the top of a command's module:
pyroute2, prometheus_client, Textual and textual-serve are imported inside
the command that needs them (tests/unit/test_import_hygiene.py).
"""
