"""Take the README's screenshots from a running CPM (`make run`), as each role sees it.

.venv/bin/python scripts/screenshots.py http://127.0.0.1:8000
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


EXTRA_PAGES = {
    "supervisor": [("supervisor-offer-report", "/cases/offers/report/")],
    "admin": [
        ("admin-lifecycle", "/cases/lifecycle/"),
        ("admin-processes", "/processes/"),
        ("admin-offer-catalog", "/cases/offers/catalog/"),
    ],
}


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click(".login button[type=submit]")
    page.wait_for_url(f"{base}/")


def shoot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
    print("saved", OUT / f"{name}.png")


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for username, language in [("agent", "en"), ("supervisor", "de"), ("admin", "en")]:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            log_in(page, base, username)
            if language == "de":
                page.click("button[name=language][value=de]")
            shoot(page, f"{username}-home")
            if username == "supervisor":
                page.goto(f"{base}/cases/decisions/")
                shoot(page, "supervisor-decisions")
                page.goto(f"{base}/cases/escalations/")
                shoot(page, "supervisor-escalations")
            if username == "agent":
                page.goto(f"{base}/customers/1/")
                page.wait_for_selector(".timeline .entry")
                shoot(page, "agent-cockpit")
                page.click("#customer-1-header a[href$='?edit=1']")
                page.wait_for_selector("#customer-1-header form")
                shoot(page, "agent-cockpit-edit")
                page.goto(f"{base}/")
            for name, path in EXTRA_PAGES.get(username, []):
                page.goto(f"{base}{path}")
                shoot(page, name)
                page.goto(f"{base}/")
            first_case = page.locator("table.cases a").first
            if first_case.count():
                first_case.click()
                page.wait_for_selector(".timeline .entry")
                page.wait_for_selector(".guided .start-form, .guided .step-title")
                if username == "agent" and page.locator(".guided .start-form select").count():
                    page.select_option(".guided .start-form select", "billing-question")
                    page.click(".guided .start-form button")
                    page.wait_for_selector(".guided .step-title")
                shoot(page, f"{username}-case")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
