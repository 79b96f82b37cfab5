"""Delivers the outbox over SMTP when SMTP settings are given; without them mail stays there.

Runs as a background task; each message is sent in a thread (smtplib blocks) and marked sent,
or its error recorded and retried on the next wake-up, at most `MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
from email.message import EmailMessage
from functools import partial

import apsw

from performer_edge.auth.sessions import now_iso
from performer_edge.config import Settings
from performer_edge.core.db import Database, WriteTx

log = logging.getLogger("performer.auth.mail")

POLL_S = 5.0
MAX_ATTEMPTS = 5


class Mailer:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.wake = asyncio.Event()
        self._attempts: dict[int, int] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    async def run(self) -> None:
        """Deliver pending messages until cancelled."""
        while True:
            await self.deliver_pending()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), POLL_S)
            self.wake.clear()

    async def deliver_pending(self) -> int:
        if not self.enabled:
            return 0
        pending = await self.db.read(_pending)
        sent = 0
        for message_id, recipient, subject, body in pending:
            if self._attempts.get(message_id, 0) >= MAX_ATTEMPTS:
                continue
            try:
                await asyncio.to_thread(self._send, recipient, subject, body)
            except (OSError, smtplib.SMTPException) as exc:
                self._attempts[message_id] = self._attempts.get(message_id, 0) + 1
                log.warning("sending mail %d to %s failed: %s", message_id, recipient, exc)
                await self.db.write(partial(_mark, message_id=message_id, error=str(exc)))
                continue
            await self.db.write(partial(_mark, message_id=message_id, sent_at=now_iso()))
            sent += 1
        return sent

    def _send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = recipient
        message["Subject"] = subject
        message.set_content(body)
        host, port = self.settings.smtp_host or "", self.settings.smtp_port
        smtp: smtplib.SMTP
        if port == 465:
            smtp = smtplib.SMTP_SSL(host, port, timeout=30)
        else:
            smtp = smtplib.SMTP(host, port, timeout=30)
        with smtp:
            if port != 465 and smtp.has_extn("starttls"):
                smtp.starttls()
            if self.settings.smtp_user:
                smtp.login(self.settings.smtp_user, self.settings.smtp_password or "")
            smtp.send_message(message)


def _pending(conn: apsw.Connection) -> list[tuple[int, str, str, str]]:
    rows = conn.execute(
        "SELECT id, recipient, subject, body FROM auth_outbox WHERE sent_at IS NULL "
        "ORDER BY id LIMIT 100"
    ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]  # type: ignore[misc]


def _mark(
    tx: WriteTx, *, message_id: int, sent_at: str | None = None, error: str | None = None
) -> None:
    tx.conn.execute(
        "UPDATE auth_outbox SET sent_at = ?, error = ? WHERE id = ?", (sent_at, error, message_id)
    )
