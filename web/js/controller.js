// Decides what a user action means: calls the server, reports failures as readable messages,
// and refreshes the derived data (edge detail, candidates, formula, history) after edits.
// Views call these methods; the server's stream then tells every page what changed.

import { lastLive, redoText, undoText } from "./views/controls.js";

export class Controller {
  constructor(store, api, toasts) {
    this.store = store;
    this.api = api;
    this.toasts = toasts;
    this._timers = {};
    this._selSeq = 0;
    store.on("edited", (ev) => this.afterEdit(ev));
    store.on("event", (ev) => this.onEvent(ev));
    // An edit's edges frame may come just after its event: the selected edge's state (active or
    // pruned) is read once it has come, so no suggestions are asked of a just-pruned edge.
    store.on("edges", () => this._selectionStale && this.refreshSelection());
    store.on("snapshot", () => {
      this.refreshFormula();
      if (this.store.selection && !this.store.detail) this.loadSelection();
    });
  }

  /** Run a REST call; show its warnings; turn a failure into a message, never a silent one. */
  /** Edits wait for an in-flight suggestions read of the selected edge, so a quick "click an
   *  edge, then Prune" never makes that read arrive after the prune (a 409). */
  async mutate(send) {
    await this._pendingSuggestions?.catch(() => {});
    return this.run(send());
  }

  async run(promise) {
    try {
      const res = await promise;
      if (res?.warnings?.length) this.toasts.show(res.warnings.join(" "), "warning", 8000);
      if (res?.status && res.status !== this.store.status) {
        this.store.status = res.status;
        this.store.emit("status");
      }
      return res;
    } catch (err) {
      this.toasts.error(err.message);
      return null;
    }
  }

  // --- training ----------------------------------------------------------------------------
  togglePlay() {
    return this.store.status === "training" ? this.pause() : this.play();
  }
  play() {
    return this.mutate(() => this.api.post("/play"));
  }
  pause() {
    return this.mutate(() => this.api.post("/pause"));
  }
  step(n = 1) {
    if (this.store.status === "training") return null;
    return this.mutate(() => this.api.post("/train", { steps: Math.max(1, Math.min(1000, Math.round(n))) }));
  }
  async reset() {
    const res = await this.mutate(() => this.api.post("/reset"));
    if (res) this.toasts.show("Reset: the model is back to its initial weights (Undo brings the trained one back).", "info", 6000);
    return res;
  }
  settings(patch) {
    return this.run(this.api.patch("/settings", patch));
  }

  // --- whole-model edits -------------------------------------------------------------------
  autoPrune(th) {
    return this.mutate(() => this.api.post("/prune", th));
  }
  refine(grid) {
    return this.mutate(() => this.api.post("/refine", { grid }));
  }
  async autoSymbolic(r2) {
    const res = await this.mutate(() => this.api.post("/auto-symbolic", { r2_threshold: Number.isFinite(r2) ? r2 : null }));
    // hidden nodes that shared one job were merged into the rest: say so (Undo brings them back)
    if (res?.detail?.merged_nodes?.length) this.toasts.show(`${res.summary}. Undo brings them back.`, "info", 8000);
    return res;
  }
  /** Undo says what it did: an edit's undo also discards the training since that edit. */
  async undo() {
    const text = undoText(lastLive(this.store.session?.history), this.store.step);
    const res = await this.mutate(() => this.api.post("/undo"));
    if (res) this.toasts.show(`Done: ${text}.`, "info", 8000);
    return res;
  }
  async discover(budget) {
    const res = await this.run(this.api.post("/discover", { budget_s: budget }));
    if (res) this.store.applyDiscover(res);
  }
  async loadDiscover() {
    try {
      this.store.applyDiscover(await this.api.get("/discover"));
    } catch {
      // an older server or a transient failure: the panel simply stays empty
    }
  }
  applyCandidate(k) {
    return this.mutate(() => this.api.post(`/discover/${k}/apply`));
  }
  async redo() {
    const text = redoText((this.store.session?.history || []).find((e) => e.undone));
    const res = await this.mutate(() => this.api.post("/redo"));
    if (res) this.toasts.show(`Done: ${text}.`, "info", 8000);
    return res;
  }

  /** A read for a lesson view (decision regions, trace, MLP comparison): null on failure,
   *  which is shown once per message (these reads repeat while training). */
  async read(path) {
    try {
      const res = await this.api.get(path);
      this._readError = null;
      return res;
    } catch (err) {
      if (this._readError !== err.message) this.toasts.error(err.message);
      this._readError = err.message;
      return null;
    }
  }

  // --- the selected edge or node -----------------------------------------------------------
  select(sel) {
    this.store.pinned = null;
    this.store.select(sel);
    this.loadSelection();
  }
  selectedKey(kind) {
    const sel = this.store.selection;
    return sel?.kind === kind ? sel.key : null;
  }
  pruneEdge() {
    return this.mutate(() => this.api.post(this.api.edgePath(this.selectedKey("edge"), "prune")));
  }
  restoreEdge() {
    return this.mutate(() => this.api.post(this.api.edgePath(this.selectedKey("edge"), "restore")));
  }
  unfix() {
    return this.mutate(() => this.api.post(this.api.edgePath(this.selectedKey("edge"), "unfix")));
  }
  accept(name) {
    this.store.pinned = null;
    return this.mutate(() => this.api.post(this.api.edgePath(this.selectedKey("edge"), "symbolic"), { name }));
  }
  async reject(name) {
    const key = this.selectedKey("edge");
    if (this.store.preview === name) this.store.setPreview(null);
    const res = await this.mutate(() => this.api.post(this.api.edgePath(key, "reject"), { name }));
    if (res) {
      this.toasts.show(`Rejected ${name} for this edge: "Un-reject ${name}" under the candidates takes it back.`, "info", 6000);
      this.loadSuggestions(key);
    }
  }
  async unreject(name) {
    const key = this.selectedKey("edge");
    const res = await this.mutate(() => this.api.post(this.api.edgePath(key, "unreject"), { name }));
    if (res) this.loadSuggestions(key);
  }
  pruneNode() {
    return this.mutate(() => this.api.post(this.api.nodePath(this.selectedKey("node"), "prune")));
  }
  restoreNode() {
    return this.mutate(() => this.api.post(this.api.nodePath(this.selectedKey("node"), "restore")));
  }
  preview(name) {
    this.store.setPreview(name);
  }

  /** Fetch the selected edge's detail and (for an active edge) its candidates. */
  async loadSelection() {
    const sel = this.store.selection;
    if (sel?.kind !== "edge") return;
    const seq = ++this._selSeq;
    const edge = this.store.edge(sel.key);
    if (edge?.state === "active" && !this.store.suggestions) this.loadSuggestions(sel.key);
    try {
      const detail = await this.api.get(this.api.edgePath(sel.key));
      if (seq === this._selSeq && this.store.selection?.key === sel.key) this.store.setDetail(detail);
    } catch (err) {
      this.toasts.error(err.message);
    }
  }

  loadSuggestions(key) {
    // A class follower mirrors the teacher's selection: fitting candidates in every student's
    // page would queue one fit (~2 s) per student on the teacher's worker. While
    // `suggestionsHeld()` returns a message (class/follow.js sets it), that message is shown
    // instead and nothing is fetched.
    const held = this.suggestionsHeld?.();
    if (held) {
      this.store.setSuggestions({ key, error: held });
      return Promise.resolve();
    }
    this._pendingSuggestions = this._fetchSuggestions(key);
    return this._pendingSuggestions;
  }

  async _fetchSuggestions(key) {
    const keep = this.store.suggestions?.key === key ? this.store.suggestions : null;
    if (!keep) this.store.setSuggestions({ key, loading: true });
    try {
      const res = await this.api.get(this.api.edgePath(key, "suggestions") + "?topk=5");
      if (this.store.selection?.key === key) this.store.setSuggestions({ key, ...res });
    } catch (err) {
      if (this.store.selection?.key === key) this.store.setSuggestions({ key, error: err.message });
    }
  }

  // --- keeping derived data fresh ----------------------------------------------------------
  onEvent(ev) {
    if (ev.kind === "error") this.toasts.error(`Training stopped: ${ev.message}`);
    // the disk refused a checkpoint: progress is held in memory until a later save works
    if (ev.kind === "unsaved" && !this._unsaved) this._unsaved = this.toasts.show(ev.message, "warning", 0);
    if (ev.kind === "saved") {
      this._unsaved?.remove();
      this._unsaved = null;
      this.toasts.show(ev.message, "info", 6000);
    }
    if (ev.kind === "trained" || ev.kind === "paused") {
      this.refreshFormula();
      this.refreshSelection();
    }
  }

  afterEdit(ev) {
    if (ev?.meta) {
      this.store.applyMeta(ev.meta); // history, undo/redo, grid: carried by the edit event
    } else {
      this.debounce("meta", 100, async () => {
        try {
          this.store.applyMeta(await this.api.get());
        } catch (err) {
          this.toasts.error(err.message);
        }
      });
    }
    this.refreshFormula();
    this._selectionStale = true;
    this.refreshSelection(400); // unless the edit's edges frame comes first (constructor)
  }

  refreshSelection(ms = 150) {
    this.debounce("selection", ms, () => {
      this._selectionStale = false;
      const sel = this.store.selection;
      if (sel?.kind !== "edge") return;
      const edge = this.store.edge(sel.key);
      if (edge?.state === "active") this.loadSuggestions(sel.key);
      else this.store.setSuggestions(null);
      this.loadSelection();
    });
  }

  refreshFormula() {
    this.debounce("formula", 200, async () => {
      try {
        this.store.setFormula(await this.api.get("/formula"));
      } catch (err) {
        this.toasts.error(`Formula: ${err.message}`);
      }
    });
  }

  debounce(name, ms, fn) {
    clearTimeout(this._timers[name]);
    this._timers[name] = setTimeout(fn, ms);
  }
}
