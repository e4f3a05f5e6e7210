// The duty log panel (值班日志) for the duty leader's dashboard.
//
// mountDuty(root, fetchJson) fills ``root`` with: yesterday's open items (children never
// recorded as gone, visitors never out, missed rounds, an unsigned log), today's summary
// and notes, a form to add a note, and the sign-off (交班) with the duty leader's card
// (the six-digit code a kiosk shows after the tap) and PIN.
//
// fetchJson(path, init) is the dashboard's: it sends the signed-in staff member's token
// and resolves to the answer's JSON, or rejects with an Error whose message is the
// server's sentence (``detail``). ``bearerFetch(token)`` makes one for a page of its own.
// Notes are never edited: there is no edit or delete here, because there is none in the
// ledger; a note written after the sign-off is shown as an addition after it.
import { lang, el } from "/ui/i18n.js";

const TEXT = {
  zh: {
    title: "值班日志", open: "昨日未结事项", none: "无", notes: "值班记录", add: "添加记录",
    placeholder: "记录内容（500字以内）", signoff: "交班签字", code: "刷卡后屏幕上的六位码",
    pin: "PIN", signed: "已交班", unsigned: "未交班", after: "签字后补记", summary: "今日",
    handovers: "交接班", late: "延时接走", alerts: "拒绝与警报", readonly: "只读：值班领导或管理员可记录和交班",
    saved: "已记录", done: "已交班签字",
  },
  en: {
    title: "Duty log", open: "Yesterday's open items", none: "none", notes: "Notes", add: "Add note",
    placeholder: "Note (up to 500 characters)", signoff: "Sign off", code: "code shown after your card tap",
    pin: "PIN", signed: "Signed off", unsigned: "Not signed off", after: "added after sign-off",
    summary: "Today", handovers: "Handovers", late: "Late pickups", alerts: "Refusals and alerts",
    readonly: "Read only: the duty leader or an admin writes and signs off", saved: "Noted", done: "Signed off",
  },
};

function say(key) { return (TEXT[lang] || TEXT.zh)[key] ?? TEXT.zh[key]; }

export function bearerFetch(token) {
  return async (path, init = {}) => {
    const headers = { authorization: `Bearer ${token}`, ...(init.headers || {}) };
    if (init.body) headers["content-type"] = "application/json";
    const reply = await fetch(path, { ...init, headers });
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
      throw new Error(detail || `HTTP ${reply.status}`);
    }
    return body;
  };
}

function meta(log, label) {
  const found = log.log.meta.find((m) => m.label === label);
  return found ? String(found.value) : "";
}

export function mountDuty(root, fetchJson) {
  const status = el("p", { class: "duty-status", "data-duty": "status" });
  const message = el("p", { class: "duty-message", "data-duty": "message", role: "status" });
  const openList = el("ul", { "data-duty": "open-items" });
  const summary = el("p", { "data-duty": "summary" });
  const notes = el("ol", { "data-duty": "notes" });
  const text = el("input", { "data-duty": "note-text", maxlength: "500", placeholder: say("placeholder") });
  const addButton = el("button", { type: "submit", "data-duty": "add" }, say("add"));
  const noteForm = el("form", { "data-duty": "note-form" }, text, addButton);
  const code = el("input", { "data-duty": "code", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: "6", placeholder: say("code"), autocomplete: "off" });
  const pin = el("input", { "data-duty": "pin", type: "password", inputmode: "numeric", maxlength: "8", placeholder: say("pin"), autocomplete: "off" });
  const signButton = el("button", { type: "submit", "data-duty": "sign" }, say("signoff"));
  const signForm = el("form", { "data-duty": "signoff-form" }, code, pin, signButton);
  root.replaceChildren(
    el("h2", {}, say("title")), status,
    el("h3", {}, say("open")), openList,
    el("h3", {}, say("summary")), summary,
    el("h3", {}, say("notes")), notes, noteForm, signForm, message,
  );

  function tell(line, bad = false) {
    message.textContent = line;
    message.className = bad ? "duty-message loud" : "duty-message";
  }

  async function load() {
    let log;
    try {
      log = await fetchJson("/api/v1/duty");
    } catch (err) {
      tell(err.message, true);
      return;
    }
    const signed = log.signed_off;
    status.textContent = signed ? `${say("signed")}: ${signed.name} ${signed.time}` : say("unsigned");
    status.dataset.signed = signed ? "yes" : "no";
    openList.replaceChildren(...(log.open_items.length ? log.open_items.map((item) =>
      el("li", { class: "loud", "data-kind": item.kind }, `${item.kind} · ${item.who} ${item.detail}`.trim()))
      : [el("li", {}, say("none"))]));
    summary.textContent = [["handovers", "交接班"], ["late", "延时接走"], ["alerts", "拒绝与警报"]]
      .map(([key, label]) => `${say(key)} ${meta(log, label)}`).join(" · ");
    notes.replaceChildren(...log.notes.map((n) => el("li", { "data-note": n.id },
      `${n.at} ${n.by}: ${n.text}`, n.when.startsWith("签字后") ? el("em", { class: "after" }, ` (${say("after")})`) : "")));
    noteForm.hidden = !log.can_write;
    signForm.hidden = !log.can_write || Boolean(signed);
    if (!log.can_write) tell(say("readonly"));
  }

  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await fetchJson("/api/v1/duty/notes", { method: "POST", body: JSON.stringify({ text: text.value }) });
      text.value = "";
      tell(say("saved"));
    } catch (err) {
      tell(err.message, true);
    }
    await load();
  });

  signForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const done = await fetchJson("/api/v1/duty/signoff", { method: "POST", body: JSON.stringify({ code: code.value.trim(), pin: pin.value }) });
      tell(`${say("done")}: ${done.name} ${done.time}`);
    } catch (err) {
      tell(err.message, true);
    }
    code.value = ""; pin.value = "";
    await load();
  });

  load();
  return { reload: load };
}
