"""What a committed event answers: the tap's result, as the kiosk and the API show it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from edge.school import messages
from edge.school.events import Event
from edge.school.roster import Roster


@dataclass(frozen=True)
class TapResult:
    """A committed event and the roster in force: a local tap, or one that synced in."""

    event: Event
    roster: Roster
    synced: bool = False  # arrived from another node through sync

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        """Return the answer of CONTRACT.md's simulation endpoint (and the kiosk's).

        A copy of one answer rendered once per tap (the HTTP answer and every live
        stream share it); ``lang="en"`` puts the English sentence in ``message``.
        """
        answer = dict(self._answer)
        if lang == "en":
            answer["message"] = answer["message_en"]
        return answer

    @functools.cached_property
    def _answer(self) -> dict[str, Any]:
        e = self.event
        data = {**e.data, "station_id": e.station}
        if e.subject_kind:
            data[f"{e.subject_kind}_id"] = e.subject_id
        data.setdefault("card", e.uid)
        answer: dict[str, Any] = {
            "outcome": e.outcome,
            "event_id": e.event_id,
            "kind": e.kind,
            "code": e.code,
            "message": messages.render(e.code, self.roster, data, lang="zh"),
            "message_en": messages.render(e.code, self.roster, data, lang="en"),
            "station": e.station,
            "at": e.at.astimezone(self.roster.calendar.tz).isoformat(),
            "subject": self._subject(),
        }
        if "alert" in e.data:
            answer["alert"] = e.data["alert"]
        if "warning" in e.data:
            answer["warning"] = e.data["warning"]
        if "plan_notes" in e.data:
            answer["plan_notes"] = e.data["plan_notes"]
            answer["plan"] = e.data["plan"]
        if "missing" in e.data:
            answer["missing"] = [self._student(s) for s in e.data["missing"]]
            answer["head_count"] = e.data["head_count"]
            answer["expected"] = e.data["expected"]
        if "students" in e.data:
            answer["students"] = [
                {
                    **self._student(c["student_id"]),
                    "state": c["state"],
                    "group_id": c["group_id"],
                    "group_name": self._group_name(c["group_id"]),
                    "plan": c.get("plan"),
                }
                for c in e.data["students"]
            ]
        return answer

    def _subject(self) -> dict[str, Any] | None:
        e = self.event
        if e.subject_kind is None or e.subject_id is None:
            return None
        tables: dict[str, dict[str, Any]] = {
            "student": self.roster.students,
            "guardian": self.roster.guardians,
            "staff": self.roster.staff,
        }
        person = tables.get(e.subject_kind, {}).get(e.subject_id)
        subject = {
            "kind": e.subject_kind,
            "id": e.subject_id,
            "name": person.name if person else e.data.get("delegate_name"),
        }
        if e.subject_kind == "student" and person is not None:
            subject["class"] = person.class_name
            subject["grade"] = person.grade
        photo = getattr(person, "photo", None)
        if photo:
            subject["photo"] = f"/photos/{photo}"
        return subject

    def _group_name(self, group_id: str | None) -> str | None:
        group = self.roster.groups.get(group_id or "")
        return group.name if group else None

    def _student(self, student_id: str) -> dict[str, Any]:
        student = self.roster.students.get(student_id)
        return {
            "student_id": student_id,
            "name": student.name if student else None,
            "class": student.class_name if student else None,
            "grade": student.grade if student else None,
            "photo": f"/photos/{student.photo}" if student and student.photo else None,
        }
