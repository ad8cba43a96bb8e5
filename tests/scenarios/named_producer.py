"""A producer with its own process name: opens DIR/load COUNT times (or until
SECONDS pass, whichever first) after naming itself NAME (/proc/self/comm,
what a SYSCALL record's comm= shows). Prints one JSON line: the opens made.

    named_producer.py NAME DIR COUNT SECONDS [START_MONO [RATE]]

START_MONO (a time.monotonic() value) lines several producers up; RATE
(opens a second, 0 = as fast as it can) keeps it to a pace auditd can
take, in steps of a hundredth of a second. Bounded
twice, like producer.py, and never lives longer than HARD_LIMIT_S.
"""

from __future__ import annotations

import json
import os
import sys
import time

HARD_LIMIT_S = 30.0


def main(argv: list[str]) -> dict:
    name, directory, count, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    born = time.monotonic()
    with open("/proc/self/comm", "w") as comm:
        comm.write(name[:15])
    if len(argv) > 4:
        start = float(argv[4])
        if start > time.monotonic():
            time.sleep(min(start - time.monotonic(), 5.0))
    rate = float(argv[5]) if len(argv) > 5 else 0.0
    path = os.path.join(directory, "load")
    began = time.monotonic()
    deadline = min(began + seconds, born + HARD_LIMIT_S)
    ops = 0
    while ops < count and time.monotonic() < deadline:
        os.close(os.open(path, os.O_RDONLY))
        ops += 1
        if rate and ops % max(1, int(rate / 100)) == 0:
            ahead = began + ops / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    return {"name": name, "ops": ops, "seconds": time.monotonic() - began}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])), flush=True)
