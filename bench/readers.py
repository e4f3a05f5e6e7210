"""Reader latency: from a card reaching the reader to its durable event, per driver.

- sim: SimulatedReader.present() to the committed event (the pipeline alone; baseline);
- serial: the last byte of an RDM6300 frame written to a pty to the committed event;
- nfcpy: an emulated tag entering the UDP frontend's field to the committed event.
  On the UDP frontend a poll that finds no tag waits 1 s for an answer, so this figure
  is bounded by the simulated frontend's poll cycle, not by the driver; real readers
  answer an empty poll in tens of milliseconds.

Run: `python bench/readers.py` (or `make bench`).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from functools import reduce
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.cli import demo  # noqa: E402
from edge.node import Node  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.settings import Settings  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402
from tests.emulated_tags import TagInField  # noqa: E402


def instrument(reader, durable: list[float]) -> None:  # noqa: ANN001
    """Record the moment each of a reader's taps becomes durable."""
    sink = reader._sink

    def timed(uid, form, at):  # noqa: ANN001, ANN202
        future = sink(uid, form, at)
        future.add_done_callback(lambda f: durable.append(time.perf_counter()))
        return future

    reader._sink = timed


def frame(em_id: str) -> bytes:
    data = bytes.fromhex(em_id)
    return b"\x02" + em_id.encode() + f"{reduce(lambda a, b: a ^ b, data):02X}".encode() + b"\x03"


def wait(values: list[float], count: int) -> float:
    deadline = time.monotonic() + 10
    while len(values) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no durable event within 10 s ({len(values)} of {count})")
        time.sleep(0.0002)
    return values[count - 1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle = demo.write_bundle(folder / "roster", students=300, seed=5)
        roster = roster_mod.load(bundle, version=1)
        Ledger(folder / "data" / "campus-edge.db", "bench").save_roster(roster, "bench")
        master, slave = os.openpty()
        tty = os.ttyname(slave)
        os.close(slave)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        stations = [s.station_id for s in roster.stations.values() if s.role == "classroom"]
        node = Node(Settings(
            data_dir=folder / "data", node_id="bench", simulate=True,
            readers=[f"{stations[0]}=serial:{tty}:rdm6300",
                     f"{stations[1]}=nfc:udp:127.0.0.1:{port}"],
        ))  # fmt: skip
        node.start()
        try:
            cards = [s.card for s in roster.students.values() if s.card]
            hex_cards = [row["card_uid"] for row in roster.tables["students"]]  # as nfcpy reads
            sim = node.simulated(stations[2])
            assert sim is not None
            sim_times = []
            for i in range(300):
                started = time.perf_counter()
                sim.present(cards[i % len(cards)]).result()
                sim_times.append(time.perf_counter() - started)

            serial_reader = node.readers[stations[0]]
            while not serial_reader.health.connected:
                time.sleep(0.01)
            durable: list[float] = []
            instrument(serial_reader, durable)
            serial_times = []
            for i in range(200):
                data = frame(f"0B{i:08X}")
                os.write(master, data)
                sent = time.perf_counter()
                serial_times.append(wait(durable, i + 1) - sent)

            nfc_reader = node.readers[stations[1]]
            while not nfc_reader.health.connected:
                time.sleep(0.01)
            durable_nfc: list[float] = []
            instrument(nfc_reader, durable_nfc)
            nfc_times = []
            for i in range(12):
                tag = TagInField(port, hex_cards[i]).start(1.3)
                done = wait(durable_nfc, i + 1)
                tag.join()
                assert tag.entered is not None
                nfc_times.append(done - tag.entered)
                time.sleep(1.2)  # let the reader see the empty field
        finally:
            node.stop()
            os.close(master)

    def show(name: str, values: list[float]) -> None:
        ms = sorted(v * 1000 for v in values)
        print(
            f"{name:<48} median {statistics.median(ms):8.2f} ms   "
            f"p95 {ms[int(len(ms) * 0.95) - 1]:8.2f} ms   (n={len(ms)})"
        )

    show("sim: present -> durable event (baseline)", sim_times)
    show("serial RDM6300: frame's last byte -> durable", serial_times)
    show("nfcpy UDP: tag enters field -> durable", nfc_times)
    print(
        "serial / sim (median): "
        f"{statistics.median(serial_times) / statistics.median(sim_times):.1f}x"
    )


if __name__ == "__main__":
    main()
