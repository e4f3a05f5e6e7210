// The dashboard's gate register panel (门卫登记): who came in through the gate today and
// has not left, visitors and outside instructors, loud for a watchlist match, marked
// after the service end. mountRegister(el, fetchJson) fills ``el`` and returns
// { refresh }; fetchJson(path) must resolve to the parsed JSON of a staff request.
import { lang, el as make, clock } from "/ui/i18n.js";

const WORDS = {
  zh: { title: "在校来访人员", none: "暂无", instructor: "外聘", overdue: "服务结束后仍在校", visiting: "访", gate: "门卫登记" },
  en: { title: "Visitors inside", none: "none", instructor: "outside instructor", overdue: "still inside after the service end", visiting: "visiting", gate: "Gate register" },
};
const w = (key) => WORDS[lang][key] ?? WORDS.zh[key];

export function mountRegister(el, fetchJson) {
  async function refresh() {
    let body;
    try { body = await fetchJson("/api/v1/gate/inside"); } catch (err) { return; }
    if (!body || !Array.isArray(body.inside)) return;
    const rows = body.inside.map((v) => {
      const cls = [v.alert ? "loud" : "", v.overdue ? "overdue" : ""].join(" ").trim();
      const who = v.kind === "instructor" ? `${v.name}（${w("instructor")} ${v.organization || ""}）` : `${v.name} ${v.document || ""} · ${w("visiting")} ${v.visiting}`;
      return make("li", { class: cls, "data-inside": v.visitor_id || v.staff_id }, `${clock(v.in_at)} ${who}${v.overdue ? " · " + w("overdue") : ""}`);
    });
    el.replaceChildren(make("h2", {}, `${w("title")} ${body.visitors_inside}`),
      make("ul", { class: "register" }, ...(rows.length ? rows : [make("li", {}, w("none"))])),
      make("a", { href: "/gate" }, w("gate")));
  }
  refresh();
  return { refresh };
}
