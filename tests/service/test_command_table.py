"""The table of commands (`service.commands.table`) is the one list: every command route of
the app is an entry of it, each entry's body is its own, and what an entry needs fits
what its scope can give."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from service.api.commands import router
from service.commands.table import BY_BODY, COMMANDS, SECRETARIAT, spec_of
from service.rules import commands as cmd


def test_every_command_route_is_an_entry_in_order() -> None:
    routes = [(route.path, route.name) for route in router.routes if isinstance(route, APIRoute)]
    assert routes == [(spec.path, spec.name) for spec in COMMANDS]


def test_each_body_names_one_command() -> None:
    assert len(BY_BODY) == len(COMMANDS)
    assert spec_of(cmd.PlaceHold(member="USA")).path == "/v1/requests/{id}/holds"
    with pytest.raises(TypeError):
        spec_of(cmd.Command())


def test_needs_fit_the_scope() -> None:
    for spec in COMMANDS:
        assert ("member" in spec.needs) == ("member" in spec.parameters), spec.name
        assert ("id" in spec.parameters) == (spec.scope == "request"), spec.name
        if "held" in spec.needs or "target" in spec.needs:
            assert spec.rule is not None
        assert "held" not in spec.needs or spec.scope == "committee", spec.name
        assert "target" not in spec.needs or spec.scope == "request", spec.name
        assert (spec.rule is None) == (spec.scope == "erasure"), spec.name
        assert spec.roles == SECRETARIAT or spec.scope == "request", spec.name
