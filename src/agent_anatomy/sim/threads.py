"""Message threads (the ``message-threads-2026-08-12`` beta): the conversation the API keeps between requests.

A request with ``thread: {"type": "create"}`` is answered as any other, and its conversation (system prompt,
tools, messages and the reply) is kept under the reply's id; one with ``thread: {"type": "continue",
"previous_message_id": ID}`` sends only its new messages and is answered as the whole conversation, which is
kept again under the new reply's id. A kept conversation expires five minutes after its last request and can be
continued once; the refusals carry the ``details.error_code`` the SDK's thread helper recovers from by replaying
the full conversation (``thread_not_found``, ``thread_already_continued``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .protocol import Block, RequestError

__all__ = ["THREADS_BETA", "ThreadStore"]

THREADS_BETA: Final = "message-threads-2026-08-12"
_EXPIRES_S: Final = 300.0
_KEPT: Final = 10_000
_CREATE_ONLY: Final = ("system", "tools")
"""Fields a continue takes from the thread, and is refused for repeating."""


@dataclass
class _Kept:
    fields: dict[str, Any]
    messages: list[Any]
    at: float
    continued: bool = False


class ThreadStore:
    """The conversations kept for threads, by the id of their latest reply."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    def expand(self, body: dict[str, Any], betas: frozenset[str]) -> dict[str, Any]:
        """The request as the whole conversation it continues (unchanged without a ``thread`` or with a create);
        RequestError for a thread the API would refuse."""
        thread = body.get("thread")
        if thread is None:
            return body
        if THREADS_BETA not in betas:
            raise RequestError(400, f"thread: requires the {THREADS_BETA} beta (anthropic-beta header)")
        kind = thread.get("type") if isinstance(thread, Mapping) else None
        if kind == "create":
            return body
        if kind != "continue" or not isinstance(thread.get("previous_message_id"), str):
            raise RequestError(400, "thread: Input should be {'type': 'create'} or {'type': 'continue', ...}")
        repeated = [field for field in _CREATE_ONLY if field in body]
        if repeated:
            raise RequestError(400, f"{repeated[0]}: not allowed with thread.type 'continue' (the thread holds it)")
        previous = thread["previous_message_id"]
        with self._lock:
            kept = self._kept.get(previous)
            if kept is None or time.monotonic() - kept.at > _EXPIRES_S:
                raise RequestError(
                    404,
                    f"thread: no usable thread state for previous_message_id {previous}",
                    {"error_code": "thread_not_found"},
                )
            if kept.continued:
                raise RequestError(
                    400,
                    f"thread: the response {previous} has already been continued",
                    {"error_code": "thread_already_continued"},
                )
            kept.continued = True
        messages = body.get("messages")
        return {**body, **kept.fields, "messages": [*kept.messages, *(messages if isinstance(messages, list) else [])]}

    def keep(self, body: Mapping[str, Any], message_id: str, reply: Sequence[Block]) -> None:
        """Keep a threaded request's conversation, with its reply, under the reply's id."""
        if body.get("thread") is None:
            return
        fields = {field: body[field] for field in _CREATE_ONLY if field in body}
        messages = [*body["messages"], {"role": "assistant", "content": [block.full() for block in reply]}]
        with self._lock:
            self._kept[message_id] = _Kept(fields, messages, time.monotonic())
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
