"""Test the Binder path end to end, in a real (headless) browser.

What mybinder.org does, done locally:

1. copy the working tree (``git ls-files``: tracked and untracked-but-not-ignored files) into a
   scratch directory, as Binder clones the repository; the book's sources are never touched;
2. build a fresh virtual environment from ``binder/``: ``pip install -r binder/requirements.txt``
   as it is, then ``binder/postBuild``, with ``HOME`` pointed at a scratch home (Binder's user
   home), so the JupyterLab setting postBuild writes never reaches your own ``~/.jupyter``;
3. start JupyterLab on 127.0.0.1 with that home, and for each page open
   ``/lab/tree/<page>.md``, the ``urlpath=lab/tree/<page>.md`` of the book's launch button,
   in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium);
4. per page: check it opened as a notebook (``.jp-NotebookPanel`` with code cells, not a
   ``.jp-FileEditor``: the Jupytext viewer setting works), run Run > Run All Cells, wait until
   every code cell has an execution count, and fail on any error output (a stderr output with a
   traceback or an ``...Error:`` line). Other stderr output (warnings) is counted, not failed.
   A screenshot per page goes into ``--out``.

If ``download.pytorch.org`` (the ``--extra-index-url`` of binder/requirements.txt) cannot be
reached, pip is told not to retry it (``--retries 0``); if the install then fails, it is retried
once with the one documented substitution ``torch==2.13.0+cpu`` -> ``torch==2.13.0`` (a local CPU
build), and the output says so. binder/requirements.txt itself is never edited.

Usage (selenium is needed by the Python running this script, not in the Binder venv)::

    apt-get install -y chromium chromium-driver && pip install selenium
    python tools/binder_check.py [--keep-venv DIR] [--out DIR] [--timeout S] [PAGE.md ...]

Default pages: one short page per chapter. ``--keep-venv DIR`` builds the venv in DIR once and
reuses it afterwards (postBuild always runs again). Exit status 0 only if every page passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = [
    "book/activations/saturating.md",
    "book/optimizers/momentum.md",
    "book/metrics/perplexity.md",
]
SUBSTITUTION = ("torch==2.13.0+cpu", "torch==2.13.0")
TORCH_VERSION = "import torch; print(torch.__version__)"
TRACEBACK = re.compile(r"Traceback|^\s*\w*(Error|Exception)\b", re.MULTILINE)


def is_error(stderr_text: str) -> bool:
    """An error output (a traceback), as opposed to a warning that also went to stderr."""
    return bool(TRACEBACK.search(stderr_text))


def index_urls(requirements: str) -> list[str]:
    """The package indexes a requirements file names (--index-url, --extra-index-url, -i)."""
    return re.findall(r"^\s*(?:--extra-index-url|--index-url|-i)[\s=]+(\S+)", requirements, re.M)


def log(msg: str) -> None:
    print(f"[binder-check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def binder_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment of Binder's user: the venv first on PATH, a scratch HOME, no leaks."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "PYTHON", "IPYTHON", "MPL", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{env['PATH']}",
               JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
               JUPYTER_RUNTIME_DIR=str(home / ".local/share/jupyter/runtime"),
               IPYTHONDIR=str(home / ".ipython"))
    return env


def copy_tree(dest: Path) -> None:
    """Copy what a clone of the working tree holds (uncommitted edits included) into dest."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():  # a deleted tracked file is listed but absent
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=10).close()
    except urllib.error.HTTPError:
        return True  # the server answered
    except OSError:
        return False
    return True


def pip_install(venv: Path, env: dict, req: Path, extra: list[str], logfile: Path) -> int:
    cmd = [str(venv / "bin/python"), "-m", "pip", "install", *extra, "-r", str(req)]
    log(f"$ {' '.join(cmd)}   (log: {logfile})")
    with logfile.open("a") as fh:
        rc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc:
        print("".join(logfile.read_text().splitlines(keepends=True)[-15:]), end="")
    return rc


def build_venv(venv: Path, tree: Path, home: Path, out: Path) -> None:
    env = binder_env(venv, home)
    marker = venv / ".binder-check-built"
    if marker.exists():
        log(f"reusing the venv {venv} ({marker.read_text().strip()})")
    else:
        runtime = (tree / "binder/runtime.txt").read_text().strip()  # e.g. python-3.11
        python = shutil.which(runtime.replace("-", "")) or sys.executable
        log(f"binder/runtime.txt asks for {runtime}; creating {venv} with {python}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        req = tree / "binder/requirements.txt"
        text = req.read_text()
        dead = [url for url in index_urls(text) if not reachable(url)]
        extra = []
        if dead:
            log(f"NOTE: package index unreachable from here: {', '.join(dead)}; "
                "installing the file as it is, with --retries 0 so pip skips it at once")
            extra = ["--retries", "0"]
        logfile = out / "pip-install.log"
        logfile.unlink(missing_ok=True)
        rc = pip_install(venv, env, req, extra, logfile)
        how = "binder/requirements.txt as it is"
        if rc and dead and SUBSTITUTION[0] in text:
            log(f"SUBSTITUTION: install failed with {', '.join(dead)} unreachable; retrying with "
                f"{SUBSTITUTION[0]} -> {SUBSTITUTION[1]} (binder/requirements.txt is unchanged)")
            req = out / "requirements-substituted.txt"
            req.write_text(text.replace(*SUBSTITUTION))
            rc = pip_install(venv, env, req, extra, logfile)
            how = f"binder/requirements.txt with {SUBSTITUTION[0]} -> {SUBSTITUTION[1]}"
        if rc:
            raise SystemExit(f"pip install failed (rc={rc}); see {logfile}")
        torch = subprocess.run([str(venv / "bin/python"), "-c", TORCH_VERSION],
                               env=env, capture_output=True, text=True).stdout.strip()
        marker.write_text(f"installed {how}; torch {torch}\n")
        log(f"installed {how}; torch {torch}")
    log("running binder/postBuild (HOME is the scratch home)")
    subprocess.run(["bash", "binder/postBuild"], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def start_lab(venv: Path, tree: Path, home: Path, out: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = os.urandom(12).hex()
    cmd = [str(venv / "bin/jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tree}"] + (["--allow-root"] if os.geteuid() == 0 else [])
    logfh = (out / "jupyterlab.log").open("w")
    lab = subprocess.Popen(cmd, cwd=tree, env=binder_env(venv, home), stdout=logfh,
                           stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if lab.poll() is not None:
            raise SystemExit(f"JupyterLab exited (rc={lab.returncode}); see {out}/jupyterlab.log")
        try:
            api(base, token, "GET", "/api/status")
            log(f"JupyterLab is up at {base} (root {tree})")
            return lab, token
        except OSError:
            time.sleep(0.5)
    stop(lab, home / ".local/share/jupyter/runtime")
    raise SystemExit(f"JupyterLab did not answer within 120 s; see {out}/jupyterlab.log")


def api(base: str, token: str, method: str, path: str):
    req = urllib.request.Request(base + path, method=method,
                                 headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def port_of(lab: subprocess.Popen) -> str:
    return next(a.split("=")[1] for a in lab.args if a.startswith("--port="))


def reset_server(base: str, token: str) -> None:
    """A fresh Binder session: no kernels running, no saved JupyterLab workspace."""
    for session in api(base, token, "GET", "/api/sessions"):
        api(base, token, "DELETE", f"/api/sessions/{session['id']}")  # and its kernel
    for kernel in api(base, token, "GET", "/api/kernels"):
        api(base, token, "DELETE", f"/api/kernels/{kernel['id']}")
    try:
        api(base, token, "DELETE", "/lab/api/workspaces/default")
    except urllib.error.HTTPError:
        pass  # none saved yet


def new_browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("unhandledPromptBehavior", "accept")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


# Evaluated in the page: the state of the notebook (or text editor) that the URL opened.
STATE_JS = """
const main = document.querySelector('#jp-main-dock-panel');
const panel = main && main.querySelector('.jp-NotebookPanel');
const state = {notebook: !!panel, editor: !!(main && main.querySelector('.jp-FileEditor')),
               dialog: (document.querySelector('.jp-Dialog') || {}).innerText || null,
               cells: panel ? panel.querySelectorAll('.jp-Cell').length : 0};
if (panel) {
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const name = panel.querySelector('.jp-Toolbar-kernelName');
  state.kernel = indicator ? indicator.dataset.status : null;
  state.kernelName = name ? name.textContent.trim() : null;
  state.prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  state.stderr = [...panel.querySelectorAll('.jp-OutputArea-output'
    + '[data-mime-type="application/vnd.jupyter.stderr"]')].map(o => o.textContent);
}
return state;
"""


def wait_for(driver, test, timeout: float, what: str) -> dict:
    end = time.monotonic() + timeout
    while True:
        state = driver.execute_script(STATE_JS)
        if test(state):
            return state
        if time.monotonic() > end:
            raise TimeoutError(f"{what} (after {timeout:.0f} s; last state {state})")
        time.sleep(0.5)


def select_kernel(driver, state: dict, result: dict) -> None:
    """Answer JupyterLab's "Select Kernel" dialog with the notebook's own kernel, as a reader
    would, and note it. JupyterLab asks when Run All comes before the kernel has started; the
    check waits for the kernel first, so this is a fallback."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if "Select Kernel" not in state["dialog"]:
        raise AssertionError(f"a dialog is open: {state['dialog'][:300]}")
    result["kernel_dialog"] = True
    dialog = driver.find_element(By.CSS_SELECTOR, ".jp-Dialog")
    Select(dialog.find_element(By.TAG_NAME, "select")).select_by_visible_text(
        "Python 3 (ipykernel)")
    dialog.find_element(By.CSS_SELECTOR, "button.jp-mod-accept").click()
    time.sleep(1)


def check_page(base: str, token: str, page: str, out: Path, scratch: Path, timeout: float) -> dict:
    from selenium.webdriver.common.by import By

    result = {"page": page, "notebook": False, "open_seconds": None, "cells": 0, "ran": 0,
              "seconds": None, "errors": [], "warnings": 0, "kernel_dialog": False,
              "problem": None}
    expected = len(re.findall(r"^```\{code-cell\}", (scratch / "tree" / page).read_text(), re.M))
    reset_server(base, token)
    driver = new_browser(scratch / f"chrome-{Path(page).stem}")
    try:
        opened = time.monotonic()
        driver.get(f"{base}/lab/tree/{page}?token={token}")
        state = wait_for(driver, lambda s: s["editor"] or s["cells"], 90,
                         "the page did not open")
        result["notebook"] = state["notebook"] and not state["editor"]
        if not result["notebook"]:
            raise AssertionError("opened as text (.jp-FileEditor), not as a notebook")
        ready = wait_for(driver, lambda s: s["dialog"] or (
            s["kernel"] == "idle" and "ipykernel" in (s["kernelName"] or "")), 90, "no kernel")
        if ready["dialog"]:
            select_kernel(driver, ready, result)
        result["open_seconds"] = round(time.monotonic() - opened, 1)
        result["cells"] = expected

        def run_all() -> None:  # Run > Run All Cells, as a reader does
            driver.find_element(By.XPATH, "//li[contains(@class,'lm-MenuBar-item')][.='Run']"
                                ).click()
            driver.find_element(By.XPATH, "//ul[@class='lm-Menu-content']/li"
                                "[.//div[@class='lm-Menu-itemLabel'][.='Run All Cells']]").click()

        run_all()
        start = time.monotonic()

        def finished(s: dict) -> bool:
            if s["dialog"] and "Select Kernel" in s["dialog"]:
                select_kernel(driver, s, result)  # the run was dropped: run again
                wait_for(driver, lambda s: s["kernel"] == "idle" and not s["dialog"], 60,
                         "no idle kernel after selecting one")
                run_all()
                return False
            done = all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"])
            return bool(s["dialog"]) or any(map(is_error, s["stderr"])) or (
                done and s["kernel"] == "idle")

        state = wait_for(driver, finished, timeout, "the cells did not finish")
        result["seconds"] = round(time.monotonic() - start, 1)
        time.sleep(1)  # let the last outputs render
        state = driver.execute_script(STATE_JS)
        result["ran"] = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in state["prompts"])
        result["errors"] = [t[:600] for t in state["stderr"] if is_error(t)]
        result["warnings"] = len(state["stderr"]) - len(result["errors"])
        if state["dialog"]:
            raise AssertionError(f"a dialog is open: {state['dialog'][:300]}")
        if len(state["prompts"]) != expected:
            raise AssertionError(f"{len(state['prompts'])} code cells shown, "
                                 f"the file has {expected}")
        if result["errors"] or result["ran"] != expected:
            raise AssertionError(f"{result['ran']}/{expected} cells ran, "
                                 f"{len(result['errors'])} error output(s)")
    except Exception as exc:  # noqa: BLE001 - every failure is reported, then the next page
        msg = getattr(exc, "msg", None) or str(exc)  # selenium's without its stack trace
        result["problem"] = f"{type(exc).__name__}: {msg}"
    finally:
        shot = out / (page.replace("/", "_").removesuffix(".md") + ".png")
        driver.save_screenshot(str(shot))
        driver.quit()
    return result


def stop(lab: subprocess.Popen, runtime: Path) -> None:
    """Stop JupyterLab (it shuts its kernels down), then any kernel of ours still alive."""
    if lab.poll() is None:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
    for proc in Path("/proc").glob("[0-9]*"):  # kernels run in their own sessions
        try:
            if str(runtime).encode() in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="*", default=DEFAULT_PAGES,
                    help="pages relative to the repository root, e.g. book/metrics/perplexity.md")
    ap.add_argument("--keep-venv", type=Path, help="build the venv here once, reuse it afterwards")
    ap.add_argument("--out", type=Path, default=Path("/tmp/binder-check-out"),
                    help="screenshots, results.json, pip and JupyterLab logs")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per page to run all cells")
    args = ap.parse_args()
    missing = [page for page in args.pages if not (ROOT / page).is_file()]
    if missing:
        raise SystemExit(f"no such page: {', '.join(missing)}")
    t0 = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="binder-check-"))
    tree, home = scratch / "tree", scratch / "home"
    home.mkdir()
    venv = args.keep_venv.resolve() if args.keep_venv else scratch / "venv"
    lab, results = None, []
    try:
        copy_tree(tree)
        build_venv(venv, tree, home, out)
        log(f"environment ready after {time.monotonic() - t0:.0f} s")
        lab, token = start_lab(venv, tree, home, out)
        base = f"http://127.0.0.1:{port_of(lab)}"
        for page in args.pages:
            log(f"page {page}")
            results.append(check_page(base, token, page, out, scratch, args.timeout))
            r = results[-1]
            log(f"  opened as notebook: {r['notebook']} (kernel ready in {r['open_seconds']} s);"
                f" cells run: {r['ran']}/{r['cells']}; "
                f"run-all: {r['seconds']} s; errors: {len(r['errors'])}; "
                f"stderr warnings: {r['warnings']}; "
                f"{'kernel-select dialog shown; ' if r['kernel_dialog'] else ''}"
                f"{'OK' if not r['problem'] else 'FAIL'}")
            for text in r["errors"]:
                print("    " + text.replace("\n", "\n    "))
            if r["problem"]:
                log(f"  FAIL: {r['problem']}")
    finally:
        if lab is not None:
            stop(lab, home / ".local/share/jupyter/runtime")
        shutil.rmtree(scratch, ignore_errors=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    failed = [r["page"] for r in results if r["problem"]]
    log(f"{len(results) - len(failed)}/{len(results)} pages passed; "
        f"{time.monotonic() - t0:.0f} s in all; screenshots and logs in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
