// A tiny formula evaluator for the gallery's target thumbnails only (the server parses and
// owns every formula that is trained). Accepts sympy-style text: + - * / ** ^, calls, pi, E.

const FUNCS = {
  sin: Math.sin, cos: Math.cos, tan: Math.tan, exp: Math.exp, log: Math.log, sqrt: Math.sqrt,
  abs: Math.abs, tanh: Math.tanh, sinh: Math.sinh, cosh: Math.cosh, arcsin: Math.asin,
  arccos: Math.acos, arctan: Math.atan, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sign: Math.sign, sgn: Math.sign, sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};
const CONSTS = { pi: Math.PI, E: Math.E, e: Math.E };

function tokenize(text) {
  const re = /\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+|[A-Za-z_][A-Za-z_0-9]*|\*\*|[-+*/^(),])/y;
  const out = [];
  let m;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    if (!(m = re.exec(text))) {
      if (/^\s*$/.test(text.slice(at))) break;
      throw new Error(`cannot read "${text.slice(at).trim()}"`);
    }
    out.push(m[1]);
  }
  return out;
}

/** Compile text into {fn(vars: {name: number}) -> number, variables: [sorted names]}. */
export function compile(text) {
  const toks = tokenize(text);
  let pos = 0;
  const vars = new Set();
  const peek = () => toks[pos];
  const next = () => toks[pos++];
  const expect = (t) => {
    if (next() !== t) throw new Error(`expected "${t}"`);
  };
  const BIN = { "+": [1, (a, b) => a + b], "-": [1, (a, b) => a - b], "*": [2, (a, b) => a * b], "/": [2, (a, b) => a / b] };

  function expr(minPrec = 0) {
    let left = unary();
    while (BIN[peek()] && BIN[peek()][0] >= minPrec + 1) {
      const [prec, op] = BIN[next()];
      const right = expr(prec);
      const l = left;
      left = (v) => op(l(v), right(v));
    }
    return left;
  }
  function unary() {
    if (peek() === "-") {
      next();
      const a = unary();
      return (v) => -a(v);
    }
    if (peek() === "+") next();
    return power();
  }
  function power() {
    const base = atom();
    if (peek() === "**" || peek() === "^") {
      next();
      const ex = unary(); // right-associative, binds tighter than unary minus on the left
      return (v) => base(v) ** ex(v);
    }
    return base;
  }
  function atom() {
    const t = next();
    if (t === undefined) throw new Error("unexpected end");
    if (t === "(") {
      const e = expr();
      expect(")");
      return e;
    }
    if (/^[\d.]/.test(t)) {
      const n = Number(t);
      return () => n;
    }
    if (/^[A-Za-z_]/.test(t)) {
      if (peek() === "(") {
        const f = FUNCS[t];
        if (!f) throw new Error(`unknown function ${t}`);
        next();
        const a = expr();
        expect(")");
        return (v) => f(a(v));
      }
      if (t in CONSTS) return () => CONSTS[t];
      vars.add(t);
      return (v) => v[t];
    }
    throw new Error(`unexpected "${t}"`);
  }

  const fn = expr();
  if (pos !== toks.length) throw new Error(`unexpected "${toks[pos]}"`);
  const variables = [...vars].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return { fn, variables };
}
