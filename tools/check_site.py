"""Check the built site (``_build/html``) the way a reader would use it, without a browser.

- **Offline**: no page loads a script, stylesheet, font or image from another host, and
  MathJax is served from the site itself.
- **Notebook downloads**: every chapter page offers its ``.ipynb``; the file exists, is a valid
  notebook and carries the outputs of the build (figures included).
- **Status page**: it shows one row per chapter notebook and the execution table.
- **API reference**: every public name in a ``dlcore`` module's ``__all__`` has an entry.
- **Sliders**: pages that use ``dlcore.plot.slider`` contain a range input and its frames.

Usage: ``python tools/check_site.py [_build/html]``; exit status 1 with a list of problems.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_ext  # noqa: E402

# src/href of loaded resources (not <a href> links, which a reader follows by choice)
RESOURCE = re.compile(r"<(script|link|img|iframe|source)\b[^>]*?\b(src|href)=\"([^\"]+)\"",
                      re.IGNORECASE)
CSS_URL = re.compile(r"url\((['\"]?)(https?:)?//", re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """URLs of resources a page would fetch from another host."""
    return [f"<{tag}> {url}" for tag, _, url in RESOURCE.findall(page)
            if re.match(r"^(https?:)?//", url)]


def check(html: pathlib.Path) -> list[str]:
    problems = []
    pages = sorted(html.rglob("*.html"))
    if not pages:
        return [f"no HTML pages under {html}: build the book first"]
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for url in external_resources(text):
            problems.append(f"{page.relative_to(html)} loads {url}")
    for css in html.rglob("*.css"):
        if CSS_URL.search(css.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{css.relative_to(html)} imports from another host")
    if not (html / "_static" / "mathjax" / "tex-chtml.js").exists():
        problems.append("MathJax is not shipped in _static/mathjax/")

    chapters = [md for md in sorted((ROOT / "book").rglob("*.md")) if book_ext.is_notebook(md)]
    for md in chapters:
        rel = md.relative_to(ROOT).with_suffix("")
        page = html / rel.with_suffix(".html")
        if not page.exists():
            problems.append(f"{rel}: page missing")
            continue
        text = page.read_text(encoding="utf-8")
        if f'_sources/{rel}.ipynb"' not in text:
            problems.append(f"{rel}: no .ipynb download button")
        nb_file = html / "_sources" / rel.with_suffix(".ipynb")
        if not nb_file.exists():
            problems.append(f"{rel}: {nb_file.relative_to(html)} missing")
        else:
            nb = nbformat.read(str(nb_file), as_version=4)
            nbformat.validate(nb)
            outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
            figures = any(key.endswith("image/png") for o in outputs for key in o.get("data", {}))
            # a figure shown, or glued (application/papermill.record/image/png)
            if not outputs:
                problems.append(f"{rel}: the downloaded notebook has no outputs")
            elif "_images/" in text and not figures:
                problems.append(f"{rel}: the page shows figures, its downloaded notebook none")
        if "dlcore.plot.slider" in md.read_text(encoding="utf-8") or "plot.slider(" in \
                md.read_text(encoding="utf-8"):
            if 'type="range"' not in text or "data:image/png;base64," not in text:
                problems.append(f"{rel}: uses dlcore.plot.slider but shows no slider")

    status = html / "book" / "status.html"
    if not status.exists():
        problems.append("book/status.html missing")
    else:
        text = status.read_text(encoding="utf-8")
        for md in chapters:
            name = str(md.relative_to(ROOT / "book").with_suffix(""))
            if f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}" \
                    not in text:
                problems.append(f"status page: no row for {name}")

    api = "".join(p.read_text(encoding="utf-8") for p in (html / "book" / "api").glob("*.html"))
    for mod_name in ("activations", "ensembles", "layers", "losses", "metrics", "networks",
                     "optim", "practice", "regularization", "schedules", "stats"):
        mod = importlib.import_module(f"dlcore.{mod_name}")
        for name in getattr(mod, "__all__", []):
            if inspect.ismodule(getattr(mod, name, None)):
                continue  # a submodule (dlcore.networks.init): its functions are listed instead
            if f'id="dlcore.{mod_name}.{name}"' not in api:
                problems.append(f"API reference: no entry for dlcore.{mod_name}.{name}")
    return problems


def main(argv: list[str]) -> int:
    html = pathlib.Path(argv[0]) if argv else ROOT / "_build" / "html"
    problems = check(html)
    for p in problems:
        print("PROBLEM:", p)
    print(f"{len(problems)} problems in {html}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
