// View 4: the makemore MLP training live with makemore part 3's diagnostics. The real TrainStep runs in
// the Python process (ninjagrad train's loop and batches); this page draws the snapshots it publishes.
import { send } from "../lib/api.js";
import { el, fmt } from "../lib/dom.js";
import { multiChart } from "../lib/multichart.js";
import "./tensor.css";

const SESSION = "makemore";
const LAYERS = ["hprebn", "hpreact", "h", "logits"];
const LAYER_NAMES = { hprebn: "Linear 1: dhprebn", hpreact: "BatchNorm: dhpreact", h: "Tanh: dh", logits: "Linear 2: dlogits" };
const PARAMS = ["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"];
const CONTROLS = [
  ["steps", "steps"],
  ["lr", "lr"],
  ["decay_step", "lr / 10 from step"],
  ["batch_size", "batch size"],
  ["n_hidden", "hidden"],
  ["seed", "seed"],
];

function centres(edges) {
  return edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
}

function mount(panel, studio) {
  const message = el("p", { class: "message", role: "alert", id: "mm-message" });
  const play = el("button", { id: "mm-play" }, "play");
  const inputs = {};
  for (const [key] of CONTROLS) inputs[key] = el("input", { id: `mm-${key}`, type: "text", "aria-label": key });
  const status = el("p", { class: "status", role: "status", id: "mm-status" });
  const health = el("p", { class: "status", id: "mm-health" });
  const ratioBody = el("tbody", { id: "mm-ratios" });
  const bnText = el("p", { class: "stats", id: "mm-bn" });
  const boxes = {};
  for (const id of ["loss", "saturation", "tanh", "grads", "gradstd", "ratio", "bn"]) boxes[id] = el("div", { id: `mm-chart-${id}` });
  let state = null;

  async function run(command, args) {
    const answer = await send(SESSION, command, args);
    message.textContent = answer.error ?? "";
    if (answer.state) studio.render("makemore", answer.state);
    return answer;
  }
  function number(text) {
    const t = text.trim();
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : t; // the server says what is wrong
  }
  play.addEventListener("click", () => run(state?.playing ? "pause" : "play"));
  const apply = () => {
    const values = {};
    for (const [key] of CONTROLS) values[key] = number(inputs[key].value);
    return run("configure", values);
  };

  panel.append(
    el("div", { class: "controls mm-controls", style: "max-width: none" },
      play, " ", el("button", { id: "mm-reset", onclick: () => run("reset") }, "reset"), " ",
      ...CONTROLS.map(([key, label]) => el("label", {}, `${label} `, inputs[key])),
      el("button", { id: "mm-apply", onclick: apply }, "apply (new run)")),
    status,
    health,
    message,
    el("div", { class: "mm-grid" },
      boxes.loss, boxes.saturation, boxes.tanh, boxes.grads, boxes.gradstd, boxes.ratio,
      el("div", {}, el("table", { class: "mm-table" },
        el("caption", {}, "update:data ratio, log10(std(lr·grad) / std(data)), latest"),
        el("thead", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "log10 ratio"))), ratioBody)),
      el("div", {}, boxes.bn, bnText)),
  );
  const charts = {
    loss: multiChart(boxes.loss, { title: "loss", yLabel: "cross-entropy", names: ["train (smoothed)", "val (sample)"] }),
    saturation: multiChart(boxes.saturation, { title: "tanh saturation, % of |h| > 0.97", yLabel: "%", names: ["saturated"], lines: [{ label: "5%", value: 5 }] }),
    tanh: multiChart(boxes.tanh, { title: "tanh activations (latest)", xLabel: "h", yLabel: "density", names: ["h"] }),
    grads: multiChart(boxes.grads, { title: "gradient of each layer's output (latest)", xLabel: "gradient", yLabel: "density", names: LAYERS.map((l) => LAYER_NAMES[l]) }),
    gradstd: multiChart(boxes.gradstd, { title: "std of each layer's output gradient", yLabel: "std", names: LAYERS.map((l) => `d${l}`), log: true }),
    ratio: multiChart(boxes.ratio, { title: "update:data ratio (log10)", yLabel: "log10", names: PARAMS, lines: [{ label: "-3", value: -3 }] }),
    bn: multiChart(boxes.bn, { title: "BatchNorm statistics per unit", xLabel: "hidden unit", yLabel: "", names: ["running mean", "running var", "calibrated mean", "calibrated var"], points: true }),
  };

  function update(next) {
    const first = state === null;
    state = next;
    play.textContent = next.playing ? "pause" : "play";
    const c = next.config;
    const key = CONTROLS.map(([k]) => c[k]).join("|");
    if (first || panel.dataset.config !== key) {
      for (const [k] of CONTROLS) inputs[k].value = String(c[k]);
      panel.dataset.config = key;
    }
    const train = next.train_loss.loss;
    const val = next.val_loss.loss;
    status.textContent = `step ${next.step} of ${c.steps} · lr ${next.lr} · loss ${next.last_loss === null ? "–" : fmt(next.last_loss)} · train (smoothed over ${next.window}) ${train.length ? fmt(train[train.length - 1]) : "–"} · val ${val.length ? fmt(val[val.length - 1]) : "–"} · ${fmt(next.steps_per_second, 0)} steps/s · ${next.parameters} parameters · ${next.data.name} · ${next.done ? "done" : next.playing ? "training" : "paused"}`;
    if (next.error) message.textContent = next.error;
    // one x axis: the steps of both curves, each curve null where the other was measured
    const trainAt = new Map(next.train_loss.steps.map((s, i) => [s, train[i]]));
    const valAt = new Map(next.val_loss.steps.map((s, i) => [s, val[i]]));
    const steps = [...new Set([...trainAt.keys(), ...valAt.keys()])].sort((a, b) => a - b);
    const pick = (m) => steps.map((s) => (m.has(s) ? m.get(s) : null));
    charts.loss.set({ x: steps, values: [pick(trainAt), pick(valAt)] });
    const d = next.diagnostics;
    const latest = d.latest;
    if (latest) {
      health.textContent = `diagnostics at step ${latest.step} (every ${d.every} steps): tanh mean ${fmt(latest.tanh_mean, 3)}, std ${fmt(latest.tanh_std, 3)}, saturated ${fmt(100 * latest.saturation, 1)}% · gradient std ${LAYERS.map((l) => `d${l} ${latest.gradient_std[l] === null ? "nan" : latest.gradient_std[l].toExponential(2)}`).join(", ")}`;
      charts.saturation.set({ x: d.steps, values: [d.saturation.map((s) => (s === null ? null : 100 * s))] });
      const t = latest.tanh_histogram;
      charts.tanh.set({ x: centres(t.edges), values: [t.density] });
      // one x axis for the four gradient histograms: each is drawn on its own bins, resampled to the widest
      const widest = LAYERS.reduce((w, l) => Math.max(w, latest.gradient_histograms[l].edges.at(-1)), 0) || 1;
      const bins = 60;
      const xs = Array.from({ length: bins }, (_, i) => -widest + ((i + 0.5) * 2 * widest) / bins);
      const values = LAYERS.map((l) => {
        const h = latest.gradient_histograms[l];
        const lo = h.edges[0];
        const step = (h.edges.at(-1) - lo) / h.density.length;
        return xs.map((x) => {
          const i = Math.floor((x - lo) / step);
          return i >= 0 && i < h.density.length ? h.density[i] : 0;
        });
      });
      charts.grads.set({ x: xs, values });
      charts.gradstd.set({ x: d.steps, values: LAYERS.map((l) => d.gradient_std[l]) });
      charts.ratio.set({ x: d.steps, values: PARAMS.map((p) => d.update_ratio[p]) });
      ratioBody.replaceChildren(...PARAMS.map((p) => el("tr", { "data-param": p }, el("td", {}, p), el("td", {}, latest.update_ratio[p] === null ? "no update" : fmt(latest.update_ratio[p], 2)))));
    } else {
      health.textContent = "diagnostics: none yet (press play)";
      ratioBody.replaceChildren();
    }
    if (d.bn_running_mean) {
      const units = d.bn_running_mean.map((_, i) => i);
      const cal = next.bn_calibrated;
      const none = units.map(() => null);
      charts.bn.set({ x: units, values: [d.bn_running_mean, d.bn_running_var, cal ? cal.mean : none, cal ? cal.var : none] });
      const mean = (a) => a.reduce((s, v) => s + (v ?? 0), 0) / a.length;
      bnText.textContent = `BatchNorm running mean over units: ${fmt(mean(d.bn_running_mean), 3)}, running variance: ${fmt(mean(d.bn_running_var), 3)} (exponential average of the batches sampled every ${d.every} steps, 0.1 per record)${cal ? `; calibrated over the training split: mean ${fmt(mean(cal.mean), 3)}, variance ${fmt(mean(cal.var), 3)}` : "; calibrated over the training split when the run is done"}`;
    }
  }

  return { update };
}

export default { id: "makemore", title: "4 · makemore training", session: SESSION, mount };
