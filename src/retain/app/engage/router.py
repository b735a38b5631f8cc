"""``/unsubscribe/{token}``: the page an e-mail's link opens, and RFC 8058 one-click POSTs.

Open to anyone holding a link: the token is HMAC-signed (:mod:`retain.engage.suppression`), so
it names one address and cannot be forged. ``GET`` asks for confirmation (mail scanners follow
links; a GET never unsubscribes); ``POST`` — the page's button, or a mailbox provider's one-click
``List-Unsubscribe=One-Click`` — puts the address on the suppression list and says so.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from retain.app.deps import SessionDep, SettingsDep
from retain.engage import suppression
from retain.i18n import get_language, t

__all__ = ["router"]

router = APIRouter(tags=["engage"])


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    lang = get_language()
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(t('engage.unsubscribe_title'))}</title></head>"
        f"<body><main><h1>{escape(t('engage.unsubscribe_title'))}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _invalid() -> HTMLResponse:
    return _page(f"<p>{escape(t('engage.unsubscribe_invalid'))}</p>", status_code=400)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Ask the recipient to confirm (nothing changes on GET)."""
    key = await run_in_threadpool(suppression.signing_key, session, settings.engage.signing_secret)
    who = suppression.read_token(key, token)
    if who is None:
        return _invalid()
    question = escape(t("engage.unsubscribe_confirm", address=who.address))
    button = escape(t("engage.unsubscribe_button"))
    return _page(
        f'<p>{question}</p><form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{button}</button></form>'
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Suppress the address (the page's button, or an RFC 8058 one-click POST)."""

    def apply() -> str | None:
        key = suppression.signing_key(session, settings.engage.signing_secret)
        who = suppression.read_token(key, token)
        if who is None:
            return None
        suppression.suppress(session, who.address, "unsubscribe", customer_id=who.customer_id)
        session.commit()
        return who.address

    address = await run_in_threadpool(apply)
    if address is None:
        return _invalid()
    return _page(f"<p>{escape(t('engage.unsubscribe_done', address=address))}</p>")
