"""Record how long each chapter notebook takes on a GPU, for the book's status page.

Run on a machine with a CUDA GPU, with the project installed (the README's install step with
the CUDA build of torch 2.13.0) and ``DLCORE_DEVICE`` unset, so the chapters pick the GPU::

    python tools/record_gpu_times.py            # every chapter notebook
    python tools/record_gpu_times.py book/optimizers/adaptive.md ...

Each notebook is converted with jupytext and executed in a fresh kernel (nbclient); the wall
time of its cells and whether it ran without error are written to ``book/_status/gpu.json``
with the date, the device name, the torch and CUDA versions and the commit. Commit that file:
the status page shows it. A notebook that fails is recorded as failed, not timed.

``--allow-cpu OUT.json`` runs without a GPU and writes to OUT.json instead (to test the script);
its figures are CPU figures and must not be committed as GPU times.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_ext  # noqa: E402
import run_tests  # noqa: E402


def run_notebook(md: pathlib.Path) -> tuple[float | None, str | None]:
    """Execute ``md`` in a fresh kernel; return (seconds of cell execution, error or None)."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(md)
    with tempfile.TemporaryDirectory() as cwd:
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": cwd}})
        with client.setup_kernel():
            t0 = time.perf_counter()
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            except CellExecutionError as err:
                return None, str(err).splitlines()[0][:200]
            return time.perf_counter() - t0, None


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="*", type=pathlib.Path)
    ap.add_argument("--allow-cpu", metavar="OUT.json", type=pathlib.Path,
                    help="run without a GPU and write to this file (testing the script)")
    args = ap.parse_args(argv)
    import torch

    if os.environ.get("DLCORE_DEVICE"):
        ap.error(f"unset DLCORE_DEVICE (it is {os.environ['DLCORE_DEVICE']!r}): the chapters "
                 "must choose the GPU themselves")
    if torch.cuda.is_available():
        device, cuda = torch.cuda.get_device_name(0), torch.version.cuda
        out = args.allow_cpu or book_ext.STATUS_DIR / "gpu.json"
    elif args.allow_cpu:
        device, cuda, out = "no GPU (CPU test run)", "none", args.allow_cpu
    else:
        ap.error("no CUDA GPU is visible to torch; use --allow-cpu OUT.json to test the script")
    pages = [p.resolve() for p in args.pages] or run_tests.chapter_sources()
    rows = []
    for md in pages:
        seconds, error = run_notebook(md)
        name = str(md.relative_to(ROOT / "book").with_suffix(""))
        rows.append({"notebook": name, "seconds": None if seconds is None else round(seconds, 2),
                     "passed": error is None, "error": error})
        print(f"{'failed' if error else f'{seconds:7.1f} s'}  {name}  {error or ''}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": device, "torch": torch.__version__, "cuda": cuda,
        "commit": run_tests.git_commit(), "command": "python tools/record_gpu_times.py",
        "notebooks": rows,
    }, indent=1) + "\n")
    print(f"wrote {out}")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
