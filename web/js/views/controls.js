// The top bar: status and step (everyone), and for the owner the training controls, the
// whole-model edits (auto-prune, refine, auto-symbolic) and undo/redo. Built once; status and
// history changes only flip labels and disabled flags.

import { h } from "../dom.js";

// A run the server stopped because the loss stopped improving (a "paused" event with
// data.reason "plateau"): the status line says why until the next event.
const PLATEAU_TEXT = "Stopped: the loss stopped improving";
const STATUS_TEXT = {
  idle: "Ready: press Play", // a viewer, who has no Play button, reads VIEWER_IDLE instead
  training: "Training",
  paused: "Paused",
  error: "Error",
};
const VIEWER_IDLE = "Not trained yet";

export class StatusView {
  constructor(root, store) {
    this.store = store;
    this.pill = h("span.status", { role: "status", "data-status": "idle" });
    this.step = h("span.step-counter", {}, "step ", h("b", { "data-step": "" }, "0"));
    this.conn = h("span.conn");
    this.errorText = h("span.error-text", { role: "alert" });
    root.append(this.pill, this.errorText, this.step, this.conn);
    store.on("status", () => this.render());
    // any later event (an edit, a run, a pause) ends that explanation
    store.on("event", (ev) => (this.plateauStep = ev.kind === "paused" && ev.data?.reason === "plateau" ? ev.step : null));
    this.render();
  }

  render() {
    const st = this.store;
    this.pill.dataset.status = st.status;
    this.pill.textContent = st.status === "idle" && !st.isOwner ? VIEWER_IDLE : STATUS_TEXT[st.status] || st.status;
    if (st.status === "paused" && this.plateauStep === st.step) this.pill.textContent = PLATEAU_TEXT;
    this.pill.title = st.status === "error" && st.error ? st.error : "";
    this.errorText.textContent = st.status === "error" && st.error ? st.error : "";
    this.errorText.hidden = !this.errorText.textContent;
    this.step.querySelector("b").textContent = String(st.step);
    const conn = { open: "", connecting: "connecting…", reconnecting: "connection lost, reconnecting…", closed: "disconnected" }[st.connection];
    this.conn.textContent = conn;
    this.conn.hidden = !conn;
  }
}

export class Toolbar {
  constructor(root, store, actions) {
    this.store = store;
    this.actions = actions;
    const a = actions;
    this.play = h("button.primary.play", { type: "button", onclick: () => a.togglePlay(), title: "train until paused (space)" }, "Play");
    this.stepBtn = h("button", { type: "button", onclick: () => a.step(this.stepsInput.valueAsNumber || 1), title: "train a few steps (→ key)" }, "Step");
    this.stepsInput = h("input.num", { type: "number", min: 1, max: 1000, value: 1, "aria-label": "steps per Step click", title: "steps per Step click" });
    this.reset = h("button", { type: "button", onclick: () => a.reset(), title: "back to the initial weights (undoable); the step counter keeps counting and the loss readout shows the fresh model's loss" }, "Reset");
    this.opt = h("select", { "aria-label": "optimizer", onchange: () => a.settings({ opt: this.opt.value }) }, h("option", { value: "LBFGS" }, "LBFGS"), h("option", { value: "Adam" }, "Adam"));
    this.lr = numberInput("learning rate", 0.0001, 100, (v) => a.settings({ lr: v }));
    this.lamb = numberInput("λ: sparsity regularisation", 0, 100, (v) => a.settings({ lamb: v }));
    this.autoStop = h("input", { type: "checkbox", "aria-label": "stop when the loss plateaus", title: "stop training by itself when the loss stops improving", onchange: () => a.settings({ stop_on_plateau: this.autoStop.checked }) });
    this.edgeTh = h("input.num", { type: "number", min: 0, max: 1, step: 0.01, value: 0.03, "aria-label": "auto-prune edge threshold", title: "edges whose importance is below this are pruned" });
    this.autoPrune = h("button", { type: "button", onclick: () => a.autoPrune({ edge_th: this.edgeTh.valueAsNumber, node_th: 0.01 }), title: "prune every edge below the threshold" }, "Auto-prune");
    this.grid = h("select", { "aria-label": "new grid size" });
    this.refine = h("button", { type: "button", onclick: () => a.refine(Number(this.grid.value)), title: "more grid intervals: finer curves, same function" }, "Refine grid");
    this.r2 = h("input.num", { type: "number", min: 0, max: 1, step: 0.01, value: 0.9, "aria-label": "auto-symbolic R² threshold", title: "only snap edges whose best fit has at least this R²" });
    this.autoSym = h("button", { type: "button", onclick: () => a.autoSymbolic(this.r2.valueAsNumber), title: "snap every edge whose best formula fits well enough" }, "Auto-symbolic");
    this.undo = h("button", { type: "button", onclick: () => a.undo(), title: "undo the last edit (Ctrl+Z)" }, "Undo");
    this.redo = h("button", { type: "button", onclick: () => a.redo(), title: "redo (Ctrl+Shift+Z)" }, "Redo");
    root.append(
      group("Train", this.play, this.stepBtn, this.stepsInput, this.reset, label("auto-stop", this.autoStop), explain("auto-stop", EXPLAIN.plateau)),
      group("Optimiser", this.opt, label("lr", this.lr), label("λ", this.lamb), explain("lambda", EXPLAIN.lambda)),
      group("Simplify", this.autoPrune, label("below", this.edgeTh), explain("prune", EXPLAIN.prune), this.grid, this.refine, explain("grid", EXPLAIN.grid),
        this.autoSym, label("R² ≥", this.r2), explain("snap", EXPLAIN.snap)),
      group("Edits", this.undo, this.redo),
    );
    store.on("status", () => this.renderStatus());
    store.on("history", () => this.renderMeta());
    store.on("meta", () => this.renderMeta());
    this.renderStatus();
    this.renderMeta();
  }

  renderStatus() {
    const training = this.store.status === "training";
    // The toggle's accessible name is its text: "Play" or "Pause".
    this.play.textContent = training ? "Pause" : "Play";
    this.play.classList.toggle("training", training);
    this.play.title = training ? "stop after the current step (space)" : "train until paused (space)";
    this.stepBtn.disabled = training;
    this.renderUndoTitles(); // "the N training steps since": N grows while training
  }

  renderUndoTitles() {
    const s = this.store.session;
    if (!s) return;
    this.undo.title = s.can_undo ? undoText(lastLive(s.history), this.store.step) + " (Ctrl+Z)" : "nothing to undo";
    this.redo.title = s.can_redo ? redoText(firstUndone(s.history)) + " (Ctrl+Shift+Z)" : "nothing to redo";
  }

  renderMeta() {
    const s = this.store.session;
    if (!s) return;
    this.undo.disabled = !s.can_undo;
    this.redo.disabled = !s.can_redo;
    this.renderUndoTitles();
    if (document.activeElement !== this.lr) this.lr.value = s.train.lr;
    if (document.activeElement !== this.lamb) this.lamb.value = s.train.lamb;
    this.opt.value = s.train.opt;
    this.autoStop.checked = s.train.stop_on_plateau !== false;
    const choices = [5, 10, 20, 50, 100].filter((g) => g > s.grid);
    this.grid.replaceChildren(...choices.map((g) => h("option", { value: g }, `grid ${s.grid} → ${g}`)));
    this.refine.disabled = choices.length === 0;
  }
}

export function lastLive(history) {
  return [...(history || [])].reverse().find((e) => !e.undone);
}

function firstUndone(history) {
  return (history || []).find((e) => e.undone);
}

/** What Undo does, in words: an edit's undo puts back the model from before it, so any
 *  training since that edit is discarded too (the step counter keeps counting). */
export function undoText(edit, step) {
  if (!edit) return "undo the last edit";
  const since = step - edit.step;
  const lost = since > 0 ? `; the ${since} training step${since === 1 ? "" : "s"} since are discarded` : "";
  return `undo "${edit.summary}": back to the model from before it (step ${edit.step})${lost}`;
}

export function redoText(edit) {
  if (!edit) return "redo the last undone edit";
  return `redo "${edit.summary}": back to the model right after it (step ${edit.step}); training since the undo is discarded`;
}

function numberInput(name, min, max, onchange) {
  const el = h("input.num", { type: "number", min, max, step: "any", "aria-label": name, title: name });
  el.addEventListener("change", () => {
    const v = el.valueAsNumber;
    if (Number.isFinite(v) && v >= min && v <= max) onchange(v);
  });
  return el;
}

// Short explanations where each setting is made (a "?" that opens on click).
const EXPLAIN = {
  lambda: "λ is the sparsity penalty. Above 0 it pushes edges the data does not need towards zero, so they fade and can be pruned; at 0 training only fits the data. Auto-prune sets it to 0 for fine-tuning.",
  prune: "Pruning removes every edge whose importance is below this threshold (the faded boxes) and nodes left without edges. A smaller network reads as a shorter formula; train a few steps afterwards.",
  grid: "The grid is how many intervals each edge's spline has. Refine keeps the learned function and adds intervals, so curves can bend more finely; too fine a grid starts fitting noise (watch the test loss).",
  plateau: "With auto-stop on, Play stops by itself once the loss has stopped improving (by default: less than 0.1 % over the last 20 steps; never during the grid updates of the first 50 steps); the status line says so. Off: training runs until you pause it.",
  snap: "Snapping replaces an edge's learned curve by the closest formula (x², sin, exp, …) fitted as c·f(a·x+b)+d. Auto-symbolic snaps every edge whose best fit reaches this R²; Undo takes it back.",
};

function explain(key, text) {
  return h("details.explain-tip", { "data-explain": key }, h("summary", { title: `what is ${key === "lambda" ? "λ" : key}?`, "aria-label": `explain ${key === "lambda" ? "λ" : key}` }, "?"), h("p.explain", {}, text));
}

function label(text, input) {
  return h("label.inline", {}, h("span", {}, text), input);
}

function group(name, ...children) {
  return h("div.group", { role: "group", "aria-label": name }, h("span.group-name", {}, name), ...children);
}
