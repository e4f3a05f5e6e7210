"""What a caller on the school LAN gets without a token: the idle screen, no more.

"A caller on the LAN" is the real app over ASGI with a made-up client address
(192.168.1.x), or the live server reached with ``X-Forwarded-For`` as through the
hub's TLS proxy; no traffic leaves the loopback. The kiosk's own screen proves itself
with its station's display key (``X-Display-Key``), or by being on the machine itself.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from typing import Any

import httpx
from fastapi import FastAPI

from edge.display import display_key
from edge.http.app import create_app
from edge.node import Node
from edge.school import auth
from tests.http.test_access import DISPLAY, OPEN, POLICY
from tests.roster_files import CARD, FILES
from tests.servers import LiveServer, local

LAN = ("192.168.1.50", 1234)
HERE = ("127.0.0.1", 40000)
PHONES = [line.split(",")[2] for line in FILES["guardians.csv"].splitlines()[1:]]
DELEGATE_PHONE = "13900001111"


def call(app: FastAPI, method: str, path: str, *, client: tuple[str, int] = LAN,
         **kwargs: Any) -> httpx.Response:  # fmt: skip
    """Send one request to the app as a caller at ``client``."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        base = "http://127.0.0.1:8080" if client[0] == "127.0.0.1" else "http://kiosk.lan"
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


def tap(app: FastAPI, station: str, who: str) -> dict[str, Any]:
    """Present a card at a station's simulated reader (from the machine itself)."""
    reply = call(app, "POST", "/api/v1/sim/taps", client=HERE,
                 json={"station": station, "uid": CARD[who]})  # fmt: skip
    assert reply.status_code == 200, reply.text
    return reply.json()


def bearer(node: Node, staff_id: str) -> dict[str, str]:
    member = node.roster.staff[staff_id]
    token = auth.issue(node.secret, staff_id, member.role, node.clock.now(), 12)
    return {"authorization": f"Bearer {token}"}


def display(node: Node, station: str) -> dict[str, str]:
    return {"x-display-key": display_key(node.secret, station)}


def an_afternoon(node: Node, app: FastAPI) -> dict[str, str]:
    """Make a day with everything a LAN caller must not get; return its secrets."""
    node.clock.set(local("13:00"))  # type: ignore[attr-defined]  # before the plan cut-off
    plan = {"batch": "17:00", "point": "P1", "mode": "guardian"}
    assert call(app, "PUT", "/api/v1/students/S1/plan", json=plan,
                headers=bearer(node, "T1")).status_code == 200  # fmt: skip
    node.clock.set(local("15:30"))  # type: ignore[attr-defined]
    for who in ("S1", "S2", "S3"):
        tap(app, "K1", who)
    grant = call(app, "POST", "/api/v1/delegates", headers=bearer(node, "T1"),
                 json={"student_id": "S2", "name": "张阿姨", "phone": DELEGATE_PHONE})  # fmt: skip
    assert grant.status_code == 201, grant.text
    code_for = {"student_id": "S1", "adult_kind": "guardian", "adult_id": "P1"}
    issued = call(app, "POST", "/api/v1/pickup-codes", headers=bearer(node, "A1"), json=code_for)
    assert issued.status_code == 201, issued.text
    signin = node.signin_codes.issue("A1")  # as a staff card's tap at an open screen makes
    return {"pickup_code": issued.json()["code"], "signin_code": signin}


def leaks(reply: httpx.Response, secrets: dict[str, str]) -> list[str]:
    """Say what in an answer a caller on the LAN must not have seen."""
    text = reply.text
    found = [f"phone {p}" for p in [*PHONES, DELEGATE_PHONE] if p in text.replace(" ", "")]
    found += [f"{what} {code}" for what, code in secrets.items() if code in text]
    if "json" in reply.headers.get("content-type", ""):  # a page's script names the keys
        keys = ('"allowed"', '"plans"', '"plan"', '"signin_code"', '"phone"', '"state"')
        found += [f"key {k}" for k in keys if k in text]
    return found


def test_an_anonymous_lan_caller_gets_the_idle_screen_from_every_open_route(
    make_node,
) -> None:
    node = make_node()
    app = create_app(node)
    secrets = an_afternoon(node, app)
    checked, asked = 0, set[str]()
    bodies = {"/api/v1/sim/taps": {"station": "K1", "uid": CARD["S1"]},
              "/api/v1/stations/P1/manual-release": {"student_id": "S1", "adult_kind":
                                                     "guardian", "adult_id": "P1",
                                                     "reason": "忘带卡"},
              "/api/v1/stations/P1/code": {"code": secrets["pickup_code"]},
              "/api/v1/stations/K1/patrol-confirm": {"event_id": "k:e:1"}}  # fmt: skip
    for (method, _), (allowed, path) in sorted(POLICY.items()):
        if allowed not in (OPEN, DISPLAY):
            continue
        for variant in (path, path.replace("q=王妈妈", "q=0001")):
            body = bodies.get(variant.split("?")[0]) if method != "GET" else None
            reply = call(app, method, variant, json=body)
            where = f"{method} {variant} from the LAN: {reply.status_code}"
            if allowed == DISPLAY:
                assert reply.status_code == 401, where
                assert "display" in reply.json()["detail"], where
            assert leaks(reply, secrets) == [], where
            checked += 1
            asked.add(f"{method} {variant.split('?')[0]}")
    # The routes that hold what a LAN caller must not get were among those asked.
    assert {
        "GET /api/v1/stations/K1",
        "GET /api/v1/stations/K1/stream",
        "GET /api/v1/stations/P1/adults",
        "POST /api/v1/stations/P1/manual-release",
        "POST /api/v1/stations/P1/code",
    } <= asked, asked
    station = call(app, "GET", "/api/v1/stations/K1").json()
    assert station["group"]["present"] == 3  # the head count the screen shows
    assert (
        node.projection.day(node.roster.calendar.day_of(node.clock.now())).students["S1"].state
        == "present"
    )  # nothing was released by a LAN caller
    print(f"open and display routes checked from the LAN: {checked}")


def test_the_station_stream_and_its_sign_in_codes_are_only_for_the_kiosks_screen(
    make_node,
) -> None:
    node = make_node()
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        proxied = {"x-forwarded-for": "192.168.1.50"}  # through the hub's TLS proxy
        path = "/api/v1/stations/K1/stream"
        with client.stream("GET", path, headers=proxied) as reply:
            assert reply.status_code == 401
        wrong = {**proxied, "x-display-key": display_key(node.secret, "K2")}
        with client.stream("GET", path, headers=wrong) as reply:
            assert reply.status_code == 401  # another station's key opens only that one
        with client.stream("GET", path, headers={**proxied, **display(node, "K1")}) as reply:
            assert reply.status_code == 200
            lines = reply.iter_lines()
            assert next(lines).startswith("retry")
            client.post("/api/v1/sim/taps", json={"station": "K1", "uid": CARD["T1"]})
            seen = ""
            deadline = time.monotonic() + 10
            while "signin_code" not in seen and time.monotonic() < deadline:
                seen = next(lines)
        code = json.loads(seen.removeprefix("data: "))["signin_code"]
        assert re.fullmatch(r"[0-9]{6}", code)
        # A screen on the hub gets its key once, from the node's own command line.
        shown = subprocess.run(
            [sys.executable, "-m", "edge", "display", "P1", "--data-dir",
             str(node.settings.data_dir)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert shown.stdout.strip().endswith("/kiosk/P1#key=" + display_key(node.secret, "P1"))


def test_the_adult_search_needs_the_screen_tells_no_more_than_4_digits_and_is_rate_limited(
    make_node,
) -> None:
    node = make_node()
    app = create_app(node)
    tap(app, "K1", "S1")
    path = "/api/v1/stations/P1/adults"
    anonymous = call(app, "GET", path, params={"q": "0001"})
    assert anonymous.status_code == 401
    assert "allowed" not in anonymous.text
    screen = display(node, "P1")
    found = call(app, "GET", path, params={"q": "0001"}, headers=screen).json()["adults"]
    assert [a["adult_id"] for a in found] == ["P1"]  # the screen in front of the guard works
    # A longer number tells no more than its last 4 digits: the phone cannot be rebuilt.
    for guess in ("13800000001", "99999990001"):
        again = call(app, "GET", path, params={"q": guess}, headers=screen).json()["adults"]
        assert again == found
    staff = call(app, "GET", path, params={"q": "赵先生"}, headers=bearer(node, "GU"))
    assert staff.status_code == 200
    assert staff.json()["adults"][0]["children"][0]["allowed"] is False  # shown to the guard
    codes = [call(app, "GET", path, params={"q": f"{n:04d}"}, headers=screen).status_code
             for n in range(40)]  # fmt: skip
    assert codes.count(429) >= 10
    limited = call(app, "GET", path, params={"q": "0001"}, headers=screen)
    assert limited.status_code == 429
    assert "too many searches" in limited.json()["detail"]


def test_todays_plans_go_only_to_the_screen_or_to_staff(make_node) -> None:
    node = make_node()
    app = create_app(node)
    an_afternoon(node, app)
    anonymous = call(app, "GET", "/api/v1/stations/K1").json()
    assert "plans" not in anonymous["group"]
    assert anonymous["group"]["present"] == 3
    for headers in (display(node, "K1"), bearer(node, "GU")):
        shown = call(app, "GET", "/api/v1/stations/K1", headers=headers).json()
        assert [p["name"] for p in shown["group"]["plans"]] == ["小明"]
    other = call(app, "GET", "/api/v1/stations/K1", headers=display(node, "K2")).json()
    assert "plans" not in other["group"]


def test_a_manual_release_is_asked_by_the_screen_or_staff_never_overwritten_and_names_who_asked(
    make_node,
) -> None:
    node = make_node()
    app = create_app(node)
    tap(app, "K1", "S1")
    tap(app, "K1", "S2")
    path = "/api/v1/stations/P1/manual-release"
    ask = {"student_id": "S1", "adult_kind": "guardian", "adult_id": "P1", "reason": "忘带卡"}
    anonymous = call(app, "POST", path, json=ask)
    assert anonymous.status_code == 401
    assert node.writer.pending == {}
    other_screen = call(app, "POST", path, json=ask, headers=display(node, "K1"))
    assert other_screen.status_code == 401  # a classroom screen's key does not stage here
    first = call(app, "POST", path, json=ask, headers=display(node, "P1"))
    assert first.status_code == 200, first.text
    second = {"student_id": "S2", "adult_kind": "guardian", "adult_id": "P2", "reason": "忘带卡"}
    refused = call(app, "POST", path, json=second, headers=bearer(node, "GU"))
    assert refused.status_code == 409
    assert "小明" in refused.json()["detail"]
    assert "cancel" in refused.json()["detail"]
    assert node.writer.pending["P1"].student_id == "S1"
    cancelled = call(app, "DELETE", path, headers=display(node, "P1"))
    assert cancelled.status_code == 200
    assert call(app, "DELETE", path, headers=display(node, "P1")).status_code == 404
    staged = call(app, "POST", path, json=second, headers=bearer(node, "GU"))
    assert staged.status_code == 200, staged.text
    node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    signed = tap(app, "P1", "T1")
    assert signed["code"] == "released_manually"
    assert "小红" in signed["message"]
    assert "李爸爸" in signed["message"]
    events = call(app, "GET", "/api/v1/events", headers=bearer(node, "A1")).json()["events"]
    released = [e for e in events if e["code"] == "released_manually"]
    assert [e["data"]["asked_by"] for e in released] == ["GU"]
    nobody = call(app, "POST", path, json=ask, headers=display(node, "P1"))
    assert nobody.status_code == 200
    node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert tap(app, "P1", "GU")["code"] == "released_manually"
    events = call(app, "GET", "/api/v1/events", headers=bearer(node, "A1")).json()["events"]
    released = [e for e in events if e["code"] == "released_manually"]
    assert [e["data"]["asked_by"] for e in released] == ["GU", "display:P1"]


def test_every_html_answer_escapes_what_it_reflects(make_node) -> None:
    node = make_node()
    app = create_app(node)
    hostile = "<img src=x onerror=alert(1)>"
    for path in (f"/kiosk/{hostile}", "/kiosk/K1", "/dashboard", "/dashboard/rollcall"):
        reply = call(app, "GET", path)
        assert "<img src=x" not in reply.text, path
    missing = call(app, "GET", f"/kiosk/{hostile}")
    assert missing.status_code == 404
    assert "&lt;img src=x onerror=alert(1)&gt;" in missing.text


def test_fifty_concurrent_wrong_pickup_codes_get_five_tries(make_node) -> None:
    node = make_node()
    app = create_app(node)
    headers = display(node, "P1")

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=LAN)
        async with httpx.AsyncClient(transport=transport, base_url="http://kiosk.lan") as c:
            return await asyncio.gather(*(
                c.post("/api/v1/stations/P1/code", json={"code": f"{n:08d}"}, headers=headers)
                for n in range(50)))  # fmt: skip

    replies = asyncio.run(go())
    tried = [r for r in replies if r.status_code == 200]
    assert [r.json()["code"] for r in tried] == ["unknown_code"] * 5
    assert sum(r.status_code == 429 for r in replies) == 45


def test_wrong_sign_in_codes_lock_out_their_caller_and_never_void_anothers_code(
    make_node,
) -> None:
    node = make_node()
    app = create_app(node)
    valid = node.signin_codes.issue("L1")
    attacker = ("192.168.1.66", 5000)
    answers = [call(app, "POST", "/api/v1/signin", client=attacker,
                    json={"code": f"{n:06d}"}).status_code
               for n in range(25) if f"{n:06d}" != valid]  # fmt: skip
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    locked = call(app, "POST", "/api/v1/signin", client=attacker, json={"code": valid})
    assert locked.status_code == 429  # even a right code: a locked caller tries no more
    assert "wait" in locked.json()["detail"]
    mine = call(app, "POST", "/api/v1/signin", client=("192.168.1.77", 5000),
                json={"code": valid})  # fmt: skip
    assert mine.status_code == 200, mine.text
    assert mine.json()["staff_id"] == "L1"


def test_wrong_pins_lock_out_their_caller_and_the_staff_members_pin(make_node) -> None:
    # A card is no secret: with a copied admin card anyone gets code after code. Wrong
    # PINs must count, per caller and per staff member, or 4 digits fall in minutes.
    from edge.school import auth

    node = make_node()
    node.ledger.set_pin("A1", auth.hash_pin("4321"))
    app = create_app(node)

    def sign_in(client: tuple[str, int], pin: str) -> httpx.Response:
        code = node.signin_codes.issue("A1")  # the copied card tapped at a kiosk again
        return call(app, "POST", "/api/v1/signin", client=client, json={"code": code, "pin": pin})

    one = ("192.168.1.66", 5000)
    statuses = [sign_in(one, f"{guess:04d}").status_code for guess in range(8)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}  # that caller is locked out
    # From other addresses the staff member's PIN is locked after five wrong ones.
    spread = [sign_in((f"192.168.2.{n}", 5000), f"{n + 10:04d}").status_code for n in range(5)]
    assert spread == [429] * 5
    right = sign_in(("192.168.3.1", 5000), "4321")
    assert right.status_code == 429, right.text
    assert "PIN" in right.json()["detail"]
    viewing = call(app, "POST", "/api/v1/signin", client=("192.168.3.2", 5000),
                   json={"code": node.signin_codes.issue("A1")})  # fmt: skip
    assert viewing.status_code == 200  # viewing with the card alone still works
    assert viewing.json()["scope"] == "view"
    # The real admin, with the right PIN, on a fresh lockout window (10 minutes on).
    other = make_node()
    other.ledger.set_pin("A1", auth.hash_pin("4321"))
    fresh = create_app(other)
    good = call(fresh, "POST", "/api/v1/signin", client=("192.168.4.1", 5000),
                json={"code": other.signin_codes.issue("A1"), "pin": "4321"})  # fmt: skip
    assert good.json()["scope"] == "full"


def test_many_callers_guessing_sign_in_codes_are_bounded_campus_wide(make_node) -> None:
    node = make_node()
    app = create_app(node)
    valid = node.signin_codes.issue("L1")
    wrong = f"{(int(valid) + 1) % 1_000_000:06d}"
    statuses = [call(app, "POST", "/api/v1/signin", client=(f"10.0.{n // 250}.{n % 250}", 1),
                     json={"code": wrong}).status_code for n in range(60)]  # fmt: skip
    assert 0 < statuses.count(401) <= 30  # at most 30 guesses in any minute, whoever asks
    assert statuses[-1] == 429
    assert "too many wrong codes" in call(app, "POST", "/api/v1/signin", client=("10.1.0.1", 1),
                                          json={"code": wrong}).json()["detail"]  # fmt: skip
    assert valid in node.signin_codes  # nobody's valid code was voided


def test_a_lockout_forgets_failures_once_its_window_has_passed() -> None:
    from edge.lockout import Lockout

    now = [0.0]
    lockout = Lockout(limit=2, window=60.0, clock=lambda: now[0])
    first, second = lockout.reserve("a"), lockout.reserve("a")
    assert first is not None
    assert second is not None
    assert lockout.reserve("a") is None  # two failures held: locked
    assert lockout.reserve("b") is not None  # per target: another key is not
    lockout.release(second)  # a success does not count
    assert lockout.reserve("a") is not None
    assert lockout.reserve("a") is None
    now[0] = 61.0
    assert lockout.reserve("a") is not None
