// The studio's shell: one tab per page (pages/index.js), the stream of the visible page's session,
// and the time each update takes to render.
import { subscribe } from "./lib/api.js";
import { el, recordRender } from "./lib/dom.js";
import { PAGES } from "./pages/index.js";
import "./style.css";

const tabs = document.getElementById("tabs");
const panels = document.getElementById("pages");
const connection = document.getElementById("connection");
const mounted = {};
let closeStream = null;
let current = null;

const studio = {
  show,
  // A command's answer carries the new state; pages hand it here so it is drawn at once.
  render(pageId, state) {
    const start = performance.now();
    mounted[pageId].controller.update(state);
    recordRender(pageId, performance.now() - start);
  },
};

for (const page of PAGES) {
  const tab = el("button", { role: "tab", id: `tab-${page.id}`, "aria-controls": `page-${page.id}`, onclick: () => show(page.id) }, page.title);
  const panel = el("section", { role: "tabpanel", id: `page-${page.id}`, "aria-labelledby": `tab-${page.id}`, hidden: true });
  tabs.append(tab);
  panels.append(panel);
  mounted[page.id] = { page, tab, panel, controller: page.mount(panel, studio) };
}

function show(pageId) {
  if (!mounted[pageId]) pageId = PAGES[0].id;
  if (current === pageId) return;
  current = pageId;
  for (const [id, m] of Object.entries(mounted)) {
    m.panel.hidden = id !== pageId;
    m.tab.setAttribute("aria-selected", String(id === pageId));
  }
  if (closeStream) closeStream();
  const session = mounted[pageId].page.session;
  closeStream = subscribe(
    session,
    (state) => studio.render(pageId, state),
    (ok) => {
      connection.textContent = ok ? "connected" : "connection lost: is `ninjagrad studio` still running?";
    },
  );
  history.replaceState(null, "", `${location.search}#${pageId}`);
}

show(location.hash.slice(1) || PAGES[0].id);
