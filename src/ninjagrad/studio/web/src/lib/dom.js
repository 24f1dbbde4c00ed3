// A tiny helper for building DOM: el("button", {class: "x", onclick: f}, "text", child, ...).

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// How a number from the server reads in the page: 4 decimals, scientific when tiny or huge; "nan"/"inf" as sent.
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "nan";
  if (typeof x === "string") return x;
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-4)) return x.toExponential(digits);
  return x.toFixed(digits);
}

// Render times, for the benchmark and for anyone curious (window.ninjagradStudio in the console).
export const stats = (window.ninjagradStudio = window.ninjagradStudio || { renders: {}, layouts: [] });

export function recordRender(page, milliseconds) {
  const list = (stats.renders[page] = stats.renders[page] || []);
  list.push(milliseconds);
  if (list.length > 2000) list.splice(0, list.length - 2000);
}
