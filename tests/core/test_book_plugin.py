"""Headless tests of the book's Sphinx/myst-nb plugin and of the build tool's checks."""

import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import plotly.graph_objects as go
import pytest
from docutils import nodes
from myst_nb.core.render import MimeData, get_mime_priority

from effteach import book
from effteach.tools import book as book_tool

ROOT = Path(__file__).resolve().parents[2]


def _figure() -> dict:
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    fig.update_layout(
        title="t",
        sliders=[{"steps": [{"label": "1", "method": "restyle",
                             "args": ["y", [[1, 2]]]}]}],
    )
    return fig.to_plotly_json()


def _render(content, mime=book.PLOTLY_MIME, cell_index=3, output_index=0):
    data = MimeData(mime, content, cell_index=cell_index, output_index=output_index)
    return book.PlotlyMimeRenderer.handle_mime(None, data, False)


def test_entry_point_is_registered():
    names = {ep.value for ep in entry_points(group="myst_nb.mime_renderers")}
    assert "effteach.book:PlotlyMimeRenderer" in names


def test_plotly_mime_ranks_first_for_html():
    order = get_mime_priority("html", [])
    widget_view = "application/vnd.jupyter.widget-view+json"
    assert order.index(book.PLOTLY_MIME) < order.index(widget_view)
    assert order.index(book.PLOTLY_MIME) < order.index("text/html")
    assert book.PLOTLY_MIME not in get_mime_priority("latex", [])


def test_renderer_turns_figure_json_into_a_plotly_div():
    result = _render(_figure())
    assert isinstance(result, list) and len(result) == 1
    node = result[0]
    assert isinstance(node, nodes.raw) and node["format"] == "html"
    html = node.astext()
    assert 'class="plotly-graph-div"' in html
    assert "Plotly.newPlot" in html
    assert book.FIGURE_CLASS in html
    # no external script, no plotly.js or MathJax embedded
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "https://" not in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "mathjax" not in html.lower()
    assert len(html) < 20_000  # plotly.min.js alone is 4.8 MB
    assert "sendChartToCloud" in html  # the cloud-upload button is removed


def test_renderer_is_deterministic_and_ids_differ_per_output():
    fig = _figure()
    first, again = _render(fig)[0].astext(), _render(fig)[0].astext()
    assert first == again
    other = _render(fig, cell_index=4)[0].astext()
    ids = [re.search(r'id="([^"]+)"', h).group(1) for h in (first, other)]
    assert ids[0] != ids[1]


def test_renderer_accepts_json_text_and_ignores_other_mime_types():
    assert "plotly-graph-div" in _render(json.dumps(_figure()))[0].astext()
    assert _render("hello", mime="text/plain") is None


def test_figure_html_rejects_bad_input_naming_the_argument():
    with pytest.raises(ValueError, match="figure"):
        book.figure_html("{not json")
    with pytest.raises(TypeError, match="figure"):
        book.figure_html([1, 2])


def test_plotly_js_is_the_installed_bundle():
    path = book.plotly_js_path()
    assert path.name == "plotly.min.js" and path.stat().st_size > 1_000_000


def test_widget_figures_get_html_once():
    fig = _figure()
    state = {
        "out1": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {book.PLOTLY_MIME: fig}}]}},
        "slider": {"model_name": "IntSliderModel", "state": {}},
    }
    nb = {"metadata": {"widgets": {book.WIDGET_STATE_MIME: {"state": state}}}}
    assert book.embed_widget_figures(nb) == 1
    data = state["out1"]["state"]["outputs"][0]["data"]
    html = data["text/html"]
    assert "plotly-graph-div" in html and book.PLOTLY_MIME in data
    assert book.embed_widget_figures(nb) == 1  # replaces its own HTML, same result
    assert data["text/html"] == html
    data["text/html"] = "<b>someone else's</b>"
    assert book.embed_widget_figures(nb) == 0
    assert book.embed_widget_figures({"metadata": {}}) == 0


def test_duplicate_inline_scripts_are_dropped():
    from sphinx.builders.html._assets import _JavaScript

    body = 'const THEBE_JS_URL = "x"'
    scripts = [_JavaScript(None, body=body), _JavaScript("a.js"),
               _JavaScript("", body=body), _JavaScript("a.js"), _JavaScript("b.js")]
    context = {"script_files": scripts}
    book._dedupe_scripts(None, "p", "t", context, None)
    assert [(js.filename or "", js.attributes.get("body")) for js in scripts] == [
        ("", body), ("a.js", None), ("b.js", None)]


def test_figure_pages_get_plotly_then_the_refit_script():
    from types import SimpleNamespace

    from sphinx.builders.html._assets import _JavaScript

    added = []
    app = SimpleNamespace(
        add_js_file=lambda name, priority: added.append((priority, name)))
    body = f'<div class="{book.FIGURE_CLASS}">'
    figure = {"script_files": [_JavaScript("", body=body)]}
    book._add_plotly_js(app, "p", "t", figure, None)
    assert [name for _, name in sorted(added)] == [book.PLOTLY_JS, book.FIGURES_JS]
    added.clear()
    book._add_plotly_js(app, "p", "t", {"script_files": []}, None)
    assert added == []
    src = book.FIGURES_JS_SOURCE
    assert f'".{book.FIGURE_CLASS}"' in src and "ResizeObserver" in src
    assert "http" not in src


def test_widget_glue_points_at_the_font_folder():
    glue = book.WIDGETS_JS_SOURCE
    assert f'"@jupyter-widgets": base + "{book.WIDGET_ASSET_DIR}"' in glue
    assert "MathJax" in glue and "http" not in glue


# ----------------------------------------------------------------- the build tool


def test_toc_lists_only_landed_chapters():
    import yaml

    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    lectures = book_tool.toc_lectures(toc)
    assert lectures, "book/_toc.yml lists no lecture"
    for slug, name in lectures:
        assert (ROOT / "notebooks" / slug / f"{name}.md").is_file(), slug
    book_tool.check_chapter_page(ROOT / "book", lectures)  # raises on a mismatch


def test_chapter_page_mismatch_is_reported(tmp_path):
    (tmp_path / "chapters.md").write_text(
        "| Chapter | Slug | Paper | Status |\n|---|---|---|---|\n"
        "| x | `pebble_io` | {cite:t}`li2024fineio` | planned |\n"
    )
    assert book_tool.chapter_status((tmp_path / "chapters.md").read_text()) == {
        "pebble_io": "planned"}
    with pytest.raises(book_tool.BookError, match="pebble_io"):
        book_tool.check_chapter_page(tmp_path, [("pebble_io", "lecture")])


def test_toc_files_walks_parts_and_sections():
    toc = {"root": "intro", "parts": [{"chapters": [
        {"file": "a", "sections": [{"file": "notebooks/x/lecture"}]}]}]}
    assert book_tool.toc_files(toc) == ["intro", "a", "notebooks/x/lecture"]
    assert book_tool.toc_lectures(toc) == [("x", "lecture")]


def test_bad_out_argument_exits_2(tmp_path, capsys):
    afile = tmp_path / "f.txt"
    afile.write_text("x")
    assert book_tool.main(["--out", str(afile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "not a folder" in err[0]
    assert book_tool.main(["--out", str(ROOT / "book" / "x")]) == 2
    assert book_tool.main(["--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
