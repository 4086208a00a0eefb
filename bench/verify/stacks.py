"""The costliest functions in py-spy's collapsed stacks (`py-spy record --format raw`).

    python3 bench/verify/stacks.py STACKS.txt [--top 30]

Each line of STACKS is `frame;frame;...;frame COUNT` (the process/thread frames first).
Prints the share of samples spent in each function itself (self) and under it (inclusive),
so the request path's costs can be read off: Django's handler, middleware, ninja, the ORM,
the database driver, signing.
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _name(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stacks")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    own, under = Counter(), Counter()
    total = 0
    for line in Path(args.stacks).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if frames:
            own[frames[-1]] += n
        for name in set(frames):
            under[name] += n
    print(f"{total} samples (busy threads only)\n")
    for title, counter in (("self", own), ("inclusive", under)):
        print(f"--- {title} ---")
        for name, n in counter.most_common(args.top):
            print(f"{100 * n / total:6.1f}%  {name}")
        print()


if __name__ == "__main__":
    main()
