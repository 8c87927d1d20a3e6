"""Configuration from the environment (`DOCKET_` prefix). Settings validate themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from events.checkpoints import STATEMENT_HEADER
from events.cosignature import COSIGNATURE_V1, ML_DSA_44, Cosignature
from events.errors import PolicyError
from events.tlog_policy import Policy, parse_policy, policy_text, simple_policy
from events.witnessing import WitnessConfig, parse_witnesses

#: The base URL of links when `DOCKET_PUBLIC_URL` is unset (development and tests only).
DEVELOPMENT_PUBLIC_URL = "http://localhost:8000"


#: The example origin of the defaults: a log published under it cannot be told from any
#: other deployment that forgot to set DOCKET_LOG_ORIGIN.
PLACEHOLDER_LOG_ORIGIN = "docket.example.org/log"


class Settings(BaseSettings):
    """Everything an operator may set. Defaults suit development on SQLite."""

    model_config = SettingsConfigDict(env_prefix="DOCKET_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./docket.db"
    read_database_url: str | None = None
    #: A file holding the database password (a compose/Kubernetes secret), put into
    #: `database_url` at start-up so the password is in no environment variable.
    database_password_file: Path | None = None
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"

    #: Links, feed ids and receipts use it, never the request's Host header.
    public_url: str | None = None

    signing_key_file: Path = Path("docket-signing.key")
    #: DOCKET_MLDSA_SIGNING_KEY_FILE: an ML-DSA-44 key (`docket key generate FILE
    #: --algorithm ml-dsa-44`); when set, each checkpoint also carries an ML-DSA-44 line
    #: (C2SP tlog-cosignature form). Never created by the service.
    mldsa_signing_key_file: Path | None = None
    log_origin: str = PLACEHOLDER_LOG_ORIGIN

    time_zone: str = "America/New_York"
    working_days: int = Field(default=5, ge=1, le=60)
    expedited_working_days: int = Field(default=2, ge=1, le=60)
    holidays_file: Path | None = None
    validity_months: int = 6
    extended_validity_months: int = 9
    shipments_allowed: int = Field(default=3, ge=1, le=20)
    holds_lapse_on_departure: bool = True

    body_limit_bytes: int = Field(default=256 * 1024, ge=1024)
    #: A checkpoint is signed as soon as the log has grown by this many events, and at
    #: each multiple of `checkpoint_interval_seconds` counted from the Unix epoch (a
    #: wall-clock grid: hourly, on the hour, by default) if it grew at all (SPEC §4).
    checkpoint_interval_events: int = Field(default=1000, ge=1)
    checkpoint_interval_seconds: float = Field(default=3600.0, ge=1e-6)
    projection_lag_bound: int = Field(default=10_000, ge=0)
    #: How many reads of this process may wait on `X-Docket-Min-Position` at once; the
    #: next one is answered 503 with `Retry-After` at once (`service.api.read_position`).
    min_position_waiters: int = Field(default=64, ge=1, le=10_000)
    #: The keep-alive of an idle `/v1/events/stream`; the token is checked again at each.
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, le=300)
    #: Whether `docket serve` also runs the background work (the projection worker, the
    #: checkpoint writer, the witnesses' submitter). False leaves it to a `docket work`
    #: process, so the API processes spend their CPU on requests (docs/OPERATIONS.md).
    serve_background: bool = True
    #: How many worker processes `docket rebuild` folds the log in, on PostgreSQL (1: in
    #: its own process). Unset: min(cores, 4) for a log of 100,000 events or more, else 1
    #: (`projections.runner.partitioned`; memory and time in docs/OPERATIONS.md).
    rebuild_processes: int | None = Field(default=None, ge=1, le=64)

    #: DOCKET_WITNESSES: a JSON list of `{"url": <submission prefix>, "key": <vkey>}`.
    witnesses: Annotated[tuple[WitnessConfig, ...], NoDecode] = ()
    #: Cosignatures a checkpoint needs to be published (default: every witness).
    witness_quorum: int | None = Field(default=None, ge=0)
    #: DOCKET_WITNESS_POLICY: a C2SP tlog-policy file (witnesses with their URLs, groups
    #: with thresholds, one quorum line), in place of DOCKET_WITNESSES + _QUORUM.
    witness_policy: Path | None = None
    _policy: Policy | None = PrivateAttr(default=None)
    #: How long a round waits for each witness before going on without it.
    witness_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    #: How often a checkpoint still short of its quorum is submitted again.
    witness_retry_seconds: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("witnesses", mode="before")
    @classmethod
    def _witness_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(parse_witnesses(value))
        if isinstance(value, list | tuple) and all(isinstance(v, dict) for v in value):
            return tuple(parse_witnesses(json.dumps(list(value))))
        return value

    @field_validator("witnesses", mode="after")
    @classmethod
    def _each_key_once(cls, value: tuple[WitnessConfig, ...]) -> tuple[WitnessConfig, ...]:
        # A cosignature does not sign the witness's name: one key listed under two names
        # would make one signature count twice toward the quorum.
        first: dict[bytes, tuple[int, str]] = {}
        for number, witness in enumerate(value, start=1):
            key = witness.cosigner_key()
            if key.raw() in first:
                earlier, name = first[key.raw()]
                raise ValueError(
                    f"DOCKET_WITNESSES lists the public key of witness {earlier} ({name}) again "
                    f"as witness {number} ({key.name}): one key is one witness and counts once "
                    "toward the quorum; list each witness once"
                )
            first[key.raw()] = (number, key.name)
        return value

    @field_validator("witness_quorum", mode="before")
    @classmethod
    def _blank_quorum_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _quorum_within_the_witnesses(self) -> Settings:
        if self.witness_quorum is not None and self.witness_quorum > len(self.witnesses):
            raise ValueError(
                f"DOCKET_WITNESS_QUORUM is {self.witness_quorum} but DOCKET_WITNESSES lists "
                f"{len(self.witnesses)}: a quorum can never be reached"
            )
        return self

    @model_validator(mode="after")
    def _witnesses_from_the_policy(self) -> Settings:
        if self.witness_policy is None:
            return self
        if self.witnesses or self.witness_quorum is not None:
            raise ValueError(
                "set DOCKET_WITNESS_POLICY or DOCKET_WITNESSES (+ DOCKET_WITNESS_QUORUM), not both"
            )
        try:
            policy = parse_policy(self.witness_policy.read_bytes())
        except (OSError, PolicyError) as error:
            raise ValueError(f"DOCKET_WITNESS_POLICY {self.witness_policy}: {error}") from None
        configs = []
        for witness in policy.witnesses:
            if witness.url is None:
                raise ValueError(
                    f"DOCKET_WITNESS_POLICY: witness {witness.name} has no URL (its submission "
                    "prefix): the log submits its checkpoints there"
                )
            if witness.key.kind not in (COSIGNATURE_V1, ML_DSA_44):
                raise ValueError(
                    f"DOCKET_WITNESS_POLICY: witness {witness.name}'s key is of type "
                    f"{witness.key.kind:#04x}; the log asks Ed25519 (0x04) or ML-DSA-44 "
                    "(0x06) witnesses"
                )
            configs.append(WitnessConfig(witness.url.rstrip("/"), witness.key.text))
        self.witnesses = tuple(configs)
        self._policy = policy
        return self

    @property
    def effective_witness_quorum(self) -> int:
        """The quorum in force: DOCKET_WITNESS_QUORUM, else every witness (0 without); with
        DOCKET_WITNESS_POLICY, the fewest cosignatures that can satisfy it."""
        if self._policy is not None:
            return self._policy.minimum()
        return len(self.witnesses) if self.witness_quorum is None else self.witness_quorum

    def quorum_met(self, valid: Sequence[Cosignature]) -> bool:
        """Whether these valid cosignatures satisfy the policy in force."""
        if self._policy is None:
            return len(valid) >= self.effective_witness_quorum
        policy = self._policy
        names = {policy.witness_named(c.witness, c.key_id) for c in valid}
        return policy.satisfied(name for name in names if name is not None)

    def policy_in_force(self, log_keys: Sequence[str]) -> str:
        """The witness policy as a C2SP tlog-policy file, with these log vkeys (SPEC §6.1)."""
        if self._policy is not None:
            return policy_text(self._policy, log_keys)
        witnesses = [(w.key, w.url) for w in self.witnesses]
        return simple_policy(log_keys, witnesses, self.effective_witness_quorum)

    @field_validator("log_origin")
    @classmethod
    def _not_the_statement_header(cls, value: str) -> str:
        if value == STATEMENT_HEADER:
            raise ValueError(
                f"DOCKET_LOG_ORIGIN may not be {STATEMENT_HEADER!r}: that line heads a "
                "receipt's statement, so that no statement can be taken for a checkpoint"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        if scheme not in ("http", "https") or not rest or any(c in rest for c in "?#@ "):
            raise ValueError(
                "DOCKET_PUBLIC_URL is an absolute http(s) URL without query, fragment or "
                "credentials, e.g. https://docket.example.org"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _password_from_its_file(self) -> Settings:
        if self.database_password_file is not None:
            password = self.database_password_file.read_text().rstrip("\r\n")
            url = make_url(self.database_url).set(password=password)
            self.database_url = url.render_as_string(hide_password=False)
        return self

    @model_validator(mode="after")
    def _production_needs_real_values(self) -> Settings:
        if self.environment == "production":
            if self.public_url is None:
                raise ValueError(
                    "DOCKET_PUBLIC_URL is required in production: links and feed ids use it"
                )
            if not self.signing_key_file.exists():
                raise ValueError(
                    "DOCKET_SIGNING_KEY_FILE must name an existing Ed25519 key in production "
                    "(`docket key generate FILE` makes one); production never creates a key"
                )
            if self.signing_key_file.stat().st_mode & 0o077:
                raise ValueError(
                    f"DOCKET_SIGNING_KEY_FILE {self.signing_key_file} is readable by group or "
                    f"others: chmod 600 it"
                )
            mldsa = self.mldsa_signing_key_file
            if mldsa is not None and (not mldsa.exists() or mldsa.stat().st_mode & 0o077):
                raise ValueError(
                    f"DOCKET_MLDSA_SIGNING_KEY_FILE {mldsa} must exist and be readable by its "
                    "owner only (chmod 600) in production"
                )
            if self.log_origin == PLACEHOLDER_LOG_ORIGIN:
                raise ValueError(
                    "DOCKET_LOG_ORIGIN is the placeholder docket.example.org/log: set the "
                    "log's own origin (e.g. docket.committee.example/log) in production"
                )
            if self.database_url.startswith("sqlite"):
                raise ValueError("production runs on PostgreSQL: set DOCKET_DATABASE_URL")
        return self

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
