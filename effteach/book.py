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

Two more pieces shape how the book reads:

* ``_static/effteach.css`` (:data:`BOOK_CSS_SOURCE`), added to every page: a code font
  and a text column (narrower page-contents sidebar) that fit 88-column code at a
  1280 px wide window, so code cells do not scroll sideways.
* one author-year citation style, in the text and in the bibliography: the pybtex
  formatting style ``effteach_author_year`` (:class:`AuthorYearLabelStyle` labels,
  "Shen et al., 2025a") and the sphinxcontrib-bibtex referencing style of the same
  name, whose years carry the label's a/b/c suffix ("Shen et al. [2025a]").
  ``book/_config.yml`` selects both (``bibtex_default_style``,
  ``bibtex_reference_style``).

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

#: Loaded after plotly.min.js on pages with a figure (``_add_plotly_js``).
FIGURES_JS = "effteach-figures.js"
#: plotly's ``responsive`` config refits a figure on a *window* resize only, 100 ms
#: later. The theme's columns also change width without one (media-query transitions,
#: fonts arriving, widget outputs drawn late), and a figure refitted at an in-between
#: width stays too wide for its column (seen in CI: 791 px in an 768 px column, after
#: the full-page screenshot's resize to 1 x 1 and back). A ResizeObserver on each
#: figure's wrapper refits it whenever the wrapper's own width changes.
FIGURES_JS_SOURCE = """\
/* effteach: refit each book figure whenever its column changes width.
 * Written by effteach.book; loaded after plotly.min.js. */
(function () {
  "use strict";
  if (!window.ResizeObserver) { return; }
  var watched = new WeakSet();
  var observer = new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var gd = entry.target.querySelector(".plotly-graph-div");
      // not drawn yet, or a width the author fixed: nothing to refit
      if (!gd || !gd._fullLayout || !gd.layout || gd.layout.width) { return; }
      if (!window.Plotly || Math.abs(gd._fullLayout.width - gd.clientWidth) <= 1) {
        return;
      }
      window.Plotly.Plots.resize(gd).catch(function () {});  // hidden: nothing to fit
    });
  });
  var queued = false;
  function watch() {
    queued = false;
    document.querySelectorAll(".__FIGURE_CLASS__").forEach(function (el) {
      if (!watched.has(el)) { watched.add(el); observer.observe(el); }
    });
  }
  // figures inside widget outputs are added after load
  function later() {
    if (!queued) { queued = true; window.requestAnimationFrame(watch); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
  new MutationObserver(later).observe(document.documentElement,
                                      {childList: true, subtree: true});
})();
""".replace("__FIGURE_CLASS__", FIGURE_CLASS)

#: The book's own style sheet, written to ``_static/`` and added to every page.
BOOK_CSS = "effteach.css"
#: At a 1280 px window the theme gives the article ~690 px, and 88 columns of 14 px
#: monospace need ~740 px. A 13 px code font (88 columns: ~690 px) and a page-contents
#: sidebar of 14rem instead of 17rem (the article gains 48 px) leave room to spare;
#: below 1200 px the theme folds that sidebar away and the article is wider still.
#: Printed output (not code) wraps at the column.
BOOK_CSS_SOURCE = """\
/* effteach: written by effteach.book. Fit 88-column code at a 1280 px window. */
:root { --pst-sidebar-secondary: 14rem; }
div.highlight pre, div.cell_output pre, div.output pre {
  font-size: 0.8125rem;
  line-height: 1.45;
  padding-left: 0.75rem;
  padding-right: 0.75rem;
}
/* the vertical scrollbar is always there: a plotly figure sized before the page
   grew long enough to scroll kept that width and ended past the narrower column */
html { overflow-y: scroll; }
/* printed output wraps at the column instead of scrolling sideways */
div.cell_output div.highlight pre, div.cell_output pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
"""
#: Name of the pybtex formatting/label style and of the sphinxcontrib-bibtex
#: referencing style that together make the book's author-year citations.
BIBTEX_STYLE = "effteach_author_year"


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
        app.add_js_file(FIGURES_JS, priority=PLOTLY_JS_PRIORITY + 1)


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


# --------------------------------------------------------------------------- citations


def _surname(person: Any) -> str:
    from pybtex.richtext import Text

    last = " ".join(person.prelast_names + person.last_names)
    return Text.from_latex(last).render_as("text")


def author_year_base(entry: Any) -> str:
    """The label of a bibliography entry, before any a/b/c suffix.

    "Dao, 2023", "Hong and Kung, 1981", "Vaswani et al., 2017": the authors as
    sphinxcontrib-bibtex names them in the text.

    Args:
        entry: a pybtex ``Entry``.

    Returns:
        The label text; "n.d." stands in for a missing year, the title for missing
        authors and editors.
    """
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in persons]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def author_year_labels(sorted_entries: Any) -> list[str]:
    """Author-year labels, with a, b, c after the year where two would be equal.

    Args:
        sorted_entries: pybtex entries in bibliography order (the suffixes follow it).

    Returns:
        One label per entry, in the same order.
    """
    entries = list(sorted_entries)
    bases = [author_year_base(e) for e in entries]
    seen: dict[str, int] = {}
    labels = []
    for base in bases:
        if bases.count(base) == 1:
            labels.append(base)
            continue
        k = seen.get(base, 0)
        seen[base] = k + 1
        labels.append(base + "abcdefghijklmnopqrstuvwxyz"[k % 26])
    return labels


def _year_of_label(label: str) -> str:
    """The year part of an author-year label ("Shen et al., 2025a" -> "2025a")."""
    return label.rsplit(", ", 1)[-1]


def _bibtex_styles() -> tuple[type, type, type]:
    """Build the pybtex label and formatting styles and the referencing style."""
    from dataclasses import dataclass

    from pybtex.richtext import Text
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.template import join
    from sphinxcontrib.bibtex.style.referencing.author_year import (
        AuthorYearReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
        BasicAuthorYearParentheticalReferenceStyle,
        BasicAuthorYearTextualReferenceStyle,
    )
    from sphinxcontrib.bibtex.style.template import (
        join2,
        node,
        post_text,
        pre_text,
        reference,
    )

    class AuthorYearLabelStyle(BaseLabelStyle):
        """pybtex labels "Author et al., 2025a" (see :func:`author_year_labels`)."""

        def format_labels(self, sorted_entries):  # noqa: D102 (pybtex API)
            return author_year_labels(sorted_entries)

    class AuthorYearStyle(PlainStyle):
        """pybtex's ``plain`` entries with author-year labels, in label order."""

        default_label_style = BIBTEX_STYLE

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.sort = self.sort_by_label  # BaseStyle binds its sorting style's

        @staticmethod
        def sort_by_label(entries):
            """Sort by author-year label, then title (the order of a/b/c)."""

            def key(entry):
                who, year = author_year_base(entry).rsplit(", ", 1)
                title = Text.from_latex(entry.fields.get("title", "")).render_as("text")
                return (who.lower(), year, title.lower(), entry.key)

            return sorted(entries, key=key)

    @node
    def label_year(children, data):
        """The year as the bibliography labels it, a/b/c suffix included."""
        assert not children
        return Text(_year_of_label(data["formatted_entry"].label))

    @dataclass
    class Parenthetical(BasicAuthorYearParentheticalReferenceStyle):
        def inner(self, role_name):
            return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                pre_text,
                reference[
                    join(sep=self.author_year_sep)[
                        self.person.author_or_editor_or_title(full="s" in role_name),
                        label_year,
                    ]
                ],
                post_text,
            ]

    @dataclass
    class Textual(BasicAuthorYearTextualReferenceStyle):
        def inner(self, role_name):
            return join(sep=self.text_reference_sep)[
                self.person.author_or_editor_or_title(full="s" in role_name),
                join[
                    self.bracket.left,
                    join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                        pre_text, reference[label_year], post_text,
                    ],
                    self.bracket.right,
                ],
            ]

    @dataclass
    class ReferenceStyle(AuthorYearReferenceStyle):
        """sphinxcontrib-bibtex's author_year, with the labels' years (2025a)."""

        def __post_init__(self):
            super().__post_init__()
            paren, text = self.styles[0], self.styles[1]
            self.styles[0] = Parenthetical(
                bracket=paren.bracket, person=paren.person,
                author_year_sep=paren.author_year_sep,
                pre_text_sep=paren.pre_text_sep, post_text_sep=paren.post_text_sep,
            )
            self.styles[1] = Textual(
                bracket=text.bracket, person=text.person,
                text_reference_sep=text.text_reference_sep,
                pre_text_sep=text.pre_text_sep, post_text_sep=text.post_text_sep,
            )
            self.role_style.update(
                (name, st) for st in self.styles[:2] for name in st.role_names()
            )

    return AuthorYearLabelStyle, AuthorYearStyle, ReferenceStyle


def register_bibtex_styles() -> None:
    """Register :data:`BIBTEX_STYLE` with pybtex and sphinxcontrib-bibtex.

    Registering twice replaces the first registration.
    """
    import pybtex.plugin
    from sphinxcontrib.bibtex.plugin import register_plugin

    labels, formatting, referencing = _bibtex_styles()
    pybtex.plugin.register_plugin("pybtex.style.labels", BIBTEX_STYLE, labels,
                                  force=True)
    pybtex.plugin.register_plugin("pybtex.style.formatting", BIBTEX_STYLE,
                                  formatting, force=True)
    register_plugin("sphinxcontrib.bibtex.style.referencing", BIBTEX_STYLE,
                    referencing, force=True)


def _atomic_write(data: bytes, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == len(data) and dst.read_bytes() == data:
        return
    atomic_write_bytes(dst, data)


def _write_static(app: Any, exception: BaseException | None) -> None:
    """``build-finished`` hook: plotly.min.js, widget/figure glue, CSS to _static/."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    _atomic_write(plotly_js_path().read_bytes(), static / PLOTLY_JS)
    _atomic_write(WIDGETS_JS_SOURCE.encode("utf-8"), static / WIDGETS_JS)
    _atomic_write(FIGURES_JS_SOURCE.encode("utf-8"), static / FIGURES_JS)
    _atomic_write(BOOK_CSS_SOURCE.encode("utf-8"), static / BOOK_CSS)


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
    app.add_css_file(BOOK_CSS)
    register_bibtex_styles()
    from effteach import __version__

    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
