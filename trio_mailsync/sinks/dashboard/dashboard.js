// The trio-mailsync dashboard: one page, no build step, nothing loaded from elsewhere.
//
// It follows the service's WebSocket event stream; nothing polls. The accounts'
// figures (/api/overview) are fetched when the page connects and again after
// events that change them (a sync's result, a state change), at most once a second.
// The token is asked for once and kept in this tab's session storage; it is given
// to the API as "Authorization: Bearer" and to the WebSocket in its URL (a browser
// cannot set a header on a WebSocket), never put in the page's own address.
"use strict";

const TOKEN_KEY = "trio-mailsync-token";
const TAIL_MAX = 200;
const REFRESH_GAP_MS = 1000;
// The overview costs the server about 55 us of CPU per account (docs/performance.md):
// refetches are spaced by at least ten times what the last one took, so one open
// dashboard costs the service at most about a tenth of a core, at 10,000 accounts too.
const REFRESH_COST_FACTOR = 10;
const RECONNECT_MAX_MS = 30000;

const $ = (selector) => document.querySelector(selector);
const accounts = new Map(); // id -> the account's status (from /api/overview)
let latency = []; // [wall-clock seconds, latency seconds]
let token = null;
let socket = null;
let reconnectDelay = 1000;
let refreshTimer = null;
let lastRefresh = 0;
let refreshGap = REFRESH_GAP_MS; // grows with what the last overview took

function showError(text) {
  const error = $("#error");
  error.textContent = text;
  error.hidden = !text;
}

function setStatus(text, live) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("live", Boolean(live));
}

function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  if (socket) socket.close();
  $("#main").hidden = true;
  $("#token-form").hidden = false;
  showError(message || "");
  $("#token").focus();
}

async function api(method, path) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}` },
    cache: "no-store",
  });
  if (response.status === 401) {
    askForToken("Wrong token: the service refused it. Enter the token serve printed, or [broadcast] token.");
    throw new Error("unauthorized");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// ------------------------------------------------------------------ formatting

function ago(seconds) {
  if (seconds == null) return "";
  const delta = Date.now() / 1000 - seconds;
  if (delta < 60) return `${Math.max(0, Math.round(delta))} s ago`;
  if (delta < 3600) return `${Math.round(delta / 60)} min ago`;
  return new Date(seconds * 1000).toLocaleString();
}

function until(seconds) {
  if (seconds == null) return "";
  const delta = seconds - Date.now() / 1000;
  return delta <= 0 ? "now" : delta < 120 ? `in ${Math.round(delta)} s` : `in ${Math.round(delta / 60)} min`;
}

function duration(seconds) {
  if (seconds == null) return "";
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

// ------------------------------------------------------------------ the table

function renderAccounts() {
  const body = $("#accounts tbody");
  body.replaceChildren();
  let troubled = 0;
  for (const account of accounts.values()) {
    const row = body.insertRow();
    row.dataset.account = account.id;
    cell(row, account.id);
    cell(row, account.provider);
    const state = cell(row, account.state, `state state-${account.state}`);
    if (account.detail) {
      state.title = account.detail;
      const detail = document.createElement("div");
      detail.className = "detail";
      detail.textContent = account.detail;
      state.append(detail);
    }
    if (["error", "auth_failed"].includes(account.state)) troubled += 1;
    cell(row, ago(account.last_sync), "last-sync");
    cell(row, duration(account.last_sync_duration), "num");
    cell(row, until(account.next_retry));
    cell(row, account.connections, "num");
    cell(row, account.folders, "num");
    cell(row, account.messages_today, "num today");
    cell(row, account.quarantined, "num");
    const actions = row.insertCell();
    const wanted = account.paused ? ["resume"] : ["sync", "retry", "pause"];
    for (const action of wanted) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.action = action;
      button.textContent = action === "sync" ? "sync now" : action;
      button.addEventListener("click", () => act(account.id, action));
      actions.append(button);
    }
  }
  $("#summary").textContent = `${accounts.size} account(s)${troubled ? `, ${troubled} in trouble` : ""}`;
}

async function act(id, action) {
  const result = $("#action-result");
  try {
    await api("POST", `/api/accounts/${encodeURIComponent(id)}/${action}`);
    result.textContent = `${action}: ${id}: done`;
  } catch (error) {
    result.textContent = `${action}: ${id}: ${error.message}`;
  }
  scheduleRefresh();
}

// ------------------------------------------------------------------ latency chart

function renderLatency() {
  const now = Date.now() / 1000;
  latency = latency.filter(([at]) => at >= now - 3600);
  const width = 360, height = 120, pad = 18;
  const highest = Math.max(0.01, ...latency.map(([, l]) => l));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "new-mail latency over the last hour");
  for (const [at, value] of latency) {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", String(pad + ((at - (now - 3600)) / 3600) * (width - 2 * pad)));
    dot.setAttribute("cy", String(height - pad - (value / highest) * (height - 2 * pad)));
    dot.setAttribute("r", "2");
    svg.append(dot);
  }
  const label = (x, y, text) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(x));
    t.setAttribute("y", String(y));
    t.textContent = text;
    svg.append(t);
  };
  label(2, 12, duration(highest));
  label(2, height - 4, "-60 min");
  label(width - 26, height - 4, "now");
  $("#latency").replaceChildren(svg);
  const sorted = latency.map(([, l]) => l).sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
  $("#latency-summary").textContent = sorted.length
    ? `${sorted.length} message batch(es); median ${duration(median)}, worst ${duration(sorted[sorted.length - 1])}`
    : "no new mail heard in the last hour";
}

// ------------------------------------------------------------------ data

async function refresh() {
  lastRefresh = Date.now();
  const overview = await api("GET", "/api/overview");
  refreshGap = Math.max(REFRESH_GAP_MS, (Date.now() - lastRefresh) * REFRESH_COST_FACTOR);
  accounts.clear();
  for (const account of overview.accounts) accounts.set(account.id, account);
  latency = overview.recent_latency;
  renderAccounts();
  renderLatency();
}

function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, lastRefresh + refreshGap - Date.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh().catch((error) => showError(`Could not read the accounts: ${error.message}`));
  }, wait);
}

function describe(event) {
  switch (event.type) {
    case "new_messages":
      return event.messages.map((m) => {
        const from = m.from ? m.from.name || m.from.address : "?";
        return `${event.account} ${event.folder}: new from ${from}: ${m.subject || "(no subject)"}`;
      });
    case "account_state":
      return [`${event.account}: ${event.state}${event.detail ? ` (${event.detail})` : ""}`];
    case "sync_result": {
      const found = event.results.reduce((n, r) => n + r.new, 0);
      const failed = event.results.filter((r) => r.error).length;
      return [`sync (${event.trigger}): ${event.results.length} account(s), ${found} new${failed ? `, ${failed} failed` : ""}`];
    }
    case "messages_deleted":
      return [`${event.account} ${event.folder}: ${event.uids.length} deleted`];
    case "flags_changed":
      return [`${event.account} ${event.folder}: flags of ${event.messages.length} changed`];
    case "delivery_failed":
      return [`${event.consumer} gave up on ${event.event_ids.length} event(s): ${event.error}`];
    default:
      return [`${event.type}${event.account ? ` ${event.account}` : ""}`];
  }
}

function addToTail(event) {
  const tail = $("#tail");
  const at = (event.time || "").slice(11, 19);
  for (const line of describe(event)) {
    const item = document.createElement("li");
    item.dataset.type = event.type;
    const time = document.createElement("time");
    time.textContent = at;
    item.append(time, document.createTextNode(line));
    tail.prepend(item);
  }
  while (tail.children.length > TAIL_MAX) tail.lastElementChild.remove();
}

function onEvent(event) {
  if (event.type === "hello") {
    scheduleRefresh();
    return;
  }
  addToTail(event);
  if (event.type === "account_state") {
    const account = accounts.get(event.account);
    if (event.state === "removed") accounts.delete(event.account);
    else if (account) Object.assign(account, { state: event.state, detail: event.detail });
    renderAccounts();
    scheduleRefresh();
  } else if (event.type === "sync_result" || event.type === "new_messages") {
    scheduleRefresh();
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/?token=${encodeURIComponent(token)}`);
  socket.addEventListener("open", () => {
    reconnectDelay = 1000;
    setStatus("live", true);
  });
  socket.addEventListener("message", (message) => onEvent(JSON.parse(message.data)));
  socket.addEventListener("close", (closed) => {
    socket = null;
    if (!token) return;
    const why = closed.code === 1001 ? "the service stopped" : "connection lost";
    setStatus(`${why}; reconnecting in ${Math.round(reconnectDelay / 1000)} s`, false);
    setTimeout(() => token && connect(), reconnectDelay);
    reconnectDelay = Math.min(RECONNECT_MAX_MS, reconnectDelay * 2);
  });
}

async function start() {
  showError("");
  try {
    await refresh();
  } catch (error) {
    if (error.message !== "unauthorized") showError(`Could not reach the service: ${error.message}`);
    return;
  }
  $("#token-form").hidden = true;
  $("#main").hidden = false;
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#token-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    token = $("#token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("#token").value = "";
    start();
  });
  // serve may print a link with the token in the fragment (never sent to the server):
  // it is taken and removed from the address at once.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname);
  }
  token = sessionStorage.getItem(TOKEN_KEY);
  if (token) start();
  else askForToken("");
  setInterval(() => accounts.size && renderAccounts(), 30000); // "2 min ago" ages; no request
});
