"""The app in a real browser: Debian's Chromium driven by Playwright (no browser download).

Classifies a typed message, classifies an uploaded CSV, finds a text's topics, and saves a
screenshot of every tab: to ``$SCREENSHOT_DIR`` when set (the README's images come from
``SCREENSHOT_DIR=docs/screenshots``), else to a temporary folder.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 60_000  # the machine may be busy: generous, but a hang still fails

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (make chromium installs it)"
)


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page, path: Path, full_page: bool = True) -> None:
    """A PNG reduced to 64 colours: a few tens of KB for a UI, small enough for the README."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot(full_page=full_page)))
    image.convert("RGB").quantize(colors=64).save(path, optimize=True)


def test_classify_a_typed_message(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Spam classifier").click()
    page.get_by_label("Message").fill(SPAM_EXAMPLE)
    page.get_by_role("button", name="Classify", exact=True).click()
    expect(page.get_by_test_id("label-output-value")).to_have_text("spam")
    expect(page.get_by_test_id("spam-confidence-set")).to_contain_text(re.compile(r"\d+%"))
    expect(page.get_by_test_id("highlighted-text").get_by_text("09061701461")).to_be_visible()


def test_classify_an_uploaded_csv(page, tmp_path: Path, screenshots: Path):
    from playwright.sync_api import expect

    inbox = tmp_path / "inbox.csv"
    inbox.write_text(f'sms\n"{SPAM_EXAMPLE}"\n"{HAM_EXAMPLE}"\n', encoding="utf-8")
    page.get_by_role("tab", name="Spam classifier").click()
    page.get_by_text("Classify a file").click()
    page.locator("input[type=file]").first.set_input_files(inbox)
    page.get_by_role("button", name="Classify file").click()
    expect(page.get_by_text("Classified 2 of 2 messages")).to_be_visible()
    results = page.get_by_test_id("cell-0-2")
    expect(results).to_have_text("spam")
    expect(page.get_by_test_id("cell-1-2")).to_have_text("ham")
    save_screenshot(page, screenshots / "classifier.png")


def test_topics_tab_draws_a_chart(page, screenshots: Path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Topics").click()
    page.get_by_label("Text", exact=True).fill("football match goal team")
    page.get_by_role("button", name="Find topics").click()
    expect(page.get_by_text(re.compile(r"Dominant topic: \d+"))).to_be_visible()
    # Vega draws each chart as an SVG with marks: the distribution's and the explorer's.
    expect(page.locator("svg.marks")).to_have_count(2)
    # The intertopic distance map: a circle per topic, hover text naming its words, the chosen
    # topic filled in the accent colour; choosing another moves the colour.
    topic_map = page.locator("svg.topic-map")
    expect(topic_map.locator("g.topic")).to_have_count(5)
    expect(topic_map.locator('g[data-topic="0"] circle')).to_have_attribute("fill", "#f58518")
    expect(topic_map.locator('g[data-topic="2"] title')).to_contain_text("topic 2: ")
    page.get_by_label("Topic", exact=True).click()
    page.get_by_role("option").nth(2).click()
    expect(topic_map.locator('g[data-topic="2"] circle')).to_have_attribute("fill", "#f58518")
    expect(topic_map.locator('g[data-topic="0"] circle')).to_have_attribute("fill", "#4c78a8")
    expect(page.get_by_role("option")).to_have_count(0)  # the list has closed: a clean picture
    save_screenshot(page, screenshots / "topics.png")


def test_training_curves_and_about_tabs(page, screenshots: Path):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Training curves").click()
    expect(page.locator("svg.marks")).not_to_have_count(0)
    expect(page.get_by_text(re.compile(r"values logged in"))).to_have_count(2)
    save_screenshot(page, screenshots / "training-curves.png")
    page.get_by_role("tab", name="About").click()
    expect(page.get_by_text("Use it from Python")).to_be_visible()
    save_screenshot(page, screenshots / "about.png", full_page=False)
