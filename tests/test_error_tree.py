"""One error tree (issue 25): every exception class the three packages define falls under
`events.errors.DocketError`, and an internal one never tells its detail to a caller."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import orjson

from events.errors import DocketError, TreeError
from service.api.problems import INTERNAL_DETAIL, problem_response
from service.errors import DocketError as ServiceDocketError
from service.errors import NotFound


def _classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for top in ("events", "projections", "service"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == info.name:
                    found.append(value)
    return found


def test_every_error_of_the_three_packages_has_one_root() -> None:
    classes = _classes()
    assert len(classes) > 60  # the walk found them
    outside = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, DocketError)
    )
    assert outside == []
    assert ServiceDocketError is DocketError


def test_an_internal_error_is_answered_without_its_detail() -> None:
    answer = problem_response(TreeError("nodes 7..9 of level 3 are missing"))
    body = orjson.loads(answer.body)
    assert answer.status_code == 500 and body["detail"] == INTERNAL_DETAIL
    assert b"nodes" not in bytes(answer.body)


def test_a_refusal_keeps_its_status_and_detail() -> None:
    answer = problem_response(NotFound("no request HX-2026-0001"))
    assert answer.status_code == 404
    assert orjson.loads(answer.body)["detail"] == "no request HX-2026-0001"
