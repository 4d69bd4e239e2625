"""A log-linear latency histogram: bounded memory, relative error under 1%.

Values are integers in nanoseconds. Below ``2 ** (SUB_BITS + 1)`` (128 ns) every value
has its own bucket; above, each power of two is split into ``2 ** SUB_BITS`` (64) equal
buckets, so a bucket is at most 1/64 of its values wide and the value reported for it (its
middle) is within 1/128 (0.8%) of any value recorded there. Values from 2**MAX_BITS
ns (about 18 minutes) up share the last bucket; the exact maximum is always kept.

The bucket of a value ``v`` (what :meth:`Histogram.record` does, and what a hot loop may
inline with the same constants)::

    if v < LINEAR:                      # 128
        index = v
    else:
        shift = v.bit_length() - SUB_BITS - 1
        index = (shift << SUB_BITS) + (v >> shift)  # clamp to LAST for huge values

A histogram is ``BUCKETS`` (2240) integers, whatever it holds. ``to_dict`` keeps only
the buckets in use, so it stays small in JSON.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUCKETS", "LAST", "LINEAR", "MAX_BITS", "SUB_BITS", "Histogram"]

SUB_BITS = 6
"""Each power of two above LINEAR is split into 2**SUB_BITS buckets."""
LINEAR = 1 << (SUB_BITS + 1)
"""Values below this (in ns) have a bucket each."""
MAX_BITS = 40
"""Values of 2**MAX_BITS ns (~1100 s) and more go to the last bucket."""
BUCKETS = ((MAX_BITS - SUB_BITS - 1) << SUB_BITS) + LINEAR
"""How many buckets a histogram has."""
LAST = BUCKETS - 1
"""The index of the last bucket."""
_FORMAT = "log-linear-ns/1"
_NS_PER_MS = 1_000_000


def bucket_of(value: int) -> int:
    """The index of the bucket ``value`` (ns, >= 0) is counted in."""
    if value < LINEAR:
        return value if value > 0 else 0
    shift = value.bit_length() - SUB_BITS - 1
    index = (shift << SUB_BITS) + (value >> shift)
    return index if index < LAST else LAST


def bucket_bounds(index: int) -> tuple[int, int]:
    """The values ``[low, high)`` (ns) bucket ``index`` counts (the last one is open)."""
    if index < LINEAR:
        return index, index + 1
    shift = (index >> SUB_BITS) - 1
    mantissa = index - (shift << SUB_BITS)
    return mantissa << shift, (mantissa + 1) << shift


def _middle(index: int) -> float:
    low, high = bucket_bounds(index)
    return (low + high - 1) / 2


class Histogram:
    """Latencies in nanoseconds; percentiles in milliseconds.

    ``counts`` (one int per bucket) and ``max_ns`` are public so that a hot loop can
    record inline (see the module docstring); :attr:`count` is their sum.
    """

    __slots__ = ("counts", "max_ns")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * BUCKETS
        self.max_ns = 0
        """The largest value recorded (exact), 0 when empty."""

    def record(self, ns: int) -> None:
        """Count one value of ``ns`` nanoseconds (a negative one counts as 0)."""
        if ns < LINEAR:
            self.counts[max(ns, 0)] += 1
        else:
            shift = ns.bit_length() - SUB_BITS - 1
            index = (shift << SUB_BITS) + (ns >> shift)
            self.counts[index if index < LAST else LAST] += 1
        self.max_ns = max(self.max_ns, ns)

    @property
    def count(self) -> int:
        """How many values were recorded."""
        return sum(self.counts)

    @property
    def max(self) -> float:
        """The largest value recorded, in ms (0.0 when empty)."""
        return self.max_ns / _NS_PER_MS

    def merge(self, other: Histogram) -> None:
        """Add every value of ``other`` to this histogram."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.max_ns = max(self.max_ns, other.max_ns)

    def copy(self) -> Histogram:
        clone = Histogram()
        clone.counts = list(self.counts)
        clone.max_ns = self.max_ns
        return clone

    def since(self, earlier: Histogram, max_ns: int | None = None) -> Histogram:
        """The values recorded after ``earlier`` (a :meth:`copy` of this histogram).

        The maximum of the difference is not known exactly: it is ``max_ns`` if given
        (clamped into the top bucket in use), else the top of the highest bucket in use,
        capped by this histogram's maximum.
        """
        diff = Histogram()
        diff.counts = [a - b for a, b in zip(self.counts, earlier.counts, strict=True)]
        top = next((i for i in range(LAST, -1, -1) if diff.counts[i]), None)
        if top is None:
            return diff
        low, high = bucket_bounds(top)
        if max_ns is not None and low <= max_ns:
            diff.max_ns = max_ns if top == LAST else min(max_ns, high - 1)
        else:
            diff.max_ns = min(high - 1, self.max_ns) if top != LAST else self.max_ns
        return diff

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0..100) in ms, nearest rank; 0.0 when empty.

        The value is the middle of the bucket the ranked value is in, capped by the
        maximum, so it is within 1/128 of the exact nearest-rank value; the 100th
        percentile is the maximum itself.
        """
        if not 0 <= p <= 100:
            raise ValueError(f"percentile {p} is not in 0..100")
        total = self.count
        if total == 0:
            return 0.0
        rank = max(1, -(-total * p // 100))  # ceil(total * p / 100), at least 1
        if rank >= total:
            return self.max  # the largest value: known exactly
        seen = 0
        for index, n in enumerate(self.counts):
            if n:
                seen += n
                if seen >= rank:
                    if index == LAST:  # open-ended: the maximum is the best guess
                        return self.max
                    return min(_middle(index), float(self.max_ns)) / _NS_PER_MS
        return self.max  # pragma: no cover - only if counts were edited by hand

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the buckets in use as ``[index, count]`` pairs."""
        return {
            "format": _FORMAT,
            "sub_bucket_bits": SUB_BITS,
            "count": self.count,
            "max_ns": self.max_ns,
            "buckets": [[index, n] for index, n in enumerate(self.counts) if n],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        """The histogram :meth:`to_dict` described; ValueError if ``data`` is not one."""
        if data.get("format") != _FORMAT or data.get("sub_bucket_bits") != SUB_BITS:
            raise ValueError(
                f"not a {_FORMAT} histogram with sub_bucket_bits={SUB_BITS}: "
                f"format={data.get('format')!r}, sub_bucket_bits={data.get('sub_bucket_bits')!r}"
            )
        histogram = cls()
        try:
            for index, n in data["buckets"]:
                if not (isinstance(index, int) and isinstance(n, int)) or n < 0:
                    raise ValueError(f"bad bucket [{index!r}, {n!r}]")
                if not 0 <= index < BUCKETS:
                    raise ValueError(f"bucket index {index} out of range")
                histogram.counts[index] += n
            max_ns = data["max_ns"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed histogram: {exc!r}") from None
        if not isinstance(max_ns, int) or max_ns < 0:
            raise ValueError(f"bad max_ns {max_ns!r}")
        histogram.max_ns = max_ns
        return histogram

    def __repr__(self) -> str:
        return f"<Histogram count={self.count} max={self.max:.3f}ms>"
