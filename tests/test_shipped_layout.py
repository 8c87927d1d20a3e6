"""The shipped layout is the measured one (docs/OPERATIONS.md, B2 in docs/BENCHMARKS.md):
docker-compose.yml runs `docket migrate` once, API processes with the background work
off, and one `docket work`; the image stays slim, non-root and health-checked.

No Docker engine runs in CI: the compose file is read with a YAML parser and its
services, commands and settings checked against the code's own names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from service.cli import app as cli
from service.platform.settings import Settings

ROOT = Path(__file__).parents[1]
APP_SERVICES = ("migrate", "api", "work")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_the_services_are_the_database_a_migration_the_api_and_one_worker(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"db", *APP_SERVICES}
    assert services["db"]["image"].startswith("postgres:")
    assert {services[name]["build"] for name in APP_SERVICES} == {"."}
    assert len({services[name]["image"] for name in APP_SERVICES}) == 1  # one image, built once


def test_each_service_runs_its_own_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: command_of(services[name]) for name in APP_SERVICES}
    assert commands["migrate"] == ["docket", "migrate"]
    assert commands["work"] == ["docket", "work"]
    assert commands["api"][:2] == ["docket", "serve"]
    api = commands["api"]
    assert api[api.index("--host") + 1] == "0.0.0.0"
    assert api[api.index("--port") + 1] == "8000"
    assert "8000:8000" in services["api"]["ports"]
    # the commands are the CLI's own
    assert {"migrate", "serve", "work"} <= set(getattr(get_command(cli), "commands", {}))
    # nothing runs the one-container default (migrate and serve with everything inside)
    assert all("&&" not in " ".join(command) for command in commands.values())


def test_the_api_leaves_the_background_work_to_the_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["environment"]["DOCKET_SERVE_BACKGROUND"] == "false"
    assert Settings(serve_background="false").serve_background is False
    workers = [
        name for name in APP_SERVICES if command_of(services[name])[:2] == ["docket", "work"]
    ]
    assert workers == ["work"]
    assert "deploy" not in services["work"]  # one worker: no replicas asked for


def test_migration_runs_once_before_the_api_and_the_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "work"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["restart"] == "unless-stopped"


def test_every_setting_the_services_pass_exists(compose: dict[str, Any]) -> None:
    fields = {f"DOCKET_{name.upper()}" for name in Settings.model_fields}
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert set(environment) <= fields, set(environment) - fields
        assert environment["DOCKET_DATABASE_URL"].startswith("postgresql+asyncpg://docket@db:")
        assert set(compose["services"][name]["secrets"]) == set(compose["secrets"])


def test_only_the_api_is_health_checked_over_http(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "healthcheck" not in services["api"]  # the image's: /healthz on port 8000
    assert services["work"]["healthcheck"] == {"disable": True}  # serves no HTTP
    assert services["migrate"]["healthcheck"] == {"disable": True}  # exits when done


def test_the_image_is_slim_non_root_and_health_checked() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    stages = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert stages and all(image.endswith("-slim") for image in stages)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert any("/healthz" in line for line in lines)
