// The pages' message catalogue: every string a person reads, Chinese first, English too.
// Messages about a tap come from the server (message / message_en) in the same two languages.
export const CATALOGUE = {
  zh: {
    tap_prompt: "请刷卡", tap_card: "刷卡", head_count: "在班人数", custodian: "看护老师",
    nobody: "暂无", missing: "未到", reader_offline: "读卡器离线，请联系信息老师",
    stream_offline: "与服务器的连接中断，正在重连…", dismiss: "知道了", signin_code: "值班看板登录码（60秒内有效）",
    patrol: "巡查", patrol_confirm: "确认接管",
    simulate: "模拟刷卡", children: "可接走的孩子", state_expected: "未签到", state_on_leave: "请假",
    state_present: "在校", state_released: "已接走", state_left_alone: "自行离校",
    state_not_enrolled_today: "今日无课后服务", overdue: "超时未接", dashboard: "值班看板",
    sign_in: "登录", token_or_code: "令牌或看板登录码", counts: "人数", groups: "班组",
    group: "班组", room: "教室", present: "在班", expected: "应到", alerts: "提醒",
    dismissal: "放学批次", search: "查找学生", name: "姓名", class: "班级", state: "状态",
    where: "所在", since: "时间", timeline: "今日记录", rollcall: "紧急点名", print: "打印",
    grades: "年级", service_end: "课后服务结束", no_alerts: "暂无提醒", released_to: "接走人",
    on_campus: "在校学生", unknown_card: "未登记的卡", refused: "拒绝", sync: "同步",
    sync_behind: "未同步", sync_ok: "正常", sync_never: "从未同步", min_ago: "分钟前",
    sync_waiting: "待上传", sync_quarantined: "已隔离待查", sync_upstream: "上级", sync_alone: "本机独立运行，无同步设备",
    pin_optional: "PIN（查看可不填）", guardian_here: "家长已到", guardian_here_at: "在", disk_low: "存储卡空间不足，请通知信息老师",
    reports: "报表", report: "报表", report_supervision: "看管记录", report_timeline: "学生当日记录",
    report_attendance: "学生出勤统计", report_workload: "教师考勤与工作量", report_parents: "家长月度公示",
    date: "日期", student_id: "学号", month: "月份", term: "学期（可不填）", show: "查看", excel: "下载 Excel",
    nocard_find: "姓名或手机后4位", nocard: "无卡接送", reason_forgot: "家长忘带接送卡",
    reason_delegate: "临时委托人接送", reason_other: "其他（已核实身份）", pickup_code: "接送码",
    use_code: "使用接送码", delegate: "临时委托", must_not_collect: "不得接走", release: "放行",
    sign_with_card: "请刷门卫或教师工作卡确认放行", review: "需核查",
    conflict_released_twice: "在两处被放行", conflict_same_moment: "同一时刻在两台设备上签到和离校",
    conflict_code_used_twice: "接送码在两台设备上各用了一次",
    unreadable: "记录无法读取，已跳过",
    late_stage_1: "课后服务已结束：以下学生尚未接走", late_stage_2: "请电话联系家长",
    late_stage_3: "仍未接走的学生已交门卫看护",
    gate_register: "门卫登记", duty_log: "值班日志", report_duty: "值班日志",
    sign_out: "退出登录", role_teacher: "教师", role_guard: "门卫", role_duty_leader: "值班领导", role_admin: "管理员",
    view_only: "仅查看", live_on: "实时", live_off: "重连中", chart: "今日在校人数", series_signed_in: "已签到",
    series_present: "在校", series_gone: "已离校", series_overdue: "超时未接", series_expected: "未签到",
    tile_ok: "全部到齐", tile_missing: "有人未到", tile_overdue: "超时未接", tile_idle: "无人", no_custodian: "无人看护",
    more_names: "等", people: "人", missing_title: "未到（应到未签到）", more_panels: "更多", now: "现在",
    delegates: "临时委托", phone: "手机", until: "至", authorize: "授权", revoke: "撤销",
    plan_mismatch: "注意：与今日放学安排不符", plan_point: "接送点不同", plan_before_batch: "早于放学批次",
    plan_club_until: "社团活动尚未结束", plan_mode: "接送方式不同", plan_mode_guardian: "家长接",
    plan_mode_alone: "自行离校", plan_club: "社团至", plans_today: "今日放学安排",
    not_paired: "此屏幕尚未配对：请在本机打开，或由信息老师在服务器上运行", cancel: "取消",
    lang: "English",
  },
  en: {
    tap_prompt: "Please tap your card", tap_card: "Tap", head_count: "Present", custodian: "Supervisor",
    nobody: "nobody yet", missing: "Missing", reader_offline: "Card reader offline: call the IT teacher",
    stream_offline: "Connection to the server lost, reconnecting…", dismiss: "Dismiss",
    signin_code: "Dashboard sign-in code (valid 60 s)", simulate: "Simulate a card",
    patrol: "Patrol", patrol_confirm: "Take over",
    children: "Children to collect", state_expected: "not signed in", state_on_leave: "on leave",
    state_present: "present", state_released: "released", state_left_alone: "left alone",
    state_not_enrolled_today: "no service today", overdue: "Overdue", dashboard: "Duty dashboard",
    sign_in: "Sign in", token_or_code: "token or sign-in code", counts: "Counts", groups: "Groups",
    group: "Group", room: "Room", present: "Present", expected: "Expected", alerts: "Alerts",
    dismissal: "Dismissal batches", search: "Find a student", name: "Name", class: "Class",
    state: "State", where: "Where", since: "Since", timeline: "Today's record", rollcall: "Roll call",
    print: "Print", grades: "Grades", service_end: "Service ends", no_alerts: "No alerts",
    released_to: "Released to", on_campus: "On campus", unknown_card: "Unknown card",
    refused: "Refused", sync: "Sync", sync_behind: "behind", sync_ok: "in step",
    sync_never: "never synced", min_ago: "min ago", sync_waiting: "waiting", sync_quarantined: "kept aside for review", sync_upstream: "upstream",
    sync_alone: "runs alone: no devices sync here", guardian_here: "Guardian is here",
    guardian_here_at: "at", pin_optional: "PIN (not needed to view)", disk_low: "SD card nearly full: tell the IT teacher",
    reports: "Reports", report: "Report", report_supervision: "Supervision record", report_timeline: "A child's day",
    report_attendance: "Student attendance", report_workload: "Staff attendance and workload",
    report_parents: "Monthly notice for parents", date: "Date", student_id: "Student ID", month: "Month",
    term: "Term (optional)", show: "Show", excel: "Download Excel",
    nocard_find: "name or phone's last 4 digits", nocard: "No card", reason_forgot: "Guardian forgot the card",
    reason_delegate: "Delegate collecting", reason_other: "Other (identity checked)", pickup_code: "Pickup code",
    use_code: "Use code", delegate: "delegate", must_not_collect: "must not collect", release: "release",
    sign_with_card: "Tap a staff card to confirm the release", review: "To review",
    conflict_released_twice: "released at two places", conflict_same_moment: "signed in and released at the same moment on two devices",
    conflict_code_used_twice: "pickup code used on two devices",
    unreadable: "a record could not be read and was skipped",
    late_stage_1: "Service has ended: these children are not collected yet", late_stage_2: "Call the guardians",
    late_stage_3: "Children still here are in the gate guard's care",
    gate_register: "Gate register", duty_log: "Duty log", report_duty: "Duty log",
    sign_out: "Sign out", role_teacher: "teacher", role_guard: "guard", role_duty_leader: "duty leader", role_admin: "admin",
    view_only: "view only", live_on: "live", live_off: "reconnecting", chart: "On campus today", series_signed_in: "signed in",
    series_present: "present", series_gone: "gone home", series_overdue: "overdue", series_expected: "not signed in",
    tile_ok: "all here", tile_missing: "someone missing", tile_overdue: "overdue", tile_idle: "no one", no_custodian: "no supervisor",
    more_names: "and", people: "more", missing_title: "Missing (expected, not signed in)", more_panels: "More", now: "now",
    delegates: "Temporary delegates", phone: "Phone", until: "until", authorize: "Authorize",
    revoke: "Revoke", plan_mismatch: "Note: not as today's dismissal plan", plan_point: "another pickup point",
    plan_before_batch: "before the batch time", plan_club_until: "club not over yet",
    plan_mode: "another way home", plan_mode_guardian: "with a guardian", plan_mode_alone: "alone",
    plan_club: "club until", plans_today: "Today's plans",
    not_paired: "This screen is not paired: open it on the kiosk itself, or ask the IT teacher to run",
    cancel: "Cancel", lang: "中文",
  },
};

export let lang = localStorage.getItem("lang") === "en" ? "en" : "zh";

export function t(key) {
  return CATALOGUE[lang][key] ?? CATALOGUE.zh[key] ?? key;
}

export function say(answer) {
  return lang === "en" ? answer.message_en : answer.message;
}

// Times arrive as ISO text in the school's timezone; show them as they are, whatever
// the browser's own zone.
export function clock(iso) {
  return iso ? iso.slice(11, 16) : "";
}

export function translatePage() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of document.querySelectorAll("[data-t-placeholder]")) {
    node.placeholder = t(node.dataset.tPlaceholder);
  }
}

export function toggleLang(onChange) {
  lang = lang === "en" ? "zh" : "en";
  localStorage.setItem("lang", lang);
  translatePage();
  onChange();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child ?? "");
  return node;
}

// A Server-Sent Events stream that tells the page when it (re)connects, so the page
// refetches what it may have missed; EventSource itself retries after a restart.
// With ``headers`` (a screen's display key, which must not travel in a URL) the stream
// is read with fetch, which can send them, and retried the same way; onState then
// also gets the HTTP status of a refusal (401: the screen is not paired).
export function live(url, handlers, onState, headers = null) {
  if (headers) return liveFetch(url, handlers, onState, headers);
  const source = new EventSource(url);
  source.addEventListener("hello", () => { onState(true); handlers.hello?.(); });
  source.addEventListener("error", () => onState(false));
  for (const [name, handler] of Object.entries(handlers)) {
    if (name !== "hello") source.addEventListener(name, (e) => handler(JSON.parse(e.data)));
  }
  return source;
}

function liveFetch(url, handlers, onState, headers) {
  let stopped = false;
  const pause = (ms) => new Promise((done) => setTimeout(done, ms));
  function dispatch(block) {
    let name = "message";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) name = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (name === "hello") { onState(true); handlers.hello?.(); return; }
    if (data && handlers[name]) handlers[name](JSON.parse(data));
  }
  async function run() {
    while (!stopped) {
      let status = 0;
      try {
        const reply = await fetch(url, { headers, cache: "no-store" });
        status = reply.status;
        if (reply.ok) {
          const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done || stopped) break;
            buffer += value;
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              dispatch(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
          }
          status = 0;
        }
      } catch { /* the server restarts or the network is down: retry */ }
      onState(false, status);
      await pause(status === 401 ? 10000 : 1000);
    }
  }
  run();
  return { close() { stopped = true; } };
}

// A class as people say it: 一年级4班, or Grade 1 Class 4. Rosters give it as a bare
// number beside the grade ("4", grade 1), as "4班", or written out already ("一年级4班").
const CN_NUMERALS = "零一二三四五六七八九十";
function cnNumber(n) {
  if (n <= 10) return CN_NUMERALS[n];
  return n < 20 ? `十${CN_NUMERALS[n - 10]}` : `${CN_NUMERALS[Math.floor(n / 10)]}十${n % 10 ? CN_NUMERALS[n % 10] : ""}`;
}
function cnValue(text) {
  if (text.length === 1) return CN_NUMERALS.indexOf(text);
  const [tens, ones] = text.split("十");
  return (tens ? CN_NUMERALS.indexOf(tens) : 1) * 10 + (ones ? CN_NUMERALS.indexOf(ones) : 0);
}
export function classLabel(grade, cls) {
  const text = cls == null ? "" : String(cls).trim();
  const g = Number(grade);
  const hasGrade = Number.isInteger(g) && g >= 1 && g <= 12;
  const bare = /^(\d{1,2})\s*班?$/.exec(text);
  if (bare) {
    const n = Number(bare[1]);
    if (lang === "en") return hasGrade ? `Grade ${g} Class ${n}` : `Class ${n}`;
    return hasGrade ? `${cnNumber(g)}年级${n}班` : `${n}班`;
  }
  if (!text) return !hasGrade ? "" : lang === "en" ? `Grade ${g}` : `${cnNumber(g)}年级`;
  const full = /^([一二三四五六七八九十]{1,3})年级\s*[（(]?(\d{1,2})[）)]?\s*班$/.exec(text);
  if (lang === "en" && full) return `Grade ${cnValue(full[1])} Class ${Number(full[2])}`;
  return text;
}
