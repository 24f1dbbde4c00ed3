// A heatmap of a small matrix on a canvas (the lecture's picture of dlogits): blue below zero, red above,
// white at zero, the colour scale symmetric in the largest magnitude. null (nan/inf) is drawn grey.
const MAX_WIDTH = 340; // CSS pixels
const MAX_CELL = 9;

export function heatmap(canvas, map) {
  const cell = Math.max(2, Math.min(MAX_CELL, Math.floor(MAX_WIDTH / map.columns)));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = map.columns * cell * ratio;
  canvas.height = map.rows * cell * ratio;
  canvas.style.width = `${map.columns * cell}px`;
  canvas.style.height = `${map.rows * cell}px`;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  let biggest = 0;
  for (const row of map.values) for (const v of row) if (v !== null) biggest = Math.max(biggest, Math.abs(v));
  biggest = biggest || 1;
  map.values.forEach((row, i) =>
    row.forEach((v, j) => {
      if (v === null) g.fillStyle = "#999";
      else {
        const t = Math.min(1, Math.abs(v) / biggest);
        const fade = Math.round(255 * (1 - t));
        g.fillStyle = v >= 0 ? `rgb(255,${fade},${fade})` : `rgb(${fade},${fade},255)`;
      }
      g.fillRect(j * cell, i * cell, cell, cell);
    }),
  );
  canvas.dataset.rows = map.rows;
  canvas.dataset.columns = map.columns;
  canvas.dataset.scale = biggest;
}
