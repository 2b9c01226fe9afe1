"""Link the chapters' prose to the API reference.

A page that names a public ``dlcore`` function in its prose as inline code, ```dlcore.stats.holm```
or, with the page's import alias, ```M.roc_auc_score``` (``from dlcore import metrics as M``),
should link it: ``{py:func}`dlcore.stats.holm``` (``{py:class}`` for a class). This script finds
such mentions outside code cells, fenced blocks and directives' code, and rewrites them.

Usage::

    python tools/link_api.py book/**/*.md          # rewrite in place, print what changed
    python tools/link_api.py --check book/**/*.md  # exit 1 if any mention is unlinked (CI)

Only names in the module's ``__all__`` (or public attributes of modules without one) are
linked; a call written with arguments, ```M.f1_score(y, p)```, is left alone: it is code, not
a name.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pathlib
import re
import sys

MODULES = ("activations", "check", "data", "ensembles", "layers", "losses", "metrics",
           "networks", "optim", "plot", "practice", "regularization", "runtime", "schedules",
           "stats", "train")
ALIAS = re.compile(r"from dlcore import (\w+) as (\w+)|import dlcore\.(\w+) as (\w+)")
MENTION = re.compile(r"(?<![`{}\w])`((?:dlcore\.)?([A-Za-z_]\w*)\.([A-Za-z_]\w*))(\(\))?`(?!`)")


def public(module_name: str) -> dict[str, str]:
    """Public names of ``dlcore.<module_name>`` → ``"func"`` or ``"class"``."""
    mod = importlib.import_module(f"dlcore.{module_name}")
    names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
    kinds = {}
    for name in names:
        obj = getattr(mod, name, None)
        if inspect.isclass(obj):
            kinds[name] = "class"
        elif callable(obj) and getattr(obj, "__module__", "").startswith("dlcore"):
            kinds[name] = "func"
    return kinds


def aliases(text: str) -> dict[str, str]:
    """``{"M": "metrics", "dlcore.metrics": "metrics", ...}`` for one page."""
    found = {f"dlcore.{m}": m for m in MODULES}
    for a, b, c, d in ALIAS.findall(text):
        module, alias = (a, b) if a else (c, d)
        if module in MODULES:
            found[alias] = module
    return found


CODE_DIRECTIVES = ("{code-cell}", "{code-block}", "{code}", "{literalinclude}", "{eval-rst}",
                   "{math}", "{raw}", "{glue", "{nb-exec-table}", "{dlcore-status}")
FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})(.*)$")


def link(text: str, catalogue: dict[str, dict[str, str]]) -> tuple[str, list[str]]:
    """Rewrite unlinked mentions in the prose of one MyST page; return (text, changes).

    Prose is text outside fenced blocks, or inside directives whose body is prose
    (admonitions, exercises, proofs); code cells and code blocks are never touched.
    """
    names = aliases(text)
    changes: list[str] = []

    def repl(match: re.Match) -> str:
        full, name = match.group(1), match.group(3)
        module = names.get(full.rsplit(".", 1)[0])
        kind = catalogue[module].get(name) if module else None
        if kind is None:
            return match.group(0)
        target = f"dlcore.{module}.{name}"
        shown = full + (match.group(4) or "")
        role = "{py:" + kind + "}"
        new = f"{role}`{target}`" if shown == target else f"{role}`{shown} <{target}>`"
        changes.append(f"{match.group(0)} -> {new}")
        return new

    out, stack = [], []  # stack of open fences: (character, length, body is prose)
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line.lstrip())
        if m:
            fence, info = m.group(1), m.group(2).strip()
            if stack and fence[0] == stack[-1][0] and len(fence) >= stack[-1][1] and not info:
                stack.pop()
                out.append(line)
                continue
            if all(prose for _, _, prose in stack):
                prose = info.startswith("{") and not info.startswith(CODE_DIRECTIVES)
                stack.append((fence[0], len(fence), prose))
                out.append(line)
                continue
        in_prose = all(prose for _, _, prose in stack)
        out.append(MENTION.sub(repl, line) if in_prose else line)
    return "".join(out), changes


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="+", type=pathlib.Path)
    ap.add_argument("--check", action="store_true", help="report, do not rewrite")
    args = ap.parse_args(argv)
    catalogue = {m: public(m) for m in MODULES}
    unlinked = 0
    for page in args.pages:
        text = page.read_text(encoding="utf-8")
        new, changes = link(text, catalogue)
        for c in changes:
            print(f"{page}: {c}")
        unlinked += len(changes)
        if changes and not args.check:
            page.write_text(new, encoding="utf-8")
    if args.check and unlinked:
        print(f"{unlinked} mentions of dlcore functions are not linked to the API reference; "
              "run python tools/link_api.py on the pages")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
