"""Schemathesis against the service's own OpenAPI, on a real server: no 500s, no
undocumented status codes, answers that match their schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.servers import LiveServer


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from edge.clock import ManualClock
    from edge.node import Node
    from edge.school import roster as roster_mod
    from edge.settings import Settings
    from edge.store.ledger import Ledger
    from tests import roster_files
    from tests.servers import local

    root = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(data_dir=root / "data", node_id="fuzz", simulate=True)
    Ledger(settings_.database, "fuzz").save_roster(
        roster_mod.load(roster_files.write(root / "roster"), version=1), "fuzz"
    )
    node = Node(settings_, ManualClock(local("16:00")))
    node.start()
    with LiveServer(node) as server:
        yield server
    node.stop()


OPERATIONS: list[str] = []


def test_no_input_gets_a_server_error(live: LiveServer) -> None:
    # schemathesis' pytest plugin does not load under this pytest; its strategies are
    # plain Hypothesis strategies, so each operation is driven with @given here.
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    staff = {"Authorization": f"Bearer {live.token('A1')}"}
    # The sync endpoints are fuzzed as the kiosk they serve, so bodies get past the token.
    device = {"Authorization": f"Bearer {live.node.ledger.add_device('fuzz-kiosk')}"}
    cases = 0

    def is_sync(path: str) -> bool:
        return path.startswith("/api/v1/sync/") and path != "/api/v1/sync/status"

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue  # a live stream never ends by design; its refusals are tested elsewhere
        OPERATIONS.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def run(case) -> None:  # noqa: ANN001
            nonlocal cases
            cases += 1
            # Moments outside 2000-2100 are refused with 422 on purpose, a bound the
            # schema cannot state, so "schema-valid request rejected" is not a fault.
            case.call_and_validate(
                base_url=live.url,
                headers=device if is_sync(case.operation.path) else staff,
                excluded_checks=[positive_data_acceptance],
            )

        run()
    assert len(OPERATIONS) >= 7
    print(f"schemathesis: {cases} cases over {len(OPERATIONS)} operations")
