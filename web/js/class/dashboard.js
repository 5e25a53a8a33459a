// /classes/{id} for the teacher: a card per student (name, step, test RMSE, live and symbolic
// edges, formula so far, a mini diagram of the network), sorted by progress and refreshed every
// 1.5 s (each read starts 1.5 s after the previous one started); open a student's session
// read-only or show it to everyone; hand out, pause all, end; a challenge adds the leaderboard
// and Reveal. Names are data: set as text or attribute only.

import { h, s, fmt, replace, prettyFormula } from "../dom.js";
import { rememberSession } from "../tokens.js";
import { presenterToggle } from "../views/layout.js";
import { ClassApi, rememberClass } from "./api.js";
import { classActions } from "./actions.js";
import { joinLinks, linkBlock } from "./share.js";

const POLL_MS = 1500;

export async function renderDashboard(root, classId, token, toasts) {
  const api = new ClassApi(classId, token);
  const cards = h("div.student-cards", { "aria-label": "students" });
  const head = h("div.dash-head");
  const board = h("section.leaderboard", { "aria-label": "leaderboard", hidden: true });
  const summary = h("p.dash-summary", { role: "status" });
  const showing = h("p.dash-showing");
  const cls = { id: classId, code: "" }; // the code arrives with the first read
  const acts = classActions(api, cls, toasts);
  const buttons = h("div.dash-actions", {}, acts.handout, acts.pause, acts.back, acts.reveal, acts.end);
  replace(root, h("main.dashboard", {}, h("header.dash-top", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"), head, buttons, presenterToggle()), summary, showing, board, cards));
  const byKey = new Map();
  let first = true;
  for (;;) {
    const started = performance.now();
    try {
      const view = await api.get();
      if (first) {
        first = false;
        cls.code = view.code;
        rememberClass(classId, { code: view.code, ended: view.ended });
        document.title = `Class ${view.code} · KAN Workbench`;
        renderHead(head, view);
      }
      acts.update(view);
      const n = view.students.length;
      summary.textContent = `${n} student${n === 1 ? "" : "s"}${view.handed_out ? " · copies handed out" : " · no copies yet"}${view.paused ? " · paused" : ""}${view.ended ? " · the class has ended" : ""}`;
      showing.textContent = view.follow?.name ? `Everyone is following ${view.follow.name}'s session.` : "";
      renderCards(cards, byKey, view.students, api, toasts);
      if (view.challenge) await renderBoard(board, api, view);
      if (view.ended) return;
    } catch (err) {
      summary.textContent = `Cannot read the class: ${err.message}`;
      if (err.status === 401 || err.status === 403 || err.status === 404) return;
    }
    // A fixed rate: the next read starts POLL_MS after this one started (its own time included).
    await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (performance.now() - started))));
  }
}

async function renderHead(head, view) {
  const code = h("span.dash-code", { "data-class-code": view.code }, view.code);
  const link = linkBlock(await joinLinks(view), { qr: false }); // the start overlay has the big QR
  if (view.source) rememberSession(view.source, "Challenge: the hidden formula");
  const sessionLabel = view.challenge ? "the hidden formula's session (yours only)" : "your session";
  const teacher = view.teacher_session ? h("a", { href: `/sessions/${encodeURIComponent(view.teacher_session.id)}` }, sessionLabel) : null;
  replace(head, h("h1", {}, "Class ", code), h("div.dash-join", {}, h("span.muted", {}, "Join at "), link.el), teacher);
}

/** Cards keyed by student, updated in place, reordered by progress. */
function renderCards(root, byKey, students, api, toasts) {
  if (!students.length) {
    replace(root, h("p.muted", {}, "No students yet: they join at the link above with the class code."));
    byKey.clear();
    return;
  }
  if (!byKey.size) root.replaceChildren();
  const seen = new Set();
  for (const st of [...students].sort(byProgress)) {
    const key = `${st.name}\u0000${st.joined}`;
    seen.add(key);
    let card = byKey.get(key);
    if (!card) byKey.set(key, (card = studentCard(st, api, toasts)));
    card.update(st);
    root.append(card.el); // appending in order moves each card to its place
  }
  for (const [key, card] of byKey) if (!seen.has(key)) (card.el.remove(), byKey.delete(key));
}

/** Complete formulas first, then the larger share of symbolic edges, fewer edges left, more
 *  steps. (`live_edges` counts spline edges still learning, `symbolic_edges` the snapped ones.) */
export function byProgress(a, b) {
  const left = (x) => (x.live_edges ?? 1e9) + (x.symbolic_edges || 0);
  const share = (x) => (left(x) < 1e9 && left(x) > 0 ? (x.symbolic_edges || 0) / left(x) : 0);
  return (b.complete - a.complete) || (share(b) - share(a)) || (left(a) - left(b)) || ((b.step || 0) - (a.step || 0)) || a.name.localeCompare(b.name);
}

/** A formula so far, for people: placeholders phi_l_i_j read as φ with subscripts. */
function readable(formula) {
  const sub = (d) => [...d].map((c) => "₀₁₂₃₄₅₆₇₈₉"[c]).join("");
  return prettyFormula(formula.replace(/phi_(\d+)_(\d+)_(\d+)/g, (_, l, i, j) => `φ${sub(l)},${sub(i)},${sub(j)}`));
}

function studentCard(st, api, toasts) {
  const name = h("h3.student-name");
  const facts = h("dl.student-facts");
  const formula = h("code.student-formula");
  const mini = h("div.mini");
  const open = h("a.button-link", { target: "_blank", rel: "noopener", title: "this student's session, read-only, in a new tab" }, "Open");
  const show = h("button", { type: "button", title: "every student follows this session" }, "Show to everyone");
  let current = st;
  show.addEventListener("click", async () => {
    try {
      await api.post("/follow", { session: current.session.id });
      toasts.show(`Everyone now follows ${current.name}'s session.`, "info", 4000);
    } catch (err) {
      toasts.error(err.message);
    }
  });
  const el = h("article.student-card", {}, name, facts, mini, formula, h("div.card-actions", {}, open, show));
  el.setAttribute("data-student", st.name);
  // A click anywhere on the card (but its buttons) opens the session read-only, like "Open".
  el.addEventListener("click", (ev) => {
    if (!ev.target.closest("a, button") && !open.hidden) window.open(open.href, "_blank", "noopener");
  });
  const update = (next) => {
    current = next;
    name.textContent = next.name;
    el.dataset.status = next.status || "none";
    replace(facts,
      fact("step", next.step ?? "–"), fact("test RMSE", next.test_rmse == null ? "–" : fmt(next.test_rmse)),
      fact("live edges", next.live_edges ?? "–"), fact("symbolic", next.symbolic_edges ?? "–"));
    el.dataset.progress = String(next.complete ? 1 : 0);
    formula.title = next.formula ? readable(next.formula) : "";
    formula.textContent = next.formula ? readable(next.formula) : next.session ? "no formula yet" : "no copy yet (hand out copies)";
    const shape = JSON.stringify([next.layers, next.live_edges, next.symbolic_edges, !!next.session]);
    if (mini.dataset.shape !== shape) (replace(mini, miniDiagram(next)), (mini.dataset.shape = shape));
    const viewer = next.session?.viewer_token;
    open.hidden = !viewer;
    if (viewer) open.href = `/sessions/${encodeURIComponent(next.session.id)}?view=${encodeURIComponent(viewer)}`;
    show.hidden = !next.session;
  };
  return { el, update };
}

const fact = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, String(value)));

/** The student's network at a glance: nodes in rows (inputs at the bottom, as the diagram
 *  draws them), an edge per line — blue while it is a spline, red once snapped to a formula,
 *  faint when pruned. A large network (no per-edge states) gets a bar per layer instead. Built
 *  from the card's numbers and letters only: nothing from the server becomes markup. */
export function miniDiagram(card) {
  const layers = card.layers;
  if (!layers?.length) return miniCounts(card.live_edges || 0, card.symbolic_edges || 0, !!card.session);
  const W = 132, GAP = 30, PAD = 6;
  const H = PAD * 2 + GAP * layers.length;
  const live = layers.reduce((n, l) => n + l.live, 0), sym = layers.reduce((n, l) => n + l.symbolic, 0);
  const pruned = layers.reduce((n, l) => n + l.pruned, 0);
  const svg = s("svg.mini-diagram", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `${live} spline edges, ${sym} symbolic, ${pruned} pruned` });
  const y = (row) => H - PAD - row * GAP;
  const x = (k, n) => (W * (k + 0.5)) / n;
  const cls = { l: "mini-live", s: "mini-sym", p: "mini-pruned" };
  layers.forEach((l, row) => {
    if (typeof l.edges === "string" && l.edges.length === l.inputs * l.outputs) {
      for (let k = 0; k < l.edges.length; k++) {
        const i = Math.floor(k / l.outputs), j = k % l.outputs;
        svg.append(s("line", { x1: x(i, l.inputs), y1: y(row), x2: x(j, l.outputs), y2: y(row + 1), class: cls[l.edges[k]] || "mini-pruned" }));
      }
    } else {
      const total = l.live + l.symbolic + l.pruned || 1;
      let at = 4;
      for (const [n, c] of [[l.symbolic, "mini-sym"], [l.live, "mini-live"], [l.pruned, "mini-pruned"]]) {
        const w = ((W - 8) * n) / total;
        if (w > 0) svg.append(s("rect", { x: at, y: y(row + 1) + 6, width: w, height: GAP - 12, class: `${c} mini-bar` }));
        at += w;
      }
    }
  });
  const rows = [...layers.map((l) => l.inputs), layers[layers.length - 1].outputs];
  rows.forEach((n, row) => {
    const r = n > 24 ? 1.2 : 2.6;
    for (let k = 0; k < n; k++) svg.append(s("circle", { cx: x(k, n), cy: y(row), r, class: "mini-node" }));
  });
  return svg;
}

/** Before the first figures (or with no copy): one square per edge left, red when symbolic. */
function miniCounts(live, symbolic, hasCopy) {
  const n = Math.min(live + symbolic, 48);
  const per = 12;
  const cols = Math.min(n, 16) || 1;
  const rows = Math.ceil(n / cols) || 1;
  const label = hasCopy ? `${live} spline edges, ${symbolic} symbolic` : "no copy yet";
  const svg = s("svg.mini-diagram", { viewBox: `0 0 ${cols * per} ${rows * per}`, width: cols * per, height: rows * per, role: "img", "aria-label": label });
  for (let k = 0; k < n; k++) {
    svg.append(s("rect", { x: (k % cols) * per + 1, y: Math.floor(k / cols) * per + 1, width: per - 2, height: per - 2, rx: 2, class: k < symbolic ? "sym-edge" : "live-edge" }));
  }
  return svg;
}

async function renderBoard(board, api, view) {
  let rows;
  try {
    rows = await api.get("/leaderboard");
  } catch {
    return;
  }
  board.hidden = false;
  const revealed = view.revealed ? h("p.revealed", {}, "The answer: ", h("code", {}, prettyFormula(view.revealed.formula))) : null;
  replace(board, h("h2", {}, "Leaderboard"), h("p.muted", {}, "Ranked by test NRMSE, then complexity."), revealed, boardTable(rows));
}

/** The leaderboard rows (best first) as a table; `me` marks the reader's own row. */
export function boardTable(rows, me = null) {
  const body = rows.map((r, k) => h("tr", { "data-rank": k + 1, class: r.name === me ? "me" : null },
    h("td", {}, String(k + 1)), h("td", {}, r.name), h("td.num", {}, r.test_nrmse == null ? "–" : fmt(r.test_nrmse)),
    h("td.num", {}, r.complexity ?? "–"), h("td", {}, h("code", {}, r.formula ? readable(r.formula) : "–"))));
  return h("table.board", {}, h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "name"), h("th", {}, "test NRMSE"), h("th", {}, "complexity"), h("th", {}, "formula"))), h("tbody", {}, body));
}
