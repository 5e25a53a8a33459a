// The teacher's side inside a session page: "Start a class" (a code, the join link on the LAN
// and a QR code fill the screen; hand out copies, dashboard, pause all, end), and the owner's
// selection mirrored to every follower and viewer (POST …/focus).

import { h } from "../dom.js";
import { ClassApi, classOfSession, createClass, postFocus, rememberClass } from "./api.js";
import { classActions } from "./actions.js";
import { joinLinks, linkBlock } from "./share.js";

const POLL_MS = 1500; // a fixed rate: each read starts this long after the previous one started

/** The owner's "Start a class" button (reads "Class ABC123" once a class runs). */
export function classButton({ sessionId, ownerToken, toasts }) {
  const btn = h("button.start-class", { type: "button", title: "students join with a code and follow this session live" });
  const label = () => {
    const c = classOfSession(sessionId);
    btn.textContent = c ? `Class ${c.code}` : "Start a class";
  };
  btn.addEventListener("click", async () => {
    let cls = classOfSession(sessionId);
    if (!cls) {
      btn.disabled = true;
      try {
        const created = await createClass(sessionId, ownerToken);
        cls = rememberClass(created.id, { ...created, session: sessionId, created: Date.now() });
      } catch (err) {
        toasts.error(`Could not start a class: ${err.message}`);
        return;
      } finally {
        btn.disabled = false;
      }
    }
    label();
    openClassOverlay(cls, toasts, label);
  });
  label();
  return btn;
}

/** Send the owner's selection to followers: a class's students and plain viewer links. */
export function mirrorFocus(store, sessionId, ownerToken) {
  let timer = null;
  store.on("selection", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const sel = store.selection;
      const key = (kind) => (sel?.kind === kind ? sel.key.split(",").map(Number) : null);
      postFocus(sessionId, ownerToken, { edge: key("edge"), node: key("node") }).catch(() => {
        // a follower then simply keeps the previous focus; the teacher's page is unaffected
      });
    }, 80);
  });
}

/** The full-screen class overlay: code, join links + QR, joined students, class actions. */
export async function openClassOverlay(cls, toasts, onChange = () => {}, onClose = () => {}) {
  const api = new ClassApi(cls.id, cls.teacher_token);
  const joined = h("p.class-joined", { role: "status" }, "Waiting for students to join…");
  const names = h("ul.class-names", { "aria-label": "students" });
  let stop = false;
  const close = () => {
    stop = true;
    overlay.remove();
    onClose();
  };
  const acts = classActions(api, cls, toasts, { onEnded: () => (onChange(), close()) });
  const dashboard = h("a.button-link", { href: `/classes/${encodeURIComponent(cls.id)}`, target: "_blank", rel: "noopener" }, "Dashboard");
  const closeBtn = h("button.close-dialog", { type: "button", onclick: close, "aria-label": "close the class screen" }, "Close");
  const links = h("div.class-links", {}, h("p.muted", {}, "Finding this machine's address…"));
  const overlay = h(
    "div.class-overlay",
    { role: "dialog", "aria-modal": "true", "aria-label": "class" },
    h("div.class-main", {},
      h("p.class-lead", {}, "Join the class: open the link (or scan the code) and type"),
      h("div.class-code", { "data-class-code": cls.code, "aria-label": `class code ${[...cls.code].join(" ")}` }, cls.code),
      links, joined, names,
      h("div.class-actions", {}, acts.handout, dashboard, acts.pause, acts.back, acts.end, closeBtn)),
  );
  overlay.addEventListener("keydown", (ev) => ev.key === "Escape" && close());
  document.body.append(overlay);
  closeBtn.focus();

  const block = linkBlock(await joinLinks(cls));
  links.replaceChildren(block.el);
  overlay.querySelector(".class-main").after(h("div.class-qr", {}, block.el.querySelector("img.qr")));

  while (!stop) {
    const started = performance.now();
    try {
      const view = await api.get();
      acts.update(view);
      const n = view.students.length;
      joined.textContent = n ? `${n} student${n === 1 ? "" : "s"} joined${view.handed_out ? " · copies handed out" : ""}` : "Waiting for students to join…";
      names.replaceChildren(...view.students.slice(0, 40).map((s) => h("li", {}, s.name)));
    } catch (err) {
      joined.textContent = `Cannot read the class: ${err.message}`;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (performance.now() - started))));
  }
}
