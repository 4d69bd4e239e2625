"""The events of the sans-IO layer as values: what they show, how they compare."""

from __future__ import annotations

from xloop.http import END_OF_MESSAGE, Body, EndOfMessage, ProtocolError, Request


def test_reprs_name_what_a_failing_assertion_needs() -> None:
    request = Request("GET", b"/a?b", "1.1", [(b"host", b"x")], True, False)
    assert repr(request) == "Request(GET b'/a?b' HTTP/1.1)"
    assert repr(Body(b"x" * 70_000)) == "Body(70000 bytes)"
    assert repr(END_OF_MESSAGE) == "EndOfMessage()"
    assert repr(ProtocolError(431, "too many header fields")) == (
        "ProtocolError(431, 'too many header fields')"
    )


def test_protocol_errors_are_values() -> None:
    error = ProtocolError(400, "bad")
    assert error == ProtocolError(400, "bad")
    assert error != ProtocolError(400, "worse")
    assert error != ProtocolError(413, "bad")
    assert error != (400, "bad")
    assert {error, ProtocolError(400, "bad"), ProtocolError(501, "bad")} == {
        ProtocolError(400, "bad"),
        ProtocolError(501, "bad"),
    }


def test_end_of_message_is_one_shared_event() -> None:
    assert isinstance(END_OF_MESSAGE, EndOfMessage)
    assert not hasattr(END_OF_MESSAGE, "__dict__")  # slotted: no per-event state
