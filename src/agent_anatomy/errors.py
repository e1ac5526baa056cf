"""The exceptions agent-anatomy raises, one hierarchy under one base.

::

    AgentAnatomyError
    ├── ConfigurationError (also ValueError)       bad argument, option or OTEL_* value (configure(), the CLI)
    ├── MissingDependencyError (also ImportError)  an optional extra is not installed
    ├── SourceError                                 a trace source (file, URL) cannot be read
    ├── TraceNotFoundError (also LookupError)       no trace with that id, or none recorded yet
    └── SimulatorError                              the simulated Anthropic server failed to start or run

Misuse errors subclass the builtin they resemble, so ``except ValueError`` keeps working for code
that does not know this package. Each carries its context as attributes as well as in its message.
"""

from __future__ import annotations

import typing  # a module, not a name: the module's public names stay its errors

__all__ = [
    "AgentAnatomyError",
    "ConfigurationError",
    "MissingDependencyError",
    "SimulatorError",
    "SourceError",
    "TraceNotFoundError",
]


class AgentAnatomyError(Exception):
    """Base of every exception raised by agent-anatomy."""

    def __reduce__(self) -> tuple[typing.Any, ...]:
        # Pickled as it is (a large report's worker raises it in another process): the subclasses take their
        # context as keyword arguments, which the default pickling of an exception does not pass back.
        return _restored, (type(self), self.args, self.__dict__)


def _restored(
    cls: type[AgentAnatomyError], args: tuple[typing.Any, ...], state: dict[str, typing.Any]
) -> AgentAnatomyError:
    """An error as it was pickled: its message and attributes, without running its ``__init__`` again."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(AgentAnatomyError, ValueError):
    """A setting is not valid: an argument or ``OTEL_*`` variable of ``configure()``, a trace id, a CLI option.

    ``setting`` names the argument or variable, ``value`` is what was given.
    """

    def __init__(self, message: str, *, setting: str, value: object) -> None:
        super().__init__(message)
        self.setting = setting
        self.value = value


class MissingDependencyError(AgentAnatomyError, ImportError):
    """A feature needs an optional extra that is not installed; the message names the install command."""

    def __init__(self, feature: str, *, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the {module!r} package, which is not installed. "
            f"Install it with: pip install 'agent-anatomy[{extra}]'"
        )
        self.feature = feature
        self.extra = extra
        self.module = module


class SourceError(AgentAnatomyError):
    """A trace source cannot be read. ``source`` is the path or URL."""

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source


class TraceNotFoundError(AgentAnatomyError, LookupError):
    """No trace with ``trace_id`` (``None`` when no trace has been recorded at all)."""

    def __init__(self, message: str, *, trace_id: str | None = None) -> None:
        super().__init__(message)
        self.trace_id = trace_id


class SimulatorError(AgentAnatomyError):
    """The simulated Anthropic API server failed to start or stopped unexpectedly."""
