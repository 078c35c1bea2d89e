"""ObservationLambda's query subset: what it answers like Elasticsearch, and what it refuses with a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas import observation_lambda
from lambdas.observation_lambda import InvalidRequest, QueryError, handler, observations


@pytest.fixture(autouse=True)
def aws() -> str:
    """This handler calls no AWS service: the suite's moto reset around each test is not needed."""
    return ""


def find(query: dict[str, Any]) -> dict[str, Any]:
    return handler({"action": "FIND", "query": query}, None)


def count(query: dict[str, Any]) -> int:
    return int(handler({"action": "COUNT", "query": query}, None)["count"])


def expected(test: Any) -> list[dict[str, Any]]:
    return [doc for doc in observations() if test(doc)]


def test_the_dashboard_example_payload_answers_hits_and_buckets() -> None:
    from dashboard.demo import SAMPLES

    example = next(s for s in SAMPLES if s["function_name"] == "ObservationLambda")["example_payload"]

    answer = handler(example, None)

    temperatures = expected(lambda doc: doc["type"] == "temperature")
    assert answer["hits"]["total"] == {"value": len(temperatures), "relation": "eq"}
    assert [hit["_source"] for hit in answer["hits"]["hits"]] == temperatures[:1]
    buckets = answer["aggregations"]["by_station"]["buckets"]
    assert sum(b["doc_count"] for b in buckets) == len(temperatures)
    assert {b["key"] for b in buckets} == {doc["station"] for doc in temperatures}


def test_match_all_with_size_zero_answers_the_total_and_no_hits() -> None:
    answer = find({"size": 0, "query": {"match_all": {}}})

    assert answer["hits"]["total"]["value"] == len(observations())
    assert answer["hits"]["hits"] == []


def test_default_size_is_ten() -> None:
    assert len(find({})["hits"]["hits"]) == 10


def test_filters_must_all_match() -> None:
    query = {
        "bool": {
            "filter": [
                {"term": {"station": "station-01"}},
                {"term": {"type": {"value": "temperature"}}},
                {"range": {"value": {"gte": 0, "lt": 10}}},
            ]
        }
    }

    answer = find({"size": 1000, "query": query})

    wanted = expected(lambda d: d["station"] == "station-01" and d["type"] == "temperature" and 0 <= d["value"] < 10)
    assert wanted
    assert [hit["_id"] for hit in answer["hits"]["hits"]] == [doc["id"] for doc in wanted]
    assert count({"query": query}) == len(wanted)


def test_a_single_filter_object_and_a_bare_filter_are_accepted() -> None:
    term = {"term": {"quality": "suspect"}}
    wanted = len(expected(lambda d: d["quality"] == "suspect"))

    assert count({"query": {"bool": {"filter": term}}}) == wanted
    assert count({"query": term}) == wanted


@pytest.mark.parametrize(
    ("bounds", "test"),
    [
        ({"gte": "2026-01-02"}, lambda d: d["timestamp"] >= "2026-01-02"),
        (
            {"gt": "2026-01-01T12:00:00Z", "lte": "2026-01-01T18:00:00+00:00"},
            lambda d: "2026-01-01T12:00:00Z" < d["timestamp"] <= "2026-01-01T18:00:00Z",
        ),
        ({"lt": "2026-01-01T03:00:00+01:00"}, lambda d: d["timestamp"] < "2026-01-01T02:00:00Z"),
    ],
)
def test_timestamp_ranges_compare_instants(bounds: dict[str, str], test: Any) -> None:
    assert count({"query": {"range": {"timestamp": bounds}}}) == len(expected(test))


def test_terms_aggregation_orders_buckets_by_count_and_counts_the_rest() -> None:
    answer = find({"size": 0, "aggs": {"types": {"terms": {"field": "type", "size": 2}}}})

    aggregation = answer["aggregations"]["types"]
    counts: dict[str, int] = {}
    for doc in observations():
        counts[doc["type"]] = counts.get(doc["type"], 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    assert aggregation["buckets"] == [{"key": k, "doc_count": c} for k, c in ordered[:2]]
    assert aggregation["sum_other_doc_count"] == sum(c for _, c in ordered[2:])


def test_aggregations_are_over_the_matching_documents_only() -> None:
    answer = find(
        {"size": 0, "query": {"term": {"station": "gauge-01"}}, "aggregations": {"t": {"terms": {"field": "type"}}}}
    )

    assert answer["aggregations"]["t"]["buckets"] == [
        {"key": "water_level", "doc_count": len(expected(lambda d: d["station"] == "gauge-01"))}
    ]


def test_term_on_a_number_does_not_match_a_boolean() -> None:
    assert count({"query": {"term": {"value": True}}}) == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": 10}, "query.from: not supported"),
        ({"sort": [{"timestamp": "desc"}]}, "query.sort: not supported"),
        ({"size": 1001}, "query.size: expected an integer from 0 to 1000"),
        ({"size": -1}, "query.size: expected an integer"),
        ({"size": "5"}, "query.size: expected an integer"),
        ({"query": {"match": {"type": "temperature"}}}, "query.query.match: not supported"),
        (
            {"query": {"bool": {"must": [{"term": {"type": "x"}}]}}},
            "query.query.bool.must: not supported; this function takes bool.filter only",
        ),
        ({"query": {"bool": {"should": []}}}, "query.query.bool.should: not supported"),
        (
            {"query": {"bool": {"filter": [{"bool": {"filter": []}}]}}},
            "query.query.bool.filter[0].bool: not supported; a filter is a term or a range",
        ),
        (
            {"query": {"bool": {"filter": [{"terms": {"type": ["a"]}}]}}},
            "query.query.bool.filter[0].terms: not supported",
        ),
        ({"query": {"bool": {"filter": "x"}}}, "query.query.bool.filter: expected a list"),
        ({"query": {"term": {"colour": "red"}}}, "query.query.term.colour: unknown field 'colour'"),
        ({"query": {"term": {"type": "a", "unit": "b"}}}, "query.query.term: expected exactly one member"),
        ({"query": {"term": {"type": {"value": "a", "boost": 2}}}}, "query.query.term.type.boost: not supported"),
        ({"query": {"term": {"type": ["a"]}}}, "a term is a string, number or boolean"),
        ({"query": {"range": {"station": {"gte": "a"}}}}, "query.query.range.station: unknown field"),
        ({"query": {"range": {"value": {"from": 1}}}}, "query.query.range.value.from: not supported"),
        ({"query": {"range": {"value": {}}}}, "give at least one of gte, gt, lte, lt"),
        ({"query": {"range": {"value": {"gte": "1"}}}}, "query.query.range.value.gte: a value bound is a number"),
        ({"query": {"range": {"timestamp": {"gte": "now-1d"}}}}, "date math such as now-1d is not supported"),
        ({"query": {"match_all": {"boost": 1}}}, "match_all takes no options"),
        (
            {"aggs": {"a": {"avg": {"field": "value"}}}},
            "query.aggs.a.avg: not supported; this function has terms aggregations only",
        ),
        (
            {"aggs": {"a": {"terms": {"field": "type"}, "aggs": {}}}},
            "query.aggs.a.aggs: sub-aggregations are not supported",
        ),
        (
            {"aggs": {"a": {"terms": {"field": "type", "order": {"_key": "asc"}}}}},
            "query.aggs.a.terms.order: not supported",
        ),
        ({"aggs": {"a": {"terms": {"size": 3}}}}, "query.aggs.a.terms.field: required"),
        (
            {"aggs": {"a": {"terms": {"field": "type", "size": 0}}}},
            "query.aggs.a.terms.size: expected an integer from 1",
        ),
        ({"aggs": {}, "aggregations": {}}, "give aggs or aggregations, not both"),
    ],
)
def test_find_refuses_what_is_outside_the_subset_naming_the_path(query: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        find(query)


@pytest.mark.parametrize("extra", [{"size": 1}, {"aggs": {}}])
def test_count_takes_the_query_alone(extra: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match="COUNT takes query alone"):
        count({"query": {"match_all": {}}, **extra})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "SEARCH", "query": {}}, "Unknown action 'SEARCH'"),
        ({"action": "FIND"}, "FIND needs a query"),
        ({"action": "FIND", "query": {}, "index": "x"}, "Unknown member"),
        ([1, 2], "Send an object"),
    ],
)
def test_requests_that_are_not_find_or_count_are_refused(event: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        handler(event, None)


def test_the_query_must_be_an_object() -> None:
    with pytest.raises(QueryError, match="query: expected an object"):
        handler({"action": "COUNT", "query": "type:temperature"}, None)


def test_the_sample_data_is_bundled_beside_the_handler() -> None:
    assert observation_lambda.DATA.parent.parent.name == "lambdas"
    assert len(observations()) > 100


# once: no database: the PostgreSQL pass would run it again unchanged.
pytestmark = pytest.mark.once
