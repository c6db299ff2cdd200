"""prefect.yaml declares the monthly deployment, and every entrypoint in it imports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _deployments():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_every_entrypoint_imports_as_a_flow():
    from prefect import Flow

    deployments = _deployments()
    assert deployments
    for deployment in deployments:
        path, func = deployment["entrypoint"].split(":")
        spec = importlib.util.spec_from_file_location(f"_entry_{func}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert isinstance(getattr(module, func), Flow), deployment["entrypoint"]


def test_monthly_schedule_is_the_first_at_eight_paris_time():
    (monthly,) = [d for d in _deployments() if d["name"] == "monthly"]
    (schedule,) = monthly["schedules"]
    assert schedule["cron"] == "0 8 1 * *"
    assert schedule["timezone"] == "Europe/Paris"
    params = monthly.get("parameters", {})
    assert (ROOT / params["sources"]).is_file()
