// The page viewer: renders a page's blocks with their labels. The same script runs in the page that
// `paratheme serve` answers on GET / (it asks /classify/page) and in the standalone files of
// `paratheme classify --html` (their labels are embedded in #paratheme-page).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const LABELS = JSON.parse($("paratheme-labels").textContent);
  const ZH = Object.fromEntries(LABELS.map((label) => [label.name, label.zh]));
  const BOILERPLATE = "boilerplate";
  const TOKEN_KEY = "paratheme-token";
  const PREVIEW_CHARS = 40;
  const ADVICE = {
    400: "The server could not read the request.",
    401: "The server needs its token: enter the one given to paratheme serve --token in the Token field.",
    413: "The page is larger than this server accepts (paratheme serve --max-body-bytes).",
    415: "The server refused the request's content type.",
    422: "The server could not classify this page.",
    429: "The server is busy; try again in a moment.",
    503: "The model is still loading; try again in a moment.",
  };
  let shown = null; // the page on screen: {source, blocks}

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value; // block text is never parsed as HTML
      else if (name === "hidden") node.hidden = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const isChrome = (block) => block.label === BOILERPLATE;
  const labelText = (name) => (ZH[name] ? `${name} · ${ZH[name]}` : name);
  const formatScore = (score) => (typeof score === "number" ? score.toFixed(2) : "–");

  function articleText(blocks) {
    return blocks.filter((block) => !isChrome(block)).map((block) => block.text).join("\n");
  }

  function recordList(record) {
    const list = el("dl");
    for (const [key, value] of Object.entries(record)) {
      const shownValue = value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
      list.append(el("dt", { text: key }), el("dd", { text: shownValue }));
    }
    return list;
  }

  function blockItem(block) {
    const item = el("li", { class: "block", "data-label": block.label, "data-position": block.position },
      el("div", { class: "block-head" },
        el("span", { class: "position", text: `#${block.position}` }),
        el("span", { class: "badge", text: labelText(block.label) }),
        el("span", { class: "score", text: `score ${formatScore(block.score)}` })),
      el("p", { class: "block-text", lang: "zh-CN", text: block.text }));
    // The page model may attach a structure record (the block's place in the page's markup).
    if (block.structure && typeof block.structure === "object") {
      item.append(el("details", { class: "structure" }, el("summary", { text: "structure" }), recordList(block.structure)));
    }
    if (block.scores && typeof block.scores === "object") {
      const scores = Object.fromEntries(Object.entries(block.scores).map(([name, p]) => [name, formatScore(p)]));
      item.append(el("details", { class: "scores" }, el("summary", { text: "all scores" }), recordList(scores)));
    }
    return item;
  }

  function setFoldOpen(fold, open) {
    fold.querySelector(".fold-toggle").setAttribute("aria-expanded", String(open));
    fold.querySelector(".fold-blocks").hidden = !open;
  }

  // A run of consecutive chrome blocks becomes one fold: a button that shows or hides them.
  function foldItem(run, index) {
    const id = `fold-${index}`;
    const first = run[0].position;
    const last = run[run.length - 1].position;
    const where = first === last ? `#${first}` : `#${first}–#${last}`;
    const count = run.length === 1 ? "1 chrome block" : `${run.length} chrome blocks`;
    const preview = run[0].text.length > PREVIEW_CHARS ? `${run[0].text.slice(0, PREVIEW_CHARS)}…` : run[0].text;
    const toggle = el("button", { type: "button", class: "fold-toggle", "aria-expanded": "false", "aria-controls": id },
      el("span", { text: where }), el("span", { class: "badge", text: labelText(BOILERPLATE) }),
      el("span", { text: count }), el("span", { class: "fold-preview", lang: "zh-CN", text: preview }));
    const fold = el("li", { class: "fold", "data-label": BOILERPLATE },
      toggle, el("ol", { class: "fold-blocks", id, hidden: true }, ...run.map(blockItem)));
    toggle.addEventListener("click", () => setFoldOpen(fold, toggle.getAttribute("aria-expanded") !== "true"));
    return fold;
  }

  function blockList(blocks) {
    const items = [];
    let run = [];
    const closeRun = () => {
      if (run.length) items.push(foldItem(run, items.length));
      run = [];
    };
    for (const block of blocks) {
      if (isChrome(block)) {
        run.push(block);
      } else {
        closeRun();
        items.push(blockItem(block));
      }
    }
    closeRun();
    return items;
  }

  function labelCounts(blocks) {
    const counts = new Map(LABELS.map((label) => [label.name, 0]));
    for (const block of blocks) counts.set(block.label, (counts.get(block.label) || 0) + 1);
    return counts;
  }

  function filterBox(counts) {
    const boxes = [];
    for (const [name, count] of counts) {
      const box = el("input", { type: "checkbox", value: name, "data-label": name });
      box.checked = true;
      box.addEventListener("change", applyFilter);
      boxes.push(el("label", { "data-label": name }, box, el("span", { class: "badge", text: labelText(name) }),
        el("span", { text: `(${count})` })));
    }
    $("filter").replaceChildren(el("legend", { text: "Show labels" }), ...boxes);
  }

  function applyFilter() {
    const visible = new Set([...$("filter").querySelectorAll("input:checked")].map((box) => box.value));
    for (const node of $("blocks").querySelectorAll(".block, .fold")) node.hidden = !visible.has(node.dataset.label);
  }

  function summary(blocks) {
    const article = blocks.filter((block) => !isChrome(block));
    const chars = (list) => list.reduce((sum, block) => sum + block.text.length, 0);
    const share = (part, whole) => (whole ? Math.round((100 * part) / whole) : 0);
    return `${blocks.length} blocks: ${article.length} article (${share(article.length, blocks.length)}%), ` +
      `${blocks.length - article.length} chrome; article text ${chars(article).toLocaleString()} of ` +
      `${chars(blocks).toLocaleString()} characters (${share(chars(article), chars(blocks))}%).`;
  }

  // Render a page, then mark the first paint after it: the frame callback runs before the paint,
  // the timeout right after it.
  function show(page, { focus }) {
    shown = page;
    $("blocks").replaceChildren(...blockList(page.blocks));
    filterBox(labelCounts(page.blocks));
    $("summary").textContent = summary(page.blocks);
    $("article-text").value = articleText(page.blocks);
    $("unfold-all").setAttribute("aria-pressed", "false");
    $("unfold-all").textContent = "Unfold all chrome";
    $("status").textContent = "";
    $("source").textContent = page.source ? `Page: ${page.source}` : "";
    $("source").hidden = !page.source;
    if (page.index) $("source").append(" · ", el("a", { href: page.index, text: "all pages" }));
    $("results").hidden = false;
    if (focus) $("results").focus();
    requestAnimationFrame(() => setTimeout(() => {
      performance.mark("paratheme-painted");
      performance.measure("paratheme-first-paint", "paratheme-answer", "paratheme-painted");
      document.body.dataset.state = "done";
    }, 0));
  }

  function showError(title, detail) {
    const box = $("message");
    box.replaceChildren(el("strong", { text: title }), ...(detail ? [el("span", { text: detail })] : []));
    box.hidden = false;
    document.body.dataset.state = "error";
  }

  function clearError() {
    $("message").hidden = true;
    $("message").replaceChildren();
  }

  function errorMessage(status, body) {
    const advice = ADVICE[status] || "The server answered with an error.";
    const said = body && typeof body.error === "string" ? `Server says: ${body.error}` : "";
    return [`${advice} (HTTP ${status})`, said];
  }

  // The page travels as Unicode text, which JSON sends as UTF-8. The server decodes a page's bytes
  // by its <meta charset>, so a declaration left at gbk (a pasted or opened GBK page) would garble it.
  const declareUtf8 = (text) => text.replace(/(<meta[^>]+charset\s*=\s*["']?\s*)([A-Za-z0-9_-]+)/i, "$1utf-8");

  async function classify(text, source) {
    clearError();
    if (!text.trim()) {
      showError("Paste a page or open a saved page first.");
      return;
    }
    document.body.dataset.state = "busy";
    $("status").textContent = "Classifying…";
    const headers = { "Content-Type": "application/json" };
    const token = $("token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch("classify/page", { method: "POST", headers, body: JSON.stringify({ inputs: declareUtf8(text) }) });
    } catch (error) {
      $("status").textContent = "";
      showError("The server could not be reached. Is paratheme serve still running?", String(error.message || error));
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // an error page or a cut-off answer: the status says enough
    }
    $("status").textContent = "";
    if (!response.ok) {
      showError(...errorMessage(response.status, body));
      return;
    }
    if (!body || !Array.isArray(body.blocks)) {
      showError("The server's answer has no blocks.");
      return;
    }
    performance.mark("paratheme-answer");
    show({ source, blocks: body.blocks }, { focus: true });
  }

  // Bytes to text the way paratheme reads pages: BOM, then <meta charset>, then UTF-8, then GB18030.
  function decodePage(buffer) {
    const bytes = new Uint8Array(buffer);
    const boms = [[[0xef, 0xbb, 0xbf], "utf-8"], [[0xff, 0xfe], "utf-16le"], [[0xfe, 0xff], "utf-16be"]];
    for (const [bom, encoding] of boms) {
      if (bom.every((byte, i) => bytes[i] === byte)) {
        return { text: new TextDecoder(encoding).decode(bytes.subarray(bom.length)), encoding };
      }
    }
    const head = new TextDecoder("latin1").decode(bytes.subarray(0, 8192));
    const declared = /<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_-]+)/i.exec(head);
    const candidates = [...(declared ? [declared[1]] : []), "utf-8", "gb18030"];
    for (const encoding of candidates) {
      try {
        return { text: new TextDecoder(encoding, { fatal: true }).decode(bytes), encoding };
      } catch {
        // unknown label or bytes not in this encoding: try the next
      }
    }
    return { text: new TextDecoder("gb18030").decode(bytes), encoding: "gb18030" };
  }

  async function openFile(file) {
    clearError();
    let decoded;
    try {
      decoded = decodePage(await file.arrayBuffer());
    } catch (error) {
      showError(`Could not read ${file.name}.`, String(error.message || error));
      return;
    }
    $("page-text").value = decoded.text;
    await classify(decoded.text, `${file.name} (${decoded.encoding})`);
  }

  async function copyArticle() {
    const text = articleText(shown.blocks);
    const count = shown.blocks.filter((block) => !isChrome(block)).length;
    const area = $("article-text");
    area.value = text; // also the clipboard-free way to the text: the Article text panel
    const done = `Copied the article: ${count} blocks, ${text.length.toLocaleString()} characters.`;
    try {
      await navigator.clipboard.writeText(text);
      $("status").textContent = done;
    } catch {
      // No clipboard API here (a file:// page, or permission refused): copy from the selection.
      $("article-panel").open = true;
      area.select();
      const copied = document.execCommand && document.execCommand("copy");
      $("status").textContent = copied ? done : "The clipboard is not available: the text is selected in Article text below.";
    }
  }

  function toggleAllFolds() {
    const button = $("unfold-all");
    const open = button.getAttribute("aria-pressed") !== "true";
    for (const fold of $("blocks").querySelectorAll(".fold")) setFoldOpen(fold, open);
    button.setAttribute("aria-pressed", String(open));
    button.textContent = open ? "Fold all chrome" : "Unfold all chrome";
  }

  function start() {
    $("unfold-all").addEventListener("click", toggleAllFolds);
    $("copy").addEventListener("click", copyArticle);
    const embedded = JSON.parse($("paratheme-page").textContent);
    if (embedded) {
      $("input").hidden = true; // a standalone view: the labels are in the file, no server
      performance.mark("paratheme-answer");
      show(embedded, { focus: false });
      return;
    }
    const token = $("token");
    token.value = sessionStorage.getItem(TOKEN_KEY) || "";
    token.addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, token.value.trim()));
    $("page-form").addEventListener("submit", (event) => {
      event.preventDefault();
      classify($("page-text").value, "pasted page");
    });
    $("page-file").addEventListener("change", (event) => {
      const [file] = event.target.files;
      if (file) openFile(file);
    });
  }

  start();
})();
