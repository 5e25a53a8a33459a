// Compare with an MLP: the owner starts an MLP of about the KAN's parameter count on the same
// data (the server trains it as its own small job); everyone sees both parameter counts, and the
// loss chart draws the MLP's train and test losses beside the KAN's (store.compare).

import { h } from "../dom.js";

const POLL_MS = 700;

export class CompareView {
  /** Mounts itself before `anchor` (an element of the side panel). */
  constructor(anchor, store, controller) {
    this.store = store;
    this.controller = controller;
    this.timer = null;
    this.info = h("p.compare-info", { "data-compare": "" });
    this.button = store.isOwner
      ? h("button", { type: "button", title: "train an MLP with about as many parameters on the same data, same optimiser, as many steps", onclick: () => this.start() }, "Train an MLP beside it")
      : null;
    this.root = h(
      "section.compare",
      { "aria-label": "compare with an MLP" },
      h("h2", {}, "Compare with an MLP"),
      h("p.explain", {}, "A multilayer perceptron with about the same number of parameters learns the same data; its losses join the loss chart (dashed)."),
      this.button,
      this.info,
    );
    anchor.before(this.root);
    this.poll();
  }

  async start() {
    const res = await this.controller.mutate(() => this.controller.api.post("/compare", {}));
    if (res?.job) this.show(res.job);
    this.schedule();
  }

  async poll() {
    this.timer = null;
    const res = await this.controller.read("/compare");
    if (res?.job) this.show(res.job);
    if (res?.job && !res.job.done) this.schedule();
  }

  schedule() {
    if (this.timer === null) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  show(job) {
    this.store.compare = job;
    this.store.emit("compare");
    const state = job.error ? ` (${job.error})` : job.done ? "" : " — training…";
    const last = job.points[job.points.length - 1];
    const acc = job.accuracy ? `, accuracy test ${(100 * job.accuracy.test).toFixed(1)} %` : "";
    const loss = last ? ` · MLP test loss ${last.test_loss}${acc} after ${last.step} steps` : "";
    this.info.dataset.compare = job.done ? "done" : "running";
    this.info.textContent = `KAN ${job.kan_params} parameters · MLP ${job.mlp_params} (width [${job.mlp_width.join(", ")}], ${job.opt})${loss}${state}`;
    if (this.button) this.button.textContent = job.done ? "Train the MLP again" : "Training the MLP…";
    if (this.button) this.button.disabled = !job.done;
  }
}
