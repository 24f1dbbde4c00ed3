// View 1: an expression by hand. The graph as draw_dot draws it, the node table (the same values as
// text), and the stepper: each "backward one node" runs one rule of the engine's own walk on the server.
import { send } from "../lib/api.js";
import { el, fmt } from "../lib/dom.js";
import { drawGraph, mark } from "../lib/graph.js";

const SESSION = "expression";

function mount(panel, studio) {
  const message = el("p", { class: "message", role: "alert", id: "expr-message" });
  const examples = el("select", { id: "expr-example", "aria-label": "example" });
  const program = el("textarea", { id: "expr-program", rows: 8, cols: 34, spellcheck: "false", "aria-label": "expression: one assignment per line" });
  const title = el("h2", { id: "expr-title" });
  const progress = el("p", { id: "stepper-progress", role: "status" });
  const current = el("p", { id: "rule-current", "aria-live": "polite" });
  const next = el("p", { id: "rule-next" });
  const history = el("ol", { id: "rule-history" });
  const graph = el("div", { class: "graph fit", id: "expr-graph" });
  const fit = el("input", { type: "checkbox", id: "expr-fit", checked: true, onchange: () => graph.classList.toggle("fit", fit.checked) });
  const tbody = el("tbody");
  const inputs = el("select", { id: "nudge-input", "aria-label": "input to nudge" });
  const h = el("input", { id: "nudge-h", type: "text", value: "0.001", size: 8, "aria-label": "h" });
  const nudgeText = el("p", { id: "nudge-result", "aria-live": "polite" });
  let state = null;

  async function run(command, args) {
    const answer = await send(SESSION, command, args);
    message.textContent = answer.error ?? "";
    if (answer.state) studio.render("expression", answer.state);
  }
  const button = (id, text, command, args) =>
    el("button", { id, onclick: () => run(command, typeof args === "function" ? args() : args) }, text);

  panel.append(
    el("div", { class: "columns" },
      el("div", { class: "controls" },
        el("h3", {}, "Expression"),
        el("label", {}, "Example ", examples, " ", button("expr-load", "load", "example", () => ({ name: examples.value }))),
        el("p", { class: "hint" }, "One assignment per line; numbers, names, + - * / **, tanh exp relu log sigmoid."),
        program,
        el("div", {}, button("expr-build", "build graph", "parse", () => ({ text: program.value }))),
        el("h3", {}, "Steps"),
        el("div", { class: "buttons" },
          button("expr-forward", "forward", "forward"),
          button("expr-step", "backward one node", "backward_step"),
          button("expr-backward-all", "backward all", "backward_all"),
          button("expr-reset", "reset grads", "reset_grads"),
        ),
        el("h3", {}, "Nudge an input"),
        el("div", {}, inputs, " by h = ", h, " ", button("expr-nudge", "nudge", "nudge", () => ({ name: inputs.value, h: Number(h.value) }))),
        nudgeText,
        message,
      ),
      el("div", { class: "view" },
        title,
        progress,
        el("div", { class: "rule" }, el("strong", {}, "Rule: "), current, next),
        el("label", {}, fit, " fit the graph to the width"),
        graph,
        el("details", { open: true },
          el("summary", {}, "Nodes (label, data, grad)"),
          el("table", { id: "node-table" },
            el("thead", {}, el("tr", {}, ...["id", "label", "op", "data", "grad"].map((t) => el("th", { scope: "col" }, t)))),
            tbody,
          ),
        ),
        el("details", {}, el("summary", {}, "Rules fired, in the engine's order"), history),
      ),
    ),
  );

  function update(next_state) {
    const first = state === null;
    state = next_state;
    if (state.message) message.textContent = state.message;
    if (first || examples.options.length !== state.examples.length) {
      examples.replaceChildren(...state.examples.map((name) => el("option", { value: name }, name)));
    }
    if (program.dataset.sent !== state.program) {
      program.value = state.program;
      program.dataset.sent = state.program;
    }
    program.disabled = !state.program;
    title.textContent = state.title;
    const names = state.inputs.join("\n");
    if (inputs.dataset.names !== names) {
      inputs.replaceChildren(...state.inputs.map((name) => el("option", { value: name }, name)));
      inputs.dataset.names = names;
    }
    const s = state.stepper;
    progress.textContent = `${s.fired} of ${s.total} rules run` + (s.done ? " — backward done" : s.started ? "" : " — backward not started");
    const last = s.last;
    current.textContent = last ? last.lines.map((l) => l.text).join("\n") : "(none yet: press backward one node)";
    next.textContent = s.pending ? `next: the rule of ${s.pending.name} (${s.pending.node})` : "";
    history.replaceChildren(...s.history.map((r) => el("li", { "data-node": r.node, "data-op": r.op }, `${r.name} (${r.op}): ` + r.lines.map((l) => l.text).join("; "))));
    nudgeText.textContent = state.nudge ? state.nudge.text : "";

    const fired = last ? last.node : null;
    const pending = s.pending ? s.pending.node : null;
    tbody.replaceChildren(
      ...state.graph.nodes.map((n) =>
        el("tr", { "data-id": n.id, class: n.id === fired ? "fired" : n.id === pending ? "next" : null },
          el("td", {}, n.id), el("td", { class: "label" }, n.label), el("td", {}, n.op),
          el("td", { class: "data" }, fmt(n.data)), el("td", { class: "grad" }, fmt(n.grad)),
        ),
      ),
    );
    drawGraph(graph, state.graph.dot).then((svg) => {
      mark(svg, fired ? [fired] : [], "fired");
      mark(svg, pending ? [pending] : [], "next");
      if (last) mark(svg, last.lines.map((l) => l.target), "target");
      else mark(svg, [], "target");
    });
  }

  return { update };
}

export default { id: "expression", title: "1 · Expression", session: SESSION, mount };
