"""ThingLambda: LIST (with filters) and GET over the bundled things; refusals name the problem."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.thing_lambda import InvalidRequest, NotFound, handler, things


@pytest.fixture(autouse=True)
def aws() -> str:
    """This handler calls no AWS service: the suite's moto reset around each test is not needed."""
    return ""


def test_list_answers_every_thing_for_the_dashboard_example() -> None:
    from dashboard.demo import SAMPLES

    example = next(s for s in SAMPLES if s["function_name"] == "ThingLambda")["example_payload"]

    answer = handler(example, None)

    assert answer["count"] == len(things()) == len(answer["things"])
    assert {"id", "name", "type", "status", "location", "sensors"} <= set(answer["things"][0])


def test_list_filters_by_type_and_status() -> None:
    answer = handler({"action": "LIST", "type": "air_monitor", "status": "online"}, None)

    assert [t["id"] for t in answer["things"]] == [
        t["id"] for t in things() if t["type"] == "air_monitor" and t["status"] == "online"
    ]
    assert answer["count"] == 1


def test_get_answers_the_thing() -> None:
    assert handler({"action": "GET", "id": "station-02"}, None)["thing"]["name"] == "Hilltop weather station"


def test_get_of_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFound, match="No thing has the id 'station-99'"):
        handler({"action": "GET", "id": "station-99"}, None)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "DELETE"}, "Unknown action 'DELETE'"),
        ({}, "Unknown action None"),
        ({"action": "GET"}, 'GET needs "id"'),
        ({"action": "GET", "id": 7}, 'GET needs "id"'),
        ({"action": "LIST", "colour": "red"}, "Unknown member"),
        ("LIST", "Send an object"),
    ],
)
def test_bad_requests_are_refused(event: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        handler(event, None)


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
