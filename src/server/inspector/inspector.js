// The memory inspector: plain JavaScript over the server's /v1 REST routes. Every text from
// memory is set with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { scope: {}, cursor: undefined, mode: "list", query: "", info: {} };
const SVG = "http://www.w3.org/2000/svg";

function status(text, isError = false) {
  const line = $("status");
  line.textContent = text;
  line.classList.toggle("error", isError);
}

function scopeQuery(extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...state.scope, ...extra })) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  return params.toString();
}

async function api(path, options = {}) {
  const headers = { ...(options.body ? { "content-type": "application/json" } : {}) };
  const key = sessionStorage.getItem("mem0-server-key");
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    $("key-form").hidden = false;
    $("api-key").focus();
    throw new Error("This server needs its key: enter it above.");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function ownerText(scope = {}) {
  const parts = [];
  if (scope.userId) parts.push(`user ${scope.userId}`);
  if (scope.agentId) parts.push(`agent ${scope.agentId}`);
  if (scope.runId) parts.push(`run ${scope.runId}`);
  return parts.join(", ");
}

// ------------------------------------------------------------------ memories

function memoryRow(item) {
  const text = element("p", {
    class: "memory-text",
    "data-testid": "memory-text",
    text: item.memory,
  });
  const meta = element("p", {
    class: "muted",
    text:
      (typeof item.score === "number" ? `score ${item.score.toFixed(2)} · ` : "") +
      `updated ${when(item.updatedAt)}`,
  });
  const history = element("ol", { class: "history", "aria-label": "History", hidden: "" });
  const row = element("li", { class: "memory", "data-id": item.id }, text, meta);
  const actions = element(
    "div",
    { class: "actions" },
    element("button", {
      type: "button",
      text: "History",
      "aria-expanded": "false",
      onclick: (event) => toggleHistory(item, history, event.currentTarget),
    }),
    element("button", { type: "button", text: "Edit", onclick: () => startEdit(item, row, text) }),
    element("button", {
      type: "button",
      class: "danger",
      text: "Delete",
      onclick: () => confirmDelete(item, row),
    }),
  );
  row.append(actions, history);
  return row;
}

function showMemories(items, append) {
  const list = $("memory-list");
  if (!append) list.replaceChildren();
  for (const item of items) list.append(memoryRow(item));
  if (!append && items.length === 0)
    list.append(element("li", { class: "muted", text: "No memories." }));
}

async function listMemories(append = false) {
  state.mode = "list";
  const page = await api(
    `/v1/memories?${scopeQuery({ limit: 50, cursor: append ? state.cursor : undefined })}`,
  );
  state.cursor = page.nextCursor;
  showMemories(page.results, append);
  $("more").hidden = !state.cursor;
  status(
    `${$("memory-list").querySelectorAll("li.memory").length} memories of ${ownerText(toScope())}.`,
  );
}

async function searchMemories(query) {
  state.mode = "search";
  const result = await api("/v1/memories/search", {
    method: "POST",
    body: JSON.stringify({ ...state.scope, query, limit: 20 }),
  });
  state.cursor = undefined;
  $("more").hidden = true;
  showMemories(result.results, false);
  status(`${result.results.length} memories match “${query}”.`);
}

async function toggleHistory(item, list, button) {
  if (!list.hidden) {
    list.hidden = true;
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const { results } = await api(`/v1/memories/${encodeURIComponent(item.id)}/history`);
  list.replaceChildren(
    ...results.map((entry) =>
      element(
        "li",
        { "data-testid": "history-entry" },
        element("strong", { text: entry.action }),
        ` ${when(entry.created_at)}: `,
        entry.previous_value ? element("del", { text: entry.previous_value }) : "",
        entry.previous_value && entry.new_value ? " → " : "",
        entry.new_value ? element("ins", { text: entry.new_value }) : "",
      ),
    ),
  );
  list.hidden = false;
  button.setAttribute("aria-expanded", "true");
}

function startEdit(item, row, text) {
  if (row.querySelector("textarea")) return;
  const editor = element("textarea", { "aria-label": "Memory text", rows: "3" });
  editor.value = item.memory;
  const save = async () => {
    const value = editor.value.trim();
    if (!value) return status("A memory cannot be empty.", true);
    try {
      await api(`/v1/memories/${encodeURIComponent(item.id)}`, {
        method: "PUT",
        body: JSON.stringify({ text: value }),
      });
      item.memory = value;
      text.textContent = value;
      form.replaceWith(text);
      status("Memory saved.");
    } catch (error) {
      status(error.message, true);
    }
  };
  const cancel = () => {
    form.replaceWith(text);
    status("Edit cancelled.");
  };
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) save();
    if (event.key === "Escape") cancel();
  });
  const form = element(
    "div",
    { class: "editor" },
    editor,
    element("button", { type: "button", text: "Save", onclick: save }),
    element("button", { type: "button", text: "Cancel", onclick: cancel }),
    element("span", { class: "muted", text: " Ctrl+Enter saves, Esc cancels" }),
  );
  text.replaceWith(form);
  editor.focus();
}

function confirmDelete(item, row) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = item.memory;
  const done = (confirmed) => async () => {
    $("confirm-ok").onclick = null;
    $("confirm-cancel").onclick = null;
    dialog.close();
    if (!confirmed) return status("Nothing deleted.");
    try {
      await api(`/v1/memories/${encodeURIComponent(item.id)}`, { method: "DELETE" });
      row.remove();
      status("Memory deleted.");
    } catch (error) {
      status(error.message, true);
    }
  };
  $("confirm-ok").onclick = done(true);
  $("confirm-cancel").onclick = done(false);
  dialog.showModal();
  $("confirm-cancel").focus();
}

// ------------------------------------------------------------------ graph

/** Entities on a circle, relations as labelled arrows; invalidated ones dashed. */
function drawGraph(relations) {
  const holder = $("graph");
  holder.replaceChildren();
  const names = [...new Set(relations.flatMap((r) => [r.source, r.destination]))];
  if (names.length === 0) {
    holder.append(element("p", { class: "muted", text: "No relations." }));
    return;
  }
  const size = 520;
  const radius = names.length === 1 ? 0 : 190;
  const position = new Map(
    names.map((name, index) => {
      const angle = (2 * Math.PI * index) / names.length - Math.PI / 2;
      return [
        name,
        { x: size / 2 + radius * Math.cos(angle), y: size / 2 + radius * Math.sin(angle) },
      ];
    }),
  );
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute(
    "aria-label",
    `Graph of ${names.length} entities and ${relations.length} relations`,
  );
  svg.innerHTML =
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>';
  const svgNode = (tag, attributes, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  for (const relation of relations) {
    const from = position.get(relation.source);
    const to = position.get(relation.destination);
    const dx = to.x - from.x;
    const dy = to.y - from.y;
    const length = Math.hypot(dx, dy) || 1;
    const shorten = 34; // stop at the entity's circle
    const invalid = Boolean(relation.validTo);
    svgNode("line", {
      x1: from.x + (dx / length) * shorten,
      y1: from.y + (dy / length) * shorten,
      x2: to.x - (dx / length) * shorten,
      y2: to.y - (dy / length) * shorten,
      class: invalid ? "edge invalid" : "edge",
      "marker-end": "url(#arrow)",
      "data-testid": "edge",
    });
    svgNode(
      "text",
      {
        x: (from.x + to.x) / 2,
        y: (from.y + to.y) / 2 - 6,
        class: invalid ? "edge-label invalid" : "edge-label",
        "text-anchor": "middle",
        "data-testid": "edge-label",
      },
      relation.relationship,
    );
  }
  for (const [name, { x, y }] of position) {
    svgNode("circle", { cx: x, cy: y, r: 30, class: "entity" });
    svgNode(
      "text",
      { x, y: y + 4, class: "entity-label", "text-anchor": "middle", "data-testid": "entity" },
      name,
    );
  }
  holder.append(svg);
}

async function loadGraph() {
  if (!state.info.graph) {
    $("graph").replaceChildren(
      element("p", { class: "muted", text: "Graph memory is off for this backend." }),
    );
    $("relation-list").replaceChildren();
    return;
  }
  const includeInvalid = $("show-invalid").checked;
  const { results } = await api(
    `/v1/relations?${scopeQuery({ include_invalid: includeInvalid ? 1 : undefined })}`,
  );
  drawGraph(results);
  $("relation-list").replaceChildren(
    ...results.map((r) =>
      element("li", {
        class: r.validTo ? "invalid" : "",
        text:
          `${r.source} —${r.relationship}→ ${r.destination}` +
          (r.validTo ? ` (until ${when(r.validTo)})` : ""),
      }),
    ),
  );
  status(`${results.length} relations.`);
}

// ------------------------------------------------------------------ outbox

async function loadOutbox() {
  const body = $("outbox").tBodies[0];
  if (!state.info.outbox) {
    body.replaceChildren(
      element("tr", {}, element("td", { colspan: "4", text: "This backend has no outbox." })),
    );
    return;
  }
  const { results } = await api(`/v1/outbox?${scopeQuery()}`);
  body.replaceChildren(
    ...results.map((entry) =>
      element(
        "tr",
        { "data-testid": "outbox-entry" },
        element("td", {
          text: `${when(entry.createdAt)} (${Math.round(entry.ageMs / 1000)} s ago)`,
        }),
        element("td", { text: ownerText(entry.scope) }),
        element("td", { text: String(entry.attempts) }),
        element("td", { text: entry.lastError ?? "" }),
      ),
    ),
  );
  if (results.length === 0)
    body.append(element("tr", {}, element("td", { colspan: "4", text: "Nothing pending." })));
  status(`${results.length} writes pending.`);
}

// ------------------------------------------------------------------ wiring

function toScope() {
  return { userId: state.scope.user_id, agentId: state.scope.agent_id, runId: state.scope.run_id };
}

function currentTab() {
  return document.querySelector('[role="tab"][aria-selected="true"]').id.replace("tab-", "");
}

async function refresh() {
  if (!state.scope.user_id && !state.scope.agent_id && !state.scope.run_id) {
    status("Enter a user, agent or run id, then Load.");
    return;
  }
  try {
    const tab = currentTab();
    if (tab === "memories")
      await (state.mode === "search" && state.query ? searchMemories(state.query) : listMemories());
    if (tab === "graph") await loadGraph();
    if (tab === "outbox") await loadOutbox();
  } catch (error) {
    status(error.message, true);
  }
}

function selectTab(tab) {
  for (const button of document.querySelectorAll('[role="tab"]')) {
    const selected = button === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(button.getAttribute("aria-controls")).hidden = !selected;
  }
  tab.focus();
  refresh();
}

function readScope() {
  state.scope = {
    user_id: $("user-id").value.trim(),
    agent_id: $("agent-id").value.trim(),
    run_id: $("run-id").value.trim(),
  };
  location.hash = scopeQuery();
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1));
  $("user-id").value = fromHash.get("user_id") ?? "";
  $("agent-id").value = fromHash.get("agent_id") ?? "";
  $("run-id").value = fromHash.get("run_id") ?? "";

  $("scope-form").addEventListener("submit", (event) => {
    event.preventDefault();
    readScope();
    state.mode = "list";
    refresh();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("mem0-server-key", $("api-key").value);
    $("key-form").hidden = true;
    start();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    readScope();
    state.query = $("query").value.trim();
    state.mode = state.query ? "search" : "list";
    refresh();
  });
  $("show-all").addEventListener("click", () => {
    state.query = "";
    $("query").value = "";
    state.mode = "list";
    refresh();
  });
  $("more").addEventListener("click", () =>
    listMemories(true).catch((e) => status(e.message, true)),
  );
  $("show-invalid").addEventListener("change", () =>
    loadGraph().catch((e) => status(e.message, true)),
  );

  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      if (event.key === "ArrowRight") selectTab(tabs[(index + 1) % tabs.length]);
      if (event.key === "ArrowLeft") selectTab(tabs[(index + tabs.length - 1) % tabs.length]);
    });
  }
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement?.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      selectTab($("tab-memories"));
      $("query").focus();
    }
  });

  try {
    state.info = await api("/v1/info");
    $("backend-info").textContent =
      `Backend: ${state.info.backend}` +
      (state.info.graph ? " · graph memory on" : "") +
      (state.info.outbox ? " · durable outbox" : "");
  } catch (error) {
    status(error.message, true);
    return;
  }
  readScope();
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
