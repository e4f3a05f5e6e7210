"""Every route against every kind of caller: no token, garbage, expired, each role, a device.

The table below is the access policy. A route missing from it fails the test, so a new
endpoint cannot ship without saying who may call it.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import APIRoute
from starlette.routing import Route

from edge.http.app import create_app
from edge.school import auth, proof
from edge.sync.hub import pin_key
from tests.servers import LiveServer

OPEN = "open"
# The kiosk's own screen: its display key, the machine itself, or (where the route says) a
# staff token. From this test's loopback the screen is the caller, so it passes like OPEN;
# tests/test_lan.py calls these routes from the LAN.
DISPLAY = "display"
STAFF_VIEW = frozenset({"guard", "duty_leader", "admin"})
ADMIN = frozenset({"admin"})
PAY = frozenset({"duty_leader", "admin"})  # fees and pay: a PIN sign-in, not a card alone
RECORD = frozenset({"teacher", "duty_leader", "admin"})
ALL_STAFF = frozenset({"teacher", "guard", "duty_leader", "admin"})
GRANT = frozenset({"teacher", "duty_leader", "admin"})  # who may collect a child: with PIN
CORRECT = frozenset({"teacher", "guard", "duty_leader", "admin"})  # undo a record: with PIN
DUTY = frozenset({"duty_leader", "admin"})  # the duty log's notes: with PIN
SIGN_OFF = frozenset({"duty_leader", "admin"})  # the token that asks; the card and PIN sign
NEEDS_PIN = (ADMIN, PAY, GRANT, CORRECT, DUTY)
# What an allowed caller gets where it is not 200: created, or a well-formed 404 for a
# made-up id (the check of who may ask comes first).
SUCCESS = {"/api/v1/delegates#POST": 201, "/api/v1/pickup-codes": 201,
           "/api/v1/delegates/Dnone": 404, "/api/v1/events/k:e:1/correct": 404,
           "/api/v1/passes": 201, "/api/v1/patrol/visits": 404, "/api/v1/duty/notes": 201,
           "/api/v1/duty/signoff": 401, "/api/v1/visitors#POST": 201,
           "/api/v1/visitors/Vffffffffff/leave": 404}  # fmt: skip
DEVICE = "device"
CODE = "a one-time sign-in code"  # a token grants nothing there; a wrong code is a 401

# (method, path template) -> who may call it; the concrete path to call.
POLICY: dict[tuple[str, str], tuple[object, str]] = {
    ("GET", "/healthz"): (OPEN, "/healthz"),
    ("POST", "/api/v1/sim/taps"): (OPEN, "/api/v1/sim/taps"),
    ("GET", "/metrics"): (ADMIN, "/metrics"),
    ("GET", "/api/v1/sync/status"): (STAFF_VIEW, "/api/v1/sync/status"),
    ("GET", "/api/v1/presence"): (STAFF_VIEW, "/api/v1/presence"),
    ("GET", "/api/v1/presence/curve"): (STAFF_VIEW, "/api/v1/presence/curve"),
    ("GET", "/api/v1/conflicts"): (STAFF_VIEW, "/api/v1/conflicts"),
    ("GET", "/api/v1/events"): (ADMIN, "/api/v1/events"),
    ("GET", "/api/v1/stations/{station}"): (OPEN, "/api/v1/stations/K1"),
    ("GET", "/api/v1/stations/{station}/stream"): (DISPLAY, "/api/v1/stations/K1/stream"),
    ("GET", "/api/v1/stream"): (STAFF_VIEW, "/api/v1/stream"),
    ("POST", "/api/v1/signin"): (CODE, "/api/v1/signin"),
    ("GET", "/api/v1/signin"): (ALL_STAFF, "/api/v1/signin"),
    ("GET", "/api/v1/students/{student_id}/timeline"): (STAFF_VIEW, "/api/v1/students/S1/timeline"),
    ("GET", "/api/v1/reports/attendance"): (PAY, "/api/v1/reports/attendance"),
    ("GET", "/api/v1/reports/workload"): (PAY, "/api/v1/reports/workload?month=2026-11"),
    ("GET", "/api/v1/reports/supervision"): (RECORD, "/api/v1/reports/supervision?group=G1"),
    ("GET", "/api/v1/reports/timeline"): (STAFF_VIEW, "/api/v1/reports/timeline?student=S1"),
    ("GET", "/api/v1/reports/parents"): (ALL_STAFF, "/api/v1/reports/parents"),
    ("POST", "/api/v1/delegates"): (GRANT, "/api/v1/delegates"),
    ("GET", "/api/v1/delegates"): (GRANT | {"guard"}, "/api/v1/delegates"),
    ("DELETE", "/api/v1/delegates/{grant_id}"): (GRANT, "/api/v1/delegates/Dnone"),
    ("POST", "/api/v1/pickup-codes"): (GRANT, "/api/v1/pickup-codes"),
    ("GET", "/api/v1/stations/{station}/adults"): (DISPLAY, "/api/v1/stations/P1/adults?q=王妈妈"),
    ("POST", "/api/v1/stations/{station}/manual-release"): (
        DISPLAY,
        "/api/v1/stations/P1/manual-release",
    ),
    ("DELETE", "/api/v1/stations/{station}/manual-release"): (
        DISPLAY,
        "/api/v1/stations/P1/manual-release#cancel",
    ),
    ("POST", "/api/v1/stations/{station}/code"): (DISPLAY, "/api/v1/stations/P1/code"),
    ("POST", "/api/v1/events/{event_id}/correct"): (CORRECT, "/api/v1/events/k:e:1/correct"),
    ("PUT", "/api/v1/students/{student_id}/plan"): (GRANT, "/api/v1/students/S1/plan"),
    ("POST", "/api/v1/passes"): (GRANT, "/api/v1/passes"),
    ("DELETE", "/api/v1/passes/{pass_id}"): (GRANT, "/api/v1/passes/X000000000000"),
    ("GET", "/api/v1/students/{student_id}/plan"): (GRANT | {"guard"}, "/api/v1/students/S1/plan"),
    ("GET", "/api/v1/duty"): (STAFF_VIEW, "/api/v1/duty"),
    ("GET", "/api/v1/reports/duty"): (STAFF_VIEW, "/api/v1/reports/duty"),
    ("POST", "/api/v1/duty/notes"): (DUTY, "/api/v1/duty/notes"),
    ("POST", "/api/v1/duty/signoff"): (SIGN_OFF, "/api/v1/duty/signoff"),  # a wrong code: 401
    ("GET", "/dashboard/rollcall"): (OPEN, "/dashboard/rollcall"),
    ("GET", "/ui/{name}"): (OPEN, "/ui/i18n.js"),
    ("GET", "/photos/{name}"): (OPEN, "/photos/" + "0" * 64 + ".png"),
    ("GET", "/kiosk/{station}"): (OPEN, "/kiosk/K1"),
    ("GET", "/dashboard"): (OPEN, "/dashboard"),
    # Patrol: a checkpoint visit (this roster has no checkpoints: a well-formed 404), the
    # rounds, the classroom screen's confirm (nothing waits: 409), the phone page, panels.
    ("POST", "/api/v1/patrol/visits"): (
        frozenset({"guard", "duty_leader"}),
        "/api/v1/patrol/visits",
    ),
    ("GET", "/api/v1/patrol"): (STAFF_VIEW, "/api/v1/patrol"),
    ("POST", "/api/v1/stations/{station}/patrol-confirm"): (
        DISPLAY,
        "/api/v1/stations/K1/patrol-confirm",
    ),
    ("GET", "/patrol"): (OPEN, "/patrol"),
    ("GET", "/ui/panels/{name}"): (OPEN, "/ui/panels/patrol.js"),
    ("GET", "/api/v1/sync/hello"): (DEVICE, "/api/v1/sync/hello"),
    ("POST", "/api/v1/sync/events"): (DEVICE, "/api/v1/sync/events"),
    ("GET", "/api/v1/sync/events"): (DEVICE, "/api/v1/sync/events"),
    ("GET", "/api/v1/sync/roster"): (DEVICE, "/api/v1/sync/roster"),
    ("GET", "/api/v1/sync/photos/{name}"): (DEVICE, "/api/v1/sync/photos/" + "0" * 64 + ".png"),
    # The gate register (门卫登记): guard, duty leader, admin; its page signs in itself.
    ("POST", "/api/v1/visitors"): (STAFF_VIEW, "/api/v1/visitors"),
    ("GET", "/api/v1/visitors"): (STAFF_VIEW, "/api/v1/visitors"),
    ("POST", "/api/v1/visitors/{visitor_id}/leave"): (
        STAFF_VIEW,
        "/api/v1/visitors/Vffffffffff/leave",
    ),
    ("GET", "/api/v1/gate/inside"): (STAFF_VIEW, "/api/v1/gate/inside"),
    ("GET", "/gate"): (OPEN, "/gate"),
    ("GET", "/gate/slip/{visitor_id}"): (OPEN, "/gate/slip/V0000000000"),
}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
ROLES = {"teacher": "T1", "guard": "GU", "duty_leader": "L1", "admin": "A1"}


def routes(server: LiveServer) -> set[tuple[str, str]]:
    found = set()
    for route in create_app(server.node).routes:
        if isinstance(route, APIRoute | Route) and route.path not in DOCS:
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, route.path))
    return found


def call(client: httpx.Client, method: str, path: str, token: str | None) -> int:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    path, _, query = path.split("#")[0].partition("?")
    params = dict(httpx.QueryParams(query))
    if path == "/api/v1/stream":
        params["token"] = token or ""
    body = {"/api/v1/sim/taps": {"station": "K1", "uid": "04A1A1A1"},
            "/api/v1/signin": {"code": "000000"},
            "/api/v1/sync/events": {"events": []},
            "/api/v1/delegates": {"student_id": "S1", "name": "张阿姨", "phone": "13900001111"},
            "/api/v1/pickup-codes": {"student_id": "S1", "adult_kind": "guardian",
                                     "adult_id": "P1"},
            "/api/v1/stations/P1/manual-release": {"student_id": "S1", "adult_kind": "guardian",
                                                   "adult_id": "P1", "reason": "忘带卡"},
            "/api/v1/stations/P1/code": {"code": "12345678"},
            "/api/v1/events/k:e:1/correct": {"reason": "刷错了"},
            "/api/v1/students/S1/plan": {"date": "2030-01-07", "batch": "17:00"},
            "/api/v1/passes": {"student_id": "S1", "name": "外婆"},
            "/api/v1/duty/notes": {"text": "巡查正常"},
            "/api/v1/duty/signoff": {"code": "000000", "pin": "2468"},
            "/api/v1/patrol/visits": {"tag": "04CC000001"},
            "/api/v1/stations/K1/patrol-confirm": {"event_id": "k:e:1"},
            "/api/v1/visitors": {"name": "王建国", "visiting": "陈老师", "purpose": "家长会"},
            }.get(path) if method != "GET" else None  # fmt: skip
    with client.stream(method, path, headers=headers, params=params, json=body) as reply:
        return reply.status_code  # streams are closed after their headers


def test_every_route_answers_each_caller_as_the_policy_says(server: LiveServer) -> None:
    assert routes(server) == set(POLICY), "a route without an access policy, or a stale one"
    now = server.node.clock.now()
    secret, roster = server.node.secret, server.node.roster
    device = server.node.ledger.add_device("kiosk-9")  # its key pinned: its pushes are heard
    pin_key(server.node.ledger, "kiosk-9", proof.public_text(Ed25519PrivateKey.generate()))
    callers: dict[str, str | None] = {
        "none": None,
        "garbage": "ce1.not-a-token",
        "expired": auth.issue(secret, "A1", "admin", now - dt.timedelta(hours=13), 12),
        "device": device,
        **{role: server.token(staff) for role, staff in ROLES.items()},
        # An admin signed in by card alone (no PIN): viewing only.
        "admin-card": auth.issue(secret, "A1", "admin", now, 12, scope="view"),
    }
    assert roster.staff["GU"].role == "guard"
    checked = 0
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for (method, _), (allowed, path) in sorted(POLICY.items()):
            for caller, token in callers.items():
                status = call(client, method, path, token)
                checked += 1
                where = f"{method} {path} as {caller}: {status}"
                if allowed in (OPEN, DISPLAY):
                    assert status not in (401, 403), where
                elif allowed == CODE:  # wrong codes: 401, and 429 once this caller had 5
                    assert status in (401, 429), where
                elif allowed == DEVICE:
                    assert (status not in (401, 403)) == (caller == "device"), where
                elif caller == "admin-card":
                    ok = SUCCESS.get(f"{path}#{method}", SUCCESS.get(path, 200))
                    needs_pin = any(allowed is rule for rule in NEEDS_PIN)
                    refused = needs_pin or "admin" not in allowed  # type: ignore[operator]
                    assert status == (403 if refused else ok), where
                elif caller in ROLES:
                    ok = SUCCESS.get(f"{path}#{method}", SUCCESS.get(path, 200))
                    assert status == (ok if caller in allowed else 403), where  # type: ignore[operator]
                else:
                    assert status == 401, where
    print(f"routes x callers covered: {len(POLICY)} x {len(callers)} = {checked}")
    assert checked == len(POLICY) * len(callers)


def test_a_revoked_staff_token_is_refused_and_a_new_one_works(server: LiveServer) -> None:
    data_dir = str(server.node.settings.data_dir)
    old = server.token("L1")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        headers = {"authorization": f"Bearer {old}"}
        assert client.get("/api/v1/presence", headers=headers).status_code == 200
        revoked = subprocess.run(
            [sys.executable, "-m", "edge", "token", "--staff", "L1", "--revoke",
             "--data-dir", data_dir],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "refused from now on" in revoked.stderr
        refused = client.get("/api/v1/presence", headers=headers)
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
        # Later (the test's clock is set to the school afternoon; the CLI used the real one):
        server.node.clock.set(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))  # type: ignore[attr-defined]
        fresh = {"authorization": f"Bearer {server.token('L1')}"}
        assert client.get("/api/v1/presence", headers=fresh).status_code == 200
        other = {"authorization": f"Bearer {server.token('A1')}"}
        assert client.get("/api/v1/presence", headers=other).status_code == 200


def test_a_card_sign_in_views_and_a_pin_goes_further(server: LiveServer) -> None:
    data_dir = str(server.node.settings.data_dir)
    subprocess.run(
        [sys.executable, "-m", "edge", "pin", "--staff", "A1", "--data-dir", data_dir],
        input="2468\n2468\n", capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    stored = server.node.ledger.pin_hash("A1")
    assert stored is not None
    assert "2468" not in stored  # only a salted hash is kept
    with httpx.Client(base_url=server.url, timeout=10) as client:

        def sign_in(**body: str) -> httpx.Response:
            code = server.node.signin_codes.issue("A1")
            return client.post("/api/v1/signin", json={"code": code, **body})

        card = sign_in()
        assert card.json()["scope"] == "view"
        viewer = {"authorization": f"Bearer {card.json()['token']}"}
        assert client.get("/api/v1/presence", headers=viewer).status_code == 200
        refused = client.get("/api/v1/events", headers=viewer)
        assert refused.status_code == 403
        assert "needs your PIN" in refused.json()["detail"]
        wrong = sign_in(pin="1111")
        assert wrong.status_code == 401
        assert "PIN is wrong" in wrong.json()["detail"]
        full = sign_in(pin="2468")
        assert full.json()["scope"] == "full"
        admin = {"authorization": f"Bearer {full.json()['token']}"}
        assert client.get("/api/v1/events", headers=admin).status_code == 200
        code = server.node.signin_codes.issue("L1")  # no PIN set for L1
        unset = client.post("/api/v1/signin", json={"code": code, "pin": "1234"})
        assert unset.status_code == 401
        assert "no PIN is set for you" in unset.json()["detail"]


def test_simulated_taps_come_only_from_this_machine(make_node) -> None:
    import psutil

    addresses = [a.address for nic in psutil.net_if_addrs().values() for a in nic
                 if a.family == socket.AF_INET and not a.address.startswith("127.")]  # fmt: skip
    assert addresses, "this test needs a non-loopback IPv4 address on the machine"
    node = make_node()
    body = {"station": "K1", "uid": "04A1A1A1"}
    with LiveServer(node, host="0.0.0.0") as server:  # noqa: S104 - reachable on purpose
        remote = httpx.post(f"http://{addresses[0]}:{server.port}/api/v1/sim/taps", json=body)
        assert remote.status_code == 403
        assert "only from this machine" in remote.json()["detail"]
        assert httpx.post(f"{server.url}/api/v1/sim/taps", json=body).status_code == 200
        node.settings.simulate_from_anywhere = True
        again = httpx.post(f"http://{addresses[0]}:{server.port}/api/v1/sim/taps", json=body)
        assert again.status_code == 200
