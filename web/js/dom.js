// Small DOM helpers shared by the views: element builders and number formatting.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("button.primary", {onclick, "aria-label": "Play"}, "Play") -> HTMLElement */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Same as h() for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElementNS(SVG_NS, name);
  if (classes.length) el.setAttribute("class", classes.join(" "));
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A number for people: 3 significant digits, scientific only when tiny or huge. */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(digits)));
  const [mant, exp] = v.toExponential(digits - 1).split("e");
  return `${Number(mant)}×10${[...String(Number(exp))].map((c) => SUPERSCRIPT[c]).join("")}`;
}

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

/** A signed term for "c·f(a·x+b)+d" style strings: " + 0.41" / " − 0.41". */
export function signed(v) {
  if (!v) return "";
  return v < 0 ? ` − ${fmt(-v)}` : ` + ${fmt(v)}`;
}

/** Human-readable "c·f(a·x + b) + d" for a symbolic fit (powers written as powers). */
export function fitText(fit, x = "x") {
  if (fit.name === "0") return "0";
  const a = fit.a === 1 ? "" : `${fmt(fit.a)}·`;
  const inner = `${a}${x}${signed(fit.b)}`;
  const c = fit.c === 1 ? "" : `${fmt(fit.c)}·`;
  const pow = /^(1\/)?x(\^[\d.]+)?$/.exec(fit.name);
  const bare = fit.b === 0 && !(pow && pow[2]) && !(pow && pow[1]);
  let core;
  if (pow) core = bare ? `${pow[1] || ""}${inner}` : `${pow[1] || ""}(${inner})${pow[2] || ""}`;
  else if (fit.name === "1/sqrt(x)") core = `1/sqrt(${inner})`;
  else core = `${fit.name}(${inner})`;
  return `${c}${core}${signed(fit.d)}`;
}

/** Display only: "x_1**2*pi" → "x_1^2·π". */
export function prettyFormula(text) {
  return text.replace(/\*\*/g, "^").replace(/\*/g, "·").replace(/\bpi\b/g, "π");
}

export const edgeKey = (e) => `${e.l},${e.i},${e.j}`;
