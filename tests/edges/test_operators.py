"""What an operator meets: `docket key generate`, production's refusals, a development
key created loudly, tracebacks without local variables, compose with secrets, `make run`
without the test tools, no deprecation warnings."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import tomllib
import warnings
from pathlib import Path

import pytest
import yaml
from fastapi.exceptions import FastAPIDeprecationWarning
from pydantic import ValidationError
from typer.testing import CliRunner

from events.checkpoints import (
    Signer,
    SigningKeyError,
    load_or_create_signing_key,
    parse_verifier_key,
)
from service.cli import app as cli
from service.platform.keys import generate_key_file, open_mldsa_key, open_signing_key
from service.platform.logging import configure_logging
from service.platform.settings import Settings
from tests.api.conftest import Api, seat

ROOT = Path(__file__).parents[2]
ORIGIN = "docket.committee.example/log"


def _production(key: Path, **changes: str) -> Settings:
    values = {
        "environment": "production",
        "database_url": "postgresql+asyncpg://docket@db/docket",
        "signing_key_file": str(key),
        "log_origin": ORIGIN,
        "public_url": "https://docket.committee.example",
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_key_generate_writes_a_private_key_and_prints_its_vkey(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    runner = CliRunner()
    made = runner.invoke(cli, ["key", "generate", str(path), "--origin", ORIGIN])
    assert made.exit_code == 0, made.output
    vkey = made.stdout.strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = parse_verifier_key(vkey)
    assert parsed.name == ORIGIN
    # the service reads it, and it is the key the vkey names
    assert Signer(ORIGIN, load_or_create_signing_key(path, create=False)).verifier_key() == vkey
    before = path.read_bytes()
    again = runner.invoke(cli, ["key", "generate", str(path), "--origin", ORIGIN])
    assert again.exit_code == 1 and "never overwritten" in again.output
    assert path.read_bytes() == before


def test_key_generate_ml_dsa_44(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "mldsa.key"
    runner = CliRunner()
    args = ["key", "generate", str(path), "--origin", ORIGIN, "--algorithm", "ml-dsa-44"]
    made = runner.invoke(cli, args)
    assert made.exit_code == 0, made.output
    vkey = made.stdout.strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = parse_verifier_key(vkey)
    assert parsed.name == ORIGIN and parsed.kind == 0x06
    # the service reads it as DOCKET_MLDSA_SIGNING_KEY_FILE, and it is the key the vkey names
    settings = Settings(environment="test", mldsa_signing_key_file=path)
    mldsa = open_mldsa_key(settings)
    assert mldsa is not None
    ed = load_or_create_signing_key(tmp_path / "ed.key", create=True)
    assert Signer(ORIGIN, ed, mldsa).mldsa_verifier_key() == vkey
    before = path.read_bytes()
    again = runner.invoke(cli, args)
    assert again.exit_code == 1 and "never overwritten" in again.output
    assert path.read_bytes() == before
    bad = runner.invoke(cli, ["key", "generate", str(tmp_path / "x"), "--algorithm", "rsa"])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()


def test_an_ml_dsa_key_shared_or_missing_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "signing.key"
    key.write_bytes(b"")
    key.chmod(0o600)
    mldsa = tmp_path / "mldsa.key"
    with pytest.raises(ValidationError, match="DOCKET_MLDSA_SIGNING_KEY_FILE"):
        _production(key, mldsa_signing_key_file=str(mldsa))
    generate_key_file(mldsa, ORIGIN, "ml-dsa-44")
    _production(key, mldsa_signing_key_file=str(mldsa))  # the good case
    mldsa.chmod(0o640)
    with pytest.raises(ValidationError, match="owner only"):
        _production(key, mldsa_signing_key_file=str(mldsa))
    with pytest.raises(SigningKeyError, match="readable by its owner only"):
        open_mldsa_key(Settings(environment="test", mldsa_signing_key_file=mldsa))


def test_production_refuses_the_placeholder_origin_and_a_shared_key(tmp_path: Path) -> None:
    key = tmp_path / "signing.key"
    key.write_bytes(b"")
    key.chmod(0o600)
    _production(key)  # the good case
    with pytest.raises(ValidationError, match="placeholder"):
        _production(key, log_origin="docket.example.org/log")
    for mode in (0o640, 0o604, 0o644):
        key.chmod(mode)
        with pytest.raises(ValidationError, match="readable by group or others"):
            _production(key)


def test_production_never_creates_a_key(tmp_path: Path) -> None:
    missing = tmp_path / "none.key"
    with pytest.raises(ValidationError, match="never creates a key"):
        _production(missing)
    settings = Settings(environment="test", signing_key_file=missing)
    settings.environment = "production"  # as if the file vanished after start-up checks
    with pytest.raises(SigningKeyError):
        open_signing_key(settings)
    assert not missing.exists()


def test_a_development_key_created_on_first_use_is_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "INFO")
    path = tmp_path / "dev.key"
    open_signing_key(Settings(environment="development", signing_key_file=path))
    assert path.exists()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    created = [line for line in lines if line.get("event") == "docket.signing_key.created"]
    assert created and created[0]["level"] == "warning", lines
    assert str(path) in created[0]["path"]
    open_signing_key(Settings(environment="development", signing_key_file=path))
    assert "signing_key.created" not in capsys.readouterr().err  # only when created


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_tracebacks_in_logs_hold_no_local_variables(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt, "INFO")

    def handle(body: str) -> None:
        token = body.upper()
        raise RuntimeError(f"failed on a body of {len(token)} characters")

    try:
        handle("dkt_secret" + "-in-a-local")
    except RuntimeError:
        logging.getLogger("docket.test").exception("docket.test.failure")
    err = capsys.readouterr().err
    assert "failed on a body of" in err and "RuntimeError" in err  # the traceback is there
    assert "dkt_secret-in-a-local" not in err and "DKT_SECRET-IN-A-LOCAL" not in err


def test_compose_keeps_the_password_and_the_key_in_secrets() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "--init-key" not in text
    compose = yaml.safe_load(text)
    db = compose["services"]["db"]
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    for name in ("migrate", "api", "work"):  # the three services of the image
        docket = compose["services"][name]
        env = docket["environment"]
        user = env["DOCKET_DATABASE_URL"].split("@")[0].split("//")[1]
        assert ":" not in user
        assert env["DOCKET_DATABASE_PASSWORD_FILE"].startswith("/run/secrets/")
        assert "docket.example.org/log" not in env["DOCKET_LOG_ORIGIN"]
        assert "http" in env["DOCKET_PUBLIC_URL"]  # production requires it
        assert {s if isinstance(s, str) else s["source"] for s in docket["secrets"]} >= {
            "docket-signing.key",
            "docket-db-password",
        }
    assert set(compose["secrets"]) >= {"docket-signing.key", "docket-db-password"}


def test_the_database_password_comes_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cr:et/@pw\n")
    settings = Settings(
        database_url="postgresql+asyncpg://docket@db:5432/docket",
        database_password_file=secret,
    )
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    assert url.password == "s3cr:et/@pw" and url.host == "db" and url.username == "docket"


def test_make_run_installs_only_what_the_service_needs() -> None:
    planned = subprocess.run(
        ["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line and "-e" in line]
    assert installs, planned
    assert all("[dev]" not in line for line in installs), installs


async def test_no_deprecation_warnings(api: Api) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await seat(api, ("USA",))
        await api.get("/v1/requests")
        await api.get("/readyz", "auditor")
        await api.get("/v1/requests/HX-2099-0001")
    # FastAPI's own deprecations are UserWarnings (FastAPIDeprecationWarning)
    kinds = (DeprecationWarning, PendingDeprecationWarning, FastAPIDeprecationWarning)
    deprecated = [w for w in caught if issubclass(w.category, kinds)]
    assert not deprecated, [str(w.message)[:120] for w in deprecated]


def test_the_license_is_an_spdx_expression() -> None:
    # setuptools >= 77 deprecates the `license = {text = ...}` table (PEP 639)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    requires = project["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in requires), requires
