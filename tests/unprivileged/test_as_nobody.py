"""The demo, record --demo and plot as a real unprivileged user (`nobody`,
no capabilities at all), the way /work/shared/docs/real-kernel.md says: the
machine's own python lives under /root, which other users cannot enter, so
a virtual environment is made with Debian's /usr/bin/python3 in a directory
nobody can read, holding auditop (this worktree's) and copies of the
pure-Python packages it needs from the running interpreter (the same
CPython minor version). Then `setpriv` switches to uid 65534 with every
capability dropped and runs the commands on a pseudo-terminal."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root"),
    pytest.mark.skipif(not DEBIAN_PYTHON.exists(), reason="no /usr/bin/python3 to build a "
                       "virtual environment another user can run"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="no setpriv (util-linux)"),
]


def _closure(names: list[str]) -> set[str]:
    """The distributions `names` need, recursively (extras left out)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        requirement = Requirement(todo.pop())
        name = requirement.name.lower()
        if name in seen or (requirement.marker and not requirement.marker.evaluate(
                {"extra": ""})):
            continue
        seen.add(name)
        todo += metadata.requires(name) or []
    return seen


@pytest.fixture(scope="module")
def venv():
    """A venv in a fresh directory of /tmp that nobody can read; its home
    beside it, nobody's own. Removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="auditop-nobody-", dir="/tmp"))
    try:
        yield _make_venv(base)
    finally:
        shutil.rmtree(base)


def _make_venv(base: Path) -> Path:
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    folder = base / "venv"
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", "--without-pip", folder], check=True)
    site = next(folder.glob("lib/python3*/site-packages"))
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in _closure(wanted):
        dist = metadata.distribution(name)
        base = Path(dist.locate_file(""))
        for file in dist.files or ():
            source = base / file
            if ".." in file.parts or not source.is_file() or file.suffix == ".pyc":
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shutil.copytree(ROOT / "auditop", site / "auditop",
                    ignore=shutil.ignore_patterns("__pycache__"))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    info = site / f"auditop-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: auditop\nVersion: {version}\n")
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    return folder


def nobody(venv: Path, *args: str, size=(80, 24)) -> Terminal:
    home = venv.parent / "home"
    return Terminal([*AS_NOBODY, str(venv / "bin" / "python"), "-m", "auditop", *args],
                    size=size, cwd=str(home),
                    env={"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": ""})


def test_the_venv_runs_as_nobody_without_any_capability(venv):
    result = subprocess.run([*AS_NOBODY, str(venv / "bin" / "python"), "-c",
                             "import os, sys; print(os.geteuid(), sys.executable); "
                             "print(open('/proc/self/status').read())"],
                            capture_output=True, text=True, timeout=30, cwd="/")
    assert result.returncode == 0, result.stderr
    first, *status = result.stdout.splitlines()
    assert first.split()[0] == str(NOBODY) and first.split()[1].startswith(str(venv))
    caps = {line.split(":")[0]: int(line.split()[1], 16) for line in status
            if line.startswith("Cap")}
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == 0


def test_nobody_runs_the_demo_stalls_and_floods_and_sees_why(venv):
    with nobody(venv, "--demo") as term:
        assert term.wait_for("DEMO", "f flood", timeout=30), term.text[-2000:]
        term.type("s")
        term.type("f")
        assert term.wait_for("65 / 64", "LOST", "auditd is stopped",
                             "Audit records are being lost", timeout=15), term.text[-3000:]
        term.type("q")
        code, after = term.finish()
    assert code == 0 and "Traceback" not in after


def test_nobody_records_the_demo_and_plots_it(venv):
    out = venv.parent / "home" / "demo.jsonl"
    with nobody(venv, "record", "--demo", "--duration", "5", "-o", str(out)) as term:
        code, printed = term.finish(timeout=30)
    assert code == 0, printed
    assert out.stat().st_uid == NOBODY and len(out.read_text().splitlines()) >= 4
    with nobody(venv, "plot", str(out), size=(100, 30)) as term:
        code, printed = term.finish()
    assert code == 0 and "backlog peak vs limit" in printed, printed


def test_nobody_gets_one_line_for_the_live_screen(venv):
    with nobody(venv, "status") as term:
        code, printed = term.finish(timeout=30)
    assert code == 1
    assert printed.strip().splitlines() == [
        "auditop: the kernel refused: auditop needs CAP_AUDIT_CONTROL: run as root"]
