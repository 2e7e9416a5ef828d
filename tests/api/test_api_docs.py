"""``/docs``: Swagger UI 5 served by sqm itself renders the OpenAPI 3.1 description offline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from api.app import SWAGGER_UI_DIR


def test_api_docs_are_served_from_this_server_not_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    srcs = re.findall(r'(?:src|href)=["\']([^"\']+)', page.text)
    assert "/docs/assets/swagger-ui-bundle.js" in srcs and "/docs/assets/swagger-ui.css" in srcs
    assert not [s for s in srcs if s.startswith(("http:", "https:", "//"))], srcs
    for src in srcs:
        if src.startswith("/docs/assets/"):
            assert client.get(src).status_code == 200, src
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN
    assert "/docs" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_the_shipped_swagger_ui_is_version_5():
    bundle = (SWAGGER_UI_DIR / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    [version] = set(re.findall(r'PACKAGE_VERSION:"([0-9.]+)"', bundle))
    assert int(version.split(".")[0]) == 5, version  # 4.x cannot read OpenAPI 3.1


@pytest.mark.browser
def test_docs_render_the_operations_in_chromium_without_leaving_the_server(live_server, browser_page: Page):
    page = browser_page
    server = live_server()
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    with server:
        page.goto(f"{server.url}/docs")
        ingest = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/v1/events"])')
        expect(ingest).to_be_visible(timeout=20_000)
        expect(ingest.locator(".opblock-summary-method")).to_have_text("POST")
        expect(page.locator('.opblock-get .opblock-summary-path[data-path="/v1/kpis"]')).to_be_visible()
        expect(page.locator('.opblock-post .opblock-summary-path[data-path="/v1/webhooks/{name}"]')).to_be_visible()
        assert page.locator(".opblock").count() >= 20
        expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
        version = page.evaluate("window.versions && window.versions.swaggerUI && window.versions.swaggerUI.version")
        assert str(version).startswith("5."), version
        ingest.locator(".opblock-summary").click()  # expand: the ServiceEvent body schema renders
        expect(ingest.locator(".opblock-body")).to_be_visible()
    assert elsewhere == []
