"""`make slides`: every notebook carries its slide metadata, and every deck renders in headless
Chromium with one slide per slide or sub-slide cell and no JavaScript error.

A deck loads its scripts and styles from public CDNs (tools/slides.py, `ASSETS`). CI has no internet,
so the test installs the same versions from the npm registry once (into .cache/slides/, with npm) and
answers the deck's requests from them. Any other request from the deck fails the test, except images
from other sites (the "Open in Colab" badge), which are not fetched.

Needs Debian's `chromium` and `npm` (.ci/run installs Chromium; the machine has Node.js and npm).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT
from PIL import Image
from test_browser import CHROMIUM, CHROMIUM_ARGS

sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

ASSET_CACHE = ROOT / ".cache" / "slides"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Chromium is not installed: apt-get install chromium (Debian's package) to run this test",
)


def test_every_notebook_carries_its_slide_metadata():
    assert slides.out_of_date() == [], "run: python tools/slides.py"


def _package_folder(package: str) -> Path:
    name = package.rsplit("@", 1)[0]
    return ASSET_CACHE / "node_modules" / name


@pytest.fixture(scope="module")
def assets() -> dict[str, Path]:
    """{address the deck asks for: local file or folder}, installed from the npm registry if missing."""
    packages = sorted({package for package, _ in slides.ASSETS.values()})
    missing = [package for package in packages if not _package_folder(package).is_dir()]
    if missing:
        npm = shutil.which("npm")
        assert npm, "npm is needed to fetch the decks' scripts from the npm registry (apt-get install npm)"
        ASSET_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(ASSET_CACHE), *missing],
            check=True,
            capture_output=True,
        )
    return {address: _package_folder(package) / inside for address, (package, inside) in slides.ASSETS.items()}


def _local(url: str, assets: dict[str, Path]) -> Path | None:
    address = url.split("?", 1)[0]
    for prefix, target in assets.items():
        if address == prefix:
            return target
        if prefix.endswith("/") and address.startswith(prefix):
            return target / address[len(prefix) :]
    return None


def _expected_slides(path: Path) -> int:
    types = slides.slide_types(nbformat.read(path, as_version=4))
    return sum(slide_type in ("slide", "subslide") for slide_type in types)


@pytest.mark.parametrize("notebook", slides.NOTEBOOKS, ids=lambda p: p.name)
def test_deck_renders_every_slide_without_a_javascript_error(notebook, assets, tmp_path):
    from playwright.sync_api import sync_playwright

    deck = slides.write_deck(notebook, tmp_path)
    errors, refused = [], []

    def answer(route):
        request = route.request
        if request.url.startswith("file://"):
            return route.continue_()
        local = _local(request.url, assets)
        if local is not None and local.is_file():
            return route.fulfill(path=str(local))
        if request.resource_type != "image":
            refused.append(request.url)
        return route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.route("**/*", answer)
            page.goto(deck.as_uri())
            page.wait_for_selector(".reveal.ready", state="attached", timeout=60_000)  # reveal.js is set up
            total = page.locator(".reveal .slides section:not(.stack)").count()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1_000)
            screenshot = page.screenshot(path=str(tmp_path / "slide.png"))
        finally:
            browser.close()
    assert refused == [], "the deck asked for something tools/slides.py does not list in ASSETS"
    failed_images = [e for e in errors if e.startswith("Failed to load resource")]
    assert [e for e in errors if e not in failed_images] == []
    assert total == _expected_slides(notebook)
    pixels = np.asarray(Image.open(io.BytesIO(screenshot)).convert("L"), dtype=float)
    assert pixels.std() > 10, "the second slide rendered blank"
