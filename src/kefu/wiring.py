"""Connects domain events to their handlers; called once by the app, the CLI and the worker."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.core.events import subscribe
from kefu.tickets.models import Message, Ticket
from kefu.tickets.service import TICKET_CREATED, TICKET_MESSAGE_ADDED


def _start_sla_clocks(session: Session, ticket: Ticket) -> None:
    from kefu.sla import service as sla_service

    sla_service.attach_policy_to_new_ticket(session, ticket)


def _mirror_to_chat(session: Session, message: Message) -> None:
    from kefu.chat import service as chat_service

    chat_service.mirror_ticket_message(session, message)


def wire() -> None:
    subscribe(TICKET_CREATED, _start_sla_clocks)
    subscribe(TICKET_MESSAGE_ADDED, _mirror_to_chat)
