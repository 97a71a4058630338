"""Service-level policies, business calendars, targets, breach detection and escalation."""
