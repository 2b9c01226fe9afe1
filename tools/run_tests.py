"""Run every test of the project in one pytest session.

1. dlcore's unit tests (tests/) and doctests (dlcore/), with coverage of dlcore;
2. every chapter notebook through nbval: each ``book/**/*.md`` with a ``kernelspec`` is turned
   into a ``.ipynb`` by jupytext in a scratch directory (never beside its source, where it would
   break the book build and the Binder links) and executed with ``--nbval-lax``: a cell that
   raises, for instance a failing ``dlcore.check``, fails the run;
3. the per-test (hence per-notebook) durations are printed at the end.

Usage: ``python tools/run_tests.py [extra pytest arguments]``.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
import tempfile

import jupytext
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def chapter_sources() -> list[pathlib.Path]:
    """Every MyST notebook under book/: a .md file whose front matter has a kernelspec."""
    found = []
    for md in sorted((ROOT / "book").rglob("*.md")):
        head = md.read_text(encoding="utf-8")[:1000]
        if head.startswith("---") and "kernelspec:" in head:
            found.append(md)
    return found


def convert(sources: list[pathlib.Path], scratch: pathlib.Path) -> list[pathlib.Path]:
    """Write ``scratch/<chapter>/<section>.ipynb`` for each source; return the paths."""
    out = []
    for md in sources:
        target = scratch / md.relative_to(ROOT / "book").with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        jupytext.write(jupytext.read(md), target)
        out.append(target)
    return out


class NotebookTimes:
    """pytest plugin: nbval makes one test per cell; add them up per notebook and print."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report) -> None:
        # notebooks live outside the rootdir, so their node ids carry no path: use the file
        path = str(getattr(report, "fspath", "") or report.location[0])
        if path.endswith(".ipynb"):
            path = path.split("dlcore-nbval-", 1)[-1].split("/", 1)[-1]  # <chapter>/<section>
            self.seconds[path] = self.seconds.get(path, 0.0) + report.duration
            if report.failed:
                self.failed.add(path)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.seconds:
            return
        tr = terminalreporter
        tr.section("notebook execution times (nbval)")
        for path, sec in sorted(self.seconds.items()):
            mark = "FAILED" if path in self.failed else "ok"
            tr.write_line(f"{sec:7.1f} s  {mark:6s}  {path}")
        tr.write_line(f"{sum(self.seconds.values()):7.1f} s  total")


def main(argv: list[str]) -> int:
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="dlcore-nbval-"))
    try:
        notebooks = convert(chapter_sources(), scratch)
        print(f"nbval: {len(notebooks)} chapter notebooks converted into {scratch}")
        args = [
            "-p", "no:cacheprovider",
            "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
            str(ROOT / "tests"), str(ROOT / "dlcore"),
            "--cov=dlcore", "--cov-report=term-missing", f"--cov-config={ROOT / 'pyproject.toml'}",
            "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300",
            "--durations=15",
            *map(str, notebooks),
            *argv,
        ]
        return int(pytest.main(args, plugins=[NotebookTimes()]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
