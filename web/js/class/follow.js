// A student in a class: the bar above the session they watch (the teacher's, or a student's the
// teacher shows) or work on (their own copy). Following mirrors the teacher's selected edge or
// node (focus frames); "Look around on my own" stops that until "Back to teacher". The bar says
// what the teacher is doing, from the stream's status. Polls the class state every 1.5 s.

import { h, replace } from "../dom.js";
import { rememberSession } from "../tokens.js";
import { ClassApi, classTokens, copyUrl, followUrl } from "./api.js";
import { boardTable } from "./dashboard.js";
import { modal } from "./share.js";
import { focusSelection, selKey } from "./viewer.js";

const POLL_MS = 1500;
const HELD = "While you follow, the teacher's screen shows the candidates. Press \u201cLook around on my own\u201d to fit them here.";

/** /classes/{id} for a student: go where the class is (the followed session), or wait. */
export async function enterClass(root, classId, token) {
  const api = new ClassApi(classId, token);
  const note = h("p.muted", { role: "status" }, "Joining…");
  replace(root, h("main.join-page", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"), h("div.panel", {}, h("h1", {}, "Class"), note)));
  for (;;) {
    try {
      const st = await api.get("/state");
      if (st.ended) return (note.textContent = "This class has ended.");
      if (st.follow) return location.replace(followUrl(classId, st.follow));
      if (st.me?.session) return openCopy(classId, st.me.session);
      note.textContent = "You are in. Waiting for the teacher to share a session…";
    } catch (err) {
      if (err.status === 401 || err.status === 403 || err.status === 404) return (note.textContent = `Cannot enter this class: ${err.message}`);
      note.textContent = `Cannot reach the class: ${err.message}; trying again…`;
    }
    await sleep(POLL_MS);
  }
}

/** Become the owner of the copy handed out to this student, and open it. */
function openCopy(classId, session) {
  rememberSession(session, "My copy (class)");
  location.assign(copyUrl(classId, session.id));
}

export class ClassBar {
  /** `regions` from buildWorkbench; `controller.select` applies the teacher's focus. */
  constructor({ classId, sessionId, store, controller, regions }) {
    const tokens = classTokens(classId);
    this.ok = !!tokens?.student_token;
    if (!this.ok) return;
    Object.assign(this, { classId, sessionId, store, controller, own: false, applying: false, focus: null, state: null });
    this.onCopy = store.isOwner;
    controller.suggestionsHeld = () => (this.own || this.onCopy ? null : HELD);
    this.api = new ClassApi(classId, tokens.student_token);
    this.who = h("span.follow-who");
    this.doing = h("span.follow-doing", { role: "status", "aria-live": "polite" });
    this.note = h("span.follow-note");
    this.toggle = h("button.look-around", { type: "button", "aria-pressed": "false", title: "click around the diagram yourself; the teacher's selection no longer moves yours" }, "Look around on my own");
    this.back = h("button.back-to-teacher", { type: "button", hidden: true }, "Back to teacher");
    this.board = h("button.leaderboard-btn", { type: "button", hidden: true, title: "the class's formulas, ranked" }, "Leaderboard");
    this.board.addEventListener("click", () => this.showBoard());
    this.copy = h("button.primary.open-copy", { type: "button", hidden: true, title: "your own session, a copy of the teacher's: you can train and edit it" }, "Open my copy");
    this.toggle.addEventListener("click", () => this.setOwn(!this.own));
    this.back.addEventListener("click", () => this.backToTeacher());
    this.copy.addEventListener("click", () => this.state?.me?.session && openCopy(classId, this.state.me.session));
    regions.classbar.hidden = false;
    regions.classbar.setAttribute("role", "region");
    regions.classbar.setAttribute("aria-label", "class");
    if (regions.banner) regions.banner.hidden = true; // the bar says it (and more)
    replace(regions.classbar, h("span.class-tag", {}, `Class ${tokens.code || ""}`.trim()), this.who, this.doing, this.note,
      h("span.follow-actions", {}, this.onCopy ? null : this.toggle, this.back, this.board, this.copy));
    store.on("status", () => this.renderDoing());
    store.on("focus", (f) => this.applyFocus(f));
    store.on("snapshot", () => store.session?.focus && this.applyFocus(store.session.focus));
    store.on("selection", () => this.onSelection());
    this.render();
    this.poll();
  }

  setOwn(own) {
    this.own = own;
    this.toggle.setAttribute("aria-pressed", String(own));
    if (!own && this.focus) this.applyFocus(this.focus);
    const sel = this.store.selection;
    if (own && sel?.kind === "edge" && this.store.edge(sel.key)?.state === "active") this.controller.loadSuggestions(sel.key);
    this.render();
  }

  backToTeacher() {
    const follow = this.state?.follow;
    if (this.onCopy || (follow && follow.session !== this.sessionId)) {
      if (follow) location.assign(followUrl(this.classId, follow));
      return;
    }
    this.setOwn(false);
  }

  applyFocus(f) {
    this.focus = f;
    if (this.own || this.onCopy) return;
    this.applying = true;
    try {
      this.controller.select(focusSelection(f));
    } finally {
      this.applying = false;
    }
  }

  /** A click of the student's own while following: they are looking around now. */
  onSelection() {
    if (this.applying || this.own || this.onCopy) return;
    if (selKey(this.store.selection) !== selKey(focusSelection(this.focus))) this.setOwn(true);
  }

  render() {
    const st = this.state;
    const shown = st?.follow?.name;
    if (this.onCopy) this.who.textContent = "Your own copy";
    else if (this.own) this.who.textContent = "Looking around on your own";
    else this.who.textContent = shown ? `Following ${shown}'s session (shown by the teacher)` : "Following the teacher";
    const elsewhere = st?.follow && st.follow.session !== this.sessionId;
    this.back.hidden = !((this.onCopy && st?.follow) || this.own || elsewhere);
    this.copy.hidden = this.onCopy || !st?.me?.session;
    this.board.hidden = !st?.challenge;
    const notes = [];
    if (st?.ended) notes.push("The class has ended.");
    else if (st?.paused) notes.push("The teacher paused the class.");
    if (!this.onCopy && st?.handed_out && st?.me?.session) notes.push("Your copy is ready.");
    if (st?.revealed) notes.push(`The answer: ${st.revealed.formula}`);
    this.note.textContent = notes.join(" ");
    if (this.onCopy) this.honourPause(!!st?.paused && !st?.ended);
    this.renderDoing();
  }

  /** While the teacher pauses the class, the copy's Play is off (the server paused it too). */
  honourPause(paused) {
    const play = document.querySelector(".toolbar button.play");
    if (!play || play.disabled === paused) return;
    play.disabled = paused;
    if (paused) play.title = "the teacher paused the class";
  }

  renderDoing() {
    const s = this.store;
    if (this.onCopy) {
      this.doing.textContent = "";
      return;
    }
    const who = this.state?.follow?.name || "The teacher";
    const text = {
      training: `${who} is training (step ${s.step})`,
      paused: `${who} paused training at step ${s.step}`,
      idle: `${who} has not started training yet`,
      error: `${who}'s training stopped with an error`,
    }[s.status] || "";
    if (this.doing.textContent !== text) this.doing.textContent = text;
    this.doing.dataset.status = s.status;
  }

  async showBoard() {
    try {
      const rows = await this.api.get("/leaderboard");
      const me = this.state?.me?.name;
      modal("Leaderboard", h("p.muted", {}, "Ranked by test NRMSE (the error on test data over the spread of the target), then complexity."), boardTable(rows, me));
    } catch (err) {
      this.note.textContent = `Cannot read the leaderboard: ${err.message}`;
    }
  }

  async poll() {
    for (;;) {
      try {
        this.state = await this.api.get("/state");
        const follow = this.state.follow;
        if (!this.onCopy && !this.own && follow && follow.session !== this.sessionId) {
          return location.replace(followUrl(this.classId, follow)); // the teacher shows another session
        }
        this.render();
        if (this.state.ended) return;
      } catch (err) {
        this.note.textContent = `Cannot reach the class: ${err.message}`;
        if (err.status === 401 || err.status === 403 || err.status === 404) return;
      }
      await sleep(POLL_MS);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
