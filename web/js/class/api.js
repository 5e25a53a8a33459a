// Class mode's REST calls (docs/classes.md) and the class tokens this browser holds. A teacher
// keeps the class's teacher token; a student keeps their student token (and, after hand-out,
// their copy's owner token through tokens.js, like any session they own).

import { request } from "../api.js";

const KEY = "kanwb.classes";

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}");
  } catch {
    return {};
  }
}

/** Merge `entry` into what this browser remembers of class `id`. */
export function rememberClass(id, entry) {
  const all = load();
  all[id] = { ...(all[id] || {}), ...entry, id };
  localStorage.setItem(KEY, JSON.stringify(all));
  return all[id];
}

export function classTokens(id) {
  return load()[id] || null;
}

/** The class this browser teaches from session `sessionId` (the newest one not ended), if any. */
export function classOfSession(sessionId) {
  const mine = Object.values(load()).filter((c) => c.teacher_token && c.session === sessionId && !c.ended);
  return mine.sort((a, b) => (b.created || 0) - (a.created || 0))[0] || null;
}

export const createClass = (sessionId, ownerToken) =>
  request("POST", "/api/classes", { token: ownerToken, body: { session: sessionId } });
export const joinClass = (code, name) => request("POST", "/api/classes/join", { body: { code, name } });
export const lanInfo = () => request("GET", "/api/lan");
export const qrSrc = (text) => `/api/qr.svg?text=${encodeURIComponent(text)}`;

/** The owner's selection, mirrored to everyone following the session. */
export const postFocus = (sessionId, ownerToken, focus) =>
  request("POST", `/api/sessions/${encodeURIComponent(sessionId)}/focus`, { token: ownerToken, body: focus });

/** REST calls for one class, with the teacher's or a student's token. */
export class ClassApi {
  constructor(id, token) {
    this.id = id;
    this.token = token;
    this.base = `/api/classes/${encodeURIComponent(id)}`;
  }
  get(path = "") {
    return request("GET", this.base + path, { token: this.token });
  }
  post(path, body) {
    return request("POST", this.base + path, { token: this.token, body: body ?? {} });
  }
}

/** Where a student watches session `follow` ({session, viewer_token}) within class `classId`. */
export function followUrl(classId, follow) {
  const q = new URLSearchParams({ view: follow.viewer_token, class: classId });
  return `/sessions/${encodeURIComponent(follow.session)}?${q}`;
}

/** Where a student works on their own copy within class `classId`. */
export function copyUrl(classId, sessionId) {
  return `/sessions/${encodeURIComponent(sessionId)}?class=${encodeURIComponent(classId)}`;
}
