"""Garbage in: card numbers and roster files made by Hypothesis are refused with a
sentence, never with a crash, and a refused roster leaves the one in force untouched."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.errors import RosterError
from edge.school import cards
from edge.school import roster as roster_mod
from edge.store.ledger import Ledger
from tests import roster_files

card_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789ABCDEFabcdef:- x", max_size=30),
    st.integers(0, 2**80).map(str),
)


@settings(max_examples=400, deadline=None)
@given(card_text, st.sampled_from(["auto", "hex", "decimal"]), st.sampled_from(["little", "big"]))
def test_any_card_text_gives_a_key_or_a_sentence(raw: str, form: str, order: str) -> None:
    try:
        key = cards.normalize(raw, byte_order=order, form=form)  # type: ignore[arg-type]
    except cards.CardNumberError as err:
        refusal = str(err)
        assert refusal  # a sentence, not an empty refusal
        return
    assert key
    assert key == cards.normalize(key, byte_order=order)  # a key reads back as itself


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(sorted(n for n in roster_files.FILES if n.endswith(".csv"))),
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        st.lists(st.text(alphabet=',\n"S0123456789 班', max_size=30), max_size=8).map("\n".join),
    ),
)
def test_a_garbled_roster_file_is_refused_whole(tmp_path_factory, name: str, text: str) -> None:  # noqa: ANN001
    root: Path = tmp_path_factory.mktemp("garbage")
    ledger = Ledger(root / "campus-edge.db", "k")
    ledger.save_roster(roster_mod.load(roster_files.write(root / "good"), version=1), "good")
    bundle = roster_files.write(root / "bad", **{name: text or " "})
    try:
        new = roster_mod.load(bundle, version=2)
    except RosterError as err:
        refusal = err.sentence()
        assert refusal  # names file, row and column where it can
        assert ledger.roster_version() == 1  # the roster in force is untouched
        assert len(ledger.load_roster().students) == 5
        return
    ledger.save_roster(new, "accepted")  # garbage that is still a valid table is stored whole
    assert ledger.roster_version() == 2


def test_digits_that_are_not_ascii_are_a_422_not_a_500(client) -> None:  # noqa: ANN001
    for uid in ("²", "１２３４５６７８９０", "٣٣٣٣٣٣٣٣٣٣"):  # superscript, full-width, Arabic-Indic
        reply = client.post("/api/v1/sim/taps", json={"station": "K1", "uid": uid})
        assert reply.status_code == 422, uid
        assert "card number" in reply.json()["detail"] or "hex" in reply.json()["detail"]
