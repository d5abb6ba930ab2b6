"""Take the process editor's screenshots from a running CPM with the demo data.

.venv/bin/python scripts/screenshots_editor.py http://127.0.0.1:8031
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright
from screenshots import ARGS, OUT, log_in, shoot


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.on("console", lambda msg: print("console:", msg.type, msg.text))
        log_in(page, base, "admin")
        page.click("nav.mainnav >> text=Processes")
        shoot(page, "admin-process-list")
        row = page.locator("tr[data-process=cancellation]")
        row.locator("td:nth-child(4) a, td:nth-child(4) button").first.click()  # draft or new
        page.wait_for_selector(".step-editor")
        page.locator("[data-step=retention] > a").click()
        page.wait_for_selector("#id_step-key[value=retention]")
        condition = page.locator("#id_routes-0-condition")
        condition.fill('answers.offer_accepted && customer.segmnt == "premium"')
        condition.press("End")  # the condition is checked as it is typed
        page.wait_for_selector("#id_routes-0-condition-check.error")
        instruction = page.locator("#id_step-instruction_en")
        instruction.fill(
            "Offer **3 months at 20 % off** if the customer has been with us for over 2 years.\n\n"
            "- check the contract start\n- never promise more than 3 months"
        )
        instruction.press("End")  # the live preview follows
        page.wait_for_selector("#step-instruction_en-preview li")
        shoot(page, "admin-process-editor")
        page.goto(f"{base}/processes/")
        page.locator("tr[data-process=return-or-exchange] td:nth-child(3) a").click()
        page.wait_for_selector("[data-testid=process-graph]")
        shoot(page, "admin-process-graph")
        page.get_by_role("link", name="Test run").click()
        page.fill("#id_customer", "K-100001")
        page.get_by_role("button", name="Start").click()
        page.fill("#id_answer-order_number", "A-7781")
        page.fill("#id_answer-days_since_delivery", "45")
        page.select_option("#id_answer-wish", "return")
        page.get_by_role("button", name="Next").click()
        page.wait_for_selector(".walk .taken")
        shoot(page, "admin-process-testrun")
        context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8031")
