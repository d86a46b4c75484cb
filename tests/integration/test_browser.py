"""The status page in a real headless Chromium on a phone-sized viewport, over the scenario's
engine at 14:30 (Ba Tơ's uplink down since 14:00; Tịnh Khê's CPE was down 10:00–12:00).
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.people_scenario import HOUR, T0, TINH_KHE, engine_at
from tests.services_web import PHONE, chromium, serve_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AT = T0 + 14.5 * HOUR


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_app(engine_at(AT), refresh_s=1) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="vi-VN")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()
    assert errors == []  # no script errors, no CSP violations


def test_overview_renders_with_the_outage_cause(page: Page, url: str) -> None:
    page.goto(url + "/")
    assert page.locator("h1").inner_text() == "Tỉnh Quảng Ngãi"
    # Ba Tơ's communes are one group under their common cause; opening it lists them.
    group = page.locator("ul.down li.group")
    assert group.count() == 1
    assert "không liên lạc được — đường truyền huyện Ba Tơ mất từ 14:00" in group.inner_text()
    group.locator("summary").click()
    assert group.locator("a").count() > 10
    assert group.locator("a", has_text="Thị trấn Ba Tơ").is_visible()
    # Mobile-first: nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)


def test_search_without_accents_opens_the_site_page_with_its_outage(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.fill("input[name=q]", "tinh khe")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"**/commune/{TINH_KHE}")
    assert "Xã Tịnh Khê" in page.locator("h1").inner_text()
    outages = page.locator("table.outages tbody tr")
    assert outages.count() == 1
    row = outages.first.inner_text()
    assert "Xã Tịnh Khê" in row  # by name, the device id beside it
    assert "c21211-cpe1" in row
    assert "2 giờ" in row
    assert page.locator("section.device svg.spark polyline").count() == 1  # the latency chart
    page.screenshot(path=str(ARTIFACTS / "site-phone.png"), full_page=True)


def test_language_switch_persists(page: Page, url: str) -> None:
    page.goto(url + "/")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.click("header a.lang")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(url + "/district/535")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "uplink of Ba Tơ district down since 14:00" in page.content()
    page.screenshot(path=str(ARTIFACTS / "district-phone-en.png"), full_page=True)


def test_auto_refresh_keeps_the_scroll_position(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.locator("ul.down li.group summary").click()
    page.evaluate("window.scrollTo(0, 600)")
    # Wait for the refresh script to swap <main> (wait_for_function would need eval, which the CSP forbids).
    swapped = page.evaluate(
        """() => new Promise((resolve) => {
            const old = document.querySelector("main");
            new MutationObserver((_m, obs) => {
                if (document.querySelector("main") !== old) { obs.disconnect(); resolve(true); }
            }).observe(document.body, { childList: true });
        })"""
    )
    assert swapped is True
    assert page.evaluate("window.scrollY") == 600
    assert page.locator("ul.down li.group details").get_attribute("open") is not None
