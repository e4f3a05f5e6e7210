"""A small roster every test can read at a glance (2026-11-23 is a Monday)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

TODAY = dt.date(2026, 11, 23)

FILES = {
    "students.csv": """student_id,name,grade,class,card_uid,walk_alone
S1,小明,1,一年级1班,04A1A1A1,0
S2,小红,1,一年级1班,04B2B2B2,0
S3,小刚,5,五年级2班,04C3C3C3,1
S4,小丽,1,一年级2班,04D4D4D4,0
S5,小强,2,二年级1班,04E5E5E5,0
""",
    "guardians.csv": """guardian_id,name,phone,card_uid
P1,王妈妈,13800000001,0723140494
P2,李爸爸,13800000002,8E3F1A2C
P3,赵先生,13800000003,0A00123456
""",
    "pickup.csv": """student_id,guardian_id,relation,allowed
S1,P1,母亲,1
S2,P2,父亲,1
S4,P1,姨妈,1
S1,P3,父亲,0
""",
    "staff.csv": """staff_id,name,role,card_uid
T1,陈老师,teacher,04112233445566
T2,周老师,teacher,04112233445577
L1,刘校长,duty_leader,04112233445588
A1,王主任,admin,04112233445599
GU,张保安,guard,041122334455AA
""",
    "groups.csv": """group_id,name,kind,staff_id,room
G1,一年级看护组,basic,T1,101
G2,科学社,club,T2,实验室
""",
    "enrollments.csv": """student_id,group_id,weekdays
S1,G1,"1,2,3,4,5"
S2,G1,"1,2,3,4,5"
S3,G1,"1,2,3,4,5"
S4,G1,"1,2,3,4,5"
S5,G2,1
""",
    "stations.csv": """station_id,name,role,group_id
K1,101教室,classroom,G1
K2,实验室,classroom,G2
P1,东门接送点,pickup,
""",
    "leave.csv": """student_id,date,reason
S4,2026-11-23,病假
""",
    "school.toml": """timezone = "Asia/Shanghai"
[[service_end]]
from = "12-01"
to = "03-31"
end = "17:00"
[[service_end]]
from = "04-01"
to = "11-30"
end = "18:00"
[dismissal]
"1-2" = ["16:00", "17:00", "17:30"]
"3-6" = ["17:00", "17:30"]
""",
}

# Cards in the forms readers report them.
CARD = {
    "S1": "04A1A1A1",
    "S2": "04B2B2B2",
    "S3": "04C3C3C3",
    "S4": "04D4D4D4",
    "S5": "04E5E5E5",
    "P1": "8E3F1A2B",  # nfcpy hex of the card printed 0723140494
    "P2": "8E3F1A2C",
    "P3": "0A00123456",
    "T1": "04112233445566",
    "T2": "04112233445577",
    "L1": "04112233445588",
    "A1": "04112233445599",
    "GU": "041122334455AA",
}
UNKNOWN = "DEADBEEF"


def write(folder: Path, **changes: str) -> Path:
    """Write the bundle, with some files' text replaced (None-like '' removes a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **changes}.items():
        if text != "":
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def png(red: int, green: int, blue: int, size: int = 48) -> bytes:
    """A real PNG of one colour, made without an imaging library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes((red, green, blue)) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


def with_photos(folder: Path) -> Path:
    """Write the bundle with photos for S1 (in a subfolder) and for P1."""
    write(folder)
    (folder / "photos").mkdir(exist_ok=True)
    (folder / "photos" / "s1.png").write_bytes(png(30, 120, 200))
    (folder / "p1.png").write_bytes(png(200, 90, 40))
    students = FILES["students.csv"].replace("walk_alone\n", "walk_alone,photo\n", 1)
    students = students.replace(
        "S1,小明,1,一年级1班,04A1A1A1,0\n", "S1,小明,1,一年级1班,04A1A1A1,0,photos/s1.png\n"
    )
    guardians = FILES["guardians.csv"].replace("card_uid\n", "card_uid,照片\n", 1)
    guardians = guardians.replace("0723140494\n", "0723140494,p1.png\n")
    (folder / "students.csv").write_text(students, encoding="utf-8")
    (folder / "guardians.csv").write_text(guardians, encoding="utf-8")
    return folder
