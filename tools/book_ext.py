"""The book's own Sphinx extension (``_config.yml`` → ``sphinx.local_extensions``).

1. **A cache that cannot go stale.** The build takes notebook outputs from jupyter-cache
   (``execute_notebooks: cache``), which ``tools/run_tests.py`` fills with the notebooks it has
   just executed, so CI runs each notebook once. jupyter-cache matches a notebook by its code
   cells only; a change to ``dlcore`` or to an installed package would not be seen. The cache
   is therefore stamped with :func:`fingerprint` (dlcore's sources, the requirements and the
   versions of the packages the chapters import), and at the start of every build a cache
   whose stamp differs is deleted, so every notebook is executed again.
2. **Notebook downloads with outputs.** Each chapter page offers its ``.ipynb``
   (``_sources/<page>.ipynb``, sphinx-book-theme's download button). In cache mode myst-nb
   writes that file without outputs when the outputs came from the cache; after the build the
   file is replaced by the notebook with the outputs the page shows, so a reader who downloads
   it sees every figure and number without running it.
3. **The status page.** The ``{dlcore-status}`` directive renders ``book/_status/cpu.json``
   (written by the test command) and ``book/_status/gpu.json`` (written by
   ``tools/record_gpu_times.py`` on a machine with a GPU) as one table, and flags every
   notebook over its budget.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import pathlib
import platform
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATUS_DIR = ROOT / "book" / "_status"
STAMP = "dlcore-fingerprint.txt"
BUDGET_SECONDS = 30
BUDGET_MIB = 1024
PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "matplotlib", "myst-nb", "pycocotools",
            "ipykernel")


def is_notebook(md: pathlib.Path) -> bool:
    """A MyST notebook: a .md file whose front matter has a kernelspec."""
    head = md.read_text(encoding="utf-8")[:1000]
    return head.startswith("---") and "kernelspec:" in head


def fingerprint() -> str:
    """Hash of what a notebook's outputs depend on besides its own code cells."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "dlcore").rglob("*.py")) + [ROOT / "requirements.txt"]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    h.update(platform.python_version().encode())
    for name in PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{name}=={version}".encode())
    return h.hexdigest()


def write_stamp(cache: pathlib.Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / STAMP).write_text(fingerprint() + "\n")


def stamp_matches(cache: pathlib.Path) -> bool:
    f = cache / STAMP
    return f.exists() and f.read_text().strip() == fingerprint()


def _cache_dir(app) -> pathlib.Path:
    configured = getattr(app.config, "nb_execution_cache_path", "") or ""
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(app.outdir).parent / ".jupyter_cache"


def _guard_cache(app) -> None:
    from sphinx.util import logging

    cache = _cache_dir(app)
    if cache.exists() and not stamp_matches(cache):
        logging.getLogger(__name__).info(
            f"dlcore: {cache} was made with other dlcore sources or packages; removed, "
            "every notebook is executed again")
        shutil.rmtree(cache)


def _stamp_after_build(app, exception) -> None:
    cache = _cache_dir(app)
    if exception is None and cache.exists():
        write_stamp(cache)


def _notebook_downloads(app, exception) -> None:
    if exception is not None or getattr(app.builder, "format", "") != "html":
        return
    import nbformat
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    cache_dir = _cache_dir(app)
    if not cache_dir.exists():
        return
    cache = get_cache(str(cache_dir))
    for docname in sorted(app.env.found_docs):
        source = pathlib.Path(app.env.doc2path(docname))
        target = pathlib.Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if source.suffix != ".md" or not target.exists() or not is_notebook(source):
            continue
        nb = read_myst_markdown_notebook(source.read_text(encoding="utf-8"), path=str(source))
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:  # not in the cache: myst-nb executed it and wrote its outputs itself
            continue
        target.write_text(nbformat.writes(merged), encoding="utf-8")


def _load(name: str) -> dict | None:
    f = STATUS_DIR / name
    return json.loads(f.read_text()) if f.exists() else None


def status_rows(cpu: dict | None, gpu: dict | None) -> list[list[str]]:
    """The status table: one row per notebook measured on the CPU or the GPU."""
    gpu_by_nb = {r["notebook"]: r for r in (gpu or {}).get("notebooks", [])}
    names = [r["notebook"] for r in (cpu or {}).get("notebooks", [])]
    names += [n for n in gpu_by_nb if n not in names]
    cpu_by_nb = {r["notebook"]: r for r in (cpu or {}).get("notebooks", [])}
    rows = []
    for name in names:
        c, g = cpu_by_nb.get(name, {}), gpu_by_nb.get(name, {})
        sec, mib = c.get("seconds"), c.get("peak_mib")
        flags = []
        if c and not c.get("passed", False):
            flags.append("**failed**")
        if sec is not None and sec > BUDGET_SECONDS:
            flags.append(f"**over {BUDGET_SECONDS} s**")
        if mib is not None and mib > BUDGET_MIB:
            flags.append(f"**over {BUDGET_MIB // 1024} GB**")
        if c and not flags:
            flags.append("within budget")
        gsec = g.get("seconds")
        gpu_cell = ("failed" if g and not g.get("passed", False) else
                    "not measured" if gsec is None else f"{gsec:.1f} s")
        rows.append([
            f"`{name}`",
            "not measured" if sec is None else f"{sec:.1f} s",
            "not measured" if mib is None else f"{mib:.0f} MiB",
            gpu_cell,
            ", ".join(flags) or "not measured",
        ])
    return rows


def status_markdown(cpu: dict | None, gpu: dict | None) -> str:
    """The status section as MyST Markdown (parsed by the directive)."""
    lines = []
    if cpu:
        lines.append(
            f"CPU figures: measured {cpu['date']} by `{cpu['command']}` at commit "
            f"`{cpu['commit']}` on {cpu['machine']} (Python {cpu['python']}, torch "
            f"{cpu['torch']}, {cpu['workers']} notebooks at a time, each kernel on one thread)."
        )
    else:
        lines.append("CPU figures: not measured (run `python tools/run_tests.py`).")
    if gpu:
        lines.append(
            f"GPU figures: measured {gpu['date']} by `{gpu['command']}` on {gpu['device']} "
            f"(torch {gpu['torch']}, CUDA {gpu['cuda']}, commit `{gpu['commit']}`)."
        )
    else:
        lines.append("GPU figures: not measured yet. Anyone with a GPU can record them: "
                     "`python tools/record_gpu_times.py` (see the README).")
    lines += ["", f"Budgets: {BUDGET_SECONDS} s of execution and {BUDGET_MIB // 1024} GB of "
              "peak kernel memory per notebook (Binder gives 1–2 GB).", ""]
    rows = status_rows(cpu, gpu)
    if rows:
        lines += ["| Notebook | CPU time | Peak memory (CPU) | GPU time | Budget |",
                  "|---|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def setup(app):
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class StatusDirective(SphinxDirective):
        """``{dlcore-status}``: the per-notebook CPU, memory and GPU table."""

        has_content = False

        def run(self):
            for name in ("cpu.json", "gpu.json"):
                self.env.note_dependency(str(STATUS_DIR / name))
            text = status_markdown(_load("cpu.json"), _load("gpu.json"))
            container = nodes.container()
            self.state.nested_parse(StringList(text.splitlines()), self.content_offset,
                                    container)
            return container.children

    app.add_directive("dlcore-status", StatusDirective)
    app.connect("builder-inited", _guard_cache)
    app.connect("build-finished", _stamp_after_build)
    app.connect("build-finished", _notebook_downloads, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
