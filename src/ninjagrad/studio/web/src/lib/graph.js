// A computation graph as draw_dot draws it: the server sends draw_dot's DOT source; Graphviz compiled to
// WebAssembly (@viz-js/viz) lays it out here, so the browser needs no `dot` program.
import { instance } from "@viz-js/viz";
import { stats } from "./dom.js";

let vizReady = null;
function viz() {
  vizReady = vizReady || instance();
  return vizReady;
}

// Draw `dot` into `container` (skipped when unchanged). Resolves to the SVG element.
export async function drawGraph(container, dot) {
  if (container.dataset.dot === dot && container.firstChild) return container.firstChild;
  const v = await viz();
  const start = performance.now();
  const svg = v.renderSVGElement(dot);
  const milliseconds = performance.now() - start;
  stats.layouts.push({ nodes: (dot.match(/shape=record/g) || []).length, milliseconds });
  if (stats.layouts.length > 200) stats.layouts.shift();
  svg.style.maxWidth = svg.getAttribute("width"); // "fit to width" shrinks a big graph, never enlarges
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "computation graph (the node table below lists the same values as text)");
  container.replaceChildren(svg);
  container.dataset.dot = dot;
  container.dataset.layoutMs = milliseconds.toFixed(1);
  return svg;
}

// Give the graph's records (and their op ovals) for node ids `ids` the CSS class `cls`, and no others.
export function mark(svg, ids, cls) {
  const wanted = new Set(ids);
  for (const group of svg.querySelectorAll("g.node")) {
    const title = group.querySelector("title")?.textContent ?? "";
    const id = title.endsWith("_op") ? title.slice(0, -3) : title;
    group.classList.toggle(cls, wanted.has(id));
  }
}
