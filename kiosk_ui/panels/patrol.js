// The patrol rounds panel (巡查): visited, not yet, overdue, from GET /api/v1/patrol.
//
//   import { mountPatrol } from "/ui/panels/patrol.js";
//   const patrol = mountPatrol(document.getElementById("patrol"), api, { onAlert: addAlert });
//   // on the dashboard's stream: patrol.onTap(tap)   (refetches for kind patrol_visit)
//
// fetchJson(path) returns the parsed body, or null when it could not (the dashboard's
// api()). onAlert(text, loud, key, at) is called once per overdue round (a missed or
// incomplete one). The panel refetches every minute too, so a round turns overdue on
// time without a tap. It speaks the page's language (i18n.js's lang).
import { el, clock, lang } from "/ui/i18n.js";

const WORDS = {
  zh: { title: "巡查", off: "未设置巡查（school.toml 的 [patrol]）", done: "已完成", open: "进行中",
        upcoming: "未开始", missed: "漏查", incomplete: "未查完", visited: "已查", not_yet: "未查",
        overdue: "超时未查", nobody: "无", round: "轮次", due: "截止", present: "实到",
        alert_missed: "巡查漏查", by: "巡查人" },
  en: { title: "Patrol", off: "No patrol rounds set ([patrol] in school.toml)", done: "done",
        open: "in progress", upcoming: "not started", missed: "missed", incomplete: "incomplete",
        visited: "visited", not_yet: "not yet", overdue: "overdue", nobody: "none",
        round: "Round", due: "due", present: "present", alert_missed: "Patrol round missed",
        by: "by" },
};
const ICON = { done: "✔", open: "…", upcoming: "○", missed: "✖", incomplete: "⚠" };

export function mountPatrol(root, fetchJson, options = {}) {
  const w = (key) => (WORDS[lang] || WORDS.zh)[key];
  let body = null;
  let pending = null;
  const raised = new Set();

  function names(ids) {
    const known = Object.fromEntries((body.places || []).map((p) => [p.id, p.name]));
    return ids.map((id) => known[id] || id);
  }

  function visitLine(v) {
    const where = v.name || v.station || v.checkpoint_id;
    const count = v.head_count != null ? ` · ${w("present")} ${v.head_count}` : "";
    return el("li", { class: "visit", "data-place": v.station || v.checkpoint_id },
      `${clock(v.at)} ${where} · ${v.staff_name || v.staff_id || "?"}${count}`);
  }

  function roundItem(r) {
    const late = r.state === "missed" || r.state === "incomplete";
    const parts = [el("div", { class: "round-head" },
      `${ICON[r.state] || ""} ${clock(r.opens)}–${clock(r.due)} · ${w(r.state)}`)];
    if (r.visited.length) parts.push(el("div", { class: "visited" }, `${w("visited")}: ${names(r.visited).join("、")}`));
    if (r.not_yet.length) parts.push(el("div", { class: "not-yet" }, `${w("not_yet")}: ${names(r.not_yet).join("、")}`));
    if (late) parts.push(el("div", { class: "overdue" }, `${w("overdue")}: ${names(r.missed).join("、")}`));
    if (r.visits.length) parts.push(el("ul", { class: "visits" }, ...r.visits.map(visitLine)));
    return el("li", { class: `round ${r.state}`, "data-state": r.state, "data-due": clock(r.due) }, ...parts);
  }

  function render() {
    if (!body) return;
    const title = el("h2", {}, w("title"));
    if (!body.enabled) { root.replaceChildren(title, el("p", { class: "off" }, w("off"))); return; }
    const current = body.rounds.find((r) => r.state === "open") || null;
    const summary = current
      ? el("p", { class: "current" }, `${w("due")} ${clock(current.due)} · ${w("visited")} ${current.visited.length}/${current.visited.length + current.not_yet.length}`)
      : el("p", { class: "current" }, "");
    root.replaceChildren(title, summary, el("ol", { class: "rounds" }, ...body.rounds.map(roundItem)));
    for (const a of body.alerts || []) {
      const key = `patrol-${body.date}-${a.due}`;
      if (raised.has(key)) continue;
      raised.add(key);
      options.onAlert?.(`${w("alert_missed")} ${clock(a.due)}: ${a.names.join("、")}`, false, key, a.due);
    }
  }

  async function refresh() {
    const got = await fetchJson("/api/v1/patrol");
    if (got) { body = got; render(); }
    return got;
  }

  function onTap(tap) {
    // Visits come in bursts on a round: refetch at most every 300 ms.
    if (tap && tap.kind !== "patrol_visit" && tap.code !== "patrol_custody_taken") return;
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 300);
  }

  const timer = setInterval(refresh, 60000);
  refresh();
  return { refresh, onTap, render, stop: () => clearInterval(timer) };
}

if (typeof window !== "undefined") window.mountPatrol = mountPatrol;
