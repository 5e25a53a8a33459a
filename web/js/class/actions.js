// The teacher's class actions, shared by the start-a-class overlay and the dashboard: hand out
// copies, pause / resume all, end the class (two clicks), go back to the teacher's session
// after showing a student's, reveal a challenge's answer. `update(view)` follows the class.

import { h } from "../dom.js";
import { rememberClass } from "./api.js";

export function classActions(api, cls, toasts, { onEnded = () => {} } = {}) {
  const run = async (fn) => {
    try {
      await fn();
    } catch (err) {
      toasts.error(err.message);
    }
  };
  let paused = false;
  const handout = h("button.primary", { type: "button", title: "every student gets a copy of this session as it is now; late joiners too" }, "Hand out copies");
  handout.addEventListener("click", () => run(async () => {
    const res = await api.post("/handout");
    toasts.show(`Copies handed out to ${res?.handed_out ?? "every"} student(s); students who join later get one too.`, "info", 6000);
  }));
  const pause = h("button", { type: "button" }, "Pause all");
  const showPaused = () => (pause.textContent = paused ? "Resume all" : "Pause all");
  pause.addEventListener("click", () => run(async () => {
    const res = await api.post("/pause-all", { paused: !paused });
    paused = res?.paused ?? !paused;
    showPaused();
    toasts.show(paused ? "Every session in the class is paused." : "Students may train again.", "info", 4000);
  }));
  const back = h("button", { type: "button", hidden: true, onclick: () => run(() => api.post("/follow", { session: null })) }, "Back to my session");
  const reveal = h("button", { type: "button", hidden: true, onclick: () => run(() => api.post("/reveal")) }, "Reveal");
  const end = h("button.danger", { type: "button" }, "End class");
  end.addEventListener("click", () => {
    if (!end.dataset.confirm) {
      end.dataset.confirm = "1";
      end.textContent = "Really end the class?";
      setTimeout(() => {
        delete end.dataset.confirm;
        end.textContent = "End class";
      }, 5000);
      return;
    }
    run(async () => {
      await api.post("/end");
      rememberClass(cls.id, { ended: true });
      toasts.show(`Class ${cls.code} has ended.`, "info", 5000);
      onEnded();
    });
  });
  const update = (view) => {
    paused = view.paused;
    showPaused();
    back.hidden = !view.follow?.name;
    reveal.hidden = !view.challenge || !!view.revealed;
    for (const b of [handout, pause, reveal, end]) b.disabled = view.ended;
  };
  return { handout, pause, back, reveal, end, update };
}
