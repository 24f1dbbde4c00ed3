// View 3: the makemore MLP's atomic chain, every shape shown, and the kata's marks on it.
// The server sends the graph as a grid (row, column per node); this page draws it as SVG, top to bottom.
// A click asks the server for the node's forward line, shapes, heatmaps, answer and autograd check.
import { send } from "../lib/api.js";
import { el, fmt, stats } from "../lib/dom.js";
import { heatmap } from "../lib/heatmap.js";
import "./tensor.css";

const SESSION = "tensor";
const SVG_NS = "http://www.w3.org/2000/svg";
const ROW = 46; // px between rows
const CHAIN_WIDTH = 250; // the chain's boxes (column 0)
const LEAF_WIDTH = 124; // parameters and inputs (columns 1, 2)
const BOX = 38; // box height
const LEFT = 46; // room on the left for the arcs of the edges that skip rows
const STATUS_MARK = { right: "✓", wrong: "✗", not_written: "…", not_reached: "–" }; // beside a leaf's gradient
const STATUS_TEXT = { right: "✓ right", wrong: "✗ wrong", not_written: "… not written yet", not_reached: "– not reached" };

const tensorStats = (stats.tensor = stats.tensor || { layouts: [], clicks: [], marks: [] });

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function columnX(column) {
  return column === 0 ? LEFT : LEFT + CHAIN_WIDTH + 28 + (column - 1) * (LEAF_WIDTH + 12);
}

// The graph as SVG: one <g class="node"> per node, its texts the name, shape, op and gradient.
function drawGraph(container, graph, onClick) {
  const start = performance.now();
  const width = columnX(3);
  const height = graph.rows * ROW + 10;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "tensor-graph-svg", role: "group", "aria-label": "the atomic chain, top to bottom" });
  const place = {};
  for (const node of graph.nodes) {
    const w = node.column === 0 ? CHAIN_WIDTH : LEAF_WIDTH;
    place[node.name] = { x: columnX(node.column), y: 6 + node.row * ROW, w, node };
  }
  const edges = svg("g", { class: "edges" });
  let skip = 0;
  for (const edge of graph.edges) {
    const a = place[edge.from];
    const b = place[edge.to];
    let d;
    if (a.node.column > 0) {
      // a leaf into its line: from the leaf's left side to the box's right side
      const y1 = a.y + BOX / 2;
      const y2 = b.y + BOX / 2;
      const x1 = a.x;
      const x2 = b.x + b.w;
      const dip = a.node.column > 1 ? BOX * 0.75 : 0; // pass under the leaf beside it
      d = `M${x1},${y1} C${x1 - 10},${y1 + dip} ${x2 + 20},${y2 + dip} ${x2},${y2}`;
    } else if (b.node.row === a.node.row + 1) {
      d = `M${a.x + CHAIN_WIDTH / 2},${a.y + BOX} L${b.x + CHAIN_WIDTH / 2},${b.y}`;
    } else {
      const out = 12 + 9 * (skip++ % 4);
      d = `M${a.x},${a.y + BOX / 2} C${a.x - out * 2},${a.y + BOX / 2} ${b.x - out * 2},${b.y + BOX / 2} ${b.x},${b.y + BOX / 2}`;
    }
    edges.append(svg("path", { d, class: "edge", "data-from": edge.from, "data-to": edge.to, "marker-end": "url(#tensor-arrow)" }));
  }
  const defs = svg("defs");
  const marker = svg("marker", { id: "tensor-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
  defs.append(marker);
  root.append(defs, edges);
  const groups = {};
  for (const node of graph.nodes) {
    const p = place[node.name];
    const g = svg("g", { class: `node ${node.kind}`, "data-name": node.name, tabindex: 0, role: "button", transform: `translate(${p.x},${p.y})` });
    const title = `${node.name} ${node.shape}${node.op ? ` = ${node.op}` : ""}${node.gradient ? `; d${node.name} ${node.gradient.shape}` : ""}`;
    g.setAttribute("aria-label", title);
    g.append(svg("rect", { width: p.w, height: BOX, rx: 5 }));
    const first = svg("text", { x: 6, y: 15, class: "label" });
    first.append(svg("tspan", { class: "name" }, node.name), svg("tspan", { class: "shape", dx: 5 }, node.shape));
    g.append(first);
    const second = svg("text", { x: 6, y: 31, class: "sub" });
    if (node.op) second.append(svg("tspan", { class: "op" }, node.op));
    if (node.gradient) second.append(svg("tspan", { class: "grad", dx: node.op ? 8 : 0 }, `${node.gradient.name} ${node.gradient.shape}`));
    g.append(second);
    const status = svg("text", { x: p.w - 5, y: 31, class: "status", "text-anchor": "end" });
    g.append(status);
    g.addEventListener("click", () => onClick(node.name));
    g.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && onClick(node.name));
    root.append(g);
    groups[node.name] = { g, status, leaf: node.column > 0 };
  }
  container.replaceChildren(root);
  const milliseconds = performance.now() - start;
  tensorStats.layouts.push(milliseconds);
  container.dataset.layoutMs = milliseconds.toFixed(1);
  return groups;
}

function mount(panel, studio) {
  const message = el("p", { class: "message", role: "alert", id: "tensor-message" });
  const graphBox = el("div", { class: "tensor-graph", id: "tensor-graph" });
  const title = el("h2", { id: "tensor-node-title" });
  const line = el("code", { id: "tensor-forward-line", class: "line" });
  const comment = el("p", { id: "tensor-forward-comment", class: "hint" });
  const shapes = el("tbody", { id: "tensor-shapes" });
  const dataCanvas = el("canvas", { id: "tensor-data-heatmap", class: "heatmap", "aria-hidden": "true" });
  const gradCanvas = el("canvas", { id: "tensor-grad-heatmap", class: "heatmap", "aria-hidden": "true" });
  const dataStats = el("p", { id: "tensor-data-stats", class: "stats" });
  const gradStats = el("p", { id: "tensor-grad-stats", class: "stats" });
  const gradTitle = el("h3", { id: "tensor-grad-title" });
  const answerButton = el("button", { id: "tensor-show-answer" }, "show answer");
  const answer = el("pre", { id: "tensor-backward", class: "line" });
  const check = el("p", { id: "tensor-check", class: "stats" });
  const gradBox = el("div", { id: "tensor-grad-box" }, gradTitle, gradCanvas, gradStats);
  const answerBox = el("div", { id: "tensor-answer-box" }, el("div", {}, answerButton), answer, check);
  // the kata
  const kataFile = el("p", { id: "kata-file" });
  const kataSummary = el("p", { id: "kata-summary", role: "status", "aria-live": "polite" });
  const kataBroken = el("p", { id: "kata-broken", class: "message" });
  const kataFirst = el("div", { id: "kata-first-wrong" });
  const kataNode = el("div", { id: "kata-node" });
  const picker = el("select", { id: "kata-candidates", "aria-label": "workbooks in the start directory" });
  const pathInput = el("input", { id: "kata-path", type: "text", size: 28, "aria-label": "workbook path" });
  let state = null;
  let groups = null;
  let graphKey = "";
  let pendingClick = null;

  async function run(command, args) {
    const result = await send(SESSION, command, args);
    message.textContent = result.error ?? "";
    if (result.state) studio.render("tensor", result.state);
    return result;
  }
  function select(name) {
    pendingClick = { name, at: performance.now() };
    run("select", { name });
  }
  answerButton.addEventListener("click", () => state && run("show_answer", { name: state.selected.name }));

  panel.append(
    el("div", { class: "tensor-columns" },
      el("div", { class: "tensor-left" },
        el("p", { class: "hint" }, "The atomic chain of backprop ninja (batch 32, 64 hidden units), top to bottom. Click a node."),
        graphBox),
      el("div", { class: "tensor-right" },
        message,
        el("section", { id: "tensor-node", "aria-live": "polite" },
          title,
          el("p", {}, line),
          comment,
          el("table", { class: "shapes" }, el("thead", {}, el("tr", {}, el("th", {}, "variable"), el("th", {}, "shape"))), shapes),
          el("div", { class: "tensor-maps" },
            el("div", {}, el("h3", {}, "data"), dataCanvas, dataStats),
            gradBox),
          answerBox),
        el("section", { id: "kata-panel" },
          el("h3", {}, "Kata"),
          kataFile,
          el("div", {},
            picker, " ", el("button", { id: "kata-refresh", title: "list the start directory's .py files again", onclick: () => run("refresh_workbooks") }, "↻"), " ",
            el("button", { id: "kata-open-picked", onclick: () => picker.value && run("open_workbook", { path: picker.value }) }, "open"), " ",
            pathInput, " ", el("button", { id: "kata-open-path", onclick: () => run("open_workbook", { path: pathInput.value }) }, "open path")),
          kataSummary,
          kataBroken,
          kataFirst,
          kataNode)),
    ),
  );

  function statsText(s) {
    return `shape (${s.shape.join(", ")}${s.shape.length === 1 ? "," : ""}) ${s.dtype} · min ${fmt(s.min)} · max ${fmt(s.max)} · mean ${fmt(s.mean)} · std ${fmt(s.std)}`;
  }

  function drawNode(d) {
    title.textContent = `${d.name} (${d.kind})${d.op ? ` = ${d.op}` : ""}`;
    line.textContent = d.line || `${d.name} is a ${d.kind}: given, not computed`;
    comment.textContent = d.comment ? `# ${d.comment}` : "";
    shapes.replaceChildren(...d.shapes.map((s) => el("tr", { "data-name": s.name }, el("td", {}, s.name), el("td", {}, s.value !== undefined ? `${s.shape} = ${s.value}` : s.shape))));
    heatmap(dataCanvas, d.data.heatmap);
    dataStats.textContent = `${d.name}: ${statsText(d.data.summary)}`;
    const g = d.gradient;
    gradBox.hidden = !g;
    answerBox.hidden = !g;
    if (g) {
      gradTitle.textContent = `gradient ${g.name}`;
      heatmap(gradCanvas, g.heatmap);
      gradStats.textContent = `${g.name}: ${statsText(g.summary)}`;
      answer.textContent = g.backward ? g.backward.join("\n") : "(hidden: try it yourself first)";
      answerButton.hidden = !!g.backward;
      const c = g.check;
      check.textContent = `check against autograd (the solution's ${g.name}, not your workbook's) | exact: ${c.exact} | approximate: ${c.approximate} | maxdiff: ${c.maxdiff === null ? "nan" : c.maxdiff.toExponential(2)} | shape: ${c.shape_ok ? `(${c.manual_shape.join(", ")}${c.manual_shape.length === 1 ? "," : ""})` : `(${c.manual_shape}) != reference (${c.reference_shape})`}`;
    }
  }

  function drawKata(k) {
    kataFile.textContent = k.workbook ? `workbook: ${k.workbook}${k.checking ? " (checking…)" : ""}` : `no workbook open: ninjagrad studio --kata FILE, or pick one from ${k.root}`;
    const options = k.candidates.join("\n");
    if (picker.dataset.options !== options) {
      picker.replaceChildren(...k.candidates.map((c) => el("option", { value: c }, c)));
      picker.dataset.options = options;
    }
    const v = k.verdict;
    const rows = {};
    for (const g of v?.gradients ?? []) rows[g.name] = g;
    for (const [name, { g, status, leaf }] of Object.entries(groups)) {
      const row = rows[name];
      for (const s of Object.keys(STATUS_TEXT)) g.classList.toggle(s, row?.status === s);
      g.classList.toggle("first-wrong", v?.first_wrong === name);
      status.textContent = row ? (leaf ? STATUS_MARK : STATUS_TEXT)[row.status] : "";
      g.dataset.status = row ? row.status : "";
    }
    if (!v) {
      kataSummary.textContent = k.workbook ? "checking…" : "";
      kataBroken.textContent = "";
      kataFirst.replaceChildren();
      kataNode.replaceChildren();
      return;
    }
    const counts = {};
    for (const g of v.gradients) counts[g.status] = (counts[g.status] ?? 0) + 1;
    kataSummary.textContent = `${v.status === "pass" ? "all right" : v.status}: ${counts.right ?? 0} right, ${counts.wrong ?? 0} wrong, ${counts.not_written ?? 0} not written yet, ${counts.not_reached ?? 0} not reached (check ${k.checks})`;
    kataBroken.textContent = v.broken ? `${v.broken.message}${v.broken.line ? ` (line ${v.broken.line}: ${v.broken.text.trim()})` : ""}` : "";
    const first = v.gradients.find((g) => g.name === v.first_wrong);
    kataFirst.replaceChildren(...(first ? kataDetail(first, k, "first wrong") : []));
    const picked = state?.selected?.name;
    const mine = v.gradients.find((g) => g.name === picked);
    kataNode.replaceChildren(...(mine && mine !== first ? kataDetail(mine, k, "selected") : []));
  }

  function kataDetail(g, k, label) {
    const parts = [el("h4", {}, `${label}: ${g.variable} — ${STATUS_TEXT[g.status]}`)];
    if (g.diagnosis) parts.push(el("p", { class: "diagnosis" }, g.diagnosis.message));
    if (g.status === "wrong" && g.maxdiff !== null) parts.push(el("p", { class: "stats" }, `maxdiff ${g.maxdiff.toExponential(2)}, shape ${g.shape_ok ? "right" : "wrong"}`));
    parts.push(el("div", {},
      el("button", { class: "kata-hint", "data-name": g.name, onclick: () => run("hint", { name: g.name }) }, "hint"), " ",
      el("button", { class: "kata-solution", "data-name": g.name, onclick: () => run("solution", { name: g.name }) }, "solution")));
    if (k.hints[g.name]) parts.push(el("p", { class: "hint-text" }, `hint: ${k.hints[g.name]}`));
    if (k.solutions[g.name]) parts.push(el("pre", { class: "line solution-text" }, k.solutions[g.name].join("\n")));
    return parts;
  }

  function update(next) {
    state = next;
    const key = next.graph.nodes.map((n) => n.name + n.shape).join("|");
    if (key !== graphKey) {
      groups = drawGraph(graphBox, next.graph, select);
      graphKey = key;
    }
    for (const [name, { g }] of Object.entries(groups)) g.classList.toggle("selected", name === next.selected.name);
    drawNode(next.selected);
    const before = next.kata.checks;
    drawKata(next.kata);
    if (pendingClick && pendingClick.name === next.selected.name) {
      tensorStats.clicks.push(performance.now() - pendingClick.at);
      if (tensorStats.clicks.length > 500) tensorStats.clicks.shift();
      pendingClick = null;
    }
    if (before) tensorStats.marks.push({ checks: before, checked_at: next.kata.checked_at, drawn_at: Date.now() / 1000 });
    if (tensorStats.marks.length > 500) tensorStats.marks.shift();
    if (next.message) message.textContent = next.message;
  }

  return { update };
}

export default { id: "tensor", title: "3 · Tensor chain + kata", session: SESSION, mount };
