// A plain viewer link (/sessions/{id}?view=…, no class): the page mirrors the owner's selected
// edge or node (the stream's focus frames, and the snapshot's focus) as a class follower does,
// with the same toggle: "Look around on my own" stops mirroring (so does a click of the viewer's
// own), "Back to teacher" goes back to the owner's selection.

import { h, replace } from "../dom.js";

const HELD = "While you follow, the owner's screen shows the candidates. Press \u201cLook around on my own\u201d to fit them here.";

/** The selection a focus frame ({edge, node}) stands for, or null. */
export function focusSelection(f) {
  if (f?.edge) return { kind: "edge", key: f.edge.join(",") };
  if (f?.node) return { kind: "node", key: f.node.join(",") };
  return null;
}

/** A selection as one comparable string ("edge:0,1,0"), or null. */
export const selKey = (sel) => (sel ? `${sel.kind}:${sel.key}` : null);

export class ViewerFollow {
  /** `regions` from buildWorkbench; `controller.select` applies the owner's focus. */
  constructor({ store, controller, regions }) {
    Object.assign(this, { store, controller, own: false, applying: false, focus: null });
    controller.suggestionsHeld = () => (this.own ? null : HELD);
    this.who = h("span.follow-who", { role: "status" });
    this.toggle = h("button.look-around", { type: "button", "aria-pressed": "false", title: "click around the diagram yourself; the owner's selection no longer moves yours" }, "Look around on my own");
    this.back = h("button.back-to-teacher", { type: "button", hidden: true, title: "follow the session owner's selection again" }, "Back to teacher");
    this.toggle.addEventListener("click", () => this.setOwn(!this.own));
    this.back.addEventListener("click", () => this.setOwn(false));
    const bar = regions.classbar;
    bar.hidden = false;
    bar.classList.add("viewer-follow");
    bar.setAttribute("role", "region");
    bar.setAttribute("aria-label", "following the owner");
    replace(bar, this.who, h("span.follow-actions", {}, this.toggle, this.back));
    store.on("focus", (f) => this.applyFocus(f));
    // A snapshot without a focus keeps what the link's hash selected (#edge=…) until the owner
    // selects something; a focus frame (the owner's click, or deselect) always applies.
    store.on("snapshot", () => focusSelection(store.session?.focus) && this.applyFocus(store.session.focus));
    store.on("selection", () => this.onSelection());
    this.render();
  }

  setOwn(own) {
    this.own = own;
    this.toggle.setAttribute("aria-pressed", String(own));
    if (!own) this.applyFocus(this.focus);
    const sel = this.store.selection;
    if (own && sel?.kind === "edge" && this.store.edge(sel.key)?.state === "active") this.controller.loadSuggestions(sel.key);
    this.render();
  }

  applyFocus(f) {
    this.focus = f || null;
    if (this.own) return;
    const sel = focusSelection(this.focus);
    if (selKey(sel) === selKey(this.store.selection)) return;
    this.applying = true;
    try {
      this.controller.select(sel);
    } finally {
      this.applying = false;
    }
  }

  /** A click of the viewer's own while following: they are looking around now. */
  onSelection() {
    if (this.applying || this.own) return;
    if (selKey(this.store.selection) !== selKey(focusSelection(this.focus))) this.setOwn(true);
  }

  render() {
    this.who.textContent = this.own ? "Looking around on your own" : "Following the owner's selection";
    this.back.hidden = !this.own;
  }
}
