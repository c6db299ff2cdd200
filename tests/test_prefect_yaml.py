"""prefect.yaml declares the monthly and deliver deployments, and every entrypoint imports."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _deployments():
    return {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}


def test_every_entrypoint_imports_as_a_flow():
    from prefect import Flow
    from prefect.utilities.importtools import import_object

    deployments = _deployments()
    assert set(deployments) == {"monthly", "deliver"}
    for deployment in deployments.values():
        assert isinstance(import_object(deployment["entrypoint"]), Flow), deployment["entrypoint"]


def test_monthly_schedule_is_the_first_at_eight_paris_time():
    monthly = _deployments()["monthly"]
    (schedule,) = monthly["schedules"]
    assert schedule["cron"] == "0 8 1 * *"
    assert schedule["timezone"] == "Europe/Paris"
    params = monthly.get("parameters", {})
    assert (ROOT / params["sources"]).is_file()


def test_every_deployment_names_its_home():
    for deployment in _deployments().values():
        job = deployment["work_pool"]["job_variables"]
        assert job["working_dir"] == "{{ $NEWSLETTER_HOME }}"
        assert job["env"]["NEWSLETTER_HOME"] == "{{ $NEWSLETTER_HOME }}"


def test_typed_parameters():
    from prefect.utilities.importtools import import_object

    deployments = _deployments()
    monthly = import_object(deployments["monthly"]["entrypoint"])
    props = monthly.parameters.properties
    assert set(props) >= {"sources", "month", "today"}
    deliver = import_object(deployments["deliver"]["entrypoint"])
    assert deliver.parameters.required == ["draft_id"]
