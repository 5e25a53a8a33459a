// Readable messages: errors from the server, warnings from edits, and notices.

import { h } from "../dom.js";

export class Toasts {
  constructor(root) {
    this.root = root;
  }

  show(text, kind = "info", ms = 5000) {
    const el = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, h("span", {}, text), h("button.close", { type: "button", "aria-label": "Dismiss", onclick: () => el.remove() }, "×"));
    this.root.append(el);
    while (this.root.children.length > 4) this.root.firstChild.remove();
    if (ms) setTimeout(() => el.remove(), kind === "error" ? ms * 2 : ms);
    return el;
  }

  error(text) {
    return this.show(text, "error");
  }
}
