"""Flow hooks that tell the operator (newsletter.ops.notify does the mail)."""

from __future__ import annotations

from typing import Any

from newsletter.ops import notify
from newsletter.settings import Settings


def run_url(flow_run: Any = None) -> str | None:
    """The flow run's page in the Prefect UI (the current run by default)."""
    from prefect.utilities.urls import url_for

    if flow_run is None:
        from prefect.runtime import flow_run as current

        run_id = current.get_id()
        return url_for("flow-run", obj_id=run_id) if run_id else None
    try:
        return url_for(flow_run)
    except Exception:  # no UI configured (ephemeral API)
        return None


def _reason(state: Any) -> str:
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # result not persisted: the state message is enough
        exc = err
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return state.message or str(state.type)


def _hook(what: str):
    def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
        try:
            settings = Settings.from_env()
        except ValueError:
            return
        if what == "monthly":
            from newsletter.ops.lease import release_own_collections
            from newsletter.store import Store

            try:
                release_own_collections(Store(settings.database_url))
            except Exception:
                pass
        notify.run_failed(
            settings,
            what=what,
            run_name=flow_run.name,
            reason=_reason(state),
            run_url=run_url(flow_run),
            parameters=dict(flow_run.parameters or {}),
        )

    on_failure.__name__ = f"notify_{what}_failure"
    return on_failure


notify_monthly_failure = _hook("monthly")
notify_delivery_failure = _hook("delivery")


def after_monthly(draft: Any, settings: Settings) -> None:
    """Mail the operator about sources that failed the configured number of runs in a row."""
    notify.failing_sources(settings, draft, threshold=settings.failure_threshold, run_url=run_url())
