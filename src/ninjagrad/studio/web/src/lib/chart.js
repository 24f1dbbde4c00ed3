// A line chart of one value against the training step (uPlot).
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export function lineChart(container, { title, label, color, min, max, width = 380, height = 170 }) {
  const options = {
    title,
    width,
    height,
    scales: { x: { time: false }, y: min === undefined ? {} : { range: [min, max] } },
    axes: [{ label: "step" }, { label }],
    series: [{ label: "step" }, { label, stroke: color, width: 1.5 }],
    legend: { show: false },
  };
  const plot = new uPlot(options, [[], []], container);
  return {
    set(curve) {
      plot.setData([curve.steps, curve.values.map((v) => (v === null ? NaN : v))]);
    },
  };
}
