// The afternoon's chart: a small hand-written SVG, no library. Points come from
// /api/v1/presence/curve, the last one moved live by the dashboard.
import { t } from "/ui/i18n.js";

const NS = "http://www.w3.org/2000/svg";
const SERIES = [ // drawn in this order: areas under lines
  { key: "present", area: true },
  { key: "overdue", area: true },
  { key: "gone", area: false },
  { key: "signed_in", area: false },
];

function ms(iso) { return Date.parse(iso); }

// Minutes east of UTC of an ISO time (+08:00): labels show the school's clock.
function offsetOf(iso) {
  const m = /([+-])(\d\d):(\d\d)$/.exec(iso || "");
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

function hhmm(when, offset) {
  const d = new Date(when + offset * 60000);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

function node(tag, attrs, text) {
  const made = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) made.setAttribute(k, String(v));
  if (text != null) made.textContent = text;
  return made;
}

export function value(point, key) {
  if (key === "gone") return (point.released || 0) + (point.left_alone || 0);
  return point[key] || 0;
}

// Draw ``points`` (each {at, present, released, left_alone, signed_in, overdue, expected})
// between the curve's start and end, with the dismissal batches and the service end marked.
export function draw(svg, curve, points) {
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 200;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  if (!curve) return;
  const pad = { left: 40, right: 12, top: 16, bottom: 20 };
  const x0 = Math.min(ms(curve.start), ...points.map((p) => ms(p.at)));
  const x1 = Math.max(ms(curve.end), x0 + 60000, ...points.map((p) => ms(p.at)));
  const total = Math.max(1, ...points.map((p) =>
    (p.expected || 0) + (p.present || 0) + (p.released || 0) + (p.left_alone || 0)));
  const top = Math.max(4, Math.ceil(total * 1.05));
  const X = (when) => pad.left + ((when - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const Y = (n) => height - pad.bottom - (n / top) * (height - pad.top - pad.bottom);
  const offset = offsetOf(curve.start);
  const grid = node("g", { class: "grid", stroke: "#cfd8dc", "stroke-width": 1 });
  for (const n of [0, Math.round(top / 2), top]) {
    grid.append(node("line", { x1: pad.left, x2: width - pad.right, y1: Y(n), y2: Y(n) }));
    grid.append(node("text", { x: pad.left - 4, y: Y(n) + 4, "text-anchor": "end", stroke: "none" }, String(n)));
  }
  const hour = 3600000;
  const stepTicks = (x1 - x0) / hour > 8 ? 2 * hour : hour;
  const first = Math.ceil((x0 + offset * 60000) / stepTicks) * stepTicks - offset * 60000;
  for (let when = first; when <= x1; when += stepTicks) {
    const anchor = X(when) > width - pad.right - 20 ? "end" : "middle";
    grid.append(node("text", { x: X(when), y: height - 5, "text-anchor": anchor, stroke: "none" }, hhmm(when, offset)));
  }
  svg.append(grid);
  // Dismissal batches: one dashed line per time, naming the grades.
  const batches = new Map();
  for (const d of curve.dismissal || []) {
    for (const time of d.times) (batches.get(time) || batches.set(time, []).get(time)).push(`${d.grades[0]}-${d.grades[1]}`);
  }
  const day = curve.date;
  const tz = curve.start.slice(19);
  let row = 0;
  for (const [time, grades] of [...batches].sort()) {
    const when = ms(`${day}T${time}:00${tz}`);
    if (!(when >= x0 && when <= x1)) continue;
    const mark = node("g", { class: "batch", "data-time": time });
    mark.append(node("line", { x1: X(when), x2: X(when), y1: pad.top - 4, y2: height - pad.bottom, stroke: "#78909c", "stroke-dasharray": "4 3" }));
    mark.append(node("text", { x: X(when) + 2, y: pad.top - 6 + 12 * (row++ % 2) }, `${time} ${t("grades")} ${grades.join(",")}`));
    mark.append(node("title", {}, `${t("dismissal")} ${time}: ${t("grades")} ${grades.join(", ")}`));
    svg.append(mark);
  }
  const end = ms(curve.service_end);
  const endMark = node("g", { class: "end" });
  endMark.append(node("line", { x1: X(end), x2: X(end), y1: pad.top - 4, y2: height - pad.bottom, stroke: "#b71c1c", "stroke-width": 2 }));
  endMark.append(node("text", { x: X(end) - 3, y: pad.top + 28, "text-anchor": "end" }, `${t("service_end")} ${hhmm(end, offset)}`));
  svg.append(endMark);
  if (!points.length) return;
  const colours = { present: "#1e88e5", overdue: "#c62828", gone: "#2e7d32", signed_in: "#10243e" };
  for (const { key, area } of SERIES) {
    const line = points.map((p, i) => `${i ? "L" : "M"}${X(ms(p.at)).toFixed(1)},${Y(value(p, key)).toFixed(1)}`).join("");
    if (area) {
      const last = X(ms(points[points.length - 1].at)).toFixed(1), firstX = X(ms(points[0].at)).toFixed(1);
      svg.append(node("path", { class: `area-${key}`, d: `${line}L${last},${Y(0)}L${firstX},${Y(0)}Z`,
        fill: colours[key], "fill-opacity": key === "overdue" ? 0.35 : 0.15, stroke: "none" }));
    }
    svg.append(node("path", { class: `line-${key}`, "data-series": key, d: line, fill: "none",
      stroke: colours[key], "stroke-width": key === "present" ? 2.5 : 2 }));
  }
  const now = points[points.length - 1];
  const nx = X(ms(now.at));
  svg.append(node("line", { class: "now", x1: nx, x2: nx, y1: pad.top, y2: height - pad.bottom, stroke: "#90a4ae" }));
  svg.append(node("circle", { cx: nx, cy: Y(value(now, "present")), r: 4, fill: colours.present }));
}
