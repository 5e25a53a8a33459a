// The symbolic candidates of the selected edge: one row each, best first, with R², complexity
// and the fitted c·f(a·x+b)+d. Hovering or focusing a row previews its curve over the spline;
// clicking pins the preview. Owners get Accept and Reject on every row.

import { h, fmt, fitText } from "../dom.js";

export function renderCandidates(store, actions) {
  const sugg = store.suggestions;
  const wrap = h("section.candidates", { "aria-label": "symbolic candidates" });
  wrap.append(h("h3", {}, "Symbolic candidates"));
  if (!sugg || sugg.loading) {
    wrap.append(h("p.muted", { role: "status" }, "Fitting candidate functions…"));
    return wrap;
  }
  if (sugg.error) {
    wrap.append(h("p.error", { role: "alert" }, sugg.error));
    return wrap;
  }
  if (!sugg.candidates.length) {
    wrap.append(h("p.muted", {}, "No candidate fits this curve (all rejected or none found)."));
  } else {
    wrap.append(h("p.hint", {}, store.isOwner ? "Hover a row to preview it on the plot; Accept snaps the edge to it." : "Hover a row to preview it on the plot."));
    const rows = sugg.candidates.map((c) => candidateRow(c, store, actions));
    const table = h(
      "table.cand-table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "function"), h("th.num", { title: "1 − R²: the share of the curve's variance the function misses (lower is better; R² alone rounds to 1 for near-ties)" }, "1 − R²"), h("th.num", { title: "complexity: lower is simpler" }, "cplx"), store.isOwner ? h("th", {}, "") : null)),
      h("tbody", {}, rows),
    );
    table.addEventListener("mouseleave", () => actions.preview(store.pinned || null));
    wrap.append(table);
  }
  if (sugg.rejected?.length) {
    const undo = (name) =>
      h("button.small.unreject", { type: "button", "data-unreject": name, title: `suggest ${name} for this edge again`, onclick: () => actions.unreject(name) }, `Un-reject ${name}`);
    wrap.append(
      h("p.muted.rejected", {}, `Rejected (skipped by auto-symbolic): ${sugg.rejected.join(", ")}`),
      store.isOwner ? h("div.panel-actions", {}, sugg.rejected.map(undo)) : null,
    );
  }
  return wrap;
}

function candidateRow(c, store, actions) {
  const selected = store.preview === c.name;
  const row = h(
    "tr.cand",
    {
      "data-candidate": c.name,
      tabindex: 0,
      class: selected ? "cand previewing" : "cand",
      title: c.refit_rmse != null
        ? `click to keep this preview · the whole model with it, after a short refit: test RMSE ${fmt(c.refit_rmse)}`
        : "click to keep this preview",
      onmouseenter: () => actions.preview(c.name),
      onfocus: () => actions.preview(c.name),
      onclick: (ev) => {
        if (ev.target.closest("button")) return;
        store.pinned = c.name;
        actions.preview(c.name);
      },
    },
    h("td.fn", {}, h("code", {}, fitText(c)), c.refit_rmse != null ? h("span.refit", { title: "tried in the model: ordered by its test error after a short refit" }, ` · model RMSE ${fmt(c.refit_rmse)}`) : null),
    h("td.num", { title: `R² = ${c.r2}` }, misfit(c.r2)),
    h("td.num", {}, fmt(c.complexity)),
  );
  if (store.isOwner) {
    row.append(
      h(
        "td.actions",
        {},
        h("button.small.primary", { type: "button", title: `fix this edge to ${c.name}`, onclick: () => actions.accept(c.name) }, "Accept"),
        h("button.small", { type: "button", title: `hide ${c.name} for this edge`, onclick: () => actions.reject(c.name) }, "Reject"),
      ),
    );
  }
  return row;
}

/** 1 − R² for people: "2×10⁻⁷" rather than an R² that rounds to 1 (near-ties stay visible). */
export function misfit(r2) {
  if (r2 === null || r2 === undefined || !Number.isFinite(r2)) return "–";
  const m = 1 - r2;
  return m <= 1e-12 ? "< 10⁻¹²" : fmt(m, 2);
}
