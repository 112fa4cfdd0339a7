"""In a real browser (headless Chromium): notebook 07's explorer in JupyterLab, as a user meets it, and
every slide of every deck (`make slides`) on a 1280×720 screen.

The explorer: JupyterLab runs with its default settings, so widget callbacks arrive over kernel subshells, in
another thread than the one that ran the notebook's cells (the bug this test was written for:
every change that needed a new analyzer failed there, and only the log console showed it).

The test starts JupyterLab on a free localhost port with a random token and temporary settings
and runtime folders, opens notebook 07 in Debian's Chromium driven by Playwright, runs it in quick
mode, and then works every control. After each change the heatmap and the status line must
change, and no error may appear: not in the status line, not in a kernel message (every message
from the kernel passes the page's websocket), not in the page, not in the server's log.

The decks: each is written from its notebook's committed outputs (tools/slides.py) and opened at a
1280×720 viewport; every slide and sub-slide is shown in turn and must fit the screen: no element outside
the window, and no box that cuts off its content (code, a table, a formula), except printed text, which
scrolls in its box by design. A deck loads its scripts and styles from public CDNs (tools/slides.py,
`ASSETS`); the test installs the same versions from the npm registry once (into .cache/slides/, with npm)
and answers the deck's requests from them. Any other request fails the test, except images from other
sites, which are not fetched. A JavaScript error fails it too.

Needs Debian's `chromium` (`apt-get install chromium`; .ci/run installs it) and, for the decks, `npm`.
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

NOTEBOOK = "notebooks/07_interactive_explorer.ipynb"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 90
NOTEBOOK_RUN_MS = 240_000
CHANGE_MS = 90_000
# A kernel message that reports an error: an "error" message, or a reply whose status is "error".
KERNEL_ERROR = re.compile(r'"msg_type":\s*"error"|"status":\s*"error"|Traceback')
SCREEN = {"width": 1280, "height": 720}  # the screen every slide must fit
ASSET_CACHE = ROOT / ".cache" / "slides"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Chromium is not installed: apt-get install chromium (Debian's package) to run this test",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def jupyterlab(tmp_path, cifar10_dir):
    """A JupyterLab server on localhost; yields (url, server log path) and always stops it."""
    port, token = free_port(), secrets.token_hex(16)
    settings = tmp_path / "lab-settings"
    # Only JupyterLab's news and update checks are switched off (no internet here); everything
    # else, commsOverSubshells included, keeps its default.
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # The server works in a scratch copy: JupyterLab saves the notebook it runs, and the committed
    # notebook must keep its full-run outputs. The package, its settings and the models are linked.
    workspace = tmp_path / "workspace"
    (workspace / "notebooks").mkdir(parents=True)
    for name in ("pyproject.toml", "lrp_helpers", "models"):
        (workspace / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / NOTEBOOK, workspace / NOTEBOOK)
    env = dict(
        os.environ,
        LRP_QUICK="1",
        LRP_CIFAR10_DIR=str(cifar10_dir),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    log_path = tmp_path / "server.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={workspace}",
    ]
    if os.geteuid() == 0:  # CI runs as root
        command.append("--allow-root")
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=workspace, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(server, f"{url}/api/status?token={token}", log_path)
        yield f"{url}/lab/tree/{NOTEBOOK}?token={token}", log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_server(server, status_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(status_url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{log_path.read_text()[-3000:]}")


class Page:
    """The notebook page, with what it records: kernel messages that report errors, page errors."""

    def __init__(self, page, server_log: Path):
        self.page, self.server_log = page, server_log
        self.kernel_errors: list[str] = []
        self.kernel_frames = 0
        self.page_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("websocket", self._watch)

    def _watch(self, websocket):
        def frame(payload):
            self.kernel_frames += 1
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
            if KERNEL_ERROR.search(text):
                self.kernel_errors.append(text[max(text.find("{"), 0) :][:3000])  # from the JSON on

        websocket.on("framereceived", frame)

    def menu(self, menu: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()

    def widget(self, name: str):
        return self.page.locator(f".lrp-explorer-{name}")

    def shown(self) -> tuple[str, str]:
        """The status line and the heatmap figure (its image data)."""
        status, image = self.page.evaluate("""() => [
            (document.querySelector('.lrp-explorer-status')?.textContent || '').trim(),
            document.querySelector('.lrp-explorer-heatmap img')?.src || '']""")
        return status, image

    def assert_no_errors(self, step: str) -> None:
        assert self.kernel_frames, f"{step}: no message from the kernel reached the page"
        assert not self.kernel_errors, f"{step}: the kernel reported an error:\n{self.kernel_errors[0]}"
        log = self.server_log.read_text()
        assert "Traceback" not in log, f"{step}: the server's (and kernel's) log holds an error:\n{log[-3000:]}"
        status, _ = self.shown()
        assert not status.startswith("Error"), f"{step}: the app shows {status}"
        assert not self.page_errors, f"{step}: the page reported an error: {self.page_errors[0]}"

    def change(self, step: str, action, expect_in_status: str) -> None:
        """Do `action`, then wait until the status line names `expect_in_status` and the heatmap
        is a new one; fail if either stays as it was or an error appears."""
        self.widget("status").scroll_into_view_if_needed()  # JupyterLab renders only visible cells
        before_status, before_image = self.shown()
        start = time.perf_counter()
        action()
        try:
            self.page.wait_for_function(
                """([before, image, expected]) => {
                    const status = document.querySelector('.lrp-explorer-status');
                    const shown = document.querySelector('.lrp-explorer-heatmap img');
                    const text = status ? status.textContent.trim() : '';
                    return text.startsWith('Error') || (text !== before && text.includes(expected)
                        && text.includes('analysis took') && shown && shown.src !== image);
                }""",
                arg=[before_status, before_image, expect_in_status],
                timeout=CHANGE_MS,
            )
            if self.shown()[0].startswith("Error"):
                self.page.wait_for_timeout(3000)  # let the kernel's own report of the error arrive
        except Exception as error:
            status, image = self.shown()
            raise AssertionError(
                f"{step}: after {CHANGE_MS / 1000:.0f} s the status line is {status!r} (before: "
                f"{before_status!r}), heatmap {'unchanged' if image == before_image else 'changed'}; "
                f"kernel errors: {self.kernel_errors[:1]}"
            ) from error
        self.assert_no_errors(step)
        status, image = self.shown()
        assert status != before_status and image != before_image, step
        print(f"{step}: {time.perf_counter() - start:.2f} s until the new heatmap showed; {status}")

    def drag_slider(self, name: str, fraction: float) -> None:
        """Drag the slider's handle with the mouse to `fraction` (0 = left end, 1 = right end)."""
        slider = self.widget(name)
        track = slider.locator(".noUi-target").bounding_box()
        handle = slider.locator(".noUi-handle").bounding_box()
        y = handle["y"] + handle["height"] / 2
        mouse = self.page.mouse
        mouse.move(handle["x"] + handle["width"] / 2, y)
        mouse.down()
        mouse.move(track["x"] + fraction * track["width"], y, steps=12)
        mouse.up()

    def choose(self, name: str, option: str) -> None:
        self.widget(name).locator("select").select_option(label=option)


def test_explorer_in_jupyterlab_and_chromium(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, server_log = jupyterlab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            notebook = Page(page, server_log)
            page.goto(url, timeout=60_000)
            try:
                run_notebook(notebook)
                work_every_control(notebook)
            except BaseException:
                screenshot = tmp_path / "failure.png"
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"Screenshot of the page at the failure: {screenshot}")
                raise
        finally:
            browser.close()
    log = server_log.read_text()  # once more, after the kernel has shut down
    assert "Traceback" not in log, f"the server's log holds an error:\n{log[-3000:]}"


def run_notebook(notebook: Page) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    """Clear the committed outputs, run every cell, and wait until all have run and the app shows."""
    page = notebook.page
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    kernel_choice = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel": take the notebook's
    try:
        kernel_choice.wait_for(timeout=15_000)
        kernel_choice.click()
    except PlaywrightTimeout:
        pass  # JupyterLab started the notebook's kernel without asking
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
    notebook.menu("Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                 .every(p => !/\\d/.test(p.textContent))""",
        timeout=30_000,
    )
    start = time.perf_counter()
    notebook.menu("Run", "Run All Cells")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=NOTEBOOK_RUN_MS,
    )
    notebook.widget("status").wait_for(timeout=CHANGE_MS)
    page.wait_for_function(
        "() => (document.querySelector('.lrp-explorer-status')?.textContent || '').includes('analysis took')"
        " && document.querySelector('.lrp-explorer-heatmap img')",
        timeout=CHANGE_MS,
    )
    notebook.assert_no_errors("running the notebook")
    print(f"running the notebook (quick mode): {time.perf_counter() - start:.1f} s")


def work_every_control(notebook: Page) -> None:
    """A new method, every parameter slider dragged, a new image, a new class, a new explained class."""
    # Notebook 07 itself builds LRP-ε (ε = 0.1), z⁺ and αβ (α = 2): gradient is built here first.
    notebook.change("method -> gradient", lambda: notebook.choose("method", "gradient"), "gradient,")
    for method, symbol, start, end in (("LRP-ε", "ε", 0.1, 10), ("LRP-αβ", "α", 2, 3), ("LRP-γ", "γ", 0.25, 1)):
        notebook.change(
            f"method -> {method}", lambda m=method: notebook.choose("method", m), f"{method} ({symbol} = {start:g}"
        )
        notebook.change(
            f"drag {symbol} to {end:g}", lambda: notebook.drag_slider("parameter", 1.0), f"{method} ({symbol} = {end:g}"
        )
    notebook.change("drag image # to the middle", lambda: notebook.drag_slider("image", 0.5), "test image")
    notebook.change("class -> ship", lambda: notebook.choose("class", "ship"), "(ship)")
    notebook.change("explain -> frog", lambda: notebook.choose("target", "frog"), "explaining frog")


# ----------------------------------------------------------------------------------------------------
# The slide decks


def _package_folder(package: str) -> Path:
    name = package.rsplit("@", 1)[0]
    return ASSET_CACHE / "node_modules" / name


@pytest.fixture(scope="module")
def deck_assets() -> dict[str, Path]:
    """{address a deck asks for: local file or folder}, installed from the npm registry if missing."""
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


# What the shown slide puts outside the window, and which of its boxes cut their content off. MathJax's
# copy of each formula for screen readers is clipped to nothing on purpose, and is not looked at.
MEASURE_SLIDE = """() => {
    const width = window.innerWidth, height = window.innerHeight;
    const slide = document.querySelector('.reveal .slides section.present:not(.stack)');
    const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
        ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    let outside = 0, worst = '';
    const clipped = [], scrolling = [];
    for (const el of [slide, ...slide.querySelectorAll('*')]) {
        if (el.closest('.MJX_Assistive_MathML')) continue;
        const box = el.getBoundingClientRect();
        if (box.width < 1 || box.height < 1) continue;
        const beyond = Math.max(-box.left, -box.top, box.right - width, box.bottom - height);
        if (beyond > outside) { outside = beyond; worst = name(el); }
        const style = getComputedStyle(el);
        const cut = (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)
            || (style.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1);
        if (cut) (el.closest('.jp-RenderedText') ? scrolling : clipped).push(name(el));
    }
    return {outside, worst, clipped, scrolling, zoom: slide.getAttribute('data-fit-zoom'),
            figures: Number(slide.getAttribute('data-fit-figures')),
            text: slide.innerText.trim().split('\\n')[0].slice(0, 60)};
}"""


def _expected_slides(path: Path) -> int:
    cells = slides.deck_notebook(nbformat.read(path, as_version=4)).cells
    return sum(cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for cell in cells)


@pytest.mark.parametrize("notebook", slides.NOTEBOOKS, ids=lambda p: p.name)
def test_every_slide_of_the_deck_fits_a_1280x720_screen(notebook, deck_assets, tmp_path):
    from playwright.sync_api import sync_playwright

    deck = slides.write_deck(notebook, tmp_path)
    errors, refused, shown = [], [], []

    def answer(route):
        request = route.request
        if request.url.startswith("file://"):
            return route.continue_()
        local = _local(request.url, deck_assets)
        if local is not None and local.is_file():
            return route.fulfill(path=str(local))
        if request.resource_type != "image":
            refused.append(request.url)
        return route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=SCREEN)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.route("**/*", answer)
            page.goto(deck.as_uri())
            page.wait_for_selector(".reveal.ready", state="attached", timeout=60_000)  # reveal.js is set up
            page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
            stacks = page.evaluate(  # the sub-slides below each slide: 1 where it has none
                "() => Reveal.getHorizontalSlides().map(s => Math.max(1, s.querySelectorAll(':scope>section').length))"
            )
            for horizontal, count in enumerate(stacks):
                for vertical in range(count):
                    page.evaluate("([h, v]) => Reveal.slide(h, v)", [horizontal, vertical])
                    # the deck fits a slide once MathJax has typeset it (slides_template/)
                    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")
                    page.wait_for_selector(".reveal .slides section.present[data-fit-zoom]", timeout=30_000)
                    shown.append((horizontal, vertical, page.evaluate(MEASURE_SLIDE)))
            page.evaluate("() => Reveal.slide(1, 0)")
            page.wait_for_timeout(300)
            screenshot = page.screenshot(path=str(tmp_path / "slide.png"))
        finally:
            browser.close()
    assert refused == [], "the deck asked for something tools/slides.py does not list in ASSETS"
    failed_images = [e for e in errors if e.startswith("Failed to load resource")]
    assert [e for e in errors if e not in failed_images] == []
    assert len(shown) == _expected_slides(notebook)
    pixels = np.asarray(Image.open(io.BytesIO(screenshot)).convert("L"), dtype=float)
    assert pixels.std() > 10, "the second slide rendered blank"
    misfits = [
        f"{deck.name} slide {h}/{v} (reveal.js #/{h}/{v}, {m['text']!r}, zoom {m['zoom']}): "
        + (f"{m['outside']:.0f} px outside the screen ({m['worst']})" if m["outside"] > 1 else "")
        + (f" cut off: {', '.join(sorted(set(m['clipped'])))}" if m["clipped"] else "")
        for h, v, m in shown
        if m["outside"] > 1 or m["clipped"]
    ]
    scrolling = sum(bool(m["scrolling"]) for _, _, m in shown)
    shrunk = [f"{h}/{v}" for h, v, m in shown if m["figures"] < 0.75]
    print(
        f"{deck.name}: {len(shown)} slides, {len(misfits)} do not fit; {scrolling} with printed text that scrolls,"
        f" {len(shrunk)} with figures scaled below 75% ({', '.join(shrunk)})"
    )
    assert not misfits, "slides that do not fit a 1280×720 screen:\n" + "\n".join(misfits)
