"""Tickets, their conversations, queues, tiers, assignment, tags and escalation."""
