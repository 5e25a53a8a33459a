// Links other machines can open: the server's LAN addresses (GET /api/lan), never 127.0.0.1,
// with a large QR code; and when the server listens on loopback only, how to fix that.
// Used by the owner's share dialog (viewer link) and the start-a-class overlay.

import { h } from "../dom.js";
import { lanInfo, qrSrc } from "./api.js";

const LOOPBACK = /^(localhost|127\.|\[::1\]$|::1$)/;

/** Absolute URLs for `path` on every address students can reach, best first; plus a hint when
 *  there is none (the server is bound to 127.0.0.1). */
export async function reachableUrls(path) {
  let lan = null;
  try {
    lan = await lanInfo();
  } catch {
    // an older server without /api/lan: the page's own address is all we know
  }
  const urls = [];
  const here = location.hostname;
  if (!LOOPBACK.test(here)) urls.push(location.origin + path);
  for (const addr of lan?.addresses || []) {
    const host = addr.includes(":") ? `[${addr}]` : addr;
    const url = `${location.protocol}//${host}:${lan.port}${path}`;
    if (!urls.includes(url)) urls.push(url);
  }
  const hint = urls.length ? null : lan?.hint || "Other machines cannot reach this address; start the server with kan-workbench serve --host 0.0.0.0";
  return { urls, hint, local: location.origin + path };
}

/** Where students join class `cls`: the server's join_url first unless it is a loopback one
 *  (then the page's LAN addresses, or the hint). */
export async function joinLinks(cls) {
  const url = new URL(cls.join_url || `/join?code=${cls.code}`, location.href);
  const found = await reachableUrls(url.pathname + url.search);
  if (!LOOPBACK.test(url.hostname) && !found.urls.includes(url.href)) found.urls.unshift(url.href);
  return found;
}

/** The links (first one large), a QR code of the first, and the loopback hint if any. */
export function linkBlock({ urls, hint, local }, { qr: withQr = true } = {}) {
  const best = urls[0] || local;
  const list = h("ul.lan-links", { "aria-label": "links" }, (urls.length ? urls : [local]).map((u) => h("li", {}, h("a", { href: u, target: "_blank", rel: "noopener" }, u))));
  const qr = withQr ? h("img.qr", { src: qrSrc(best), alt: `QR code of ${best}`, width: 320, height: 320 }) : null;
  const fix = "kan-workbench serve --host 0.0.0.0";
  const note = hint ? h("p.lan-hint", { role: "note" }, hint, hint.includes(fix) ? "" : h("code", {}, ` ${fix}`)) : null;
  return { el: h("div.link-block", {}, list, note, qr), best };
}

/** A modal dialog: title, content, a Close button; Escape and a click outside close it. */
export function modal(title, ...content) {
  const close = () => wrap.remove();
  const closeBtn = h("button.close-dialog", { type: "button", onclick: close }, "Close");
  const box = h("div.dialog-box", { role: "dialog", "aria-modal": "true", "aria-label": title }, h("header.dialog-head", {}, h("h2", {}, title), closeBtn), ...content);
  const wrap = h("div.dialog-backdrop", {}, box);
  wrap.addEventListener("click", (ev) => ev.target === wrap && close());
  wrap.addEventListener("keydown", (ev) => ev.key === "Escape" && close());
  document.body.append(wrap);
  closeBtn.focus();
  return { wrap, box, close };
}

/** The owner's viewer link: LAN links, a QR code and Copy. */
export async function openShareDialog(sessionId, viewerToken, toasts) {
  const path = `/sessions/${encodeURIComponent(sessionId)}?view=${encodeURIComponent(viewerToken)}`;
  const found = await reachableUrls(path);
  const { el, best } = linkBlock(found);
  const copy = h("button.primary", { type: "button" }, "Copy link");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(best);
      toasts.show("Viewer link copied.", "info", 3000);
    } catch {
      toasts.show(`Viewer link: ${best}`, "info", 0);
    }
  });
  modal("Viewer link", h("p", {}, "A read-only live view of this session, for a projector or a class. Anyone with the link can watch; nobody can edit."), el, h("div.panel-actions", {}, copy));
}
