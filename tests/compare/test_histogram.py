"""The latency histogram of the built-in client: error bound, merge, JSON round trip."""

from __future__ import annotations

import json
import math
import random

import pytest

from xloop.compare import histogram as hist_module
from xloop.compare.histogram import BUCKETS, LAST, LINEAR, MAX_BITS, Histogram

#: The middle of a bucket is within 1/128 of every value in it.
BOUND = 1 / 128
PERCENTILES = (0, 1, 10, 50, 90, 99, 99.9, 100)


def exact(sorted_ns: list[int], p: float) -> float:
    """The nearest-rank percentile of sorted values, in ms."""
    rank = max(1, math.ceil(len(sorted_ns) * p / 100))
    return sorted_ns[rank - 1] / 1e6


def filled(values: list[int]) -> Histogram:
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    return histogram


def log_uniform(rng: random.Random, n: int, low: float = 1e2, high: float = 1e10) -> list[int]:
    """``n`` values from 100 ns to 10 s, spread evenly over the orders of magnitude."""
    return [int(math.exp(rng.uniform(math.log(low), math.log(high)))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_the_bound_of_the_exact_ones(seed: int) -> None:
    rng = random.Random(seed)
    values = log_uniform(rng, 5000)
    histogram = filled(values)
    values.sort()
    assert histogram.count == len(values)
    for p in PERCENTILES:
        want = exact(values, p)
        assert histogram.percentile(p) == pytest.approx(want, rel=BOUND), p
    assert histogram.percentile(100) == values[-1] / 1e6  # the maximum is exact
    assert histogram.max == values[-1] / 1e6


def test_latency_like_distribution() -> None:
    """Most values close together (the usual case): still within the bound everywhere."""
    rng = random.Random(7)
    values = [int(rng.gauss(1_500_000, 100_000)) for _ in range(20_000)]
    values += [int(rng.uniform(5e6, 5e7)) for _ in range(200)]  # a tail
    histogram = filled(values)
    values.sort()
    for p in (*PERCENTILES, 99.99):
        assert histogram.percentile(p) == pytest.approx(exact(values, p), rel=BOUND), p


def test_small_values_are_exact() -> None:
    values = list(range(LINEAR))
    histogram = filled(values)
    for p in (1, 25, 50, 75, 100):
        assert histogram.percentile(p) == exact(values, p)


def test_every_bucket_is_narrow_and_holds_its_values() -> None:
    rng = random.Random(3)
    values = [*range(300), *log_uniform(rng, 2000, 1, 2.0**MAX_BITS - 1)]
    values += [(1 << bits) + delta for bits in range(7, MAX_BITS) for delta in (-1, 0, 1)]
    for value in values:
        index = hist_module.bucket_of(value)
        low, high = hist_module.bucket_bounds(index)
        assert low <= value < high, value
        assert (high - low) <= max(1, low / 64), value
    # consecutive buckets tile the range without gaps or overlaps
    for index in range(BUCKETS - 1):
        assert hist_module.bucket_bounds(index)[1] == hist_module.bucket_bounds(index + 1)[0]


def test_empty() -> None:
    histogram = Histogram()
    assert histogram.count == 0
    assert histogram.max == 0.0
    for p in PERCENTILES:
        assert histogram.percentile(p) == 0.0
    data = histogram.to_dict()
    assert data["count"] == 0
    assert data["buckets"] == []
    assert Histogram.from_dict(data).count == 0


@pytest.mark.parametrize("value", [0, 1, 127, 128, 1_234_567, 10**10])
def test_one_sample(value: int) -> None:
    histogram = filled([value])
    for p in PERCENTILES:
        assert histogram.percentile(p) == pytest.approx(value / 1e6, rel=BOUND), p
    assert histogram.percentile(100) == value / 1e6
    assert histogram.count == 1


def test_huge_and_negative_values() -> None:
    huge = 1 << 50  # beyond the last bucket: counted there, the maximum stays exact
    histogram = filled([huge, 2 * huge, -5])
    assert histogram.count == 3
    assert histogram.counts[LAST] == 2
    assert histogram.counts[0] == 1  # a negative value counts as 0
    assert histogram.max == 2 * huge / 1e6
    assert histogram.percentile(100) == 2 * huge / 1e6
    assert histogram.percentile(50) == 2 * huge / 1e6  # the open last bucket reports the max
    assert histogram.percentile(10) == 0.0
    assert len(histogram.counts) == BUCKETS  # bounded memory, whatever was recorded


def test_merge_is_the_histogram_of_all_values() -> None:
    rng = random.Random(11)
    first, second = log_uniform(rng, 3000), log_uniform(rng, 1000, 1e6, 1e8)
    merged = filled(first)
    merged.merge(filled(second))
    together = filled(first + second)
    assert merged.counts == together.counts
    assert merged.max_ns == together.max_ns == max(first + second)
    assert merged.count == 4000
    everything = sorted(first + second)
    for p in PERCENTILES:
        assert merged.percentile(p) == pytest.approx(exact(everything, p), rel=BOUND)


def test_merge_into_empty_and_of_empty() -> None:
    values = [100, 2_000, 3_000_000]
    into_empty = Histogram()
    into_empty.merge(filled(values))
    assert into_empty.counts == filled(values).counts
    of_empty = filled(values)
    of_empty.merge(Histogram())
    assert of_empty.counts == filled(values).counts
    assert of_empty.max_ns == 3_000_000


def test_dict_round_trip_through_json() -> None:
    rng = random.Random(5)
    histogram = filled([*log_uniform(rng, 2000), 1 << 45])
    text = json.dumps(histogram.to_dict())
    back = Histogram.from_dict(json.loads(text))
    assert back.counts == histogram.counts
    assert back.max_ns == histogram.max_ns
    assert back.count == histogram.count == 2001
    for p in PERCENTILES:
        assert back.percentile(p) == histogram.percentile(p)
    data = histogram.to_dict()
    assert data["count"] == 2001
    assert len(data["buckets"]) <= 2001  # only the buckets in use


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"format": "other", "sub_bucket_bits": 6, "max_ns": 0, "buckets": []},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 5, "max_ns": 0, "buckets": []},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "buckets": []},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": -1, "buckets": []},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": 0, "buckets": [[-1, 1]]},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": 0, "buckets": [[BUCKETS, 1]]},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": 0, "buckets": [[3, -1]]},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": 0, "buckets": [[3]]},
        {"format": "log-linear-ns/1", "sub_bucket_bits": 6, "max_ns": 0, "buckets": 5},
    ],
)
def test_from_dict_rejects_what_to_dict_cannot_make(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Histogram.from_dict(data)


def test_percentile_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"not in 0\.\.100"):
        filled([1]).percentile(101)


def test_since_is_the_window_between_two_copies() -> None:
    histogram = filled([1_000, 2_000, 5_000_000])
    before = histogram.copy()
    for value in (3_000, 4_000, 7_000):
        histogram.record(value)
    window = histogram.since(before, 7_000)
    assert window.count == 3
    assert window.max_ns == 7_000
    assert window.percentile(50) == pytest.approx(4_000 / 1e6, rel=BOUND)
    # without the window's maximum: the top of its highest bucket, not the older 5 ms
    estimated = histogram.since(before)
    assert 7_000 <= estimated.max_ns <= 7_000 * (1 + 1 / 64)
    assert histogram.since(histogram.copy()).count == 0
