"""pytest plugin for nbval runs: keep what each notebook produced and what it cost.

Loaded by ``tools/run_tests.py`` with ``-p nbrecord`` (also inside pytest-xdist workers, which
import it by name). For every notebook that nbval executes it writes, into the directory named
by the environment variable ``DLCORE_NB_RECORD``:

- ``<chapter>__<section>.json``: the seconds its cells took (the sum of the cells' execution
  times, kernel start-up excluded), the kernel's peak resident memory (``VmHWM`` of the kernel
  process, read just before the kernel is stopped; ``null`` where ``/proc`` does not exist),
  the number of cells and whether every cell passed;
- ``<chapter>__<section>.ipynb``: the notebook with the outputs nbval collected, so the book
  build can reuse them instead of executing the notebook a second time (the test command puts
  the passed ones into the build's jupyter-cache).

Without ``DLCORE_NB_RECORD`` the plugin records nothing. It always makes nbval execute cells
with ``store_history=True``, as Jupyter does: with nbval's ``store_history=False`` IPython
checks a stale history entry for the trailing ``;`` that hides a cell's last value, so a
notebook would show outputs under nbval that it does not show in Jupyter or in the book.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform

import nbformat
import pytest

# what ipykernel reports for the current interpreter (nbval runs --nbval-current-env); the book
# build reads the code lexer from it
LANGUAGE_INFO = {
    "name": "python",
    "version": platform.python_version(),
    "mimetype": "text/x-python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "pygments_lexer": "ipython3",
    "nbconvert_exporter": "python",
    "file_extension": ".py",
}

_seconds: dict[str, float] = {}
_failed: set[str] = set()


def pytest_configure(config) -> None:
    from nbval.kernel import RunningKernel

    if getattr(RunningKernel.execute_cell_input, "_dlcore", False):
        return

    def execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                               stop_on_error=False)

    execute_cell_input._dlcore = True
    RunningKernel.execute_cell_input = execute_cell_input


def _record_dir() -> pathlib.Path | None:
    where = os.environ.get("DLCORE_NB_RECORD")
    return pathlib.Path(where) if where else None


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


def record_name(path: str | os.PathLike) -> str:
    """``<scratch>/<chapter>/<section>.ipynb`` → ``<chapter>__<section>``."""
    p = pathlib.Path(path)
    return f"{p.parent.name}__{p.stem}"


def peak_memory_mib(pid: int | None) -> float | None:
    """Peak resident set size (``VmHWM``) of process ``pid`` in MiB, or None if unknown."""
    if pid is None:
        return None
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None  # pragma: no cover - every Linux kernel since 2.6 reports VmHWM


def _kernel_pid(item) -> int | None:
    km = getattr(getattr(item.parent, "kernel", None), "km", None)
    provisioner = getattr(km, "provisioner", None)
    return getattr(provisioner, "pid", None)


def pytest_runtest_logreport(report) -> None:
    if _record_dir() is None or not report.nodeid.split("::")[0].endswith(".ipynb"):
        return
    name = record_name(report.fspath)
    if report.when == "call":
        _seconds[name] = _seconds.get(name, 0.0) + report.duration
    if report.failed:
        _failed.add(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    out = _record_dir()
    if out is not None and _is_cell(item):
        item.cell.outputs = list(item.test_outputs or [])
        item.cell.execution_count = item.cell_num + 1
        if nextitem is None or nextitem.parent is not item.parent:  # the notebook's last cell
            name = record_name(item.parent.fspath)
            nb = item.parent.nb
            nb.metadata["language_info"] = LANGUAGE_INFO
            out.mkdir(parents=True, exist_ok=True)
            passed = name not in _failed
            (out / f"{name}.json").write_text(json.dumps({
                "notebook": name.replace("__", "/"),
                "seconds": round(_seconds.get(name, 0.0), 2),
                "peak_mib": _round(peak_memory_mib(_kernel_pid(item))),
                "cells": item.cell_num + 1,
                "passed": passed,
            }))
            if passed:
                nbformat.write(nb, str(out / f"{name}.ipynb"))
    yield


def _round(mib: float | None) -> float | None:
    return None if mib is None else round(mib, 1)
