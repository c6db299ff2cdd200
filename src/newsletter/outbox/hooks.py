"""What happens after a draft changes status, outside the draft itself.

``after_approval`` is called once a draft has been approved (from the review
page or ``newsletter outbox approve``). With a Prefect API configured
(``PREFECT_API_URL``) it triggers the ``deliver`` deployment through Prefect's
REST API and returns the flow run's id, which it records in the draft's
history; without one it returns None and ``newsletter outbox send`` stays
the way to send. Plain HTTP (requests): this package never imports Prefect.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from newsletter.errors import UserError

DELIVER_FLOW = "deliver-newsletter"  # flows/deliver.py's flow name
DELIVER_DEPLOYMENT = "deliver"  # prefect.yaml's deployment name
TIMEOUT = 10.0


class TriggerError(UserError):
    """The approval stands, but the delivery run could not be started (French: the officer sees it)."""


def trigger_deployment(api_url: str, flow: str, deployment: str, parameters: dict[str, Any], *, tags=()) -> str:
    """Create a flow run of ``flow/deployment``; return its id."""
    import requests

    base = api_url.rstrip("/")
    try:
        resp = requests.get(f"{base}/deployments/name/{quote(flow)}/{quote(deployment)}", timeout=TIMEOUT)
        if resp.status_code == 404:
            raise TriggerError(f"déploiement {flow}/{deployment} introuvable sur {base} (prefect deploy --all ?)")
        resp.raise_for_status()
        deployment_id = resp.json()["id"]
        resp = requests.post(
            f"{base}/deployments/{deployment_id}/create_flow_run",
            json={"parameters": parameters, "tags": list(tags)},
            timeout=TIMEOUT,
        )
        resp.raise_for_status()
        return resp.json()["id"]
    except requests.RequestException as exc:
        raise TriggerError(f"API Prefect {base} injoignable : {exc}") from None


def record_note(outbox_dir: Any, store: Any, draft_id: str, note: str, *, actor: str) -> None:
    """Add ``note`` to the draft's history without changing its status."""
    from newsletter.files import atomic_write
    from newsletter.outbox.drafts import MANIFEST, load_draft

    draft = load_draft(outbox_dir, draft_id, store)
    if store.compare_and_set_status(draft_id, (draft.status,), draft.status, actor=actor, note=note) is None:
        return
    manifest = dict(draft.manifest)
    manifest["events"] = store.draft_events(draft_id)
    atomic_write(draft.path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n")


def after_approval(settings: Any, store: Any, draft: Any, *, actor: str) -> str | None:
    """Trigger the ``deliver`` deployment for an approved draft; its flow run id, or None."""
    api_url = getattr(settings, "prefect_api_url", None)
    if not api_url:
        return None
    run_id = trigger_deployment(
        api_url, DELIVER_FLOW, DELIVER_DEPLOYMENT, {"draft_id": draft.id, "actor": actor}, tags=["newsletter"]
    )
    record_note(settings.outbox, store, draft.id, f"envoi lancé : exécution Prefect {run_id}", actor=actor)
    return run_id
