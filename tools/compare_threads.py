"""Check the thread policy: a chapter prints the same numbers with 1 and with 2 CPU cores.

Each given ``book/**/*.md`` notebook is executed twice in a fresh kernel, once with the
process (and so the kernel) pinned to one core and once with two cores available, with
``DLCORE_THREADS`` unset; the text outputs of every code cell (printed lines and plain-text
results, not figures) are compared, glued values included, and the first difference is shown.

Usage: ``python tools/compare_threads.py book/activations/rectifiers.md [more.md ...]``
Exit status 0 when every notebook matches, 1 otherwise. Linux only (``sched_setaffinity``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile


def _texts(nb) -> list[list[str]]:
    """Per code cell, its text outputs joined in order."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                texts.append(o.get("text", ""))
            elif "data" in o and "image/png" not in o["data"]:
                # plain-text results, and the values glued into the prose (myst-nb stores a
                # glued value under a papermill.record MIME type)
                for mime in ("text/plain", "application/papermill.record/text/plain"):
                    if mime in o["data"]:
                        texts.append(o["data"][mime])
            elif o.get("output_type") == "error":
                texts.append(f"ERROR {o.get('ename')}: {o.get('evalue')}")
        # how a cell's printed text is split into stream chunks depends on timing: compare
        # the joined text, not the chunks
        out.append(["".join(texts)])
    return out


def execute(md: str, target: str) -> None:
    """Run one notebook (in this process's CPU affinity) and write its text outputs."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(md)
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": tmp}}).execute()
    pathlib.Path(target).write_text(json.dumps(_texts(nb)))


def run_with_cores(md: str, cores: set[int]) -> list[list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "DLCORE_THREADS"}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        target = f.name
    subprocess.run([sys.executable, __file__, "--execute", md, target], check=True, env=env,
                   preexec_fn=lambda: os.sched_setaffinity(0, cores))
    texts = json.loads(pathlib.Path(target).read_text())
    os.unlink(target)
    return texts


def main(paths: list[str]) -> int:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        print("need at least 2 CPU cores to compare 1 against 2")
        return 1
    failed = 0
    for md in paths:
        one = run_with_cores(md, {available[0]})
        two = run_with_cores(md, set(available[:2]))
        diffs = [(i, a, b) for i, (a, b) in enumerate(zip(one, two, strict=True)) if a != b]
        if diffs:
            failed += 1
            i, a, b = diffs[0]
            print(f"DIFFERENT  {md}: {len(diffs)} code cell(s) differ; first, code cell {i}:")
            print("  1 core :", "".join(a)[:600])
            print("  2 cores:", "".join(b)[:600])
        else:
            print(f"same       {md}: {len(one)} code cells, identical text output on 1 and "
                  f"2 cores")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--execute":
        execute(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
