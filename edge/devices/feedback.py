"""What a person hears and sees at the reader after a tap: a beep, an LED.

Feedback is given only for durable taps (the driver calls it from the tap future's
callback). Patterns: accepted one short beep; ignored nothing; denied three beeps;
a loud alert (a barred adult) a long one. Every implementation swallows its own
errors: a broken buzzer must never stop a tap.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

PATTERNS: dict[str, tuple[float, ...]] = {
    "accepted": (0.08,),
    "ignored": (),
    "denied": (0.08, 0.08, 0.08),
    "loud": (1.2,),
}


def pattern(outcome: str, alert: str | None) -> tuple[float, ...]:
    """Return the beep lengths (seconds) for an outcome."""
    return PATTERNS["loud"] if alert == "loud" else PATTERNS.get(outcome, ())


class Feedback(Protocol):
    """Something that tells the person at the reader what happened."""

    def signal(self, outcome: str, alert: str | None = None) -> None:
        """Give the feedback for one durable tap; never raise."""
        ...


class Acr122Feedback:
    """The ACR122U's own buzzer and red LED, through nfcpy's driver for it."""

    def __init__(self, device: Any) -> None:
        self.device = device

    def signal(self, outcome: str, alert: str | None = None) -> None:
        """Beep the reader's buzzer in the outcome's pattern."""
        chipset = getattr(self.device, "chipset", None)
        if chipset is None or not hasattr(chipset, "set_buzzer_and_led_to_active"):
            return
        try:
            for length in pattern(outcome, alert):
                chipset.set_buzzer_and_led_to_active(int(length * 1000))
            chipset.set_buzzer_and_led_to_default()
        except Exception as err:
            log.warning("ACR122U buzzer: %s", err)
