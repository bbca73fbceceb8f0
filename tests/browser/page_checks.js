/* In-page checks of the browser test (tests/browser/test_book_pages.py).
 *
 * Evaluated once per page; defines window.__effteachChecks. Each check returns a
 * list of one-line problems (empty when the page is fine); `controls` and
 * `snapshot` are driven from Python, which moves each control with the real mouse.
 */
(() => {
  "use strict";
  if (window.__effteachChecks) { return; }

  // ------------------------------------------------------------------ helpers
  const q = (sel, root) => [...(root || document).querySelectorAll(sel)];
  const rendered = (el) => !!el && el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== "hidden";
  // a block is folded when a closed <details> (myst-nb hide-input, show_source) or
  // sphinx-togglebutton hides it
  const folded = (el) => !!el.closest("details:not([open]), .toggle-hidden");
  const short = (s, n) => {
    s = String(s).replace(/\s+/g, " ").trim();
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  };
  const figName = (gd, i) => {
    const t = gd.querySelector(".g-gtitle text, text.gtitle");
    return `figure ${i + 1}` + (t && t.textContent ? ` ("${short(t.textContent, 50)}")` : "");
  };
  const hash = (s) => {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h = Math.imul(h ^ s.charCodeAt(i), 16777619); }
    return (h >>> 0).toString(16) + ":" + s.length;
  };

  // ------------------------------------------------------------------ raw TeX
  // Markdown that MathJax never saw: $...$, $$, \( \) \[ \], or \frac-like commands
  // in the text a reader sees (outside code, MathJax output and figures).
  const TEX_SKIP = "pre, code, kbd, samp, script, style, textarea, noscript, svg, " +
    "mjx-container, .MathJax, .highlight, .plotly-graph-div";
  const TEX_PATTERNS = [
    [/\$\$/, "$$"],
    [/\\[()[\]]/, "\\( \\) \\[ \\]"],
    [/\\[A-Za-z]{2,}/, "a TeX command"],
    [/\$(?=[A-Za-z\\{(])|(?<=[A-Za-z0-9})\]])\$/, "a $ math delimiter"],
  ];
  function rawTex() {
    const out = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.nodeValue;
      if (!text || !/[$\\]/.test(text)) { continue; }
      const el = n.parentElement;
      if (!el || el.closest(TEX_SKIP) || !rendered(el)) { continue; }
      for (const [re, what] of TEX_PATTERNS) {
        const m = re.exec(text);
        if (!m) { continue; }
        const ctx = short(text.slice(Math.max(0, m.index - 30), m.index + 40), 72);
        if (!seen.has(ctx)) {
          seen.add(ctx);
          out.push(`raw TeX (${what}) in the text: "${ctx}"`);
        }
        break;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ plotly text
  // Titles, axis titles, annotations (subplot titles), slider labels (current value),
  // legends and updatemenu buttons: none may leave the figure or overlap another.
  const TITLE_CLASS = /^(g|[xy]\d*)title$/;
  function figureBoxes(gd) {
    const items = [];
    const add = (kind, el, label) => {
      if (!rendered(el)) { return; }
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) { return; }
      items.push({kind, label: short(label, 40), r});
    };
    for (const t of q("text", gd)) {
      const cls = [...t.classList].find((c) => TITLE_CLASS.test(c));
      if (cls && t.textContent.trim()) {
        add(cls === "gtitle" ? "title" : "axis title", t, t.textContent);
      }
    }
    for (const a of q(".annotation-text-g", gd)) {
      if (a.textContent.trim()) { add("annotation", a, a.textContent); }
    }
    // the slider's current value is the slider group's own label; its step labels
    // sit in .slider-label-group
    for (const t of q("g.slider-group > text.slider-label, text.slider-current-value", gd)) {
      if (t.textContent.trim()) { add("slider label", t, t.textContent); }
    }
    for (const t of q("g.slider-label-group text", gd)) {
      if (t.textContent.trim()) { add("slider step label", t, t.textContent); }
    }
    for (const l of q("g.legend", gd)) {
      const bg = l.querySelector("rect.bg") || l;
      add("legend", bg, "legend");
    }
    for (const b of q("g.updatemenu-button", gd)) {
      add("button", b.querySelector("rect") || b, b.textContent || "button");
    }
    return items;
  }
  const overlap = (a, b) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > 1 && h > 1;
  };
  function plotlyText() {
    const out = [];
    q(".plotly-graph-div").forEach((gd, i) => {
      const svg = gd.querySelector("svg.main-svg");
      if (!rendered(svg)) { return; }
      const fig = svg.getBoundingClientRect();
      const name = figName(gd, i);
      const items = figureBoxes(gd);
      for (const it of items) {
        const r = it.r;
        const past = [];
        if (r.left < fig.left - 1) { past.push(`left by ${Math.round(fig.left - r.left)} px`); }
        if (r.right > fig.right + 1) { past.push(`right by ${Math.round(r.right - fig.right)} px`); }
        if (r.top < fig.top - 1) { past.push(`top by ${Math.round(fig.top - r.top)} px`); }
        if (r.bottom > fig.bottom + 1) { past.push(`bottom by ${Math.round(r.bottom - fig.bottom)} px`); }
        if (past.length) {
          out.push(`${name}: ${it.kind} "${it.label}" leaves the figure (${past.join(", ")})`);
        }
      }
      for (let a = 0; a < items.length; a++) {
        for (let b = a + 1; b < items.length; b++) {
          const A = items[a], B = items[b];
          if (A.kind === "button" && B.kind === "button") { continue; }  // a button row
          if (overlap(A.r, B.r)) {
            out.push(`${name}: ${A.kind} "${A.label}" overlaps ${B.kind} "${B.label}"`);
          }
        }
      }
      // the figure itself must fit the text column
      const col = gd.closest("article") || document.body;
      const cr = col.getBoundingClientRect();
      if (fig.right > cr.right + 1) {
        out.push(`${name}: ${Math.round(fig.width)} px wide, past the text column ` +
                 `by ${Math.round(fig.right - cr.right)} px`);
      }
    });
    return out;
  }

  // ------------------------------------------------------------------ code and outputs
  function codeWidth(maxOutputPx) {
    const out = [];
    const stats = {code_blocks: 0, code_too_wide: 0, output_blocks: 0,
                   output_too_wide: 0, folded: 0, outputs_too_tall: 0};
    for (const pre of q("div.cell_input pre, div.highlight pre")) {
      const isOutput = !!pre.closest(".cell_output, .output");
      if (folded(pre) || !rendered(pre)) { stats.folded++; continue; }
      stats[isOutput ? "output_blocks" : "code_blocks"]++;
      if (pre.scrollWidth > pre.clientWidth + 1) {
        stats[isOutput ? "output_too_wide" : "code_too_wide"]++;
        const first = (pre.textContent.split("\n").find((l) => l.trim()) || "");
        out.push(`${isOutput ? "output text" : "code"} ${pre.scrollWidth} px wide in a ` +
                 `${pre.clientWidth} px column (not folded): "${short(first, 50)}"`);
      }
    }
    // each output of a cell on its own (a cell may print a table and draw a figure)
    for (const o of q("div.cell_output > *")) {
      if (folded(o) || !rendered(o)) { continue; }
      const h = o.getBoundingClientRect().height;
      if (h > maxOutputPx) {
        stats.outputs_too_tall++;
        out.push(`output ${Math.round(h)} px tall (limit ${maxOutputPx} px, not folded): ` +
                 `"${short(o.textContent, 50)}"`);
      }
    }
    return {problems: out, stats};
  }

  // ------------------------------------------------------------------ citations
  // Every {cite} resolves to an entry of a bibliography page, in one author-year style:
  // the text names the entry's author and its labelled year ("Shen et al. [2025a]" or
  // "[Shen et al., 2025a]"), and the bibliography labels it "Shen et al., 2025a".
  const LABEL_RE = /^(\D+?),?\s+(\d{4}[a-z]?|n\.d\.)$/;
  const labelOf = (entry) => {
    const l = entry.querySelector(".label");
    return l ? l.textContent.replace(/[[\]]/g, "").trim() : "";
  };
  async function citations() {
    const out = [];
    const pages = {};
    const target = async (href) => {
      const u = new URL(href, location.href);
      const page = u.origin + u.pathname;
      if (!(page in pages)) {
        pages[page] = page === location.origin + location.pathname
          ? Promise.resolve(document)
          : fetch(page).then((r) => (r.ok ? r.text() : ""))
              .then((t) => new DOMParser().parseFromString(t, "text/html"));
      }
      const doc = await pages[page];
      const el = doc.getElementById(decodeURIComponent(u.hash.slice(1)));
      return el && el.closest(".citation");
    };
    for (const c of q(".bibtex-citation")) {
      const text = short(c.textContent, 200);
      const links = q("a[href]", c);
      if (!links.length || /\?\?/.test(text)) {
        out.push(`unresolved citation: "${text}"`);
        continue;
      }
      for (const a of links) {
        const entry = await target(a.getAttribute("href"));
        if (!entry) {
          out.push(`citation "${text}" points to no bibliography entry (${a.getAttribute("href")})`);
          continue;
        }
        const label = labelOf(entry);
        const m = LABEL_RE.exec(label);
        if (!m) {
          out.push(`citation "${text}" points to an entry labelled [${label}], not author-year`);
          continue;
        }
        const surname = m[1].split(/\s+/)[0];
        const year = new RegExp(`(^|\\W)${m[2].replace(/\./g, "\\.")}(\\W|$)`);
        if (!text.includes(surname) || !year.test(text)) {
          out.push(`citation "${text}" does not match its entry's label [${label}]`);
        }
      }
    }
    for (const entry of q("div.citation")) {
      const label = labelOf(entry);
      if (!LABEL_RE.test(label)) {
        out.push(`bibliography entry labelled [${label}], not author-year: ` +
                 `"${short(entry.textContent.replace(label, ""), 50)}"`);
      }
    }
    const body = document.body.innerText;
    for (const [re, what] of [[/\{cite(:\w+)?\}`/, "an unrendered {cite} role"],
                              [/could not find bibtex key/, "a sphinxcontrib-bibtex warning"]]) {
      const m = re.exec(body);
      if (m) { out.push(`${what} in the text: "${short(body.slice(m.index, m.index + 60), 60)}"`); }
    }
    for (const p of q(".problematic")) {
      out.push(`unresolved reference: "${short(p.textContent, 60)}"`);
    }
    return out;
  }

  // ------------------------------------------------------------------ favicon
  async function favicon() {
    const link = q('link[rel~="icon"]')[0];
    if (!link) {
      return ['no favicon (<link rel="icon">): browsers then request /favicon.ico, a 404'];
    }
    try {
      const r = await fetch(link.href);
      return r.ok ? [] : [`favicon ${link.getAttribute("href")}: HTTP ${r.status}`];
    } catch (err) {
      return [`favicon ${link.getAttribute("href")}: ${err}`];
    }
  }

  // ------------------------------------------------------------------ controls
  // Every visible input control must change something on the page when used, or sit
  // inside an element of class effteach-live (the "live in JupyterLab" mark).
  const LIVE = ".effteach-live";
  const LEAF = ".jupyter-widgets:not(.widget-box):not(.widget-container)";
  const FIELDS = "input, button, select, textarea, [role=slider], .noUi-handle";
  let nextId = 0;
  const mark = (el) => {
    if (!el.dataset.effteachCtl) { el.dataset.effteachCtl = String(nextId++); }
    return el.dataset.effteachCtl;
  };
  const isPause = (b) => b && b.method === "animate" && Array.isArray(b.args) &&
    Array.isArray(b.args[0]) && b.args[0].length === 1 && b.args[0][0] === null;

  function controls() {
    const out = [];
    // plotly sliders and updatemenu buttons
    q(".plotly-graph-div").forEach((gd, i) => {
      const name = figName(gd, i);
      const live = !!gd.closest(LIVE);
      const layout = gd._fullLayout || {};
      q("g.slider-container g.slider-group", gd).forEach((g, k) => {
        const rail = g.querySelector("rect.slider-rail-touch-rect") ||
                     g.querySelector("rect.slider-rail-rect");
        if (!rendered(rail)) { return; }
        const sl = (layout.sliders || [])[k] || {};
        const n = (sl.steps || []).length;
        out.push({id: mark(rail), kind: "plotly slider", where: name, live,
                  active: sl.active || 0, steps: n});
      });
      q("g.updatemenu-container g.updatemenu-button", gd).forEach((b, k) => {
        if (!rendered(b)) { return; }
        const menus = layout.updatemenus || [];
        const flat = menus.flatMap((m) => m.buttons || []);
        const spec = flat[k];
        const text = short(b.textContent, 30);
        if (isPause(spec)) { return; }  // pausing a figure at rest changes nothing
        out.push({id: mark(b), kind: `plotly button "${text}"`, where: name, live});
      });
    });
    // ipywidgets and any other form control in a cell's output: one per widget
    const leaves = new Set();
    for (const f of q(FIELDS)) {
      if (!f.closest(".cell_output, .output") || f.closest(".plotly-graph-div")) { continue; }
      if (f.closest(".copybtn, div.highlight")) { continue; }  // sphinx-copybutton
      if (!rendered(f) || f.disabled || folded(f)) { continue; }
      const leaf = f.closest(LEAF) || f;
      if (leaves.has(leaf)) { continue; }
      leaves.add(leaf);
      const desc = leaf.querySelector(".widget-label");
      const label = short((desc && desc.textContent) || f.getAttribute("aria-label") ||
                          f.textContent || f.value || f.type || f.tagName, 30);
      const type = f.matches(".noUi-handle, [role=slider], input[type=range]") ? "slider"
        : f.matches("select") ? "select"
        : f.matches("input[type=checkbox], input[type=radio]") ? "checkbox"
        : f.matches("input, textarea") ? "text" : "button";
      mark(leaf);
      out.push({id: mark(f), leaf: leaf.dataset.effteachCtl, kind: `${type} "${label}"`,
                type, where: "cell output", live: !!f.closest(LIVE)});
    }
    return out;
  }

  // What a control may change: its figure (less its own slider/menus, the modebar and
  // hover labels) or its cell's output (less the widget itself).
  function snapshot(id) {
    const el = q(`[data-effteach-ctl="${id}"]`)[0];
    if (!el) { return null; }
    const gd = el.closest(".plotly-graph-div");
    let scope;
    let drop;
    if (gd) {
      scope = gd;
      drop = ".slider-container, .updatemenu-container, .modebar-container, .hoverlayer";
    } else {
      scope = el.closest(".cell_output, .output") || document.body;
      const leaf = el.closest(LEAF) || el;
      leaf.dataset.effteachSelf = "1";
      drop = "[data-effteach-self], .hoverlayer, .modebar-container";
    }
    const copy = scope.cloneNode(true);
    for (const d of copy.querySelectorAll(drop)) { d.remove(); }
    q("[data-effteach-self]").forEach((x) => delete x.dataset.effteachSelf);
    return hash(copy.innerHTML);
  }

  function box(id) {
    const el = q(`[data-effteach-ctl="${id}"]`)[0];
    if (!el) { return null; }
    el.scrollIntoView({block: "center"});
    const r = el.getBoundingClientRect();
    return {x: r.left, y: r.top, width: r.width, height: r.height};
  }

  window.__effteachChecks = {rawTex, plotlyText, codeWidth, citations, favicon,
                             controls, snapshot, box};
})();
