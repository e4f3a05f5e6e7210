"""Type A tags emulated on nfcpy's UDP frontend, as a card laid on a reader would be."""

from __future__ import annotations

import threading
import time

import nfc
from nfc.clf import LocalTarget


class TagInField:
    """Puts a tag with ``uid`` in the field of the reader at udp:127.0.0.1:PORT for a while."""

    def __init__(self, port: int, uid: str) -> None:
        self.port = port
        self.uid = bytes.fromhex(uid)
        self.entered: float | None = None
        self._thread: threading.Thread | None = None

    def target(self) -> LocalTarget:
        target = LocalTarget("106A")
        seven = len(self.uid) > 4
        # SENS_RES / SEL_RES of an NTAG213 (7-byte UID) and of a MIFARE Classic 1K (4-byte).
        target.sens_res = bytearray.fromhex("4400" if seven else "0400")
        target.sdd_res = bytearray(self.uid)
        target.sel_res = bytearray.fromhex("00" if seven else "08")
        return target

    def hold(self, seconds: float) -> None:
        """Keep the tag in the field for ``seconds`` (blocking)."""
        clf = nfc.ContactlessFrontend(f"udp:127.0.0.1:{self.port}")
        try:
            self.entered = time.perf_counter()
            end = time.time() + seconds
            while time.time() < end:
                clf.listen(self.target(), timeout=max(0.01, end - time.time()))
        finally:
            clf.close()

    def start(self, seconds: float) -> TagInField:
        self._thread = threading.Thread(target=self.hold, args=(seconds,), daemon=True)
        self._thread.start()
        return self

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(timeout=30)
