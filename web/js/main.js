// Wiring only: pick the page from the URL, create the store, API, controller and views, and
// connect the stream and the keyboard.

import { h } from "./dom.js";
import { SessionApi, Stream, listPresets } from "./api.js";
import { Store } from "./state.js";
import { Controller } from "./controller.js";
import { rememberSession, sessionTokens } from "./tokens.js";
import { Toasts } from "./views/toasts.js";
import { renderGallery } from "./views/gallery.js";
import { buildWorkbench, renderTitle, renderShare } from "./views/layout.js";
import { NetworkView } from "./views/network.js";
import { LossChart } from "./views/loss_chart.js";
import { Inspector } from "./views/inspector.js";
import { FormulaView } from "./views/formula.js";
import { HistoryView } from "./views/history.js";
import { StatusView, Toolbar } from "./views/controls.js";
import { DiscoverView } from "./views/discover.js";
import { GuideView } from "./views/guide.js";
import { LookForView, RegionsView } from "./views/regions.js";
import { TraceView } from "./views/trace.js";
import { CompareView } from "./views/compare.js";
import { DiagramTools } from "./views/export.js";
import { renderClassPage, renderJoin, classSessionHooks } from "./class/page.js";

const app = document.getElementById("app");
const toasts = new Toasts(document.getElementById("toasts"));
const match = /^\/sessions\/([^/]+)\/?$/.exec(location.pathname);
const classMatch = /^\/classes\/([^/]+)\/?$/.exec(location.pathname);
if (match) openSession(decodeURIComponent(match[1]));
else if (location.pathname === "/join") renderJoin(app);
else if (classMatch) renderClassPage(app, decodeURIComponent(classMatch[1]), toasts);
else renderGallery(app, toasts);

// An owner link (`kan-workbench open`, server.client.show) carries the tokens in the fragment,
// which never reaches a server or a log: keep them like a session created here, then drop them
// from the address bar.
function adoptOwnerLink(id) {
  const link = /^#owner=([\w-]+)(?:&viewer=([\w-]+))?$/.exec(location.hash);
  if (!link) return;
  rememberSession({ id, owner_token: link[1], viewer_token: link[2] || null }, "Opened model");
  history.replaceState(null, "", location.pathname + location.search);
}

async function openSession(id) {
  adoptOwnerLink(id);
  const viewToken = new URLSearchParams(location.search).get("view");
  const mine = sessionTokens(id);
  const token = viewToken || mine?.owner_token;
  if (!token) return noAccess("This browser holds no token for this session. Ask its owner for the viewer link.");
  const api = new SessionApi(id, token);
  let snap;
  try {
    snap = await api.get();
  } catch (err) {
    return noAccess(err.status === 404 ? "This session does not exist (any more)." : err.message);
  }
  const store = new Store({ sessionId: id, role: viewToken ? "viewer" : "owner" });
  const controller = new Controller(store, api, toasts);
  // A run the server stopped on a plateau (TrainSettings.stop_on_plateau) says so.
  store.on("event", (ev) => ev.kind === "paused" && ev.data?.reason === "plateau" && toasts.show(`Training ${ev.message}.`, "info", 8000));
  const regions = buildWorkbench(app, { isOwner: store.isOwner });
  const select = (sel) => controller.select(sel);
  new NetworkView(regions.diagram, store, { onSelect: select });
  new DiagramTools(regions.diagram, store, api, toasts);
  new LossChart(regions.loss, store);
  new Inspector(regions.inspector, store, controller);
  new FormulaView(regions.formula, store);
  new HistoryView(regions.history, store);
  new DiscoverView(regions.discover, store, controller);
  new StatusView(regions.status, store);
  new LookForView(regions.discover, store);
  new RegionsView(regions.history, store, controller);
  new TraceView(regions.history, store, controller);
  new CompareView(regions.history, store, controller);
  if (store.isOwner) {
    new Toolbar(regions.toolbar, store, controller);
    new GuideView(regions.guide, store);
    renderShare(regions.share, id, mine?.viewer_token, toasts);
    bindKeys(store, controller);
  }
  classSessionHooks({ sessionId: id, store, controller, regions, ownerToken: store.isOwner ? token : null, toasts });
  const title = await presetTitle(snap.source);
  const showTitle = () => renderTitle(regions.title, store.session, title || mine?.title);
  store.on("snapshot", showTitle);
  store.on("meta", showTitle);
  store.applySnapshot(snap);
  controller.loadSelection();
  controller.loadDiscover();
  document.title = `${title || "Session"} · KAN Workbench`;

  const stream = new Stream(id, token, {
    onMessage: (msg) => dispatch(store, msg),
    onState: (state) => store.setConnection(state),
    onRefused: (why) => toasts.error(why),
  });
  window.__kanwb = { store, controller, stream }; // for the browser tests and the console
}

function dispatch(store, msg) {
  if (msg.type === "snapshot") store.applySnapshot(msg);
  else if (msg.type === "metrics") store.applyMetrics(msg);
  else if (msg.type === "edges") store.applyEdges(msg);
  else if (msg.type === "event") store.applyEvent(msg);
  else if (msg.type === "discover") store.applyDiscover(msg);
  else if (msg.type === "focus") store.applyFocus(msg);
}

async function presetTitle(source) {
  if (source?.kind !== "preset") return null;
  try {
    return (await listPresets()).find((p) => p.name === source.preset)?.title ?? null;
  } catch {
    return null;
  }
}

const NOT_TEXT = new Set(["checkbox", "radio", "range", "button", "submit", "color", "file"]);

function bindKeys(store, controller) {
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    const mod = ev.ctrlKey || ev.metaKey;
    const typing = t.closest?.("textarea, [contenteditable]") || (t.tagName === "INPUT" && !NOT_TEXT.has(t.type));
    if (typing) return; // text fields keep their own keys, Ctrl+Z included
    // A clicked button, select, checkbox or slider keeps the focus: plain keys (space, arrows)
    // stay its own, but shortcuts with Ctrl/⌘ (undo, redo) and Escape still reach the page.
    if (t.closest?.("button, a, select, input") && !mod && ev.key !== "Escape") return;
    if (ev.key === " " && !mod) controller.togglePlay();
    else if (ev.key === "ArrowRight" && !mod) controller.step(1);
    else if (ev.key === "Escape") controller.select(null);
    else if (mod && ev.key.toLowerCase() === "z") (ev.shiftKey ? controller.redo() : controller.undo());
    else if (mod && ev.key.toLowerCase() === "y") controller.redo();
    else return;
    ev.preventDefault();
  });
}

function noAccess(message) {
  app.replaceChildren(
    h("div.no-access", {}, h("h1", {}, "KAN Workbench"), h("p.error", { role: "alert" }, message), h("p", {}, h("a", { href: "/" }, "Back to the gallery"))),
  );
}
