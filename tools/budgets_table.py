"""Print the README's "Measured budgets" table from ``book/_status/cpu.json``.

    python tools/budgets_table.py [cpu.json]

Chapters come in the order of ``_toc.yml``; each notebook's budget is 30 s and 1 GB, each
chapter's 120 s (Networks, Losses, Ensembles and Training practice: 90 s). A figure over
budget is printed in bold with "over".
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_S, NOTEBOOK_MIB = 30.0, 1024.0
CHAPTER_S = {"networks": 90.0, "losses": 90.0, "ensembles": 90.0, "practice": 90.0}
TITLES = {"practice": "Training practice"}  # where the folder name is not the title


def chapters_in_toc(toc_text: str) -> list[str]:
    """Chapter folders in the order their index pages appear in the table of contents."""
    return re.findall(r"file: book/(\w+)/index", toc_text)


def table(cpu: dict, order: list[str]) -> str:
    by_chapter: dict[str, list[dict]] = {}
    for row in cpu["notebooks"]:
        chapter, _, _ = row["notebook"].partition("/")
        by_chapter.setdefault(chapter, []).append(row)
    unknown = sorted(set(by_chapter) - set(order))
    lines = ["| Chapter | Section (notebook) | time | peak memory | Budget |",
             "|---|---|---:|---:|---:|"]
    total, peak = 0.0, 0.0
    for chapter in [*order, *unknown]:
        rows = sorted(by_chapter.get(chapter, []), key=lambda r: r["notebook"])
        if not rows:
            continue
        spent = 0.0
        for i, row in enumerate(rows):
            name = f" {TITLES.get(chapter, chapter.capitalize())}" if i == 0 else ""
            s, mib = row["seconds"], row["peak_mib"]
            if s is None or not row["passed"]:
                t, m = "**failed**", "—"
            else:
                spent += s
                peak = max(peak, mib or 0.0)
                t = f"{s:.1f} s" if s <= NOTEBOOK_S else f"**{s:.1f} s (over)**"
                m = (f"{mib:.0f} MiB" if mib <= NOTEBOOK_MIB else f"**{mib:.0f} MiB (over)**")
            nb = row["notebook"].partition("/")[2]
            lines.append(f"|{name} | `{nb}` | {t} | {m} | 30 s, 1 GB |")
        budget = CHAPTER_S.get(chapter, 120.0)
        flag = "" if spent <= budget else " (over)"
        lines.append(f"| | **chapter** | **{spent:.1f} s{flag}** | | **{budget:.0f} s** |")
        total += spent
    n = len(cpu["notebooks"])
    lines.append(f"| | **all {n} notebooks** (cell time; {cpu['workers']} at a time) | "
                 f"**{total:.1f} s** | max {peak:.0f} MiB | |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = pathlib.Path(argv[0]) if argv else ROOT / "book" / "_status" / "cpu.json"
    cpu = json.loads(path.read_text(encoding="utf-8"))
    print(table(cpu, chapters_in_toc((ROOT / "_toc.yml").read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
