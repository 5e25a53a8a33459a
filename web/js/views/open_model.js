// "Open a trained model" on the start page: a kan_core model file, or the files pykan's
// saveckpt writes (PATH_config.yml, PATH_state, PATH_cache_data), with an optional CSV.

import { h } from "../dom.js";
import { uploadModel } from "../api.js";

export function openModelForm(open) {
  const pick = (label, accept) => h("input", { type: "file", accept, "aria-label": label });
  const model = pick("model file", ".pt,.kan,application/octet-stream");
  const config = pick("pykan config", ".yml,.yaml");
  const state = pick("pykan state", "*");
  const cache = pick("pykan cached data", "*");
  const data = pick("dataset CSV", ".csv,text/csv");
  const classifier = h("input", { type: "checkbox", "aria-label": "classifier" });
  const error = h("p.form-error", { role: "alert" });
  const field = (text, input) => h("label.field", {}, h("span", {}, text), input);
  const form = h(
    "form.panel",
    { "aria-label": "open a model" },
    h("h2", {}, "Open a trained model"),
    h("p.muted", {}, "A model file saved by kan_core (KAN.save, or Download → model file here), or pykan's saveckpt files. Add a CSV (the inputs, then one column per output) to train it further; without one the edges, formula, pruning and snapping still work."),
    field("kan_core model file", model),
    h("details", {}, h("summary", {}, "…or a pykan checkpoint"),
      field("PATH_config.yml", config), field("PATH_state", state), field("PATH_cache_data (optional)", cache)),
    field("dataset CSV (optional)", data),
    h("label.inline", {}, classifier, h("span", {}, "A classifier: one output (logit) per class, trained with cross-entropy; the CSV's last column holds class indices 0, 1, …")),
    h("button.primary", { type: "submit" }, "Open model"),
    error,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const parts = {};
    const take = (name, input) => { if (input.files.length) parts[name] = input.files[0]; };
    take("model", model);
    take("pykan_config", config);
    take("pykan_state", state);
    take("pykan_cache_data", cache);
    take("data", data);
    // a text field, sent as a small file part (the upload is all files)
    if (classifier.checked) parts.loss = new File(["cross_entropy"], "loss.txt", { type: "text/plain" });
    if (!parts.model && !(parts.pykan_config && parts.pykan_state)) {
      error.textContent = "choose a model file, or pykan's config and state files";
      return;
    }
    try {
      const title = (parts.model || parts.pykan_config).name;
      open(await uploadModel(parts), title);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}
