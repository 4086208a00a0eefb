"""The benchmarks' tables: Markdown, each column as wide as its widest cell."""

from collections.abc import Sequence


def markdown_table(lines: Sequence[Sequence[str]]) -> str:
    """`lines[0]` is the header; every line has as many cells as it."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
