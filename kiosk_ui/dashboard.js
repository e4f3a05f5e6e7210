// The duty leader's dashboard. The picture is loaded once (GET /api/v1/presence) and
// then kept current by the stream's ``delta`` events (per child and per group), with
// ``reload`` asking for a fresh picture; the chart's history comes once from
// /api/v1/presence/curve and its last point moves with each delta's counts. Against a
// server without deltas (no ``cursor``), a tap refetches the picture as before.
import { t, say, clock, el, translatePage, toggleLang, classLabel } from "/ui/i18n.js";
import { draw, value } from "/ui/chart.js";
import { mountPatrol } from "/ui/panels/patrol.js";
import { mountRegister } from "/ui/panels/register.js";
import { mountDuty } from "/ui/panels/duty.js";

let token = sessionStorage.getItem("token") || localStorage.getItem("token") || "";
let picture = null;
let byStudent = new Map(); // student_id -> index in picture.students
let byGroup = new Map();
let curve = null;
let history = []; // the curve's points, the last one "now"
let source = null;
let deltas = true; // false: the server sends no deltas, a tap refetches
let loading = null; // the picture's fetch in flight, while deltas wait in ``queued``
let queued = [];
let pending = null;
let drawn = null;
const alerts = [];
let conflicts = [];
let unreadable = [];
const $ = (id) => document.getElementById(id);
const none = (items, text = t("nobody")) => (items.length ? items : [el("li", {}, text)]);

// A refused token signs out (saying why); with ``quiet``, a refused role only skips.
async function api(path, quiet = false) {
  const reply = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  const body = await reply.json().catch(() => ({ detail: reply.statusText }));
  if (reply.status === 401 || (reply.status === 403 && !quiet)) { signOut(body.detail); return null; }
  return reply.ok ? body : null;
}

// The duty panel's fetch: the answer's JSON, or an Error saying the server's sentence.
async function fetchJson(path, init = {}) {
  const headers = { ...(init.headers || {}), authorization: `Bearer ${token}` };
  const reply = await fetch(path, { ...init, headers });
  const body = await reply.json().catch(() => ({ detail: reply.statusText }));
  if (reply.status === 401) signOut(body.detail);
  if (!reply.ok) throw new Error(body.detail || reply.statusText);
  return body;
}

// The panels of the three other duties (巡查, 门卫登记, 值班日志), mounted once signed in.
let panels = null;
function mountPanels() {
  if (panels) return;
  const quiet = (path) => api(path, true);
  panels = {
    patrol: mountPatrol($("patrol"), quiet, { onAlert: (text, loud, key, at) => { addAlert(text, loud, key, at); schedule(); } }),
    register: mountRegister($("register"), quiet),
    duty: mountDuty($("duty"), fetchJson),
  };
}

function signOut(why) {
  token = "";
  sessionStorage.removeItem("token");
  localStorage.removeItem("token");
  if (source) { source.close(); source = null; }
  if (panels) { panels.patrol.stop(); panels = null; }
  for (const id of ["patrol", "register", "duty"]) $(id).replaceChildren();
  picture = null; curve = null; history = [];
  $("board").hidden = true;
  $("signout").hidden = true;
  $("who").hidden = true;
  $("live").textContent = "";
  $("signin").hidden = false;
  $("error").textContent = why || "";
}

// The picture, and the chart's history: fetched on start and on ``reload`` only.
async function load() {
  if (loading) return loading;
  loading = (async () => {
    let body = null, line = null;
    try {
      [body, line] = await Promise.all([api("/api/v1/presence"), api("/api/v1/presence/curve", true)]);
    } catch { /* the server restarts: the stream's hello or reload asks again */ } finally {
      loading = null;
    }
    const waiting = queued;
    queued = [];
    if (!body) return;
    setPicture(body);
    if (line) { curve = line; history = line.points.slice(); }
    for (const d of waiting) applyDelta(d); // those the picture does not hold yet
    moveNow(picture.at);
    schedule();
  })();
  return loading;
}

function setPicture(body) {
  picture = body;
  deltas = body.cursor !== undefined;
  byStudent = new Map(body.students.map((s, i) => [s.student_id, i]));
  byGroup = new Map(body.groups.map((g, i) => [g.group_id, i]));
}

// A delta: replace entries by student_id / group_id, take counts and late as given.
function applyDelta(d) {
  if (loading) { queued.push(d); return; }
  if (!picture) return;
  if (d.date && d.date !== picture.date) { reload(); return; }
  if (d.cursor !== undefined && d.cursor <= (picture.cursor ?? 0)) return;
  for (const s of d.students || []) {
    const at = byStudent.get(s.student_id);
    if (s.state === null) { if (at !== undefined) picture.students[at] = null; continue; }
    if (at === undefined) { byStudent.set(s.student_id, picture.students.length); picture.students.push(s); }
    else picture.students[at] = s;
  }
  for (const g of d.groups || []) {
    const at = byGroup.get(g.group_id);
    if (at === undefined) { byGroup.set(g.group_id, picture.groups.length); picture.groups.push(g); }
    else picture.groups[at] = g;
  }
  if (d.counts) picture.counts = d.counts;
  if (d.late) picture.late = d.late;
  if (d.cursor !== undefined) picture.cursor = d.cursor;
  let latest = d.at || null;
  for (const s of d.students || []) if (s && s.since && (!latest || s.since > latest)) latest = s.since;
  moveNow(latest);
  schedule();
}

// The chart's last point follows the counts; a new point is kept every step.
function moveNow(at) {
  if (!curve || !picture) return;
  const c = picture.counts;
  const last = history[history.length - 1];
  const when = at && (!last || Date.parse(at) >= Date.parse(last.at)) ? at : (last ? last.at : picture.at);
  const base = curve.points.length ? curve.points[curve.points.length - 1] : null;
  const seenBase = base ? value(base, "gone") + (base.present || 0) : 0;
  const seen = (c.present || 0) + (c.released || 0) + (c.left_alone || 0);
  const point = { ...c, at: when, signed_in: Math.max(0, (base ? base.signed_in : 0) + seen - seenBase) };
  const step = (curve.step_minutes || 5) * 60000;
  const kept = history.length > 1 ? history[history.length - 2] : null;
  if (last && kept && Date.parse(when) - Date.parse(kept.at) < step) history[history.length - 1] = point;
  else if (last && Date.parse(when) === Date.parse(last.at)) history[history.length - 1] = point;
  else history.push(point);
  if (Date.parse(when) > Date.parse(curve.end)) curve.end = when;
}

function reload() {
  // The server cannot bridge (or the day changed): a fresh picture, and a stream from it.
  load().then(() => openStream());
}

function scheduleLoad() {
  // Without deltas, taps come in bursts at dismissal: refetch at most every 300 ms.
  if (!pending) pending = setTimeout(() => { pending = null; load(); }, 300);
}

let renderTimer = null;
function schedule() {
  if (!renderTimer) renderTimer = setTimeout(() => { renderTimer = null; render(); }, 40);
}

function students() { return picture.students.filter((s) => s); }

function render() {
  if (!picture) return;
  const began = performance.now();
  $("board").hidden = false;
  $("counts").replaceChildren(...Object.entries(picture.counts).map(([k, v]) =>
    el("div", { class: `count ${k}`, "data-state": k }, el("b", {}, String(v)), k === "overdue" ? t("overdue") : t("state_" + k))));
  $("end").textContent = `${t("service_end")}: ${clock(picture.service_end)}` +
    (picture.dismissal.length ? ` · ${t("dismissal")}: ` + picture.dismissal.map((d) =>
      `${d.grades[0]}-${d.grades[1]} ${d.times.join("/")}`).join("；") : "");
  $("dismissal").replaceChildren(...picture.dismissal.map((d) =>
    el("li", {}, `${t("grades")} ${d.grades[0]}-${d.grades[1]}: ${d.times.join(", ")}`)));
  const all = students();
  const missingBy = {}, overdueBy = {};
  for (const s of all) {
    if (s.state === "expected") for (const g of s.expected_groups || []) (missingBy[g] ||= []).push(s);
    if (s.overdue) (overdueBy[s.group_id || ""] ||= []).push(s);
  }
  renderTiles(missingBy, overdueBy);
  renderOverdue(overdueBy);
  renderMissing(missingBy);
  renderChart();
  $("conflicts").replaceChildren(...none(conflicts.map((c) =>
    el("li", { class: "loud" }, `${c.name}: ${t("conflict_" + c.kind)} (${c.events.map((e) => `${e.node_id} ${e.station} ${clock(e.at)}`).join(" / ")})`)).concat(
    unreadable.map((u) => el("li", { class: "loud", "data-event": u.id }, `${t("unreadable")}: ${u.id} (${u.reason})`)))));
  $("alerts").replaceChildren(...(alerts.length ? alerts.map((a) =>
    el("li", { class: a.loud ? "loud" : "" }, `${a.at} ${a.text}`)) : [el("li", {}, t("no_alerts"))]));
  search();
  reportFields();
  // Each render's duration, for benches; the last 500 kept (a long afternoon renders often).
  if (performance.getEntriesByName("dashboard-render").length >= 500) performance.clearMeasures("dashboard-render");
  performance.measure("dashboard-render", { start: began });
}

// One tile per group: red with someone overdue, amber with someone expected and not
// signed in, green when all are here, grey when no one is expected or present.
function renderTiles(missingBy, overdueBy) {
  $("groups").replaceChildren(...picture.groups.map((g) => {
    const missing = (missingBy[g.group_id] || []).length;
    const overdue = (overdueBy[g.group_id] || []).length;
    const kind = overdue ? "overdue" : missing ? "missing" : g.present || g.expected ? "ok" : "idle";
    const status = overdue ? `⚠ ${t("tile_overdue")} ${overdue}` : missing ? `? ${t("missing")} ${missing}`
      : kind === "ok" ? `✔ ${t("tile_ok")}` : `· ${t("tile_idle")}`;
    return el("div", { class: `tile ${kind}`, "data-group": g.group_id, "data-tile": kind, title: `${g.name} ${g.room || ""}` },
      el("b", {}, g.name),
      el("span", { class: "hc" }, `${g.present} / ${g.expected}`),
      el("span", { class: "who" }, `${t("custodian")}: ${g.custodian_name || t("no_custodian")}`),
      el("span", { class: "st" }, status));
  }));
}

function groupName(id) {
  if (!id) return "—";
  const at = byGroup.get(id);
  return at === undefined ? id : picture.groups[at].name;
}

// Overdue children by group, with each guardian's phone from the second stage on.
function renderOverdue(overdueBy) {
  const late = picture.late || { stage: 0, calls: [] };
  const calls = Object.fromEntries((late.calls || []).map((c) => [c.student_id, c.guardians]));
  $("late-stage").textContent = late.stage ? t(`late_stage_${late.stage}`) : "";
  const groups = picture.groups.map((g) => g.group_id).filter((g) => overdueBy[g]);
  if (overdueBy[""]) groups.push(""); // present in no group
  $("overdue-count").textContent = picture.counts.overdue ? `(${picture.counts.overdue})` : "";
  $("overdue").replaceChildren(...(groups.length ? groups.map((g) => el("div", { class: "bygroup", "data-group": g },
    el("h3", {}, `${groupName(g)} (${overdueBy[g].length})`),
    el("ul", {}, ...overdueBy[g].slice(0, 200).map((s) => el("li", { "data-student": s.student_id }, `${s.name} · ${classLabel(s.grade, s.class)}`,
      ...(calls[s.student_id] || []).map((c) => el("div", { class: "call" }, `☎ ${c.name}（${c.relation}）${c.phone}`)))),
    ...(overdueBy[g].length > 200 ? [el("li", {}, `… ${t("more_names")} ${overdueBy[g].length - 200} ${t("people")}: ${t("rollcall")}`)] : [])))) :
    [el("p", {}, t("nobody"))]));
}

// Expected and not signed in, by group: names, the first few dozen per group.
function renderMissing(missingBy) {
  const groups = picture.groups.filter((g) => missingBy[g.group_id]);
  $("missing-count").textContent = picture.counts.expected ? `(${picture.counts.expected})` : "";
  $("missing").replaceChildren(...(groups.length ? groups.map((g) => {
    const list = missingBy[g.group_id];
    const shown = list.slice(0, 40).map((s) => s.name).join("、");
    const more = list.length > 40 ? ` ${t("more_names")} ${list.length - 40} ${t("people")}` : "";
    return el("div", { class: "bygroup", "data-group": g.group_id },
      el("h3", {}, `${g.name} (${list.length})`), el("p", {}, shown + more));
  }) : [el("p", {}, t("nobody"))]));
}

function renderChart() {
  const last = history[history.length - 1] || { ...picture.counts, at: picture.at };
  const legend = [["present", t("series_present")], ["signed_in", t("series_signed_in")],
    ["gone", t("series_gone")], ["overdue", t("series_overdue")]];
  $("legend").replaceChildren(...legend.map(([key, label]) =>
    el("span", { class: `s-${key}`, "data-series": key }, el("i", {}), `${label} `, el("b", {}, String(value(last, key))))));
  const svg = $("chart");
  drawn = { width: svg.clientWidth, height: svg.clientHeight };
  draw(svg, curve && { ...curve, dismissal: picture.dismissal }, history);
}

new ResizeObserver(() => {
  const svg = $("chart");
  if (picture && drawn && (drawn.width !== svg.clientWidth || drawn.height !== svg.clientHeight)) renderChart();
}).observe($("chart-box"));

function search() {
  const words = $("search").value.trim();
  const found = $("found");
  if (!picture || !words) { found.replaceChildren(); return; }
  const hits = students().filter((s) => s.name.includes(words) || s.student_id.includes(words)).slice(0, 20);
  found.replaceChildren(...hits.map((s) => {
    const item = el("li", {}, `${s.name} · ${classLabel(s.grade, s.class)} · ${t("state_" + s.state)}${s.group_id ? " · " + groupName(s.group_id) : ""}${s.since ? " · " + clock(s.since) : ""}`);
    item.addEventListener("click", () => timeline(s.student_id));
    return item;
  }));
}

async function timeline(studentId) {
  $("report-student").value = studentId;
  const body = await api(`/api/v1/students/${encodeURIComponent(studentId)}/timeline`);
  if (!body) return;
  $("timeline").replaceChildren(
    el("h2", {}, `${t("timeline")}: ${body.name} · ${classLabel(body.grade, body.class)}`),
    el("table", {}, el("tbody", {}, ...body.events.map((e) => el("tr", {},
      el("td", {}, clock(e.at)), el("td", {}, e.station_name), el("td", {}, say(e))))))
  );
}

// Sync: this node's own upstream and every kiosk syncing with it; one silent for more
// than the school's behind_minutes is shown in red and raised as an alert.
async function syncStatus() {
  if (!token) return;
  const status = await api("/api/v1/sync/status", true);
  if (!status) return;
  const rows = [];
  const line = (name, seconds, waiting, behind, error, kept, reasons) => {
    const ago = seconds == null ? t("sync_never") : `${Math.round(seconds / 60)} ${t("min_ago")}`;
    const aside = kept ? ` · ${t("sync_quarantined")} ${kept}` +
      (reasons && reasons.length && reasons[0] !== error ? `: ${reasons[0]}` : "") : "";
    const text = `${name}: ${behind ? t("sync_behind") : t("sync_ok")} · ${ago}` +
      (waiting ? ` · ${t("sync_waiting")} ${waiting}` : "") + (error ? ` · ${error}` : "") + aside;
    rows.push(el("li", { class: behind ? "behind" : "", "data-device": name }, text));
    if (behind) addAlert(`${t("sync")} ${name}: ${t("sync_behind")}`, false, `sync-${name}`, status.now);
  };
  if (status.upstream) {
    const up = status.upstream;
    line(`${t("sync_upstream")} ${up.upstream_node || up.upstream}`, up.seconds_since, up.waiting, up.behind, up.last_error);
  }
  for (const d of status.devices) {
    line(d.device, d.seconds_since, d.waiting, d.behind, d.refused, d.quarantined, d.quarantine_reasons);
  }
  if (!rows.length) rows.push(el("li", {}, t("sync_alone")));
  $("sync").replaceChildren(...rows);
  const answer = await api("/api/v1/conflicts", true);
  if (answer) {
    conflicts = answer.conflicts;
    unreadable = answer.unreadable || [];
    for (const u of unreadable) addAlert(`${t("review")}: ${t("unreadable")} ${u.id}`, true, `unreadable-${u.id}`);
    for (const c of conflicts) addAlert(`${t("review")}: ${c.name} ${t("conflict_" + c.kind)}`, true, `conflict-${c.events[0].id}`);
  }
  schedule();
}

async function readerAlerts() {
  const health = await (await fetch("/healthz")).json();
  for (const [station, reader] of Object.entries(health.readers)) {
    if (!reader.connected) addAlert(`${station}: ${t("reader_offline")} (${reader.last_error || reader.driver})`, false, `reader-${station}`);
  }
  if (health.disk && health.disk.low) addAlert(`${t("disk_low")} (${health.disk.free_mb} MB)`, true, "disk-low");
  schedule();
}

function addAlert(text, loud, key, at) {
  // Times in the school's zone: the tap's own stamp, else the picture's.
  if (key && alerts.some((a) => a.key === key)) return;
  alerts.unshift({ text, loud, key, at: clock(at || (picture && picture.at) || "") });
  alerts.length = Math.min(alerts.length, 50);
}

function flag() { document.title = "⚠ " + document.title.replace(/^⚠ /, ""); }

function onFault(fault) {
  addAlert(`${fault.station}: ${say(fault)} (${fault.detail})`, true, null, fault.at);
  flag();
  schedule();
}

function onTap(tap) {
  if (tap.outcome === "denied") {
    addAlert(`${tap.station}: ${say(tap)}`, tap.alert === "loud", null, tap.at);
    if (tap.alert === "loud") flag();
    schedule();
  }
  if (!deltas) scheduleLoad();
  if (panels) panels.patrol.onTap(tap);
}

// The stream: opened at the loaded picture's cursor; EventSource itself reconnects and
// sends Last-Event-ID (the last delta's id), so the server bridges the gap.
function openStream() {
  if (source) source.close();
  const cursor = picture && picture.cursor !== undefined ? `&cursor=${picture.cursor}` : "";
  source = new EventSource(`/api/v1/stream?token=${encodeURIComponent(token)}${cursor}`);
  let first = true;
  const parse = (e) => { try { return JSON.parse(e.data); } catch { return {}; } };
  source.addEventListener("hello", (e) => {
    online(true);
    const hello = parse(e);
    if (hello.cursor === undefined) deltas = false;
    if (hello.date && picture && hello.date !== picture.date) { reload(); return; }
    // A reload sent while this page was away (the service end, a late stage, a roster):
    // the picture's time-driven state is not the server's.
    if (hello.generation && picture && picture.generation && hello.generation !== picture.generation) { reload(); return; }
    if (!deltas && !first) load(); // no bridging without deltas: refetch what was missed
    first = false;
  });
  source.addEventListener("error", () => online(false));
  source.addEventListener("delta", (e) => applyDelta(parse(e)));
  source.addEventListener("reload", () => reload());
  source.addEventListener("tap", (e) => onTap(parse(e)));
  source.addEventListener("fault", (e) => onFault(parse(e)));
}

function online(up) {
  const banner = $("stream");
  banner.classList.toggle("on", !up);
  banner.textContent = up ? "" : t("stream_offline");
  const live = $("live");
  live.className = `live ${up ? "on" : "off"}`;
  live.textContent = up ? t("live_on") : t("live_off");
}

// Reports: the same files the office gets from `campus-edge report`, asked with the
// staff member's own token (their role decides which reports they may see).
function reportQuery(format) {
  const name = $("report-name").value;
  const query = new URLSearchParams({ format });
  const val = (id) => $(id).value.trim();
  if (name === "duty") {
    if (val("report-date")) query.set("date", val("report-date"));
  } else if (name === "supervision" || name === "timeline") {
    if (val("report-date")) query.set("date", val("report-date"));
    if (name === "supervision") query.set("group", val("report-group"));
    else query.set("student", val("report-student"));
  } else if (val("report-term") && name !== "parents") {
    query.set("term", val("report-term"));
  } else if (val("report-month")) {
    query.set("month", val("report-month"));
  }
  return `/api/v1/reports/${name}?${query}`;
}

async function fetchReport(format) {
  $("report-error").textContent = "";
  const reply = await fetch(reportQuery(format), { headers: { authorization: `Bearer ${token}` } });
  if (!reply.ok) {
    const body = await reply.json().catch(() => ({ detail: reply.statusText }));
    $("report-error").textContent = body.detail;
    return null;
  }
  return reply;
}

async function showReport(andPrint) {
  const reply = await fetchReport("html");
  if (!reply) return;
  const view = $("report-view");
  view.hidden = false;
  view.srcdoc = await reply.text();
  if (andPrint) view.addEventListener("load", () => view.contentWindow.print(), { once: true });
}

async function downloadReport() {
  const reply = await fetchReport("xlsx");
  if (!reply) return;
  const named = /filename\*=UTF-8''([^;]+)/.exec(reply.headers.get("content-disposition") || "");
  const link = el("a", { href: URL.createObjectURL(await reply.blob()),
    download: named ? decodeURIComponent(named[1]) : "report.xlsx" });
  document.body.append(link);
  link.click();
  link.remove();
}

// Temporary delegates: who else may collect a child, for a day or a few; needs a PIN
// sign-in to change (the page says so when a card-only sign-in tries).
async function loadDelegates() {
  const reply = await fetch("/api/v1/delegates", { headers: { authorization: `Bearer ${token}` } });
  if (!reply.ok) return;
  const names = Object.fromEntries((picture ? students() : []).map((s) => [s.student_id, s.name]));
  $("delegates").replaceChildren(...(await reply.json()).delegates.map((d) => {
    const revoke = el("button", { type: "button" }, t("revoke"));
    revoke.addEventListener("click", async () => {
      const done = await fetch(`/api/v1/delegates/${d.grant_id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
      $("delegate-error").textContent = done.ok ? "" : (await done.json()).detail;
      loadDelegates();
    });
    return el("li", { "data-grant": d.grant_id }, `${names[d.student_id] || d.student_id} ← ${d.name} ${d.phone} · ${d.from}–${d.to} `, revoke);
  }));
}

$("delegate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const val = (id) => $(id).value.trim();
  const body = { student_id: val("delegate-student"), name: val("delegate-name"), phone: val("delegate-phone") };
  if (val("delegate-to")) body.to = val("delegate-to");
  const reply = await fetch("/api/v1/delegates", { method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  $("delegate-error").textContent = reply.ok ? "" : (await reply.json()).detail;
  if (reply.ok) $("delegate-form").reset();
  loadDelegates();
});

function reportFields() {
  const name = $("report-name").value;
  for (const label of document.querySelectorAll("#report-form [data-for]")) {
    label.hidden = !label.dataset.for.split(" ").includes(name);
  }
  const groups = $("report-group");
  if (picture && groups.options.length !== picture.groups.length) {
    groups.replaceChildren(...picture.groups.map((g) => el("option", { value: g.group_id }, g.name)));
  }
  if (picture && !$("report-date").value) {
    $("report-date").value = picture.date;
    $("report-month").value = picture.date.slice(0, 7);
  }
}

$("report-name").addEventListener("change", reportFields);
$("report-form").addEventListener("submit", (event) => { event.preventDefault(); showReport(false); });
$("report-print").addEventListener("click", () => showReport(true));
$("report-xlsx").addEventListener("click", downloadReport);

// Who is signed in, in the header: name, role, and whether the sign-in only views.
async function whoAmI() {
  const me = await api("/api/v1/signin");
  if (!me) return;
  const who = $("who");
  who.hidden = false;
  who.dataset.staff = me.staff_id;
  who.textContent = `${me.name} · ${t("role_" + me.role)}${me.scope === "view" ? " · " + t("view_only") : ""}`;
}

async function start() {
  $("signin").hidden = true;
  $("error").textContent = "";
  $("signout").hidden = false;
  whoAmI();
  readerAlerts();
  await load();
  if (!token) return;
  openStream();
  mountPanels();
  syncStatus();
  loadDelegates();
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = $("secret");
  const secret = field.value.trim();
  field.value = ""; // a pasted token does not stay in the field
  if (/^[0-9]{6}$/.test(secret)) {
    const pin = $("pin").value.trim();
    $("pin").value = "";
    const reply = await fetch("/api/v1/signin", { method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pin ? { code: secret, pin } : { code: secret }) });
    const body = await reply.json();
    if (!reply.ok) { $("error").textContent = body.detail; return; }
    token = body.token;
  } else {
    token = secret;
  }
  sessionStorage.setItem("token", token);
  start();
});
$("signout").addEventListener("click", () => signOut(""));
$("search").addEventListener("input", search);
$("lang").addEventListener("click", () => toggleLang(() => { render(); if (token) whoAmI(); if (source) online(source.readyState === 1); }));
translatePage();
if (token) start(); else signOut();
setInterval(readerAlerts, 60000);
setInterval(syncStatus, 15000);
setInterval(() => { if (panels) panels.register.refresh(); }, 30000);
