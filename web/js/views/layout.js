// The workbench page skeleton: top bar, toolbar (owner only), diagram + loss + formula on the
// left, inspector + history on the right. Returns the regions the views mount into.

import { h, prettyFormula } from "../dom.js";
import { widthText } from "./discover.js";

export function buildWorkbench(root, { isOwner }) {
  const r = {
    title: h("div.title"),
    status: h("div.status-area"),
    share: h("div.share"),
    toolbar: isOwner ? h("div.toolbar", { role: "toolbar", "aria-label": "training and edits" }) : null,
    diagram: h("div.diagram"),
    loss: h("section.loss", { "aria-label": "loss" }),
    formula: h("section.formula", { "aria-label": "formula" }),
    inspector: h("section.inspector", { "aria-label": "inspector" }),
    history: h("section.history-panel", { "aria-label": "history" }),
    discover: h("section.discover", { "aria-label": "discover" }),
    guide: isOwner ? h("nav.guide", { "aria-label": "recipe guide" }) : null,
  };
  const legend = h(
    "div.legend",
    { "aria-hidden": "true" },
    h("span", {}, h("i.key.active"), "learned curve on each edge (darker = more important)"),
    h("span", {}, h("i.key.symbolic"), "snapped to a formula"),
    h("span", {}, h("i.key.pruned"), "pruned"),
    h("span.muted", {}, "click a box to inspect it"),
  );
  const banner = isOwner ? null : h("div.viewer-banner", { role: "note" }, "View only: you are watching this session live. Editing is done by its owner.");
  root.replaceChildren(
    h(
      "div.wb",
      { class: isOwner ? "wb owner" : "wb viewer" },
      h("header.topbar", {}, h("a.brand", { href: "/" }, "KAN Workbench"), r.title, r.status, r.share),
      banner,
      r.toolbar,
      r.guide,
      h(
        "main.body",
        {},
        h("section.left", {}, r.diagram, legend, h("div.bottom-row", {}, r.loss, r.formula)),
        h("aside.side", {}, r.discover, r.inspector, r.history),
      ),
    ),
  );
  return r;
}

/** The title area: preset title (when known), formula or data source, width and grid. */
export function renderTitle(el, session, title) {
  const src = session.source || {};
  const what = src.kind === "csv" ? `CSV → ${src.target ?? "target"}` : prettyFormula(src.formula || "");
  el.replaceChildren(
    h("span.session-title", {}, title || (src.kind === "csv" ? "Your data" : "Your formula")),
    h("code.session-formula", {}, what || ""),
    h("span.session-shape", {}, `width ${widthText(session.width)} · grid ${session.grid}`),
  );
}

/** The owner's "Viewer link" button: copies /sessions/{id}?view=<viewer token>. */
export function renderShare(el, id, viewerToken, toasts) {
  if (!viewerToken) return;
  const url = `${location.origin}/sessions/${id}?view=${viewerToken}`;
  const btn = h("button", { type: "button", title: "a read-only link for a projector or a class" }, "Viewer link");
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(url);
      toasts.show(`Viewer link copied: ${url}`, "info", 8000);
    } catch {
      toasts.show(`Viewer link: ${url}`, "info", 0);
    }
  });
  el.replaceChildren(btn);
}
