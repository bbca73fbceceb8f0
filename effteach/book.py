"""Sphinx extension and myst-nb mime renderer that keep the book offline.

Notebook cells show plotly figures with plotly's default ``plotly_mimetype``
renderer, so an executed notebook stores each figure as JSON under the mime type
``application/vnd.plotly.v1+json``. JupyterLab renders that natively; myst-nb does
not, and would drop the figure with "skipping unknown output mime type". Two pieces
fix that without any request to a CDN:

* :class:`PlotlyMimeRenderer`, found by myst-nb through the entry point group
  ``myst_nb.mime_renderers`` (declared in ``pyproject.toml``), turns the JSON into a
  ``<div>`` plus a small inline script, with no copy of plotly.js and no MathJax tag.
* :func:`setup`, the Sphinx extension (``sphinx: extra_extensions`` in
  ``book/_config.yml``), adds ``plotly.min.js`` to the pages that contain a figure and
  copies the installed plotly's ``package_data/plotly.min.js`` into ``_static/``.

The extension also writes ``_static/effteach-widgets.js``, which ``nb_ipywidgets_js``
loads between ``require.js`` and ``embed-amd.js`` on pages with widgets. It points the
widget manager's AMD modules at ``_static/jupyter-widgets/`` (where
``effteach.tools.book`` puts the icon fonts of ``@jupyter-widgets/html-manager``;
otherwise they are requested next to each page and 404) and gives ipywidgets, which
still calls MathJax 2's ``MathJax.Hub.Queue`` to typeset labels, that one function on
top of the book's MathJax 3. Finally it drops duplicate ``<script>`` entries that
Jupyter Book 1 on Sphinx 7 registers twice (two ``const THEBE_JS_URL`` declarations
raise a SyntaxError on every page).

Book: book/howto.md; the build is ``python -m effteach.tools.book``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from effteach.io import atomic_write_bytes

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
PLOTLY_JS = "plotly.min.js"
#: The HTML builders that get the plotly renderer; others fall back to text/plain.
HTML_BUILDERS = ("html", "dirhtml", "singlehtml", "readthedocs")
#: Marker class on the wrapper ``<div>``; the page hook looks for it.
FIGURE_CLASS = "effteach-plotly"
#: Sphinx sorts scripts by priority (default 500, lower first). plotly.min.js must
#: load before require.js (widget pages), or it registers itself as an AMD module
#: and the global ``Plotly`` the figure scripts call does not exist.
PLOTLY_JS_PRIORITY = 300
#: plotly.js config for book figures. plotly.js 3 adds a "Share chart..." button that
#: uploads the figure to Plotly Cloud; an offline book must not offer that.
PLOTLY_CONFIG = {
    "responsive": True,
    "displaylogo": False,
    "modeBarButtonsToRemove": ["sendChartToCloud", "sendDataToCloud"],
}
#: Loaded between require.js and embed-amd.js (``nb_ipywidgets_js`` in _config.yml).
WIDGETS_JS = "effteach-widgets.js"
#: Folder under ``_static/`` holding ``html-manager/dist/<hash>.woff2`` and friends.
WIDGET_ASSET_DIR = "jupyter-widgets"

WIDGETS_JS_SOURCE = """\
/* effteach: glue between the book and @jupyter-widgets/html-manager (embed-amd.js).
 * Written by effteach.book; loaded after require.js and before embed-amd.js. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/[^/]*$/, "") : "";
  // embed-amd.js derives its webpack public path from each AMD module's URL, which
  // by default is next to the page; map the modules into _static/ where the fonts are.
  if (window.require && window.require.config && base) {
    window.require.config({paths: {"@jupyter-widgets": base + "__ASSET_DIR__"}});
  }
  // ipywidgets typesets labels with MathJax 2's MathJax.Hub.Queue; the book runs
  // MathJax 3, whose global object replaces the config object when it loads.
  function installHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) { return; }
    mj.Hub = {
      Queue: function (cmd) {
        var el = Array.isArray(cmd) ? cmd[2] : undefined;
        var m = window.MathJax;
        if (m && m.startup && m.startup.promise && m.typesetPromise) {
          m.startup.promise.then(function () {
            return m.typesetPromise(el ? [el] : undefined);
          }).catch(function (err) { console.warn("MathJax typeset failed", err); });
        }
      }
    };
  }
  installHub();
  document.addEventListener("DOMContentLoaded", installHub);
  window.addEventListener("load", installHub);
})();
""".replace("__ASSET_DIR__", WIDGET_ASSET_DIR)


def plotly_js_path() -> Path:
    """Return the ``plotly.min.js`` shipped inside the installed plotly wheel.

    Raises:
        FileNotFoundError: if the installed plotly lacks
            ``package_data/plotly.min.js``.
    """
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(f"plotly {plotly.__version__} has no {path}")
    return path


def figure_html(figure: dict[str, Any] | str, div_id: str | None = None) -> str:
    """Render plotly figure JSON as an HTML fragment that needs a global ``Plotly``.

    Args:
        figure: the figure as a dict (``{"data": [...], "layout": {...}}``) or as
            its JSON text, as stored under ``application/vnd.plotly.v1+json``.
        div_id: id of the figure ``<div>``; derived from the content when None, so
            the same figure always gives the same HTML.

    Returns:
        A ``<div>`` wrapping the plotly div and its ``Plotly.newPlot`` script; no
        ``<script src=...>`` and no embedded plotly.js or MathJax.

    Raises:
        TypeError: if ``figure`` is neither a dict nor a str.
        ValueError: if ``figure`` is text that is not a JSON object.
    """
    import plotly.io as pio

    if isinstance(figure, str):
        try:
            figure = json.loads(figure)
        except json.JSONDecodeError as err:
            raise ValueError(f"figure: not valid JSON ({err})") from err
    if not isinstance(figure, dict):
        raise TypeError(f"figure: expected a dict or JSON text, got {type(figure)}")
    if div_id is None:
        blob = json.dumps(figure, sort_keys=True, default=str).encode()
        div_id = "plotly-" + hashlib.sha256(blob).hexdigest()[:16]
    body = pio.to_html(
        figure,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_width="100%",
        div_id=div_id,
        validate=False,
        config=PLOTLY_CONFIG,
        auto_play=False,  # an animated figure waits for its play button
    )
    return f'<div class="{FIGURE_CLASS}">{body}</div>'


class PlotlyMimeRenderer:
    """myst-nb mime renderer plugin for ``application/vnd.plotly.v1+json``.

    Entry point: ``[project.entry-points."myst_nb.mime_renderers"]
    plotly = "effteach.book:PlotlyMimeRenderer"``. myst-nb's HTML priorities rank
    widget views at 10 and ``text/html`` at 30 (lower wins); 5 puts plotly first.
    """

    mime_priority_overrides = [(b, PLOTLY_MIME, 5) for b in HTML_BUILDERS]

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[Any] | None:
        """Return a raw HTML node for plotly output, None for any other mime type.

        Args:
            renderer: myst-nb's element renderer (unused).
            data: myst-nb ``MimeData`` with ``mime_type``, ``content`` and the
                ``cell_index``/``output_index`` of the output.
            inline: True for inline (glued) outputs; raw nodes work in both places.

        Returns:
            ``[docutils.nodes.raw]`` with the figure HTML, or None to let myst-nb's
            own renderers handle the output.
        """
        del renderer, inline
        if data.mime_type != PLOTLY_MIME:
            return None
        from docutils import nodes

        content = data.content
        if isinstance(content, bytes):
            content = content.decode("utf-8")
        if isinstance(content, str):
            blob = content
        else:
            blob = json.dumps(content, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:10]
        div_id = f"plotly-{data.cell_index}-{data.output_index}-{digest}"
        html = figure_html(content, div_id=div_id)
        return [nodes.raw(text=html, format="html", classes=["output", "text_html"])]


def embed_widget_figures(nb: dict[str, Any]) -> int:
    """Give plotly figures captured by ``Output`` widgets an HTML rendering.

    A live panel (``effteach.viz.panel``) shows its figure inside an ipywidgets
    ``Output``; the executed notebook stores that figure only as plotly JSON in the
    widget state, which the static widget manager cannot draw. This adds a
    ``text/html`` version (:func:`figure_html`) next to the JSON, which the manager
    renders as trusted HTML; plotly.min.js is then loaded by the page hook.
    Earlier HTML made here is replaced, so the call is idempotent.

    Args:
        nb: a notebook as a dict (``nbformat`` node or parsed JSON), changed in place.

    Returns:
        The number of figures given HTML.
    """
    widgets = (nb.get("metadata") or {}).get("widgets") or {}
    state = (widgets.get(WIDGET_STATE_MIME) or {}).get("state") or {}
    count = 0
    for model_id, model in state.items():
        if model.get("model_name") != "OutputModel":
            continue
        for k, output in enumerate((model.get("state") or {}).get("outputs") or []):
            data = output.get("data") or {}
            if PLOTLY_MIME not in data:
                continue
            html = data.get("text/html")
            if html is not None and FIGURE_CLASS not in "".join(html):
                continue  # someone else's HTML: leave it alone
            div_id = f"plotly-w{str(model_id)[:12]}-{k}"
            data["text/html"] = figure_html(data[PLOTLY_MIME], div_id=div_id)
            count += 1
    return count


def _page_has_figure(doctree: Any, context: Any) -> bool:
    from docutils import nodes

    if doctree is not None and any(
        FIGURE_CLASS in node.astext() for node in doctree.findall(nodes.raw)
    ):
        return True
    # figures inside widget state arrive as the body of an inline script
    for js in context.get("script_files") or []:
        body = (getattr(js, "attributes", None) or {}).get("body") or ""
        if FIGURE_CLASS in body:
            return True
    return False


def _add_plotly_js(app: Any, pagename: str, templatename: str, context: Any,
                   doctree: Any) -> None:
    """``html-page-context`` hook (after myst-nb's): plotly.min.js where needed."""
    del pagename, templatename
    if _page_has_figure(doctree, context):
        app.add_js_file(PLOTLY_JS, priority=PLOTLY_JS_PRIORITY)


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: Any,
                    doctree: Any) -> None:
    """``html-page-context`` hook (runs last): drop repeated ``<script>`` entries.

    Two entries are the same when file name and attributes (inline body included)
    match; the first is kept. Sphinx's own check misses these because the copy that
    an extension registers before ``Builder.init()`` has ``filename=None`` and the
    copy the builder re-adds has ``filename=""``. Sphinx renders
    ``context["script_files"]``, the builder's own list, so it is edited in place.
    """
    del app, pagename, templatename, doctree
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    kept = []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # an inline script has filename "" or None, depending on who added it
        key = (str(getattr(js, "filename", js) or ""),
               tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


def _atomic_write(data: bytes, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == len(data) and dst.read_bytes() == data:
        return
    atomic_write_bytes(dst, data)


def _write_static(app: Any, exception: BaseException | None) -> None:
    """``build-finished`` hook: write plotly.min.js and the widget glue to _static/."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    _atomic_write(plotly_js_path().read_bytes(), static / PLOTLY_JS)
    _atomic_write(WIDGETS_JS_SOURCE.encode("utf-8"), static / WIDGETS_JS)


def _self_digest() -> str:
    import plotly

    blob = Path(__file__).read_bytes() + plotly.__version__.encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def setup(app: Any) -> dict[str, Any]:
    """Register the plotly hooks with Sphinx.

    Args:
        app: the Sphinx application.

    Returns:
        Extension metadata (parallel read and write safe).
    """
    plotly_js_path()  # fail at start-up, not after the whole build
    # A config value that changes with this file and with plotly: Sphinx then re-reads
    # every page after an edit here, instead of keeping HTML made by the old renderer.
    app.add_config_value("effteach_book_digest", _self_digest(), "env", [str])
    app.connect("html-page-context", _add_plotly_js, priority=600)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _write_static)
    from effteach import __version__

    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
