// A uPlot chart of several series over one x axis (steps, or histogram bins), with optional flat lines
// (the update:data ratio's -3). set({x, series: [[...], ...]}) redraws; null values are gaps.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

export function multiChart(container, { title, xLabel = "step", yLabel = "", names, lines = [], width = 390, height = 190, log = false, points = false }) {
  const series = [{ label: xLabel }];
  names.forEach((name, i) => {
    const s = { label: name, stroke: COLORS[i % COLORS.length], width: 1.4, spanGaps: true };
    if (points) Object.assign(s, { paths: () => null, points: { show: true, size: 4, fill: COLORS[i % COLORS.length] } });
    series.push(s);
  });
  for (const line of lines) series.push({ label: line.label, stroke: "#000", width: 1, dash: [5, 4] });
  const options = {
    title,
    width,
    height,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    axes: [{ label: xLabel }, { label: yLabel }],
    series,
    legend: { show: true, live: false },
  };
  const plot = new uPlot(options, [[], ...series.slice(1).map(() => [])], container);
  return {
    set({ x, values }) {
      const data = [x, ...values.map((v) => v.map((y) => (y === null ? null : y)))];
      for (const line of lines) data.push(x.map(() => line.value));
      plot.setData(data);
    },
  };
}
