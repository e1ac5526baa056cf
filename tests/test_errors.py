"""The exception hierarchy: one base, builtin parents for misuse errors, context as attributes."""

from __future__ import annotations

import pytest

from agent_anatomy import errors


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.ConfigurationError("bad", setting="exporter", value="x"), ValueError),
        (errors.MissingDependencyError("the Redis cache", extra="redis", module="redis"), ImportError),
        (errors.TraceNotFoundError("no trace", trace_id="ab"), LookupError),
        (errors.SourceError("unreadable", source="t.json"), errors.AgentAnatomyError),
        (errors.SimulatorError("port in use"), errors.AgentAnatomyError),
    ],
)
def test_every_error_is_ours_and_its_builtin(error: Exception, builtin: type[Exception]) -> None:
    assert isinstance(error, errors.AgentAnatomyError)
    assert isinstance(error, builtin)


def test_missing_dependency_names_the_install_command() -> None:
    error = errors.MissingDependencyError("the Redis cache backend", extra="redis", module="redis")
    assert str(error) == (
        "the Redis cache backend needs the 'redis' package, which is not installed. "
        "Install it with: pip install 'agent-anatomy[redis]'"
    )
    assert (error.extra, error.module) == ("redis", "redis")


def test_context_is_carried_as_attributes() -> None:
    assert errors.ConfigurationError("m", setting="protocol", value="udp").value == "udp"
    assert errors.SourceError("m", source="/tmp/x.json").source == "/tmp/x.json"
    assert errors.TraceNotFoundError("m", trace_id="abc").trace_id == "abc"


@pytest.mark.parametrize(
    "error",
    [
        errors.ConfigurationError("bad", setting="exporter", value="x"),
        errors.MissingDependencyError("the Redis cache", extra="redis", module="redis"),
        errors.TraceNotFoundError("no trace", trace_id="ab"),
        errors.SourceError("unreadable", source="t.json"),
        errors.SimulatorError("port in use"),
    ],
)
def test_an_error_pickles_with_its_message_and_context(error: errors.AgentAnatomyError) -> None:
    """A large report's workers raise these in another process: they come back whole (a SourceError did not
    unpickle at all, and the report failed with BrokenProcessPool instead)."""
    import pickle

    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args
    assert vars(back) == vars(error)
