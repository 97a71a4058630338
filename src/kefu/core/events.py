"""In-process domain events, handled synchronously in the publisher's transaction.

They let a lower module react to a higher one (the SLA clock starting when a ticket is
opened) without the higher module importing it. Handlers are wired once, in `kefu.wiring`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], None]

_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str, handler: Handler) -> None:
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def publish(session: Session, event: str, payload: Any) -> None:
    for handler in list(_handlers[event]):
        handler(session, payload)
