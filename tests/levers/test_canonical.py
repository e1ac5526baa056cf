"""The canonical serialisation helpers: ``json_encoder`` writes what ``json.JSONEncoder`` writes."""

from __future__ import annotations

import json

import pytest

from agent_anatomy.levers._canonical import json_encoder


@pytest.mark.parametrize(
    "value",
    [
        {"b": [1, 2.5, None, True], "a": {"z": "é", "y": "\u2028"}},
        "plain text",
        [],
        12,
        {"nested": [[[{"deep": "x"}]]]},
    ],
)
def test_json_encoder_writes_what_the_standard_encoder_writes(value: object) -> None:
    options = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}
    assert json_encoder(**options)(value) == json.JSONEncoder(**options).encode(value)
    assert json_encoder()(value) == json.dumps(value)


def test_json_encoder_refuses_what_the_standard_encoder_refuses() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        json_encoder()(looped)
    with pytest.raises(ValueError, match="Out of range float values"):
        json_encoder(allow_nan=False)({"x": float("inf")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_encoder()({"x": object()})
