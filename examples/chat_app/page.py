"""The example's page (GET /): ask a question, then rate the answer (``ui.chat.feedback``).

Kept apart from app.py: the page is the only front end the example has, and the
feedback it sends goes through the beacon router app.py already mounts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = Path(__file__).with_name("index.html")
page_router = APIRouter()


@page_router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """The chat page: a question box, the answer, and thumbs up / down with a comment."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
