"""Opens a report page in Debian's Chromium (Playwright): what it logged, what it fetched, its
section headings and what each chart drew; optionally a screenshot."""
from typing import Dict, Optional

from playwright.sync_api import sync_playwright

from tests.support.try_it_browser import ARGS, CHROMIUM

WIDTH = 1280
CHARTS = """() => [...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
  const drawn = svg ? [...svg.querySelectorAll('[id^="mark-"] path')].filter(p => {
    const b = p.getBBox(); return (p.getAttribute('d') || '').length > 0 &&
      (b.width > 0 || b.height > 0); }).length : 0;
  return {width: box ? box.width : 0, height: box ? box.height : 0, drawn: drawn};
})"""


def inspect(path: str, screenshot: Optional[str] = None, full_page: bool = True) -> Dict:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            errors, requests = [], []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto("file://" + path, wait_until="load")
            headings = {}
            for section in page.locator("section.report-section").all():
                heading = section.locator("h2")
                heading.scroll_into_view_if_needed()
                headings[section.get_attribute("id")] = (heading.inner_text(),
                                                         heading.is_visible())
            charts = page.evaluate(CHARTS)
            if screenshot:
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=screenshot, full_page=full_page)
            return {"errors": errors, "requests": requests, "headings": headings,
                    "charts": charts}
        finally:
            browser.close()
