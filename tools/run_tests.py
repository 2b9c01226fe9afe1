"""Run every test of the project, on every CPU core, and record what the notebooks cost.

1. dlcore's unit tests (tests/) and doctests (dlcore/), with coverage of dlcore, spread over
   the cores with pytest-xdist;
2. every chapter notebook through nbval, one notebook per worker at a time
   (``--dist loadfile``): each ``book/**/*.md`` with a ``kernelspec`` is turned into a
   ``.ipynb`` by jupytext in a scratch directory under ``_build/`` (never beside its source,
   where it would break the book build and the Binder links) and executed with
   ``--nbval-lax``: a cell that raises, for instance a failing ``dlcore.check``, fails the run.
   The kernels run without coverage measurement, so their times are the reader's;
3. per notebook: the execution time and the kernel's peak memory are printed and written to
   ``book/_status/cpu.json`` (the status page of the book shows them), and the executed
   notebooks that passed are put into the book build's jupyter-cache
   (``_build/.jupyter_cache``), stamped with a fingerprint of dlcore and the installed
   packages, so ``jupyter-book build .`` right after this command executes no notebook again
   (``tools/book_ext.py`` drops the cache when the fingerprint no longer matches).

Usage: ``python tools/run_tests.py [extra pytest arguments, given to both sessions]``.
``DLCORE_TEST_WORKERS=1`` runs everything in one process.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile

import jupytext
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import book_ext  # noqa: E402  (tools/, the book's Sphinx extension: cache fingerprint)

STATUS = ROOT / "book" / "_status" / "cpu.json"
CACHE = ROOT / "_build" / ".jupyter_cache"


def chapter_sources() -> list[pathlib.Path]:
    """Every MyST notebook under book/: a .md file whose front matter has a kernelspec."""
    return [md for md in sorted((ROOT / "book").rglob("*.md")) if book_ext.is_notebook(md)]


def convert(sources: list[pathlib.Path], scratch: pathlib.Path) -> list[pathlib.Path]:
    """Write ``scratch/<chapter>/<section>.ipynb`` for each source; return the paths."""
    out = []
    for md in sources:
        target = scratch / md.relative_to(ROOT / "book").with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(md), target)
        out.append(target)
    return out


def workers() -> int:
    """pytest-xdist workers: ``DLCORE_TEST_WORKERS``, else one per core, at most 2 or 4."""
    env = os.environ.get("DLCORE_TEST_WORKERS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise SystemExit(f"DLCORE_TEST_WORKERS must be a positive integer, got {env!r}")
        return int(env)
    return max(1, min(4, os.cpu_count() or 1))


def pytest_run(args: list[str], env: dict[str, str]) -> int:
    """One pytest session in a subprocess (xdist workers inherit ``env``)."""
    n = workers()
    dist = ["-n", str(n)] if n > 1 else []
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
           "-c", str(ROOT / "pyproject.toml"), *dist, *args]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "book", "dlcore",
                                ":!book/_status"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def collect(record: pathlib.Path, sources: list[pathlib.Path]) -> list[dict]:
    rows = []
    for md in sources:
        rel = md.relative_to(ROOT / "book").with_suffix("")
        f = record / f"{rel.parent.name}__{rel.name}.json"
        row = json.loads(f.read_text()) if f.exists() else {
            "notebook": str(rel), "seconds": None, "peak_mib": None, "cells": None,
            "passed": False}
        row["source"] = str(md.relative_to(ROOT))
        rows.append(row)
    return rows


def write_status(rows: list[dict], n_workers: int) -> None:
    import torch

    STATUS.parent.mkdir(parents=True, exist_ok=True)
    STATUS.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "workers": n_workers,
        "command": "python tools/run_tests.py",
        "notebooks": [{k: r[k] for k in ("notebook", "seconds", "peak_mib", "passed")}
                      for r in rows],
    }, indent=1) + "\n")


def fill_cache(rows: list[dict], record: pathlib.Path) -> int:
    """Put the passed notebooks into the build's jupyter-cache; return how many."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    shutil.rmtree(CACHE, ignore_errors=True)  # nothing stale survives a test run
    cache = get_cache(str(CACHE))
    n = 0
    for r in rows:
        nb_file = record / (r["notebook"].replace("/", "__") + ".ipynb")
        if r["passed"] and nb_file.exists():
            nb = nbformat.read(str(nb_file), as_version=4)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(ROOT / r["source"]),
                              data={"execution_seconds": r["seconds"]}),
                check_validity=False, overwrite=True)
            n += 1
    book_ext.write_stamp(CACHE)
    return n


def report(rows: list[dict]) -> None:
    print("\n== notebook execution times and peak kernel memory (nbval, no coverage) ==")
    for r in rows:
        sec = "    -  " if r["seconds"] is None else f"{r['seconds']:6.1f} s"
        mem = "     -   " if r["peak_mib"] is None else f"{r['peak_mib']:6.0f} MiB"
        flags = [] if r["passed"] else ["FAILED"]
        if r["seconds"] is not None and r["seconds"] > book_ext.BUDGET_SECONDS:
            flags.append(f"over {book_ext.BUDGET_SECONDS} s")
        if r["peak_mib"] is not None and r["peak_mib"] > book_ext.BUDGET_MIB:
            flags.append(f"over {book_ext.BUDGET_MIB} MiB")
        print(f"{sec}  {mem}  {r['notebook']}  {' '.join(flags)}")
    total = sum(r["seconds"] or 0 for r in rows)
    print(f"{total:6.1f} s  total (cell time summed over notebooks; they ran in parallel)")


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLS), env.get("PYTHONPATH")]))
    print(f"== unit tests and doctests, with coverage ({workers()} workers) ==", flush=True)
    unit = pytest_run([str(ROOT / "tests"), str(ROOT / "dlcore"), "--cov=dlcore",
                       "--cov-report=term-missing", f"--cov-config={ROOT / 'pyproject.toml'}",
                       "--durations=10", *argv], env)

    # inside the root directory, so that every cell's test id names its notebook (pytest-xdist
    # keeps the cells of one notebook together by that name); _build/ is git-ignored
    (ROOT / "_build").mkdir(exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="nbval-", dir=ROOT / "_build"))
    try:
        sources = chapter_sources()
        notebooks = convert(sources, scratch / "nb")
        record = scratch / "record"
        env["DLCORE_NB_RECORD"] = str(record)
        print(f"\n== {len(notebooks)} chapter notebooks through nbval ({workers()} workers) ==",
              flush=True)
        nbs = pytest_run(["-p", "nbrecord", "--dist", "loadfile", "--nbval-lax",
                          "--nbval-current-env", "--nbval-cell-timeout=300",
                          "--override-ini=addopts=", *map(str, notebooks), *argv], env)
        rows = collect(record, sources)
        report(rows)
        write_status(rows, workers())
        cached = fill_cache(rows, record)
        print(f"wrote {STATUS.relative_to(ROOT)}; {cached} executed notebooks put into "
              f"{CACHE.relative_to(ROOT)} for the book build")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nunit tests: {'passed' if unit == 0 else 'FAILED'}; "
          f"notebooks: {'passed' if nbs == 0 else 'FAILED'}")
    return unit or nbs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
