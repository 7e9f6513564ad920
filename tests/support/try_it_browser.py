"""Drives the try-it page (/ui) in Debian's Chromium with Playwright, for the browser tests."""
import contextlib
from typing import Iterator, List, Tuple

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 20_000


class TryIt:
    """One browser tab on the page, with the console errors and page errors it logged."""

    def __init__(self, page: Page, url: str):
        self.page, self.url = page, url
        self.console_errors: List[str] = []
        self.page_errors: List[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.set_default_timeout(TIMEOUT_MS)

    def open(self) -> "TryIt":
        self.page.goto(self.url)
        return self

    def status(self) -> str:
        return self.page.locator("#status").inner_text()

    def wait_status(self, fragment: str) -> str:
        self.page.wait_for_function(
            "t => document.getElementById('status').textContent.includes(t)", arg=fragment)
        return self.status()

    def use_token(self, token: str) -> None:
        self.page.fill("#token", token)
        self.page.click("#use-token")

    def add_recent(self, title: str) -> None:
        self.page.fill("#picker", title)
        self.page.click("#add")

    def recommend(self, query: str) -> str:
        """Types the query, asks, and returns the status line once the answer is in."""
        self.page.fill("#query", query)
        self.page.evaluate("document.getElementById('status').textContent = ''")
        self.page.click("#go")
        self.page.wait_for_function(
            "() => { const s = document.getElementById('status').textContent;"
            " return s && !s.startsWith('Asking'); }")
        return self.status()

    def results(self) -> List[Tuple[str, str, float]]:
        """(title, item id, score) per row shown."""
        rows = self.page.locator("#results tr")
        return [(rows.nth(i).locator("td.title").inner_text(),
                 rows.nth(i).locator("td.id").inner_text(),
                 float(rows.nth(i).locator("td.score").inner_text()))
                for i in range(rows.count())]

    def masked(self) -> str:
        return self.page.locator("#masked").inner_text()

    def marked(self) -> List[str]:
        """The placeholders highlighted in the masked query."""
        return self.page.locator("#masked mark").all_inner_texts()


@contextlib.contextmanager
def try_it(url: str) -> Iterator[TryIt]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            yield TryIt(page, url)
        finally:
            browser.close()
