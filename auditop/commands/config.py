"""`auditop config path` and `auditop config show`."""

from __future__ import annotations

import argparse


def path(args: argparse.Namespace) -> int:
    """Where the config file is, or would be; answers even when it is broken."""
    from auditop.config import config_path
    print(config_path())
    return 0


def show(args: argparse.Namespace) -> int:
    """Every setting in effect and where it came from."""
    from auditop.config import show_text
    print(show_text(args.resolved))
    return 0
