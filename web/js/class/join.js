// /join: a student types the class code and a display name (no accounts), and from then on
// follows the teacher (class/follow.js). The name is data: it is only ever set as text.

import { h, replace } from "../dom.js";
import { joinClass, rememberClass } from "./api.js";

const CODE_CHARS = /[^A-Z0-9]/g;

export function renderJoin(root) {
  const params = new URLSearchParams(location.search);
  const code = h("input.join-code", {
    name: "code", "aria-label": "class code", placeholder: "KM3P7X", autocomplete: "off",
    autocapitalize: "characters", spellcheck: "false", maxlength: 12, required: true,
    value: (params.get("code") || "").toUpperCase().replace(CODE_CHARS, ""),
  });
  const name = h("input.join-name", { name: "name", "aria-label": "your name", placeholder: "your first name", autocomplete: "nickname", maxlength: 60, required: true });
  const error = h("p.form-error", { role: "alert" });
  const join = h("button.primary", { type: "submit" }, "Join");
  const form = h(
    "form.join-form.panel",
    { "aria-label": "join a class" },
    h("h1", {}, "Join a class"),
    h("p.muted", {}, "Type the code on the teacher's screen and the name the class will see."),
    h("label.field", {}, h("span", {}, "Class code"), code),
    h("label.field", {}, h("span", {}, "Your name"), name),
    join,
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const c = code.value.toUpperCase().replace(CODE_CHARS, "");
    const n = name.value.trim();
    if (!c) return fail(code, "Type the class code from the teacher's screen.");
    if (!n) return fail(name, "Type a name (1–40 characters) so your teacher knows who you are.");
    join.disabled = true;
    try {
      const res = await joinClass(c, n);
      rememberClass(res.class_id, { student_token: res.student_token, name: res.name ?? n, code: c, created: Date.now() });
      location.assign(`/classes/${encodeURIComponent(res.class_id)}`);
    } catch (err) {
      join.disabled = false;
      if (err.status === 404) fail(code, `No class has the code ${c}. Check the code on the teacher's screen (letters and digits, no O/0 or I/1).`);
      else if (err.status === 422) fail(name, `That name cannot be used: ${err.message}`);
      else fail(null, err.message);
    }
  });
  function fail(input, message) {
    error.textContent = message;
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
  }
  for (const input of [code, name]) input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  const teach = h("p.muted", {}, "Teaching? Open a session and press Start a class, or ", h("a", { href: "/classes/new" }, "start a challenge"), " (a hidden formula or a CSV).");
  replace(root, h("main.join-page", {}, h("a.brand-dark", { href: "/" }, "KAN Workbench"), form, teach));
  (code.value ? name : code).focus();
}
