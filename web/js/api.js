// Talking to the server: REST commands (with the session's token) and the live stream
// (websocket, reconnecting with backoff; every (re)connect starts with a fresh snapshot).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A readable message from FastAPI's {"detail": ...} (a string, or a list of field errors). */
function detailMessage(body, status) {
  const d = body && body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    return d
      .map((e) => {
        const loc = (e.loc || []).filter((p) => p !== "body").join(".");
        return loc ? `${loc}: ${e.msg}` : e.msg;
      })
      .join("; ");
  }
  return `the server answered ${status}`;
}

export async function request(method, path, { token, body, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch (err) {
    throw new ApiError(0, "cannot reach the server — is it running?");
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, detailMessage(data, res.status));
  return data;
}

export const listPresets = () => request("GET", "/api/presets");
export const createSession = (body) => request("POST", "/api/sessions", { body });
export const uploadSession = (file, options) => {
  const form = new FormData();
  form.append("file", file);
  form.append("options", JSON.stringify(options));
  return request("POST", "/api/sessions/upload", { form });
};

/** A session from a model file or pykan checkpoint parts (+ an optional CSV `data`). */
export const uploadModel = (parts) => {
  const form = new FormData();
  for (const [name, file] of Object.entries(parts)) form.append(name, file, file.name);
  return request("POST", "/api/sessions", { form });
};

/** REST calls for one session, bound to its id and token. */
export class SessionApi {
  constructor(id, token) {
    this.id = id;
    this.token = token;
    this.base = `/api/sessions/${encodeURIComponent(id)}`;
  }
  get(path = "") {
    return request("GET", this.base + path, { token: this.token });
  }
  post(path, body) {
    return request("POST", this.base + path, { token: this.token, body });
  }
  patch(path, body) {
    return request("PATCH", this.base + path, { token: this.token, body });
  }
  edgePath(key, action = "") {
    const [l, i, j] = key.split(",");
    return `/edges/${l}/${i}/${j}${action ? "/" + action : ""}`;
  }
  nodePath(key, action) {
    const [l, i] = key.split(",");
    return `/nodes/${l}/${i}/${action}`;
  }
}

/**
 * The websocket stream. Calls onMessage(msg) for every frame and onState(state) with
 * "open" | "reconnecting" | "closed"; reconnects with backoff unless the server refused us.
 */
export class Stream {
  constructor(id, token, { onMessage, onState, onRefused }) {
    // The token goes in the subprotocol header, never in the URL (URLs end up in logs).
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}` +
      `/api/sessions/${encodeURIComponent(id)}/stream`;
    this.protocols = ["kanwb", `bearer.${token}`];
    Object.assign(this, { onMessage, onState, onRefused });
    this.delay = 500;
    this.stopped = false;
    this.connect();
  }

  connect() {
    let ws;
    try {
      ws = new WebSocket(this.url, this.protocols);
    } catch {
      // A token with characters no subprotocol may carry (a mangled link): it cannot be valid.
      this.onState("closed");
      this.onRefused("This link's token gives no access to the session.");
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.onState("open");
      this.ping = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearInterval(this.ping);
      if (this.stopped) return;
      if (ev.code === 4404 || ev.code === 4403) {
        this.onState("closed");
        this.onRefused(ev.code === 4404 ? "This session does not exist (any more)." :
          "This link's token gives no access to the session.");
        return;
      }
      this.onState("reconnecting");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  close() {
    this.stopped = true;
    this.ws?.close();
  }
}
