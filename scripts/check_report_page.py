"""Open a report's index.html in a headless Chromium and check what a reader sees (not run in CI).

    pip install playwright        # the Python driver; the browser is the system's (Debian: apt install chromium)
    python scripts/check_report_page.py reports/proxy --shots /tmp/shots

Checks, each printed as one line, exit status 1 if any fails:
- every figure (<img>) loaded (naturalWidth > 0) and no console error or failed request;
- each leaderboard board has its caveat list and the first board is the primary ground-truth column;
- reference-estimator rows are on the page, and methods below the best free reference are marked;
- clicking a table header sorts the rows by that column (the page's inline script ran).
Screenshots: the whole page at 1280 px and the top of the page at 390 px (a phone), into --shots.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

SORT_CHECK = """
(table) => {
  const th = Array.from(table.tHead ? table.tHead.rows[0].cells : table.rows[0].cells);
  const col = th.findIndex((h) => h.textContent.startsWith('Kendall tau'));
  if (col < 0) return null;
  const values = () => Array.from(table.tBodies[0].rows).map((r) => parseFloat(r.cells[col].textContent))
    .filter((v) => !isNaN(v));
  th[col].click();
  const asc = values();
  th[col].click();
  const desc = values();
  const sorted = (xs, sign) => xs.every((x, i) => i === 0 || sign * (x - xs[i - 1]) >= 0);
  return sorted(asc, 1) && sorted(desc, -1) && asc.length > 1;
}
"""


def browser_path(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate:
            return candidate
    return None  # playwright's own browser, if `playwright install chromium` was run


def check(report: Path, shots: Path, chromium: str | None) -> list[tuple[str, bool, str]]:
    from playwright.sync_api import sync_playwright

    page_path = (report / "index.html").resolve()
    if not page_path.is_file():
        raise SystemExit(f"error: {page_path} does not exist; run `supernet-bench report` first")
    shots.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, bool, str]] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("requestfailed", lambda r: errors.append(f"failed request: {r.url}"))
        page.goto(page_path.as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        broken = [src for src, width in images if not width]
        results.append(("figures load", bool(images) and not broken, f"{len(images)} images, broken: {broken}"))
        results.append(("no console errors or failed requests", not errors, "; ".join(errors[:3])))
        boards = page.eval_on_selector_all("h2 + p + h3, h3", "els => els.map(e => e.textContent)")
        boards = [b for b in boards if " / profile " in b]
        caveats = page.locator("ul.caveats").count()
        results.append(("caveats on every board", caveats >= len(boards) > 0, f"{len(boards)} boards, {caveats} lists"))
        first = boards[0] if boards else ""
        results.append(("primary GT column first", "primary GT column" in first, first))
        refs = page.locator("tr.ref").count()
        below = page.locator("tr.below").count()
        results.append(("reference rows shown", refs > 0, f"{refs} reference rows, {below} method rows marked below"))
        sortable = page.locator("table.sortable").first
        ok = sortable.evaluate(SORT_CHECK)
        results.append(("sorting by Kendall tau works", ok is True, f"returned {ok}"))
        page.reload(wait_until="load")
        page.screenshot(path=str(shots / "page-1280.png"), full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(page_path.as_uri(), wait_until="load")
        phone.screenshot(path=str(shots / "top-390.png"))
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report folder (holds index.html)")
    parser.add_argument("--shots", type=Path, default=Path("report-shots"), help="where the screenshots go")
    parser.add_argument("--chromium", default=None, help="browser executable (default: $CHROMIUM, then PATH)")
    args = parser.parse_args(argv)
    results = check(args.report, args.shots, args.chromium)
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    print(f"screenshots in {args.shots}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
