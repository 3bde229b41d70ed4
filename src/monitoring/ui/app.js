// lakeport's monitoring UI: running and recent statements (#/), and one statement with its
// plan drawn as a graph of operators and their metrics (#/query/ID). Everything comes from
// /api/queries; the page re-reads it every two seconds while auto-refresh is on.
"use strict";

const REFRESH_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

const view = document.getElementById("view");
const autoRefresh = document.getElementById("auto-refresh");
const updated = document.getElementById("updated");

let timer = null;
let shown = "";          // the JSON last drawn, to redraw only on change
let selectedNode = null; // the plan node path whose details are open

// ---- small helpers ---------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Replaces the view's content, skipping absent parts.
const show = (...parts) => view.replaceChildren(...parts.filter((part) => part !== null && part !== undefined));

const count = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"));

function duration(ms) {
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${((ms % 60000) / 1000).toFixed(0)} s`;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const time = (epochMs) => new Date(epochMs).toLocaleTimeString("en-GB", { hour12: false });
const stateBadge = (state) => el("span", { class: `state ${state}` }, state);

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 409) {
    throw new Error(body.error || `${response.status} ${response.statusText}`);
  }
  return body;
}

async function cancel(id, button) {
  button.disabled = true;
  button.textContent = "Canceling…";
  try {
    const answer = await api(`/api/queries/${id}/cancel`, {
      method: "POST",
      headers: { "X-Lakeport-UI": "1" },
    });
    button.textContent = answer.canceled ? "Cancel requested" : "Not running";
  } catch (error) {
    button.textContent = `Cancel failed: ${error.message}`;
  }
  refresh();
}

function cancelButton(id) {
  const button = el("button", { class: "cancel", "data-query-id": id });
  button.textContent = "Cancel";
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    cancel(id, button);
  });
  return button;
}

// ---- the list of statements (#/) --------------------------------------------------------

function queryRow(query, cells) {
  const row = el("tr", { class: "query-row", "data-query-id": query.id });
  row.addEventListener("click", () => { location.hash = `#/query/${query.id}`; });
  for (const cell of cells) row.append(cell);
  return row;
}

function runningTable(running) {
  const head = el("tr", {}, el("th", {}, "id"), el("th", {}, "user"), el("th", {}, "application"),
    el("th", {}, "started"), el("th", { class: "num" }, "duration"),
    el("th", { class: "num" }, "rows read"), el("th", { class: "num" }, "bytes read"),
    el("th", {}, "query"), el("th", {}, ""));
  const rows = running.map((q) => queryRow(q, [
    el("td", {}, q.id), el("td", {}, q.user), el("td", {}, q.application_name),
    el("td", {}, time(q.started)), el("td", { class: "num" }, duration(q.duration_ms)),
    el("td", { class: "num" }, count(q.rows_read)), el("td", { class: "num" }, bytes(q.bytes_read)),
    el("td", { class: "sql", title: q.query }, q.query), el("td", {}, cancelButton(q.id)),
  ]));
  return el("table", { id: "running" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function recentTable(recent) {
  const head = el("tr", {}, el("th", {}, "id"), el("th", {}, "user"), el("th", {}, "state"),
    el("th", {}, "started"), el("th", { class: "num" }, "duration"),
    el("th", { class: "num" }, "rows"), el("th", { class: "num" }, "rows read"),
    el("th", { class: "num" }, "bytes read"), el("th", {}, "query"));
  const rows = recent.map((q) => queryRow(q, [
    el("td", {}, q.id), el("td", {}, q.user), el("td", {}, stateBadge(q.state)),
    el("td", {}, time(q.started)), el("td", { class: "num" }, duration(q.duration_ms)),
    el("td", { class: "num" }, count(q.rows)), el("td", { class: "num" }, count(q.rows_read)),
    el("td", { class: "num" }, bytes(q.bytes_read)),
    el("td", { class: "sql", title: q.error ? `${q.query}\n\n${q.sqlstate}: ${q.error}` : q.query }, q.query),
  ]));
  return el("table", { id: "recent" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

async function showList() {
  const data = await api("/api/queries");
  const drawn = JSON.stringify(data.running.map((q) => [q.id, Math.floor(q.duration_ms / 1000), q.rows_read]))
    + JSON.stringify(data.recent.map((q) => q.id));
  if (drawn === shown) return;
  shown = drawn;
  show(
    el("h2", {}, "Running ", el("span", { class: "count" }, `(${data.running.length})`)),
    data.running.length ? runningTable(data.running) : el("p", { class: "muted" }, "No statement is running."),
    el("h2", {}, "Recent ", el("span", { class: "count" }, `(${data.recent.length})`)),
    data.recent.length ? recentTable(data.recent) : el("p", { class: "muted" }, "No statement has finished yet."),
  );
}

// ---- one statement and its plan graph (#/query/ID) -------------------------------------

const NODE_WIDTH = 250;
const NODE_HEIGHT = 70;
const GAP_X = 24;
const GAP_Y = 44;
const MARGIN = 16;

// Milliseconds of a DataFusion duration as it prints ("1.5ms", "230.1µs", "2s").
function metricMs(text) {
  const match = /^([\d.]+)\s*(ns|µs|us|ms|s)$/.exec(String(text || "").trim());
  if (!match) return 0;
  const scale = { ns: 1e-6, "µs": 1e-3, us: 1e-3, ms: 1, s: 1000 }[match[2]];
  return Number(match[1]) * scale;
}

// Lays the tree out top-down, root first: leaves take the next column, parents centre
// over their children. Returns every node with its column, depth and path.
function layout(root) {
  const placed = [];
  let nextColumn = 0;
  function place(node, depth, path) {
    const children = (node.Plans || []).map((child, i) => place(child, depth + 1, `${path}.${i}`));
    const column = children.length
      ? (children[0].column + children[children.length - 1].column) / 2
      : nextColumn++;
    const entry = { node, depth, column, path, children };
    placed.push(entry);
    return entry;
  }
  place(root, 0, "0");
  return { placed, columns: nextColumn, depth: Math.max(...placed.map((p) => p.depth)) + 1 };
}

function nodeFigures(node) {
  const metrics = node.Metrics || {};
  const parts = [];
  if (metrics.output_rows !== undefined) parts.push(`${metrics.output_rows} rows`);
  if (metrics.elapsed_compute !== undefined) parts.push(duration(metricMs(metrics.elapsed_compute)));
  parts.push(`${node.Partitions} part.`);
  return parts.join(" · ");
}

function shortDetails(node) {
  const details = String(node.Details || "").replace(/^[A-Za-z]+:\s*/, "");
  return details.length > 38 ? `${details.slice(0, 37)}…` : details;
}

function planGraph(plan, index, onSelect) {
  const { placed, columns, depth } = layout(plan);
  const width = MARGIN * 2 + columns * NODE_WIDTH + (columns - 1) * GAP_X;
  const height = MARGIN * 2 + depth * NODE_HEIGHT + (depth - 1) * GAP_Y;
  const x = (p) => MARGIN + p.column * (NODE_WIDTH + GAP_X);
  const y = (p) => MARGIN + p.depth * (NODE_HEIGHT + GAP_Y);
  const graph = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "plan-graph" });
  const hottest = placed.reduce((best, p) => {
    const ms = metricMs((p.node.Metrics || {}).elapsed_compute);
    return ms > best.ms ? { ms, path: p.path } : best;
  }, { ms: 0, path: null });
  for (const parent of placed) {
    for (const child of parent.children) {
      const fromX = x(child) + NODE_WIDTH / 2;
      const toX = x(parent) + NODE_WIDTH / 2;
      const fromY = y(child);
      const toY = y(parent) + NODE_HEIGHT;
      const middle = (fromY + toY) / 2;
      graph.append(svg("path", {
        class: "plan-edge",
        d: `M ${fromX} ${fromY} C ${fromX} ${middle}, ${toX} ${middle}, ${toX} ${toY}`,
      }));
    }
  }
  for (const p of placed) {
    const key = `${index}:${p.path}`;
    const classes = ["plan-node"];
    if (p.path === hottest.path) classes.push("hot");
    if (key === selectedNode) classes.push("selected");
    const group = svg("g", {
      class: classes.join(" "),
      transform: `translate(${x(p)}, ${y(p)})`,
      "data-node-type": p.node["Node Type"],
    });
    group.append(
      svg("title", {}, p.node.Details || p.node["Node Type"]),
      svg("rect", { width: NODE_WIDTH, height: NODE_HEIGHT, rx: 6 }),
      svg("text", { x: 10, y: 20, class: "name" }, p.node["Node Type"]),
      svg("text", { x: 10, y: 39 }, shortDetails(p.node)),
      svg("text", { x: 10, y: 58, class: "figures" }, nodeFigures(p.node)),
    );
    group.addEventListener("click", () => onSelect(key, p.node));
    graph.append(group);
  }
  return graph;
}

function nodePanel(node) {
  if (!node) return el("div", { class: "node-panel muted" }, "Click an operator to see its details and every metric.");
  const metrics = Object.entries(node.Metrics || {}).map(([name, value]) =>
    el("tr", {}, el("td", {}, name), el("td", { class: "num" }, value)));
  return el("div", { class: "node-panel" },
    el("h3", {}, node["Node Type"]),
    el("div", { class: "details" }, node.Details || ""),
    metrics.length ? el("table", {}, el("tbody", {}, ...metrics)) : el("p", { class: "muted" }, "No metrics yet."));
}

function findNode(plans, key) {
  if (!key) return null;
  const [index, path] = key.split(":");
  let node = plans[Number(index)];
  for (const step of path.split(".").slice(1)) node = node && (node.Plans || [])[Number(step)];
  return node || null;
}

async function showQuery(id) {
  let query;
  try {
    query = await api(`/api/queries/${encodeURIComponent(id)}`);
  } catch (error) {
    shown = "";
    show(el("p", { class: "error" }, error.message), el("a", { href: "#/" }, "All queries"));
    return;
  }
  const drawn = JSON.stringify(query.plans) + query.state + query.rows_read + selectedNode;
  if (drawn === shown) return;
  shown = drawn;
  const facts = [
    ["state", stateBadge(query.state)], ["user", query.user], ["application", query.application_name || "—"],
    ["backend pid", query.pid], ["started", time(query.started)], ["duration", duration(query.duration_ms)],
    ["rows", query.rows === undefined ? "—" : count(query.rows)], ["rows read", count(query.rows_read)],
    ["bytes read", bytes(query.bytes_read)],
    ["partitions pruned", query.partitions ? `${count(query.partitions_pruned)} of ${count(query.partitions)}` : "—"],
  ].map(([label, value]) => el("div", {}, el("span", { class: "label" }, label), value));
  const plans = query.plans || [];
  const panel = el("div", {}, nodePanel(findNode(plans, selectedNode)));
  const select = (key) => {
    selectedNode = key;
    shown = "";
    showQuery(id);
  };
  show(
    el("p", {}, el("a", { href: "#/" }, "← All queries")),
    el("h2", { id: "query-title", "data-state": query.state }, `Query ${query.id}`),
    el("pre", { class: "sql" }, query.query),
    el("div", { class: "facts" }, ...facts),
    query.state === "running" ? cancelButton(query.id) : null,
    query.error ? el("p", { class: "error" }, `${query.sqlstate}: ${query.error}`) : null,
    el("h2", {}, "Plan"),
    plans.length
      ? el("div", { class: "plan-wrap" },
        el("div", { class: "plan" }, ...plans.map((plan, i) => planGraph(plan, i, select))), panel)
      : el("p", { class: "muted" }, "This statement ran without a plan (a literal answer, a catalog command or a session setting)."),
  );
}

// ---- routing and refresh --------------------------------------------------------------

async function refresh() {
  const match = /^#\/query\/(\d+)$/.exec(location.hash);
  try {
    if (match) await showQuery(match[1]);
    else await showList();
    updated.textContent = `updated ${new Date().toLocaleTimeString("en-GB", { hour12: false })}`;
  } catch (error) {
    updated.textContent = `update failed: ${error.message}`;
  }
}

function schedule() {
  clearInterval(timer);
  timer = autoRefresh.checked ? setInterval(refresh, REFRESH_MS) : null;
}

window.addEventListener("hashchange", () => {
  shown = "";
  selectedNode = null;
  refresh();
});
autoRefresh.addEventListener("change", schedule);
refresh();
schedule();
