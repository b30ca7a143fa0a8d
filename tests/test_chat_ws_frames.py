"""The chat frame parser on its own: no server, no I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.leases import ConnectionCaps, Refusal
from resolvers import limits
from ws import frames
from ws.frames import FrameError, parse
from ws.limits import TokenBucket

pytestmark = pytest.mark.once


def frame(**fields: Any) -> str:
    return json.dumps(fields)


# --- valid frames --------------------------------------------------------------


def test_join_by_name_or_id_with_optional_after() -> None:
    assert parse(frame(type="join", room="general")) == frames.Join(ref=None, room="general")
    assert parse(frame(type="join", room=3, after=41, ref="j1")) == frames.Join(
        ref="j1", room=3, after=41
    )


def test_message_with_client_id_and_numeric_ref() -> None:
    parsed = parse(frame(type="message", room="general", content="salut", client_id="c1", ref=7))
    assert parsed == frames.SendMessage(ref=7, room="general", content="salut", client_id="c1")


def test_dm_takes_an_integer_or_a_digit_string_user_id() -> None:
    assert parse(frame(type="dm", to=2, content="yo")) == frames.SendDm(
        ref=None, to=2, content="yo"
    )
    assert parse(frame(type="dm", to="2", content="yo")).to == 2  # type: ignore[union-attr]


def test_history_frames_carry_limit_as_sent_for_the_resolvers_to_judge() -> None:
    """The window rule (default 50, clamp to 100, refuse negative) is the
    resolvers' (resolvers.pagination.Window); a frame only checks types."""
    assert parse(frame(type="room_history", room="general")) == frames.RoomHistory(
        ref=None, room="general", limit=None
    )
    assert parse(frame(type="room_history", room="g", limit=0)).limit == 0  # type: ignore[union-attr]
    assert parse(frame(type="room_history", room="g", limit=-5)).limit == -5  # type: ignore[union-attr]
    assert parse(frame(type="dm_history", **{"with": 2}, before=9, after=3)) == frames.DmHistory(
        ref=None, with_user=2, limit=None, before=9, after=3
    )


def test_auth_strips_the_token() -> None:
    assert parse(frame(type="auth", token=" abc ")) == frames.Auth(ref=None, token="abc")


def test_unknown_fields_are_ignored() -> None:
    parsed = parse(frame(type="message", room="g", content="x", from_user=99, id=5))
    assert parsed == frames.SendMessage(ref=None, room="g", content="x")


# --- refused frames ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("{not json", None),
        ("", None),
        ("[1, 2]", None),
        ('"join"', None),
        ("null", None),
        ('{"type": "join", "room": NaN}', None),
        ('{"type": "join", "room": Infinity}', None),
        ("[" * 100_000 + "]" * 100_000, None),
        ('{"ref": 1, "x": ' + "9" * 5000 + "}", None),
        (frame(room="general"), "type"),
        (frame(type=5), "type"),
        (frame(type="shout"), "type"),
        (frame(type="join"), "room"),
        (frame(type="join", room=True), "room"),
        (frame(type="join", room=["general"]), "room"),
        (frame(type="join", room="g", after="1"), "after"),
        (frame(type="join", room="g", after=1.5), "after"),
        (frame(type="message", room="g"), "content"),
        (frame(type="message", room="g", content=5), "content"),
        (frame(type="message", room="g", content="x", client_id=5), "client_id"),
        (frame(type="dm", content="x"), "to"),
        (frame(type="dm", to=True, content="x"), "to"),
        (frame(type="dm", to="two", content="x"), "to"),
        (frame(type="dm", to=2.0, content="x"), "to"),
        (frame(type="room_history", room="g", limit="10"), "limit"),
        (frame(type="room_history", room="g", limit=1.5), "limit"),
        (frame(type="room_history", room="g", limit=None, before="x"), "before"),
        (frame(type="dm_history"), "with"),
        (frame(type="auth"), "token"),
        (frame(type="auth", token=" "), "token"),
        (frame(type="join", room="g", ref=True), "ref"),
        (frame(type="join", room="g", ref=[1]), "ref"),
        (frame(type="join", room="g", ref="x" * (limits.REF_MAX_CHARS + 1)), "ref"),
        ('{"type": "message", "room": "g", "content": "\\ud800"}', "content"),
        ('{"type": "join", "room": "g", "ref": "\\udfff"}', "ref"),
    ],
)
def test_bad_frames_raise_frame_error_naming_the_field(data: str, field: str | None) -> None:
    with pytest.raises(FrameError) as caught:
        parse(data)
    assert caught.value.code == "BAD_USER_INPUT"
    assert caught.value.field == field
    assert caught.value.message


def test_binary_frames_are_refused() -> None:
    with pytest.raises(FrameError, match="Binary"):
        parse(frame(type="join", room="g").encode())


def test_the_ref_of_a_bad_frame_is_kept_for_the_reply() -> None:
    with pytest.raises(FrameError) as caught:
        parse(frame(type="message", room="g", ref="m1"))
    assert caught.value.ref == "m1"


# --- properties: any input is a frame or a FrameError, nothing else -----------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
KNOWN_TYPES = st.sampled_from([*frames.PARSERS, "ping", ""])
FIELDS = st.sampled_from(
    ["room", "content", "to", "with", "limit", "before", "after", "token", "client_id", "ref"]
)
FRAME_LIKE = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    KNOWN_TYPES,
    st.dictionaries(FIELDS, JSON, max_size=6),
)


def _parse_or_error(data: str | bytes) -> frames.Frame | None:
    error: FrameError | None = None
    try:
        return parse(data)
    except FrameError as caught:
        error = caught
    assert error.code == "BAD_USER_INPUT"
    assert isinstance(error.message, str)
    assert error.ref is None or isinstance(error.ref, str | int | float)
    return None


@given(st.binary(max_size=512))
def test_any_bytes_are_refused_with_a_frame_error(data: bytes) -> None:
    assert _parse_or_error(data) is None


@given(st.text(max_size=512))
def test_any_text_parses_or_raises_frame_error(data: str) -> None:
    _parse_or_error(data)


@given(JSON)
def test_any_json_value_parses_or_raises_frame_error(value: Any) -> None:
    _parse_or_error(json.dumps(value))


@settings(max_examples=300)
@given(FRAME_LIKE)
def test_frame_like_objects_parse_to_well_typed_frames(value: dict[str, Any]) -> None:
    parsed = _parse_or_error(json.dumps(value))
    if parsed is None:
        return
    # Whatever got through has the types the handlers rely on.
    assert parsed.ref is None or (
        not isinstance(parsed.ref, bool) and isinstance(parsed.ref, str | int | float)
    )
    if isinstance(parsed, frames.RoomHistory | frames.DmHistory):
        assert parsed.limit is None or (
            isinstance(parsed.limit, int) and not isinstance(parsed.limit, bool)
        )
    if isinstance(parsed, frames.Join | frames.SendMessage | frames.RoomHistory):
        assert isinstance(parsed.room, str | int)
        assert not isinstance(parsed.room, bool)
    if isinstance(parsed, frames.SendMessage | frames.SendDm):
        assert isinstance(parsed.content, str)
    # And every reply the server could build from it encodes as JSON.
    reply = frames.error("BAD_USER_INPUT", "x", ref=parsed.ref)
    assert json.loads(frames.encode(reply)).get("ref") == parsed.ref


@given(st.dictionaries(st.text(max_size=5), JSON, max_size=4))
def test_encode_always_gives_utf8_json(value: dict[str, Any]) -> None:
    data = frames.encode(value)
    assert json.loads(data.decode("utf-8")) == value


def test_encode_escapes_lone_surrogates_instead_of_failing() -> None:
    data = frames.encode({"content": "a\ud800b"})
    data.decode("utf-8")
    assert json.loads(data) == {"content": "a\ud800b"}


# --- limits ---------------------------------------------------------------------------


def test_connection_caps_per_user_then_total_and_release() -> None:
    caps = ConnectionCaps(per_user=2, total=3)
    assert caps.acquire(1) is None
    assert caps.acquire(1) is None
    assert caps.acquire(1) is Refusal.USER
    assert caps.acquire(2) is None
    assert caps.acquire(3) is Refusal.TOTAL
    assert caps.full()
    caps.release(1)
    assert caps.acquire(3) is None
    assert caps.count == 3
    assert caps.of_user(1) == 1
    caps.release(7)  # never held: ignored
    assert caps.count == 3


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(20))
    wait = bucket.take(0.0)
    assert wait == pytest.approx(0.1)
    assert TokenBucket.retry_after_ms(wait) == 100
    assert bucket.take(0.1) == 0.0
    assert bucket.take(0.1) > 0
