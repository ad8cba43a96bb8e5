"""Load for the lab: open and close a file in the scratch directory in a loop,
so the lab's rule makes the kernel emit audit records. Run as a child process
(`python producer.py ...`) so the lab can kill it at any time.

Every loop is bounded twice: by a deadline and by a count of opens.

    producer.py flood  SCRATCH SECONDS MAX_OPS
    producer.py bursts SCRATCH START_MONO COUNT BURST_S PERIOD_S MAX_OPS
    producer.py trickle SCRATCH SECONDS PER_SECOND

START_MONO is a time.monotonic() value (CLOCK_MONOTONIC is shared by every
process on the machine), so the test can line its own readers up with the
bursts. At the end it prints one JSON line: the opens it made and, for
bursts, the wall-clock [start, end] of each burst.
"""

from __future__ import annotations

import json
import os
import sys
import time

HARD_LIMIT_S = 30.0  # whatever the arguments say, no producer lives longer


def _open_until(path: str, deadline: float, max_ops: int) -> int:
    ops = 0
    while ops < max_ops and time.monotonic() < deadline:
        os.close(os.open(path, os.O_RDONLY))
        ops += 1
    return ops


def main(argv: list[str]) -> dict:
    mode, scratch = argv[0], argv[1]
    path = os.path.join(scratch, "load")
    born = time.monotonic()
    cap = born + HARD_LIMIT_S
    if mode == "flood":
        seconds, max_ops = float(argv[2]), int(argv[3])
        return {"ops": _open_until(path, min(born + seconds, cap), max_ops)}
    if mode == "bursts":
        start, count, burst, period, max_ops = (float(argv[2]), int(argv[3]),
                                                float(argv[4]), float(argv[5]), int(argv[6]))
        ops, bursts = 0, []
        for k in range(count):
            begin = start + k * period
            now = time.monotonic()
            if begin > cap:
                break
            if begin > now:
                time.sleep(begin - now)
            wall = time.time()
            done = _open_until(path, min(time.monotonic() + burst, cap), max_ops - ops)
            ops += done
            bursts.append([wall, time.time(), done])
        return {"ops": ops, "bursts": bursts}
    if mode == "trickle":
        seconds, per_second = float(argv[2]), float(argv[3])
        ops, deadline = 0, min(born + seconds, cap)
        while time.monotonic() < deadline:
            ops += _open_until(path, deadline, 1)
            time.sleep(1.0 / per_second)
        return {"ops": ops}
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
