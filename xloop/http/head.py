"""Checks on a request head shared by every parser, and the limits that bound it.

Both parsers already refuse most malformed input. What is checked here is what RFC 9112
lets a parser accept but a server should refuse, and what must be answered identically
whichever parser runs: the HTTP version (505), framing headers that disagree or that we
cannot decode (400, 501), the size limits (413, 414, 431) and the form of the
request-target (400; CONNECT 501).

Order of the checks, the same in every adapter: what the parser itself refuses while it
reads (the request line's syntax, a header line's syntax, too many fields), then the
version (505), then :func:`check_head` (sizes, Host, framing, the body limit), then
:func:`check_target` (CONNECT, the request-target's form).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from .events import ProtocolError

__all__ = [
    "BLANK",
    "METHODS",
    "Limits",
    "check_head",
    "check_target",
    "line_target_status",
    "method_status_from_line",
    "status_for_version",
    "version_status_from_line",
]

#: What may come before a request line and is skipped (RFC 9112 section 2.2: any run of CR
#: and LF there, as llhttp does; the h11 and zttp adapters drop it themselves).
BLANK: Final = b"\r\n"

#: The registered methods' bytes to their (interned) names, so the parsers that hand the
#: method over as bytes (httptools, zttp) build no new str per request for the common ones.
METHODS: Final = {
    method.encode(): method
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT")
}


@dataclass(frozen=True)
class Limits:
    """Bounds on what a client may send before the request reaches the app."""

    #: Longest request-target accepted (RFC 9112 recommends at least 8000 octets); 414 above.
    max_request_line: int = 8190
    #: Most bytes in all header fields together; 431 above.
    max_header_bytes: int = 65536
    #: Most header fields in one request; 431 above.
    max_header_count: int = 100
    #: Largest request body accepted, in bytes (None: no limit); 413 above. A declared
    #: Content-Length over it is refused with the head; a chunked body as soon as the
    #: bytes received pass it.
    max_body_size: int | None = None

    @cached_property  # read per request: an attribute after the first time
    def max_head(self) -> int:
        """Bytes a complete head may take, line and fields, with slack for line endings."""
        return self.max_request_line + self.max_header_bytes + 4 * self.max_header_count + 64


_DIGITS: Final = re.compile(rb"[0-9]+").fullmatch
_MAX_LENGTH_DIGITS: Final = 20
_MAX_LENGTH: Final = 2**64 - 1
# llhttp takes several spaces between the parts of a request line, but none in a target.
_VERSION_IN_LINE: Final = re.compile(rb"^([^ \r\n]*) +([^ \r\n]*) +HTTP/([0-9])\.([0-9])\r?$")


def status_for_version(version: str) -> ProtocolError | None:
    """Refuse any HTTP version but 1.0 and 1.1 (505; HTTP/0.9 and HTTP/2 are not spoken)."""
    if version in {"1.1", "1.0"}:
        return None
    return ProtocolError(505, f"HTTP version {version} is not supported")


_WELL_FORMED_LINE: Final = re.compile(
    rb"^[-!#$%&'*+.^_`|~0-9A-Za-z]+ [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?$"
)


def method_status_from_line(data: bytes) -> ProtocolError:
    """For a method the parser does not know: 501 if the line is well-formed, else 400."""
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    if _WELL_FORMED_LINE.match(line) is not None:
        return ProtocolError(501, "method not implemented")
    return ProtocolError(400, "malformed request line")


def version_status_from_line(data: bytes) -> ProtocolError | None:
    """For a parser error on a request line: a well-formed but unsupported version is 505.

    Parsers disagree on which versions they reject themselves ("HTTP/4.0" fails in llhttp,
    "HTTP/2.0" passes); looking at the line itself makes both answer alike. A target that
    llhttp refuses before it reads the version keeps the line a 400.
    """
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    match = _VERSION_IN_LINE.match(line)
    if match is None:
        return None
    method, target, major, minor = match.groups()
    if line_target_status(method.decode("latin-1"), target) is not None:
        return None
    return status_for_version(f"{major.decode()}.{minor.decode()}")


def check_head(
    target: bytes, headers: list[tuple[bytes, bytes]], limits: Limits, http11: bool = True
) -> ProtocolError | None:
    """Validate a complete request head: sizes and framing (RFC 9112 section 6).

    ``headers`` have lowercased names. Refused: a request-target over the limit (414), too
    many or too large header fields (431), more than one Content-Length field (even with
    equal values: a proxy in front may have picked the other one), a Content-Length that is
    not plain digits or out of range (over 20 digits or 64 bits), Content-Length together
    with Transfer-Encoding (the classic smuggling vector), any transfer coding but a lone
    ``chunked`` (501, RFC 9112 section 6.1; h11 answers so itself), ``chunked`` in an
    HTTP/1.0 request (400: faulty framing, ibid.), a missing or repeated Host (400, RFC 9112
    section 3.2), and a Content-Length over ``limits.max_body_size`` (413).
    """
    if len(target) > limits.max_request_line:
        return ProtocolError(414, "request-target too long")
    if len(headers) > limits.max_header_count:
        return ProtocolError(431, "too many header fields")
    size = 0
    hosts = 0
    content_length: bytes | None = None
    transfer_encoding: bytes | None = None
    for name, value in headers:
        size += len(name) + len(value) + 4
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            if content_length is not None:
                return ProtocolError(400, "more than one Content-Length header")
            content_length = value
        elif name == b"transfer-encoding":
            if transfer_encoding is not None:
                return ProtocolError(501, "more than one Transfer-Encoding header")
            transfer_encoding = value
    if size > limits.max_header_bytes:
        return ProtocolError(431, "header fields too large")
    if hosts > 1 or (http11 and not hosts):
        # RFC 9112 section 3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
        return ProtocolError(400, "an HTTP/1.1 request needs exactly one Host header")
    if content_length is not None:
        content_length = content_length.strip(b" \t")
        if _DIGITS(content_length) is None:
            return ProtocolError(400, "Content-Length is not a plain decimal number")
        if transfer_encoding is not None:
            return ProtocolError(400, "Content-Length together with Transfer-Encoding")
        if len(content_length) >= _MAX_LENGTH_DIGITS and (
            len(content_length) > _MAX_LENGTH_DIGITS or int(content_length) > _MAX_LENGTH
        ):
            # h11 takes at most 20 digits, llhttp values below 2**64: refuse both excesses.
            return ProtocolError(400, "Content-Length out of range")
        if limits.max_body_size is not None and _over(content_length, limits.max_body_size):
            return ProtocolError(413, "Content-Length over the request body limit")
    elif transfer_encoding is not None:
        if transfer_encoding.strip(b" \t").lower() != b"chunked":
            return ProtocolError(501, "only Transfer-Encoding: chunked is supported")
        if not http11:
            # RFC 9112 section 6.1: the framing of such a message is faulty.
            return ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
    return None


def _over(digits: bytes, limit: int) -> bool:
    """Whether a decimal number is above ``limit`` (without int() of a huge string)."""
    digits = digits.lstrip(b"0")
    bound = b"%d" % limit
    return len(digits) > len(bound) or (len(digits) == len(bound) and digits > bound)


# The characters of an authority (RFC 3986 section 3.2: unreserved, pct-encoded,
# sub-delims, ":", "@", "[", "]"); llhttp refuses any other before the path.
_AUTHORITY_CHAR: Final = rb"-A-Za-z0-9._~%!$&'()*+,;="
# absolute-form (RFC 9112 section 3.2.2): an http or https URI with a host (RFC 9110
# section 4.2.1: an empty host MUST be rejected); a port, if any, of digits. The parsers
# have already refused spaces and control characters.
_ABSOLUTE_FORM: Final = re.compile(
    rb"(?i:https?)://(?:[%s:]*@)?(?:\[[%s:]+\]|[%s]+)(?::[0-9]*)?(?:[/?]|\Z)"
    % (_AUTHORITY_CHAR, _AUTHORITY_CHAR, _AUTHORITY_CHAR)
).match
# How llhttp reads a request-target on the request line: for CONNECT an authority up to a
# "/" or "?"; else "/" or "*" and anything after it, or letters, "://" and an authority.
_CONNECT_AUTHORITY: Final = re.compile(rb"[%s:@\[\]]*(?:[/?]|\Z)" % _AUTHORITY_CHAR).match
_SCHEME_AUTHORITY: Final = re.compile(
    rb"[A-Za-z]+://[%s:@\[\]]*(?:[/?]|\Z)" % _AUTHORITY_CHAR
).match


def line_target_status(method: str, target: bytes) -> ProtocolError | None:
    """400 for a request-target llhttp refuses while reading the request line.

    llhttp refuses these before it reads the version; the h11 adapter asks this first so
    that a line with two faults gets the same answer from both parsers. (Targets llhttp
    reads but xloop refuses are :func:`check_target`'s.)
    """
    if method == "CONNECT":
        match = _CONNECT_AUTHORITY(target)
    elif target[:1] in {b"/", b"*"}:
        return None
    else:
        match = _SCHEME_AUTHORITY(target)
    if match is None or b"@@" in target[: match.end()]:
        return ProtocolError(400, "malformed request-target")
    return None


def check_target(method: str, target: bytes) -> ProtocolError | None:
    """The request-target's form against the method (RFC 9112 section 3.2).

    origin-form (``/path?query``) for every method; absolute-form only as an ``http`` or
    ``https`` URI with a host; asterisk-form (``*``) only with OPTIONS; authority-form
    only with CONNECT, and CONNECT is refused (501: tunnels are not served, RFC 9110
    section 9.3.6; a target malformed as llhttp reads it is 400 before, see
    :func:`line_target_status`); no fragment (``#``) in any form. Anything else is 400.

    The adapters call it only when the cheap test ``target[0] != ord("/") or ord("#") in
    target or method == "CONNECT"`` holds: an origin-form target needs nothing more.
    """
    if method == "CONNECT":
        return ProtocolError(501, "CONNECT is not supported")
    if ord("#") in target:
        return ProtocolError(400, "a fragment in the request-target")
    if target[:1] == b"/":
        return None
    if target == b"*":
        if method == "OPTIONS":
            return None
        return ProtocolError(400, "asterisk-form request-target with a method but OPTIONS")
    if _ABSOLUTE_FORM(target) is not None:
        return None
    return ProtocolError(400, "malformed request-target")
