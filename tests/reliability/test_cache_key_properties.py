"""Cache keys, fuzzed: equal arguments give equal keys, different arguments different keys, in any process."""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent_anatomy as aa

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
)
hashables = st.one_of(st.integers(), st.text(max_size=6), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=4),
        st.frozensets(hashables, max_size=4),
    ),
    max_leaves=12,
)


def f(value: Any, flag: Any = None) -> None:
    return None


KEY = aa.ResultCache().cached(f).cache_key  # type: ignore[attr-defined]


def typed(value: Any) -> Any:
    """An independent notion of 'the same argument': Python equality, but 1, 1.0 and True differ and
    a tuple is its list; what the cache promises to key by."""
    if isinstance(value, bool | None | str | bytes | int):
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value + 0.0)
    if isinstance(value, list | tuple):
        return ("list", tuple(typed(item) for item in value))
    if isinstance(value, dict):
        return ("dict", frozenset((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, frozenset | set):
        return ("set", frozenset(typed(item) for item in value))
    raise AssertionError(type(value))


def shuffled(value: Any) -> Any:
    """The same value rebuilt: dictionaries in reverse insertion order, sets from reversed items."""
    if isinstance(value, list):
        return [shuffled(item) for item in value]
    if isinstance(value, tuple):
        return tuple(shuffled(item) for item in value)
    if isinstance(value, dict):
        return {k: shuffled(value[k]) for k in reversed(list(value))}
    if isinstance(value, frozenset):
        return frozenset(reversed(list(value)))
    return value


@given(values)
def test_equal_arguments_give_equal_keys(value: Any) -> None:
    assert KEY(value) == KEY(shuffled(value)) == KEY(value=pickle.loads(pickle.dumps(value)))
    assert KEY(value) == KEY(value, None), "defaults are bound into the key"


@given(values, values)
def test_keys_are_equal_exactly_when_the_arguments_are(a: Any, b: Any) -> None:
    assert (KEY(a) == KEY(b)) == (typed(a) == typed(b)), (a, b)


KEYS_IN_A_SUBPROCESS = """
import pickle, sys
import agent_anatomy as aa
from tests.reliability.test_cache_key_properties import f
key = aa.ResultCache().cached(f).cache_key
sys.stdout.write("\\n".join(key(v) for v in pickle.loads(sys.stdin.buffer.read())))
"""


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(values, min_size=20, max_size=40))
def test_keys_are_the_same_in_another_process(batch: list[Any]) -> None:
    # another interpreter with another hash seed: set and dict ordering inside it differ from ours
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", KEYS_IN_A_SUBPROCESS],
        input=pickle.dumps(batch),
        capture_output=True,
        check=True,
        env=environment,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert completed.stdout.decode().split("\n") == [KEY(v) for v in batch]
