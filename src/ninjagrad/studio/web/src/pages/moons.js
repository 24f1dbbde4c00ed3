// View 2: the moons MLP learning, live. The model trains in the Python process; this page draws the
// snapshots: decision boundary with the points, loss and accuracy curves, the network's weights.
import { send } from "../lib/api.js";
import { lineChart } from "../lib/chart.js";
import { el, fmt, stats } from "../lib/dom.js";

const SESSION = "moons";
const SIZE = 360; // boundary picture, CSS pixels
const SVG_NS = "http://www.w3.org/2000/svg";
const RED = [192, 57, 43];
const BLUE = [36, 85, 179];

function mount(panel, studio) {
  const message = el("p", { class: "message", role: "alert", id: "moons-message" });
  const play = el("button", { id: "moons-play" }, "play");
  const lr = el("input", { id: "moons-lr", type: "text", size: 6, "aria-label": "learning rate" });
  const widths = el("input", { id: "moons-widths", type: "text", size: 10, "aria-label": "hidden layer widths" });
  const seed = el("input", { id: "moons-seed", type: "text", size: 6, "aria-label": "seed" });
  const step = el("span", { id: "moons-step" });
  const loss = el("span", { id: "moons-loss" });
  const accuracy = el("span", { id: "moons-accuracy" });
  const speed = el("span", { id: "moons-speed" });
  const running = el("span", { id: "moons-running" });
  const byGrad = el("input", { id: "moons-edges-grad", type: "checkbox" });
  const netCaption = el("p", { id: "moons-network-caption" });

  const canvas = el("canvas", { width: SIZE, height: SIZE, class: "boundary", "aria-hidden": "true" });
  const cells = document.createElement("canvas");
  const overlay = document.createElementNS(SVG_NS, "svg");
  overlay.setAttribute("viewBox", `0 0 ${SIZE} ${SIZE}`);
  overlay.setAttribute("width", SIZE);
  overlay.setAttribute("height", SIZE);
  overlay.setAttribute("id", "moons-points");
  overlay.setAttribute("aria-label", "the 100 points; click one to see its loss's graph in view 1");
  const network = el("canvas", { width: 380, height: 260, id: "moons-network", "aria-hidden": "true" });
  const lossBox = el("div", { id: "moons-loss-chart" });
  const accBox = el("div", { id: "moons-accuracy-chart" });
  let state = null;
  let circles = [];

  async function run(command, args) {
    const answer = await send(SESSION, command, args);
    message.textContent = answer.error ?? "";
    if (answer.state) studio.render("moons", answer.state);
    return answer;
  }
  function parseWidths(text) {
    return text.split(/[\s,]+/).filter(Boolean).map((w) => (/^-?\d+$/.test(w) ? Number(w) : w));
  }
  function parseNumber(text) {
    const t = text.trim().toLowerCase();
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(t) ? Number(t) : t; // "nan", "abc": the server says why
  }
  play.addEventListener("click", () => run(state?.playing ? "pause" : "play"));

  panel.append(
    el("div", { class: "controls moons-controls" },
      play, " ",
      el("button", { id: "moons-one-step", onclick: () => run("one_step") }, "one step"), " ",
      el("button", { id: "moons-reset", onclick: () => run("reset") }, "reset"), " ",
      el("label", {}, "lr ", lr), " ",
      el("label", {}, "hidden widths ", widths), " ",
      el("label", {}, "seed ", seed), " ",
      el("button", { id: "moons-apply", onclick: () => run("configure", { lr: parseNumber(lr.value), hidden: parseWidths(widths.value), seed: parseNumber(seed.value) }) }, "apply"),
    ),
    el("p", { class: "status", role: "status" },
      "step ", step, " · loss ", loss, " · accuracy ", accuracy, " · ", speed, " steps/s · ", running),
    message,
    el("div", { class: "columns" },
      el("figure", {}, el("div", { class: "stack" }, canvas, overlay), el("figcaption", {}, "Decision boundary (blue: score > 0). Click a point to see its loss's graph in view 1.")),
      el("div", {}, lossBox, accBox),
      el("figure", {}, network, el("figcaption", {}, el("label", {}, byGrad, " edges by gradient (else by weight)"), netCaption)),
    ),
  );
  const lossChart = lineChart(lossBox, { title: "loss", label: "loss", color: "#c0392b" });
  const accChart = lineChart(accBox, { title: "accuracy", label: "accuracy", color: "#2455b3", min: 0, max: 1 });
  byGrad.addEventListener("change", () => state && drawNetwork(state.network));

  function toPixel(b, x, y) {
    return [((x - b.x_min) / (b.x_max - b.x_min)) * SIZE, SIZE - ((y - b.y_min) / (b.y_max - b.y_min)) * SIZE];
  }

  function drawBoundary(b) {
    const n = b.resolution;
    cells.width = n;
    cells.height = n;
    const cx = cells.getContext("2d");
    const image = cx.createImageData(n, n);
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        const s = b.levels[row * n + col] / 100; // the score, clipped to [-1, 1]
        const t = Math.abs(s) * 0.55 + 0.15; // how sure: paler near the boundary
        const c = s > 0 ? BLUE : RED;
        const at = ((n - 1 - row) * n + col) * 4; // row 0 is the bottom
        image.data[at] = 255 - (255 - c[0]) * t;
        image.data[at + 1] = 255 - (255 - c[1]) * t;
        image.data[at + 2] = 255 - (255 - c[2]) * t;
        image.data[at + 3] = 255;
      }
    }
    cx.putImageData(image, 0, 0);
    const g = canvas.getContext("2d");
    g.imageSmoothingEnabled = true;
    g.drawImage(cells, 0, 0, SIZE, SIZE);
  }

  function drawPoints(b, p) {
    if (circles.length !== p.x.length) {
      overlay.replaceChildren();
      circles = p.x.map((_, i) => {
        const c = document.createElementNS(SVG_NS, "circle");
        c.setAttribute("r", 5);
        c.setAttribute("data-index", i);
        c.setAttribute("tabindex", "0");
        c.setAttribute("role", "button");
        const title = document.createElementNS(SVG_NS, "title");
        c.append(title);
        const open = async () => {
          const answer = await run("inspect", { index: i });
          if (!answer.error) studio.show("expression");
        };
        c.addEventListener("click", open);
        c.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && open());
        overlay.append(c);
        return c;
      });
    }
    p.x.forEach((x, i) => {
      const [px, py] = toPixel(b, x, p.y[i]);
      const c = circles[i];
      const cls = `${p.label[i] > 0 ? "pos" : "neg"} ${p.correct[i] ? "right" : "wrong"}`;
      const text = `point ${i}: (${fmt(x, 2)}, ${fmt(p.y[i], 2)}), label ${p.label[i] > 0 ? "+1" : "-1"}, score ${fmt(p.score[i], 3)}${p.correct[i] ? "" : " (wrong side)"}`;
      if (c.dataset.text === text && c.dataset.cls === cls) return; // unchanged: no DOM writes
      c.setAttribute("cx", px.toFixed(1));
      c.setAttribute("cy", py.toFixed(1));
      c.setAttribute("class", cls);
      c.firstChild.textContent = text;
      c.setAttribute("aria-label", text);
      c.dataset.text = text;
      c.dataset.cls = cls;
    });
  }

  function drawNetwork(net) {
    const g = network.getContext("2d");
    const W = network.width;
    const H = network.height;
    g.clearRect(0, 0, W, H);
    const columns = net.widths.length;
    const pos = net.widths.map((width, l) =>
      Array.from({ length: width }, (_, j) => [20 + (l * (W - 40)) / (columns - 1), ((j + 1) * H) / (width + 1)]),
    );
    const grad = byGrad.checked;
    let biggest = 1e-12;
    for (const layer of net.layers) for (const row of grad ? layer.weight_grads : layer.weights) for (const v of row) biggest = Math.max(biggest, Math.abs(v ?? 0));
    // Edges in 2 signs x 8 width buckets: 16 strokes per draw instead of one per edge.
    const BUCKETS = 8;
    const paths = Array.from({ length: 2 * BUCKETS }, () => new Path2D());
    net.layers.forEach((layer, l) => {
      const values = grad ? layer.weight_grads : layer.weights;
      values.forEach((row, j) =>
        row.forEach((v, i) => {
          const value = v ?? 0;
          const bucket = Math.min(BUCKETS - 1, Math.floor((Math.abs(value) / biggest) * BUCKETS));
          const path = paths[(value >= 0 ? 0 : BUCKETS) + bucket];
          path.moveTo(...pos[l][i]);
          path.lineTo(...pos[l + 1][j]);
        }),
      );
    });
    paths.forEach((path, k) => {
      g.strokeStyle = k < BUCKETS ? "rgba(36,85,179,0.75)" : "rgba(192,57,43,0.75)";
      g.lineWidth = 0.2 + (3 * ((k % BUCKETS) + 0.5)) / BUCKETS;
      g.stroke(path);
    });
    g.fillStyle = "#333";
    for (const column of pos) for (const [x, y] of column) { g.beginPath(); g.arc(x, y, 3.5, 0, 2 * Math.PI); g.fill(); }
    netCaption.textContent = `MLP(${net.widths[0]}, [${net.widths.slice(1).join(", ")}]): ${net.parameters} parameters; edge width = |${grad ? "gradient" : "weight"}| (largest ${fmt(biggest, 4)}), blue +, red −`;
  }

  function update(next) {
    const first = state === null;
    state = next;
    play.textContent = state.playing ? "pause" : "play";
    running.textContent = state.playing ? "training" : "paused";
    step.textContent = String(state.step);
    loss.textContent = state.loss === null ? "–" : fmt(state.loss, 4);
    accuracy.textContent = state.accuracy === null ? "–" : `${Math.round(state.accuracy * 100)}%`;
    speed.textContent = fmt(state.steps_per_second, 1);
    if (state.message) message.textContent = state.message;
    const c = state.config;
    const configText = `${c.lr}|${c.hidden.join(", ")}|${c.seed}`;
    if (first || panel.dataset.config !== configText) {
      lr.value = String(c.lr);
      widths.value = c.hidden.join(", ");
      seed.value = String(c.seed);
      panel.dataset.config = configText;
    }
    const t0 = performance.now();
    drawBoundary(state.boundary);
    const t1 = performance.now();
    drawPoints(state.boundary, state.points);
    const t2 = performance.now();
    drawNetwork(state.network);
    const t3 = performance.now();
    lossChart.set(state.curves.loss);
    accChart.set(state.curves.accuracy);
    stats.moonsParts = { boundary: t1 - t0, points: t2 - t1, network: t3 - t2, charts: performance.now() - t3 };
  }

  return { update };
}

export default { id: "moons", title: "2 · Moons MLP", session: SESSION, mount };
