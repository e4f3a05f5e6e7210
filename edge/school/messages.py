"""The message catalogue: every sentence a person reads, in Chinese and English.

Codes come from ``rules.decide`` (and the API's refusals); ``render`` fills in names
from the roster. Chinese (zh-CN) is the default; English on request.
"""

from __future__ import annotations

from typing import Any

from edge.school.roster import Roster

CATALOGUE: dict[str, tuple[str, str]] = {
    "signed_in": ("{student}，签到成功：{group}", "{student} signed in to {group}"),
    "already_here": ("{student}，已在{group}签到", "{student} is already signed in to {group}"),
    "moved": (
        "{student}，已从{from_group}转到{group}",
        "{student} moved from {from_group} to {group}",
    ),
    "reentry": (
        "{student}，已重新签到{group}（注意：今天已离校）",
        "{student} signed in again to {group} (warning: recorded as gone home today)",
    ),
    "signed_in_on_leave": (
        "{student}，签到成功：{group}（注意：今天已请假）",
        "{student} signed in to {group} (note: on leave today)",
    ),
    "custody_taken": (
        "{staff}接管{group}：实到{head_count}人，应到{expected}人，未到{missing_count}人",
        "{staff} took over {group}: {head_count} present of {expected}, {missing_count} missing",
    ),
    "handover_offered": (
        "{staff}交出{group}：实到{head_count}人，应到{expected}人，未到{missing_count}人；"
        "请接班老师60秒内刷卡",
        "{staff} hands over {group}: {head_count} present of {expected}, {missing_count} "
        "missing; the receiving staff taps within 60 s",
    ),
    "handover_acknowledged": (
        "{staff}接过{group}（{handed_by}交出）：实到{head_count}人，双方已确认",
        "{staff} took {group} from {handed_by}: {head_count} present, acknowledged by both",
    ),
    "handover_unacknowledged": (
        "{staff}接管{group}：实到{head_count}人；注意：交出老师未刷卡确认",
        "{staff} took over {group}: {head_count} present; note: not confirmed by the handing staff",
    ),
    "late_custody": (
        "超时未接：{group}的{head_count}名学生已交由{staff}看护",
        "Not collected: {head_count} children of {group} passed to {staff}'s care",
    ),
    "pickup_opened": (
        "{guardian}，请让孩子刷卡：{children}",
        "{guardian}: children may now tap out: {children}",
    ),
    "released": ("{student}，已由{guardian}接走", "{student} released to {guardian}"),
    "left_alone": ("{student}，自行离校", "{student} leaves alone (parents' consent)"),
    "staff_on_duty": ("{staff}，已在{station}值班", "{staff} on duty at {station}"),
    "needs_guardian": (
        "{student}需要家长接送，请家长先刷接送卡",
        "{student} needs a guardian: the guardian taps their pickup card first",
    ),
    "unauthorized_pickup": (
        "拒绝：{guardian}不是{student}的授权接送人",
        "Refused: {guardian} is not authorized to collect {student}",
    ),
    "barred_guardian": (
        "警告！{guardian}被禁止接走{student}，请立即报告值班领导",
        "ALERT! {guardian} must not collect {student}: tell the duty leader now",
    ),
    "guardian_at_classroom": (
        "接送卡请在接送点刷卡",
        "Pickup cards are used at the pickup point",
    ),
    "unknown_card": ("未登记的卡（{card}），请联系管理员", "Unknown card ({card}): see the admin"),
    "debounced": ("刚刚已刷过卡", "Already tapped just now"),
    "released_manually": (
        "{student}，无卡接送：由{guardian}接走（{staff}确认）",
        "{student} released without a card to {guardian} (confirmed by {staff})",
    ),
    "unknown_code": ("接送码无效，请核对", "Unknown pickup code: check it"),
    "invalid_pass": (
        "通行证无效（{why}），请人工核实",
        "The pass is not valid ({why}): check the adult in person",
    ),
    "code_used": ("此接送码今天已使用过", "This pickup code was already used today"),
    "code_at_classroom": ("接送码请在接送点使用", "Pickup codes are used at the pickup point"),
    "delegate_expired": (
        "临时委托已过期或已撤销，不能接走",
        "The delegation has expired or was revoked: no release",
    ),
    "clock_untrusted": (
        "本机时间未校准，接送码、通行证和临时委托暂不能用：请用家长卡，或请值班老师联系",
        "This kiosk's clock is not set yet: codes, passes and delegates cannot be checked; "
        "use the guardian's card, or call the duty teacher",
    ),
    "not_present": ("{student}不在校，无法放行", "{student} is not on campus: nothing to release"),
    "corrected": ("{staff}更正了一条记录：{reason}", "{staff} corrected a record: {reason}"),
    "patrol_visit": (
        "巡查：{staff}，{group}实到{head_count}人，应到{expected}人，未到{missing_count}人；看护不变",
        "Patrol: {staff}, {group}: {head_count} present of {expected}, {missing_count} missing; "
        "custody unchanged",
    ),
    "patrol_custody_taken": (
        "{staff}确认接管{group}：实到{head_count}人，应到{expected}人，未到{missing_count}人",
        "{staff} confirmed taking over {group}: {head_count} present of {expected}, "
        "{missing_count} missing",
    ),
    "patrol_confirm_expired": (
        "确认已超时（60秒），请重新刷卡",
        "The confirmation came too late (60 s): tap the card again",
    ),
    "patrol_checkpoint": ("巡查：{staff}，{checkpoint}", "Patrol: {staff} at {checkpoint}"),
    "patrol_checkpoint_tag": (
        "巡查点{checkpoint}已记录（先刷工作卡再刷巡查点，可记下巡查人）",
        "Checkpoint {checkpoint} recorded (tap your staff card first to sign the visit)",
    ),
}


# Why a pass was refused, as a guard reads it (the event keeps the reason's code).
PASS_REFUSALS = {
    "pass_revoked": ("已撤销", "revoked"),
    "pass_expired": ("不在有效期内", "not valid today"),
    "pass_at_classroom": ("请在接送点扫码", "scan it at the pickup point"),
    "bad_signature": ("签名不符，可能被篡改", "signature does not match: possibly altered"),
    "unknown_key": ("非本校签发", "not issued by this campus"),
    "malformed": ("无法识别", "unreadable"),
}


def render(code: str, roster: Roster, data: dict[str, Any], *, lang: str = "zh") -> str:
    """Return the sentence for a decision code, with the roster's names filled in."""
    zh, en = CATALOGUE.get(code, (code, code))
    template = en if lang == "en" else zh
    values = _DefaultDict(data)
    values.update(data)
    names: dict[str, dict[str, Any]] = {
        "student": roster.students,
        "guardian": roster.guardians,
        "staff": roster.staff,
    }
    for key, table in names.items():
        ident = data.get(f"{key}_id")
        if ident is not None:
            person = table.get(ident)
            values[key] = person.name if person else ident
    if data.get("delegate_name"):
        values["guardian"] = (
            f"{data['delegate_name']}（临时委托）"
            if lang != "en"
            else (f"{data['delegate_name']} (delegate)")
        )
    if data.get("signed_by"):
        values["staff"] = _person(roster.staff, data["signed_by"])
    if "why" not in data and data.get("reason") in PASS_REFUSALS:
        values["why"] = PASS_REFUSALS[data["reason"]][1 if lang == "en" else 0]
    if data.get("handed_by"):
        values["handed_by"] = _person(roster.staff, data["handed_by"])
    for key in ("group", "from_group"):
        ident = data.get(f"{key}_id") if key == "group" else data.get("from_group")
        if ident is not None:
            group = roster.groups.get(ident)
            values[key] = group.name if group else ident
    point = roster.checkpoints.get(str(data.get("checkpoint_id", "")))
    values["checkpoint"] = point.name if point else data.get("checkpoint_id", "?")
    station = roster.stations.get(str(data.get("station_id", "")))
    values["station"] = station.name if station else data.get("station_id", "")
    if "missing" in data:
        values["missing_count"] = len(data["missing"])
    if "students" in data:
        children = [
            roster.students[c["student_id"]].name
            for c in data["students"]
            if c["student_id"] in roster.students
        ]
        values["children"] = ("、" if lang != "en" else ", ").join(children) or "-"
    return template.format_map(values)


class _DefaultDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _person(table: dict[str, Any], ident: str) -> str:
    person = table.get(ident)
    return person.name if person else ident
