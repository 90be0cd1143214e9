"""Failure notifications for local job runs: email over SMTP and a Slack-compatible webhook.

Where to send comes from the environment's `notifications:` section; credentials and the webhook URL
(which is itself a secret) come from environment variables named there. Nothing secret is ever put in
a message, a log line or an exception text: failures name the variable, never its value.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    detail: str


def send_alert(notifications: dict[str, Any] | None, alert: Alert) -> list[Delivery]:
    """Send `alert` on every configured channel; never raises, returns what happened per channel."""
    notifications = notifications or {}
    deliveries = []
    if email := notifications.get("email"):
        if email.get("smtp_host") and email.get("recipients"):
            deliveries.append(_send_email(email, alert))
    if webhook := notifications.get("webhook"):
        deliveries.append(_send_webhook(webhook, alert))
    return deliveries


def _send_email(config: dict[str, Any], alert: Alert) -> Delivery:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = config.get("sender", "medallion@localhost")
    message["To"] = ", ".join(config["recipients"])
    message.set_content(alert.body)
    user = os.environ.get(config["username_env"]) if config.get("username_env") else None
    password = os.environ.get(config["password_env"]) if config.get("password_env") else None
    try:
        with smtplib.SMTP(config["smtp_host"], int(config.get("smtp_port", 25)), timeout=10) as smtp:
            if config.get("smtp_starttls"):
                smtp.starttls()
            if user and password:
                smtp.login(user, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return Delivery("email", False, f"SMTP delivery to {config['smtp_host']} failed: {type(exc).__name__}")
    return Delivery("email", True, f"sent to {len(config['recipients'])} recipient(s)")


def _send_webhook(config: dict[str, Any], alert: Alert) -> Delivery:
    variable = config.get("url_env", "")
    url = os.environ.get(variable, "")
    if not url:
        return Delivery("webhook", False, f"webhook not sent: environment variable {variable} is not set")
    try:
        response = httpx.post(url, json={"text": f"*{alert.subject}*\n{alert.body}"}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        return Delivery("webhook", False, f"webhook (${variable}) answered HTTP {exc.response.status_code}")
    except httpx.HTTPError as exc:
        return Delivery("webhook", False, f"webhook (${variable}) failed: {type(exc).__name__}")
    return Delivery("webhook", True, "posted")
