"""Open the built site in headless Chromium with the network cut off, as a reader offline would.

For every chapter page (and the pages given as arguments) it checks, in a real browser:

- **equations render offline**: MathJax (shipped with the site) has typeset the page's math
  (``mjx-container`` elements exist and no ``\\(`` source is left in a ``.math`` span), with
  every host name made unresolvable (``--host-resolver-rules``), so nothing can come from a CDN;
- **sliders work**: for each ``dlcore.plot.slider`` on the page, moving the range input to
  another position swaps the image and updates the value shown beside it.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package. Usage::

    python tools/check_browser.py [--shots DIR] [_build/html]

With ``--shots DIR`` it saves, per page with a slider, a screenshot before and after moving the
first slider. Exit status 1 on any failure; 2 when Chromium or its driver is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_ext  # noqa: E402


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def wait_for_math(driver, timeout: float = 30.0) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    def typeset(d):
        return d.execute_script(
            "return window.MathJax && MathJax.startup && MathJax.startup.promise ? "
            "document.querySelectorAll('mjx-container').length : -1") > 0 or \
            not d.execute_script("return document.querySelectorAll('.math').length")

    from selenium.common.exceptions import TimeoutException

    try:
        WebDriverWait(driver, timeout).until(typeset)
    except TimeoutException:  # MathJax never ran: reported below as untypeset math
        pass
    return driver.execute_script("""
        const source = /\\\\\\(|\\\\\\[|\\$\\$/;
        const raw = [...document.querySelectorAll('span.math, div.math')]
            .filter(e => !e.querySelector('mjx-container') && source.test(e.textContent));
        return {math: document.querySelectorAll('.math').length,
                typeset: document.querySelectorAll('mjx-container').length,
                raw: raw.length};""")


def move_sliders(driver) -> list[str]:
    """Move every slider on the page to another frame; return the problems found."""
    problems = []
    sliders = driver.find_elements("css selector", "div.dlcore-slider")
    for k, div in enumerate(sliders):
        uid = div.get_attribute("id")
        img = driver.find_element("id", f"{uid}-img")
        out = driver.find_element("id", f"{uid}-out")
        rng = driver.find_element("id", f"{uid}-range")
        before = (hashlib.sha1(img.get_attribute("src").encode()).hexdigest(), out.text)
        last = int(rng.get_attribute("max"))
        start = int(rng.get_attribute("value"))
        target = last if start != last else 0
        driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", rng, target)
        after = (hashlib.sha1(img.get_attribute("src").encode()).hexdigest(), out.text)
        if after[0] == before[0]:
            problems.append(f"slider {k} ({uid}): the image did not change")
        if after[1] == before[1]:
            problems.append(f"slider {k} ({uid}): the value label did not change")
    return problems


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", nargs="?", type=pathlib.Path, default=ROOT / "_build" / "html")
    ap.add_argument("--shots", type=pathlib.Path)
    args = ap.parse_args(argv)
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        print("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
        return 2
    pages = [md.relative_to(ROOT).with_suffix(".html")
             for md in sorted((ROOT / "book").rglob("*.md")) if book_ext.is_notebook(md)]
    driver = browser()
    failures = 0
    try:
        for rel in pages:
            page = args.html.resolve() / rel
            if not page.exists():
                print(f"FAILED {rel}: not in the built site")
                failures += 1
                continue
            url = page.as_uri()
            driver.get(url)
            math = wait_for_math(driver)
            problems = []
            if math["math"] and (math["typeset"] == 0 or math["raw"]):
                problems.append(f"math not typeset offline: {math}")
            n = len(driver.find_elements("css selector", "div.dlcore-slider"))
            if n and args.shots:
                args.shots.mkdir(parents=True, exist_ok=True)
                first = driver.find_element("css selector", "div.dlcore-slider")
                driver.execute_script("arguments[0].scrollIntoView()", first)
                first.screenshot(str(args.shots / f"{rel.stem}-before.png"))
            problems += move_sliders(driver)
            if n and args.shots:
                first.screenshot(str(args.shots / f"{rel.stem}-after.png"))
            status = "ok" if not problems else "FAILED"
            print(f"{status:6s} {rel}: {math['typeset']} equations typeset offline, "
                  f"{n} slider(s) moved" + "".join(f"\n       {p}" for p in problems))
            failures += bool(problems)
    finally:
        driver.quit()
    print(f"{len(pages) - failures} of {len(pages)} pages passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
