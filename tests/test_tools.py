"""Tests of the tools behind the test command, the build and the status page (tools/)."""

import os
import pathlib
import sys
import types

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))

import book_ext  # noqa: E402
import budgets_table  # noqa: E402
import check_site  # noqa: E402
import nbrecord  # noqa: E402


def _cpu(*rows):
    return {"date": "d", "command": "c", "commit": "x", "machine": "m", "python": "3",
            "torch": "t", "workers": 2, "notebooks": list(rows)}


def test_status_rows_flag_budgets_failures_and_missing_gpu_figures():
    cpu = _cpu({"notebook": "a/fast", "seconds": 3.0, "peak_mib": 300.0, "passed": True},
               {"notebook": "a/slow", "seconds": 31.0, "peak_mib": 1500.0, "passed": True},
               {"notebook": "a/broken", "seconds": None, "peak_mib": None, "passed": False})
    gpu = {"notebooks": [{"notebook": "a/fast", "seconds": 1.5, "passed": True},
                         {"notebook": "a/slow", "seconds": None, "passed": False},
                         {"notebook": "b/gpu-only", "seconds": 2.0, "passed": True}]}
    rows = {r[0]: r for r in book_ext.status_rows(cpu, gpu)}
    assert rows["`a/fast`"][1:] == ["3.0 s", "300 MiB", "1.5 s", "within budget"]
    assert rows["`a/slow`"][3] == "failed"
    assert rows["`a/slow`"][4] == "**over 30 s**, **over 1 GB**"
    assert rows["`a/broken`"][1] == "not measured" and rows["`a/broken`"][4] == "**failed**"
    assert rows["`b/gpu-only`"][1:] == ["not measured", "not measured", "2.0 s", "not measured"]


def test_status_markdown_says_not_measured_without_data():
    text = book_ext.status_markdown(None, None)
    assert "CPU figures: not measured" in text and "GPU figures: not measured" in text
    assert "| Notebook |" not in text
    text = book_ext.status_markdown(_cpu({"notebook": "a/b", "seconds": 1.0, "peak_mib": 1.0,
                                          "passed": True}), None)
    assert "measured d by `c` at commit `x`" in text and "| `a/b` | 1.0 s |" in text


def test_fingerprint_follows_package_versions(monkeypatch):
    before = book_ext.fingerprint()
    assert book_ext.fingerprint() == before  # deterministic
    real = book_ext.importlib.metadata.version
    monkeypatch.setattr(book_ext.importlib.metadata, "version",
                        lambda name: "9.9" if name == "torch" else real(name))
    assert book_ext.fingerprint() != before


def test_a_cache_with_another_fingerprint_is_removed(tmp_path):
    cache = tmp_path / ".jupyter_cache"
    app = types.SimpleNamespace(config=types.SimpleNamespace(nb_execution_cache_path=str(cache)),
                                outdir=str(tmp_path / "html"))
    book_ext.write_stamp(cache)
    book_ext._guard_cache(app)
    assert cache.exists()  # the stamp matches: kept
    (cache / book_ext.STAMP).write_text("stale\n")
    book_ext._guard_cache(app)
    assert not cache.exists()
    book_ext._stamp_after_build(app, None)  # nothing to stamp when there is no cache
    assert not cache.exists()
    cache.mkdir()
    book_ext._stamp_after_build(app, None)
    assert book_ext.stamp_matches(cache)
    app.config.nb_execution_cache_path = ""
    assert book_ext._cache_dir(app) == tmp_path / ".jupyter_cache"


def test_nbrecord_names_and_peak_memory():
    assert nbrecord.record_name("/x/nb/metrics/ranking.ipynb") == "metrics__ranking"
    if os.path.exists("/proc/self/status"):
        assert nbrecord.peak_memory_mib(os.getpid()) > 10
    assert nbrecord.peak_memory_mib(None) is None
    assert nbrecord.peak_memory_mib(2**31 - 1) is None  # no such process


@pytest.mark.parametrize("html,found", [
    ('<script src="https://cdn.example/x.js"></script>', ["<script> https://cdn.example/x.js"]),
    ('<link rel="stylesheet" href="//fonts.example/f.css">', ["<link> //fonts.example/f.css"]),
    ('<script src="../_static/mathjax/tex-chtml.js"></script>', []),
    ('<a href="https://mybinder.org/v2/gh/x">launch</a>', []),  # a link the reader follows
])
def test_check_site_finds_resources_from_other_hosts(html, found):
    assert check_site.external_resources(html) == found


def test_link_api_links_prose_but_never_code():
    import link_api

    catalogue = {m: {} for m in link_api.MODULES}
    catalogue["stats"] = {"holm": "func", "Runs": "class"}
    page = "\n".join([
        "from dlcore import stats as S is not an import here, but this is:",
        "```{code-cell} ipython3",
        "from dlcore import stats as St",
        "x = `dlcore.stats.holm`  # code: untouched",
        "```",
        "Prose: `dlcore.stats.holm`, `St.Runs()`, `dlcore.stats.holm(p)` and `St.unknown`.",
        "```{note}",
        "In a note: `dlcore.stats.holm`.",
        "```",
        "```python",
        "`dlcore.stats.holm`",
        "```",
        "",
    ])
    new, changes = link_api.link(page, catalogue)
    lines = new.splitlines()
    assert lines[3] == "x = `dlcore.stats.holm`  # code: untouched"
    assert lines[5] == ("Prose: {py:func}`dlcore.stats.holm`, "
                        "{py:class}`St.Runs() <dlcore.stats.Runs>`, `dlcore.stats.holm(p)` and "
                        "`St.unknown`.")
    assert lines[7] == "In a note: {py:func}`dlcore.stats.holm`."
    assert lines[10] == "`dlcore.stats.holm`"
    assert len(changes) == 3
    assert link_api.link(new, catalogue)[1] == []  # idempotent: linked mentions stay as they are


def test_budgets_table_orders_chapters_sums_and_flags_overruns():
    toc = "- file: book/b/index\n  sections:\n- file: book/a/index\n- file: book/a/x\n"
    assert budgets_table.chapters_in_toc(toc) == ["b", "a"]
    cpu = _cpu({"notebook": "a/fast", "seconds": 3.0, "peak_mib": 300.0, "passed": True},
               {"notebook": "a/slow", "seconds": 31.0, "peak_mib": 1500.0, "passed": True},
               {"notebook": "b/one", "seconds": 100.0, "peak_mib": 200.0, "passed": True},
               {"notebook": "c/broken", "seconds": None, "peak_mib": None, "passed": False})
    lines = budgets_table.table(cpu, ["b", "a"]).splitlines()
    assert lines[2].startswith("| B | `one` | **100.0 s (over)** | 200 MiB")
    assert lines[3] == "| | **chapter** | **100.0 s** | | **120 s** |"
    assert lines[4] == "| A | `fast` | 3.0 s | 300 MiB | 30 s, 1 GB |"
    assert lines[5] == "| | `slow` | **31.0 s (over)** | **1500 MiB (over)** | 30 s, 1 GB |"
    assert lines[6] == "| | **chapter** | **34.0 s** | | **120 s** |"
    assert lines[7] == "| C | `broken` | **failed** | — | 30 s, 1 GB |"  # not in the toc: last
    assert "**134.0 s**" in lines[-1] and "max 1500 MiB" in lines[-1]
    budgets_table.CHAPTER_S["b"] = 90.0
    try:
        assert "**100.0 s (over)**" in budgets_table.table(cpu, ["b", "a"]).splitlines()[3]
    finally:
        del budgets_table.CHAPTER_S["b"]


def _selected(spec: str) -> set[int]:
    """The 1-based line numbers a literalinclude ``:lines:`` option selects (open ends: 10**6)."""
    chosen = set()
    for part in spec.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        chosen.update(range(int(lo), (int(hi) if hi else 10**6) + 1) if "-" in part
                      else {int(lo)})
    return chosen


def test_literalincludes_that_skip_a_docstring_still_skip_exactly_it():
    """A page that shows a function without its docstring (``:pyobject:`` + ``:lines:``) must
    select the signature and the whole body: a docstring that grows or shrinks breaks it."""
    import ast
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    pattern = re.compile(r"```\{literalinclude\} (\S+)\n:pyobject: (\w+)\n:lines: ([\d, -]+)\n")
    found = 0
    for page in (root / "book").rglob("*.md"):
        for path, name, spec in pattern.findall(page.read_text(encoding="utf-8")):
            source = (page.parent / path).resolve().read_text(encoding="utf-8")
            node = next(n for n in ast.walk(ast.parse(source))
                        if isinstance(n, ast.FunctionDef) and n.name == name)
            doc = node.body[0]
            # :pyobject: starts at the first decorator, or at the def line without one
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            signature = set(range(1, doc.lineno - first + 1))
            docstring = set(range(doc.lineno - first + 1, doc.end_lineno - first + 2))
            body = set(range(doc.end_lineno - first + 2, node.end_lineno - first + 2))
            chosen = {n for n in _selected(spec) if n <= node.end_lineno - first + 1}
            assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant), page
            assert chosen == signature | body, (page.name, name, spec, sorted(docstring))
            found += 1
    assert found >= 1
