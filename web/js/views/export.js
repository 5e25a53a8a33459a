// The diagram's corner tools (top right of the diagram): a Download menu — the model file, the
// diagram as SVG or PNG, the one-page report, a read-only image link — and the importance
// toggle (activation | attribution, KAN 2.0) with the owner's "prune inputs below …".
//
// Downloads are fetched with the Bearer header and saved from a blob URL, so no token travels in
// a URL; only "Copy image link" puts one in a URL, and it is the viewer token (read-only).
// Attribution scores come from GET /attribution; the network view draws them when this view
// emits the store's "importance" topic ({edges, nodes} maps, or null for activation).

import { h } from "../dom.js";
import { sessionTokens } from "../tokens.js";

const REFRESH_MS = 2000; // attribution is re-read at most this often while the model changes

export class DiagramTools {
  constructor(root, store, api, toasts) {
    this.store = store;
    this.api = api;
    this.toasts = toasts;
    this.mode = "activation";
    this.loadedAt = 0;
    this.loading = false;
    this.hidePruned = h("input", { type: "checkbox", "data-export-hide-pruned": "" });
    // Two rows at the top right, clear of the output node's label at the top centre: the
    // importance toggle and the menu; under them, in attribution mode, "Prune inputs below".
    const select = this._importance();
    this.pruneBox = this.store.isOwner ? this._pruneInputs() : null;
    const row = h("div", {}, select, this._menu());
    Object.assign(row.style, { display: "flex", gap: "0.6rem", alignItems: "center" });
    this.el = h("div.diagram-tools", { "data-diagram-tools": "" }, row, this.pruneBox);
    Object.assign(this.el.style, {
      position: "absolute", top: "4px", right: "8px", display: "flex", flexDirection: "column", gap: "0.3rem",
      alignItems: "flex-end", fontSize: "0.85rem", background: "rgba(255,255,255,0.88)", padding: "0.15rem 0.5rem",
      borderRadius: "6px",
    });
    root.append(this.el);
    const refresh = () => this.mode === "attribution" && this._loadSoon();
    store.on("edited", () => this.mode === "attribution" && this.loadAttribution());
    store.on("snapshot", refresh);
    store.on("edges", refresh);
  }

  // --- download menu ------------------------------------------------------------------------
  _menu() {
    const id = this.store.sessionId;
    const query = () => `?pruned=${this.hidePruned.checked ? "hide" : "show"}&importance=${this.mode}`;
    const items = [
      ["Model file", () => "/model", `kan-${id}.pt`, "the kan_core model file (open it in a notebook, or upload it)"],
      ["Diagram (SVG)", () => "/diagram.svg" + query(), `kan-${id}.svg`, "the network as drawn here, as a vector image"],
      ["Diagram (PNG)", () => "/diagram.png" + query(), `kan-${id}.png`, "the network as drawn here, as a picture"],
      ["Report (HTML)", () => "/report.html", `kan-${id}-report.html`, "one page: diagram, formula and its error, snapped edges, history, data"],
    ];
    const menu = h("details.export-menu", {}, h("summary", { "data-export-menu": "" }, "Download"));
    const list = h("div.export-items", { role: "menu" });
    Object.assign(list.style, {
      position: "absolute", right: "0", top: "1.8rem", zIndex: "5", display: "flex", flexDirection: "column", gap: "0.25rem",
      background: "#fff", border: "1px solid #e2e8f0", borderRadius: "6px", padding: "0.4rem", boxShadow: "0 4px 14px rgba(0,0,0,0.12)",
      minWidth: "13rem",
    });
    for (const [label, path, name, title] of items) {
      const btn = h("button", { type: "button", role: "menuitem", title, "data-export": label }, label);
      btn.addEventListener("click", () => {
        menu.open = false;
        this.download(path(), name, btn);
      });
      list.append(btn);
    }
    const viewer = this._viewerToken();
    if (viewer) {
      const btn = h("button", { type: "button", role: "menuitem", "data-export": "Copy image link", title: "a read-only link to the live diagram (SVG), for a notebook or a page: it carries the viewer token" }, "Copy image link");
      btn.addEventListener("click", () => {
        menu.open = false;
        this.copyLink(`${location.origin}${this.api.base}/diagram.svg${query()}&token=${encodeURIComponent(viewer)}`);
      });
      list.append(btn);
    }
    list.append(h("label.inline", { title: "leave pruned edges out of the SVG and PNG" }, this.hidePruned, " hide pruned edges"));
    menu.append(list);
    menu.style.position = "relative";
    return menu;
  }

  /** The viewer token: a link carries read rights only (the owner's page knows it from
   *  localStorage; a viewer's page holds nothing else). */
  _viewerToken() {
    return this.store.isOwner ? sessionTokens(this.store.sessionId)?.viewer_token : this.api.token;
  }

  async copyLink(url) {
    try {
      await navigator.clipboard.writeText(url);
      this.toasts.show(`Image link copied: ${url}`, "info", 8000);
    } catch {
      this.toasts.show(`Image link: ${url}`, "info", 0);
    }
  }

  /** Fetch `path` (relative to the session) with the token and save it as `name`. */
  async download(path, name, btn) {
    if (btn) btn.disabled = true;
    try {
      const res = await fetch(this.api.base + path, { headers: { Authorization: `Bearer ${this.api.token}` } });
      if (!res.ok) throw new Error(await errorText(res));
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: fileName(res, name) });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (err) {
      this.toasts.error(`Download failed: ${err.message}`);
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  // --- importance: activation | attribution --------------------------------------------------
  _importance() {
    const select = h(
      "select",
      { "data-importance-select": "", "aria-label": "importance shown by the diagram" },
      h("option", { value: "activation" }, "activation"),
      h("option", { value: "attribution" }, "attribution"),
    );
    select.addEventListener("change", () => this.setMode(select.value));
    return h("label.inline.importance", { title: "what the wires' darkness shows: activation spread (pykan's default), or KAN 2.0 attribution of each edge to the outputs" }, "importance ", select);
  }

  _pruneInputs() {
    const input = h("input", { type: "number", min: "0", step: "any", value: "0.01", "data-prune-threshold": "", "aria-label": "attribution threshold" });
    input.style.width = "5rem";
    const btn = h("button", { type: "button", "data-prune-inputs": "", title: "prune every input whose attribution score is below the threshold (undoable)" }, "Prune inputs below");
    btn.addEventListener("click", () => this.pruneInputs(Number(input.value), btn));
    const box = h("span.prune-inputs", { hidden: true }, btn, " ", input);
    return box;
  }

  async setMode(mode) {
    this.mode = mode;
    if (this.pruneBox) this.pruneBox.hidden = mode !== "attribution";
    if (mode === "attribution") await this.loadAttribution();
    else this.store.emit("importance", null);
  }

  _loadSoon() {
    const wait = this.loadedAt + REFRESH_MS - Date.now();
    if (this.loading || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.loadAttribution();
    }, Math.max(wait, 0));
  }

  async loadAttribution() {
    if (this.loading) return;
    this.loading = true;
    try {
      const got = await this.api.get("/attribution");
      if (this.mode !== "attribution") return;
      const top = got.max_edge || 1;
      const edges = new Map(got.edges.map((e) => [`${e.l},${e.i},${e.j}`, { score: e.score, rel: (e.score || 0) / top }]));
      const nodes = new Map(got.nodes.map((n) => [`${n.l},${n.i}`, n.score]));
      this.store.emit("importance", { edges, nodes });
    } catch (err) {
      this.toasts.error(`Attribution: ${err.message}`);
    } finally {
      this.loading = false;
      this.loadedAt = Date.now();
    }
  }

  async pruneInputs(threshold, btn) {
    if (!Number.isFinite(threshold) || threshold < 0) return this.toasts.error("The threshold must be a number ≥ 0.");
    btn.disabled = true;
    try {
      const res = await this.api.post("/prune-inputs", { threshold });
      this.toasts.show(res.summary, "info");
      for (const w of res.warnings || []) this.toasts.show(w, "warning", 8000);
    } catch (err) {
      this.toasts.error(err.message);
    } finally {
      btn.disabled = false;
    }
  }
}

async function errorText(res) {
  const body = await res.json().catch(() => null);
  const d = body?.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => e.msg).join("; ");
  return `the server answered ${res.status}`;
}

/** The file name the server suggests (Content-Disposition), else `fallback`. */
function fileName(res, fallback) {
  const m = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
  return m ? m[1] : fallback;
}
