// Tokens this browser holds. The owner token of a session lives in localStorage, so reloading
// the page (or coming back tomorrow) reopens it with edit rights; a viewer link carries its
// own token in ?view=.

const KEY = "kanwb.sessions";

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}");
  } catch {
    return {};
  }
}

export function rememberSession(created, title) {
  const all = load();
  all[created.id] = {
    id: created.id,
    owner_token: created.owner_token,
    viewer_token: created.viewer_token,
    title,
    created: Date.now(),
  };
  localStorage.setItem(KEY, JSON.stringify(all));
}

export function sessionTokens(id) {
  return load()[id] || null;
}

export function knownSessions() {
  return Object.values(load()).sort((a, b) => b.created - a.created).slice(0, 8);
}
