// Class mode's entry points for main.js: the /classes/{id} page (the teacher's dashboard, or a
// student's way into the class) and the hooks on a session page (start a class, mirror the
// owner's selection; a student's follow bar when the URL carries ?class=).

import { h, replace } from "../dom.js";
import { classTokens } from "./api.js";
import { renderDashboard } from "./dashboard.js";
import { enterClass, ClassBar } from "./follow.js";
import { classButton, mirrorFocus } from "./start.js";
import { ViewerFollow } from "./viewer.js";
import { renderChallengeForm } from "./challenge.js";

export { renderJoin } from "./join.js";

export function renderClassPage(root, classId, toasts) {
  if (classId === "new") return renderChallengeForm(root, toasts);
  const t = classTokens(classId);
  if (t?.teacher_token) return renderDashboard(root, classId, t.teacher_token, toasts);
  if (t?.student_token) return enterClass(root, classId, t.student_token);
  replace(root, h("main.join-page", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"),
    h("div.panel", {}, h("h1", {}, "Class"), h("p.error", { role: "alert" }, "This browser has not joined this class."),
      h("p", {}, h("a", { href: "/join" }, "Join with the class code")))));
}

/** On a session page: a student's bar (?class=); the owner's class button and focus mirror;
 *  or, for a plain viewer link, a bar that follows the owner's selection. */
export function classSessionHooks({ sessionId, store, controller, regions, ownerToken, toasts }) {
  const classId = new URLSearchParams(location.search).get("class");
  const bar = classId ? new ClassBar({ classId, sessionId, store, controller, regions }) : null;
  if (bar?.ok) {
    if (ownerToken) mirrorFocus(store, sessionId, ownerToken); // a student's copy, shown to all
    return;
  }
  if (ownerToken) {
    regions.share.append(classButton({ sessionId, ownerToken, toasts }));
    mirrorFocus(store, sessionId, ownerToken);
  } else {
    new ViewerFollow({ store, controller, regions });
  }
}
