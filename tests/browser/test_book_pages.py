"""The built book, page by page, in headless Chromium: offline, typeset, rendered.

Run after ``make book`` (``python -m effteach.tools.book --out build/book``). Every
HTML page of ``build/book/_build/html`` is served on 127.0.0.1 and loaded in Debian's
Chromium through Playwright; each page is one test. A page passes when

* it requests nothing from any host but 127.0.0.1 (``data:``/``blob:`` are fine; an
  off-host request is recorded, then aborted, so the test never goes online),
* every local request succeeds, and no uncaught JavaScript error and no console
  error occurs,
* where the HTML has math, MathJax started and typeset every math element,
* every plotly figure drew its SVG (and a page with plotly output has figures), and
  none offers plotly's "Share chart..." button (it uploads the figure to Plotly Cloud),
* where the HTML embeds widget views, the widgets rendered with no
  "Click to show javascript error" box,
* no raw TeX reaches the reader: no ``$``/``$$``/``\\(``/``\\[`` delimiter or
  ``\\frac``-like command in the rendered text outside code and MathJax output,
* no plotly title, axis title, annotation (subplot title), slider label, legend or
  button leaves its figure or overlaps another, and no figure is wider than the text
  column (in the figure's initial state),
* no code block is wider than the text column at 1280 px and no cell output is taller
  than :data:`MAX_OUTPUT_PX`, unless folded (a closed ``<details>``: hide-input,
  show_source),
* every citation resolves to a bibliography entry, in one author-year style (the
  text names the author and year of the entry's label, "Shen et al., 2025a"),
* the page declares a favicon that loads,
* every visible control in a cell output (ipywidgets, plotly sliders and buttons)
  changes its figure or output when moved or clicked with the mouse, unless it sits
  inside an element of class ``effteach-live`` (the "live in JupyterLab" mark).

The in-page half of the new checks is ``page_checks.js``; each is shown able to fail
on a fixture page under ``fixtures/`` (one defect each) that goes through the same
:func:`inspect_page`, and a clean fixture passes them all.

A full-page screenshot of each page goes to ``build/book/screenshots/``. Without the
built book or Chromium the tests skip, unless ``CI=true``, where they fail. Set
``EFFTEACH_BOOK_HTML`` to test another build's ``_build/html`` folder.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import re
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The built site; EFFTEACH_BOOK_HTML points the test at another build.
HTML_DIR = Path(
    os.environ.get("EFFTEACH_BOOK_HTML") or ROOT / "build" / "book" / "_build" / "html"
).resolve()
SCREENSHOTS = HTML_DIR.parent.parent / "screenshots"  # build/book/screenshots
ALLOWED_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_ERROR_TEXT = "Click to show javascript error"
#: A cell output taller than this (CSS px, at 1280 px) must be folded.
MAX_OUTPUT_PX = 1200
#: How long a control has to change something after it is moved.
CONTROL_SETTLE_MS = 700
PAGE_CHECKS_JS = (Path(__file__).with_name("page_checks.js")).read_text()
LIVE_CLASS = "effteach-live"  # effteach.viz.LIVE_CLASS
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def find_chromium() -> str | None:
    """Return the Chromium executable: Debian's /usr/bin/chromium, or one on PATH."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def html_pages(html_dir: Path) -> list[str]:
    """Return every page of a built site, as paths relative to ``html_dir``."""
    if not html_dir.is_dir():
        return []
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if rel.parts[0] in SKIP_DIRS:
            continue
        pages.append(rel.as_posix())
    return pages


def is_off_host(url: str) -> bool:
    """True when a request URL leaves 127.0.0.1 (data:, blob:, about: stay local)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return False
    return parts.hostname not in ALLOWED_HOSTS


# --------------------------------------------------------------------------- server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@functools.cache
def _handler_for(directory: str) -> type:
    return functools.partial(_QuietHandler, directory=directory)  # type: ignore[return-value]


class StaticServer:
    """Serve one folder on 127.0.0.1 at a free port, from a daemon thread."""

    def __init__(self, directory: Path):
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), _handler_for(str(directory))
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> StaticServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------- checker


@dataclasses.dataclass
class PageReport:
    """What one page did in the browser."""

    page: str
    requests: list[str] = dataclasses.field(default_factory=list)
    off_host: list[str] = dataclasses.field(default_factory=list)
    failed_local: list[str] = dataclasses.field(default_factory=list)
    page_errors: list[str] = dataclasses.field(default_factory=list)
    console_errors: list[str] = dataclasses.field(default_factory=list)
    has_math: bool = False
    math_started: bool = False
    math_elements: int = 0
    math_typeset: int = 0
    mjx_containers: int = 0
    math_errors: int = 0
    has_plotly: bool = False
    plotly_divs: int = 0
    plotly_drawn: int = 0
    plotly_sliders: int = 0
    plotly_share_buttons: int = 0
    widget_views: int = 0
    widgets_rendered: int = 0
    widget_error_boxes: int = 0
    raw_tex: list[str] = dataclasses.field(default_factory=list)
    figure_text: list[str] = dataclasses.field(default_factory=list)
    layout: list[str] = dataclasses.field(default_factory=list)
    layout_stats: dict[str, int] = dataclasses.field(default_factory=dict)
    citations: list[str] = dataclasses.field(default_factory=list)
    favicon: list[str] = dataclasses.field(default_factory=list)
    controls: int = 0
    controls_live: int = 0
    dead_controls: list[str] = dataclasses.field(default_factory=list)
    #: the moments at which plotly figures were still refitting after ``wait_ms``
    figures_unsettled: list[str] = dataclasses.field(default_factory=list)

    def new_check_problems(self) -> dict[str, list[str]]:
        """The problems of the reader-facing checks, by check."""
        return {"raw TeX": self.raw_tex, "figure text": self.figure_text,
                "layout": self.layout, "citations": self.citations,
                "favicon": self.favicon, "dead controls": self.dead_controls}

    def problems(self) -> list[str]:
        """Return one line per failed check; empty when the page is fine."""
        out = []
        if self.off_host:
            out.append(f"off-host requests: {self.off_host}")
        if self.failed_local:
            out.append(f"local requests that failed: {self.failed_local}")
        if self.page_errors:
            out.append(f"uncaught JavaScript errors: {self.page_errors}")
        if self.console_errors:
            out.append(f"console errors: {self.console_errors}")
        if self.has_math:
            if not self.math_started:
                out.append("page has math but MathJax did not start")
            elif self.mjx_containers == 0 or self.math_typeset < self.math_elements:
                out.append(
                    f"math not typeset: {self.math_typeset}/{self.math_elements} math "
                    f"elements, {self.mjx_containers} mjx-container(s)"
                )
            if self.math_errors:
                out.append(f"{self.math_errors} MathJax error(s) (mjx-merror)")
        if self.has_plotly and self.plotly_divs == 0:
            out.append("page has plotly output but no .plotly-graph-div")
        if self.plotly_drawn < self.plotly_divs:
            out.append(
                f"plotly figures not drawn: {self.plotly_drawn}/{self.plotly_divs} "
                "have a .main-svg"
            )
        if self.figures_unsettled:
            out.append(f"plotly figures still refitting after the wait: "
                       f"{self.figures_unsettled}")
        if self.plotly_share_buttons:
            out.append(
                f"{self.plotly_share_buttons} plotly 'Share chart' button(s): they "
                "upload the figure to Plotly Cloud"
            )
        if self.widget_views:
            if self.widgets_rendered == 0:
                out.append(
                    f"{self.widget_views} widget view(s) embedded, none rendered"
                )
            if self.widget_error_boxes:
                out.append(f"widget error box: {WIDGET_ERROR_TEXT!r}")
        for lines in self.new_check_problems().values():
            out.extend(lines)
        return out


_COUNTS_JS = """() => {
  const q = (s) => document.querySelectorAll(s);
  const math = [...q('.math.notranslate')];
  const plots = [...q('.plotly-graph-div')];
  return {
    math_elements: math.length,
    math_typeset: math.filter((e) => e.querySelector('mjx-container')).length,
    mjx_containers: q('mjx-container').length,
    math_errors: q('mjx-merror').length,
    plotly_divs: plots.length,
    plotly_drawn: plots.filter((e) => e.querySelector('.main-svg')).length,
    plotly_sliders: q('.plotly-graph-div .slider-container').length,
    plotly_share_buttons:
      q('.plotly-graph-div .modebar-btn[data-title^="Share"]').length,
    widgets_rendered: q('.jupyter-widgets').length,
    widget_error_boxes: (document.body.innerText.match(/__ERR__/g) || []).length,
  };
}""".replace("__ERR__", WIDGET_ERROR_TEXT)

_MATHJAX_READY_JS = (
    "() => !!(window.MathJax && window.MathJax.startup"
    " && window.MathJax.startup.promise)"
)
_PLOTLY_DRAWN_JS = """() => [...document.querySelectorAll('.plotly-graph-div')]
  .every((e) => e.querySelector('.main-svg'))"""
#: Two animation frames (ResizeObserver callbacks run between them), then true.
_FRAMES_JS = """() => new Promise((done) =>
  requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"""
#: No figure has a plotly resize pending. plotly.js sets ``_resolveResize`` while its
#: 100 ms refit timer runs and deletes it after the refit; a figure of fixed size or a
#: hidden one is not refitted, and keeps it.
_PLOTLY_IDLE_JS = """() => [...document.querySelectorAll('.plotly-graph-div')]
  .every((e) => !e._resolveResize || (e.layout && e.layout.width && e.layout.height)
          || getComputedStyle(e).display === 'none')"""
_WIDGETS_JS = (
    "() => document.querySelectorAll('.jupyter-widgets').length > 0"
    f" || document.body.innerText.includes('{WIDGET_ERROR_TEXT}')"
)


def _fetch_source(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:  # only 127.0.0.1 URLs
        return resp.read().decode("utf-8", errors="replace")


def _move(page, ctl: dict, reverse: bool) -> None:
    """Use one control like a reader: drag, click, pick or type."""
    ctl_id = ctl["id"]
    sel = f'[data-effteach-ctl="{ctl_id}"]'
    box = page.evaluate("(id) => window.__effteachChecks.box(id)", ctl["id"])
    if box is None:
        return
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    kind = ctl.get("type") or ("slider" if ctl["kind"] == "plotly slider" else "button")
    if ctl["kind"] == "plotly slider":
        # click the rail at the end away from the active step (the other end if asked)
        at_end = ctl["active"] >= ctl["steps"] - 1
        left = box["x"] + 4
        right = box["x"] + box["width"] - 4
        page.mouse.click(left if at_end != reverse else right, cy)
    elif kind == "slider":
        dx = -40 if reverse else 40
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy, steps=5)
        page.mouse.up()
    elif kind == "select":
        options = page.eval_on_selector_all(
            f"{sel} option", "(os) => os.map((o) => [o.value, o.selected])")
        others = [v for v, chosen in options if not chosen]
        if others:
            page.select_option(sel, others[-1 if reverse else 0])
    elif kind == "text":
        page.fill(sel, "1" if reverse else "2")
        page.press(sel, "Enter")
    else:
        page.mouse.click(cx, cy)


_SNAPSHOT_JS = "(id) => window.__effteachChecks.snapshot(id)"


def _changed(page, ctl_id: str, before: str | None, settle_ms: int) -> bool:
    for _ in range(max(1, settle_ms // 50)):
        page.wait_for_timeout(50)
        if page.evaluate(_SNAPSHOT_JS, ctl_id) != before:
            return True
    return False


def exercise_controls(page, report: PageReport,
                      settle_ms: int = CONTROL_SETTLE_MS) -> None:
    """Move every visible control once; record those that change nothing.

    A control passes when its figure (plotly) or its cell output (widgets) changes,
    apart from the control itself, within ``settle_ms``; a slider is tried towards
    both ends. Controls inside an ``effteach-live`` element are counted, not moved.
    """
    for ctl in page.evaluate("() => window.__effteachChecks.controls()"):
        report.controls += 1
        if ctl["live"]:
            report.controls_live += 1
            continue
        alive = False
        errors = len(report.page_errors)
        for reverse in (False, True):
            before = page.evaluate(_SNAPSHOT_JS, ctl["id"])
            _move(page, ctl, reverse)
            # an animation a play button started runs on; each control is judged
            # on its own figure, so it cannot make another control look alive
            alive = _changed(page, ctl["id"], before, settle_ms)
            if alive or "slider" not in ctl["kind"]:
                break
        if len(report.page_errors) > errors:
            # a control that throws is broken, whatever else it does
            thrown = report.page_errors[errors:]
            del report.page_errors[errors:]
            report.dead_controls.append(
                f"{ctl['where']}: {ctl['kind']} raises a JavaScript error when used: "
                f"{thrown[:2]}"
            )
        elif not alive:
            report.dead_controls.append(
                f"{ctl['where']}: {ctl['kind']} changes nothing when used, and is "
                f"not inside a .{LIVE_CLASS} ('live in JupyterLab') element"
            )
    page.mouse.move(0, 0)


def run_page_checks(page, report: PageReport) -> None:
    """The reader-facing checks (page_checks.js), in the page's initial state."""
    page.evaluate(PAGE_CHECKS_JS)
    report.raw_tex = page.evaluate("() => window.__effteachChecks.rawTex()")
    report.figure_text = page.evaluate("() => window.__effteachChecks.plotlyText()")
    layout = page.evaluate("(m) => window.__effteachChecks.codeWidth(m)", MAX_OUTPUT_PX)
    report.layout, report.layout_stats = layout["problems"], layout["stats"]
    report.citations = page.evaluate("() => window.__effteachChecks.citations()")
    report.favicon = page.evaluate("() => window.__effteachChecks.favicon()")


def _wait_for_figures(page, report: PageReport, wait_ms: int, when: str) -> None:
    """Let pending figure refits finish (the page's own, none forced)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not report.has_plotly:
        return
    page.evaluate(_FRAMES_JS)
    try:
        page.wait_for_function(_PLOTLY_IDLE_JS, timeout=wait_ms)
    except PlaywrightTimeout:
        report.figures_unsettled.append(when)


def inspect_page(browser, url: str, screenshot: Path | None = None,
                 wait_ms: int = 30_000) -> PageReport:
    """Load one page and report what it requested and rendered.

    Args:
        browser: a Playwright ``Browser``.
        url: the page URL (served from 127.0.0.1).
        screenshot: where to save a full-page PNG, or None.
        wait_ms: how long to wait for MathJax, plotly and widgets to finish.

    Returns:
        A :class:`PageReport`; call ``problems()`` for the failed checks.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    report = PageReport(page=url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(route_obj) -> None:
        # recorded by the "request" listener; never let it reach the network
        if is_off_host(route_obj.request.url):
            route_obj.abort()
        else:
            route_obj.continue_()

    def on_request(request) -> None:
        report.requests.append(request.url)
        if is_off_host(request.url):
            report.off_host.append(request.url)

    def on_response(response) -> None:
        if response.status >= 400 and not is_off_host(response.url):
            report.failed_local.append(f"{response.status} {response.url}")

    def on_failed(request) -> None:
        if not is_off_host(request.url):
            report.failed_local.append(f"{request.failure} {request.url}")

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    page.on("pageerror", lambda err: report.page_errors.append(str(err)))

    def on_console(msg) -> None:
        # failed loads are reported above, with their URL
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            report.console_errors.append(msg.text[:300])

    page.on("console", on_console)
    try:
        source = _fetch_source(url)  # the HTML as served, before any script ran
        page.goto(url, wait_until="load", timeout=wait_ms)
        report.has_math = "math notranslate" in source
        report.has_plotly = "plotly-graph-div" in source
        report.widget_views = source.count(WIDGET_VIEW)
        if report.has_math:
            try:
                page.wait_for_function(_MATHJAX_READY_JS, timeout=wait_ms)
                page.evaluate("() => window.MathJax.startup.promise.then(() => true)")
                report.math_started = True
            except PlaywrightTimeout:
                report.math_started = False
        for script, needed in ((_PLOTLY_DRAWN_JS, report.has_plotly),
                               (_WIDGETS_JS, report.widget_views > 0)):
            if needed:
                try:
                    page.wait_for_function(script, timeout=wait_ms)
                except PlaywrightTimeout:
                    pass  # the counts below say what is missing
        try:
            page.wait_for_load_state("networkidle", timeout=wait_ms)
        except PlaywrightTimeout:
            pass
        _wait_for_figures(page, report, wait_ms, "after load")
        for key, value in page.evaluate(_COUNTS_JS).items():
            setattr(report, key, value)
        # the checks see the page as loaded: a full-page screenshot resizes the
        # window (Chromium: to 1 x 1 and back), and plotly refits 100 ms later
        run_page_checks(page, report)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            # before the controls are judged
            _wait_for_figures(page, report, wait_ms, "after the screenshot")
        exercise_controls(page, report)
    except PlaywrightError as err:
        report.page_errors.append(f"navigation failed: {err}")
    finally:
        context.close()
    return report


# --------------------------------------------------------------------------- fixtures


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium = find_chromium()
    if chromium is None:
        _unavailable("Chromium not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright (Python) is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (HTML_DIR / "index.html").is_file():
        _unavailable(f"no built book at {HTML_DIR} (run make book)")
    with StaticServer(HTML_DIR) as server:
        yield server.base_url


PAGES = html_pages(HTML_DIR) or ["<book not built>"]


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def reports() -> dict[str, PageReport]:
    """Reports of the pages loaded so far, so a page is loaded once per module."""
    return {}


@pytest.mark.parametrize("page", PAGES)
def test_page_is_offline_and_rendered(browser, site, reports, page):
    if page == "<book not built>":
        _unavailable(f"no built book at {HTML_DIR} (run make book)")
    shot = SCREENSHOTS / Path(page).with_suffix(".png")
    report = reports[page] = inspect_page(browser, site + page, screenshot=shot)
    assert report.requests, f"{page}: the browser made no request at all"
    problems = report.problems()
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


LECTURES = [p for p in PAGES if re.fullmatch(r"notebooks/\w+/lecture\.html", p)]


@pytest.mark.parametrize("page", LECTURES)
def test_lecture_has_interactive_figure(browser, site, reports, page):
    """CHAPTER.md: each chapter has a plotly figure with a slider in the static book."""
    report = reports.get(page) or inspect_page(browser, site + page)
    assert report.plotly_drawn > 0, f"{page}: no plotly figure"
    assert report.plotly_sliders > 0, f"{page}: no plotly figure with a slider"


def test_checker_reports_a_broken_page(browser, tmp_path):
    """The checks can fail: off-host script, raw math, bare plotly div, widget."""
    (tmp_path / "bad.html").write_text(
        "<!doctype html><html><head>"
        '<script src="http://example.invalid/x.js"></script>'
        "</head><body>"
        '<span class="math notranslate nohighlight">\\(x^2\\)</span>'
        '<div class="plotly-graph-div"></div>'
        f'<script type="{WIDGET_VIEW}">{{"model_id": "m"}}</script>'
        "</body></html>"
    )
    with StaticServer(tmp_path) as server:
        report = inspect_page(browser, server.base_url + "bad.html", wait_ms=1500)
    assert report.off_host == ["http://example.invalid/x.js"]
    text = "\n".join(report.problems())
    assert "off-host requests" in text
    assert "MathJax did not start" in text
    assert "plotly figures not drawn: 0/1" in text
    assert "widget view(s) embedded, none rendered" in text


FIXTURES = Path(__file__).with_name("fixtures")
#: fixture page -> (the check that must report it, words every report line has)
DEFECTS = {
    "raw_tex.html": ("raw TeX", ["\\operatorname", "\\text{shift}", "$$", "\\("]),
    "plotly_overlap.html": ("figure text", [
        'title "a title far too long for this figure: i…" leaves the figure (',
        "right by ",
        'annotation "memory (bars: MLP, diamonds: interprete…" overlaps annotation',
        'axis title "n_ctx" overlaps slider label "pass, dtype, d = a"']),
    "dead_controls.html": ("dead controls", ["plotly slider changes nothing",
                                             'slider "T" changes nothing']),
    "wide_code.html": ("layout", ["code ", "px wide", "1500 px tall"]),
    "citations.html": ("citations", ['unresolved citation: "[??]"',
                                     "labelled [1], not author-year",
                                     "does not match its entry's label"]),
    "no_favicon.html": ("favicon", ["no favicon"]),
    # written by ``fixture_site``: column_narrows.html without the figure script
    "column_narrows_unfixed.html": ("figure text", [
        '"a figure"): 900 px wide, past the text column by 300 px']),
}


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory) -> Iterator[str]:
    """The fixture pages, with the installed plotly's plotly.min.js next to them."""
    from effteach.book import FIGURES_JS, FIGURES_JS_SOURCE, PLOTLY_JS, plotly_js_path

    site_dir = tmp_path_factory.mktemp("fixtures")
    shutil.copytree(FIXTURES, site_dir, dirs_exist_ok=True)
    shutil.copyfile(plotly_js_path(), site_dir / PLOTLY_JS)
    (site_dir / FIGURES_JS).write_text(FIGURES_JS_SOURCE)
    # the same page without the book's figure script: the defect it prevents
    fixed = (FIXTURES / "column_narrows.html").read_text()
    tag = f'<script src="{FIGURES_JS}"></script>'
    assert tag in fixed
    (site_dir / "column_narrows_unfixed.html").write_text(fixed.replace(tag, ""))
    with StaticServer(site_dir) as server:
        yield server.base_url


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_check_reports_its_defect(browser, fixture_site, name):
    """Each fixture page has one class of defect; exactly its check reports it."""
    check, words = DEFECTS[name]
    report = inspect_page(browser, fixture_site + name, wait_ms=5000)
    found = report.new_check_problems()
    text = "\n".join(found[check])
    for word in words:
        assert word in text, f"{name}: {check} did not report {word!r}:\n{text}"
    others = {k: v for k, v in found.items() if v and k != check}
    assert not others, f"{name}: other checks fired too: {others}"


def test_raw_tex_check_names_each_defect_once(browser, fixture_site):
    report = inspect_page(browser, fixture_site + "raw_tex.html", wait_ms=5000)
    # four text nodes with raw TeX; the price ($5), <code> and <pre> are not defects
    assert len(report.raw_tex) == 4, report.raw_tex
    assert not any("$5" in line for line in report.raw_tex)


def test_checker_passes_a_clean_page(browser, fixture_site):
    """A page with working controls, fitting figure text and code, folded wide code,
    one citation style and a favicon passes every check, and the checks did look."""
    report = inspect_page(browser, fixture_site + "clean.html", wait_ms=5000)
    assert report.problems() == []
    assert report.requests[0].startswith("http://127.0.0.1:")
    # the controls were found and used: plotly slider, play (pause is exempt), the
    # browser-linked widget; the Python-only one is marked live and not moved
    assert report.controls == 4 and report.controls_live == 1
    stats = report.layout_stats
    assert stats["code_blocks"] == 1 and stats["folded"] == 1


def test_book_figure_script_refits_a_figure_when_its_column_narrows(
        browser, fixture_site):
    """The column narrows with no window resize (the unfixed twin is in DEFECTS)."""
    report = inspect_page(browser, fixture_site + "column_narrows.html", wait_ms=5000)
    assert report.problems() == []
    assert report.has_plotly and not report.figure_text


def test_figures_that_never_settle_are_reported(browser, fixture_site, monkeypatch):
    monkeypatch.setitem(globals(), "_PLOTLY_IDLE_JS", "() => false")
    report = inspect_page(browser, fixture_site + "column_narrows.html", wait_ms=3000)
    assert report.figures_unsettled == ["after load"]
    assert any("still refitting" in line for line in report.problems())


def test_is_off_host():
    assert not is_off_host("http://127.0.0.1:8000/_static/x.js")
    assert not is_off_host("data:image/png;base64,AAAA")
    assert not is_off_host("blob:http://127.0.0.1:8000/abc")
    assert is_off_host("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js")
    assert is_off_host("http://localhost:8000/x.js")  # only 127.0.0.1 is allowed
