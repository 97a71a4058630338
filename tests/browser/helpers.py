"""Steps that several browser tests take: signing an agent in, a customer's token."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
from playwright.sync_api import Page

from kefu.core.clock import utcnow
from kefu.demo.seed import DEMO_PASSWORD, demo_totp_secret
from kefu.identity.service import sign_customer_token

STEP = 30


class DemoTotp:
    """Authenticator codes for the demo agents. kefu refuses a code whose time step was already
    used (replay protection), so each call returns a code for a step not handed out before:
    the current one, else the next (accepted as ±1 drift), else it waits for time to move."""

    def __init__(self) -> None:
        self._last_step: dict[str, int] = {}

    def __call__(self, email: str) -> str:
        totp = pyotp.TOTP(demo_totp_secret(email))
        while True:
            now = int(time.time()) // STEP
            step = max(now, self._last_step.get(email, -1) + 1)
            if step <= now + 1:
                self._last_step[email] = step
                return totp.at(step * STEP)
            time.sleep(STEP - time.time() % STEP + 0.1)


def sign_in_agent(
    page: Page, base_url: str, email: str, totp: DemoTotp, next_path: str = ""
) -> None:
    """Password, then the authenticator code, through the console's own forms."""
    target = f"{base_url}/console/sign-in" + (f"?next={next_path}" if next_path else "")
    page.goto(target)
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url("**/console/sign-in/verify**")
    page.fill("#code", totp(email))
    page.click("button[type=submit].primary")
    page.wait_for_url(lambda url: "/sign-in" not in url)


def customer_token(external_id: str = "demo-1", minutes: int = 30) -> str:
    """What the exchange would sign for its logged-in customer (the demo's shared secret)."""
    return sign_customer_token(external_id, utcnow() + timedelta(minutes=minutes))
