"""ObservationLambda: FIND and COUNT over the bundled sample observations with a subset of Elasticsearch's query DSL.

Deploy this file with ``data/observations.json`` beside it (handler ``observation_lambda.handler``; standard
library only).

Requests::

    {"action": "FIND", "query": {"size": 10, "query": <clause>, "aggs": {<name>: {"terms": {"field": f, "size": n}}}}}
    {"action": "COUNT", "query": {"query": <clause>}}

The subset, and nothing else (anything outside it is refused, never ignored):

- ``size``: 0-1000 hits to return (default 10). FIND only; COUNT takes ``query`` alone, as Elasticsearch's _count.
- ``query`` (optional, default all): ``{"match_all": {}}``, ``{"bool": {"filter": [<filter>, ...]}}`` (one filter
  object instead of the list is accepted too), or a single ``<filter>``, where a filter is
  ``{"term": {<field>: <value>}}`` (or ``{<field>: {"value": <value>}}``) or
  ``{"range": {<field>: {"gte"|"gt"|"lte"|"lt": <bound>, ...}}}``. Filters must all match. ``range`` works on
  ``value`` (numbers) and ``timestamp`` (ISO 8601 dates or date-times; no date math such as ``now-1d``).
- ``aggs`` (or ``aggregations``): ``terms`` aggregations only, ``field`` and optional ``size`` (1-1000, default
  10), no sub-aggregations; buckets are ordered by count, then key.
- Fields: ``id``, ``station`` (a ThingLambda id), ``type``, ``value``, ``unit``, ``timestamp``, ``quality``.

Answers: FIND as Elasticsearch's search response (``hits.total.value``, ``hits.hits[]._source``,
``aggregations.<name>.buckets[] = {"key", "doc_count"}``), COUNT as ``{"count": n}``.

Errors are Lambda function errors: ``InvalidRequest`` (unknown action, missing query) and ``QueryError`` (outside
the subset), whose ``errorMessage`` names the JSON path of the problem, e.g.
``query.query.bool.should: not supported; this function takes bool.filter only``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "observations.json"
FIELDS = ("id", "station", "type", "value", "unit", "timestamp", "quality")
RANGE_FIELDS = ("value", "timestamp")
RANGE_OPERATORS = ("gte", "gt", "lte", "lt")
MAX_SIZE = 1000
DEFAULT_SIZE = 10


class InvalidRequest(Exception):
    pass


class QueryError(Exception):
    pass


@cache
def observations() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(DATA.read_text())["observations"])


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise QueryError(f"{path}: expected an object, got {type(value).__name__}.")
    return value


def _only(value: dict[str, Any], allowed: tuple[str, ...], path: str, hint: str = "") -> None:
    for key in value:
        if key not in allowed:
            listed = ", ".join(allowed)
            raise QueryError(f"{path}.{key}: not supported; {hint or f'this function takes {listed} here'}.")


def _single(value: Any, path: str) -> tuple[str, Any]:
    members = _object(value, path)
    if len(members) != 1:
        raise QueryError(f"{path}: expected exactly one member, got {len(members)}.")
    key, member = next(iter(members.items()))
    return str(key), member


def _field(name: str, path: str, allowed: tuple[str, ...] = FIELDS) -> str:
    if name not in allowed:
        raise QueryError(f"{path}: unknown field {name!r}; the fields are {', '.join(allowed)}.")
    return name


def _size(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_SIZE:
        raise QueryError(f"{path}: expected an integer from {minimum} to {MAX_SIZE}.")
    return int(value)


def _instant(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise QueryError(f"{path}: a timestamp bound is an ISO 8601 date or date-time string.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"{path}: {value!r} is not an ISO 8601 date or date-time (date math such as now-1d is not supported)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Predicate = Any  # Callable[[dict[str, Any]], bool]


def _term(spec: Any, path: str) -> Predicate:
    name, wanted = _single(spec, path)
    _field(name, f"{path}.{name}")
    if isinstance(wanted, dict):
        _only(wanted, ("value",), f"{path}.{name}")
        if "value" not in wanted:
            raise QueryError(f"{path}.{name}: expected {{'value': ...}}.")
        wanted = wanted["value"]
    if not isinstance(wanted, (str, int, float, bool)) or wanted is None:
        raise QueryError(f"{path}.{name}: a term is a string, number or boolean.")
    if name == "timestamp":
        moment = _instant(wanted, f"{path}.{name}")
        return lambda doc: _instant(doc["timestamp"], "") == moment
    return lambda doc: doc.get(name) == wanted and isinstance(doc.get(name), bool) == isinstance(wanted, bool)


def _range(spec: Any, path: str) -> Predicate:
    name, bounds = _single(spec, path)
    _field(name, f"{path}.{name}", RANGE_FIELDS)
    bounds = _object(bounds, f"{path}.{name}")
    _only(bounds, RANGE_OPERATORS, f"{path}.{name}")
    if not bounds:
        raise QueryError(f"{path}.{name}: give at least one of {', '.join(RANGE_OPERATORS)}.")
    limits: list[tuple[str, Any]] = []
    for operator, bound in bounds.items():
        where = f"{path}.{name}.{operator}"
        if name == "timestamp":
            limits.append((operator, _instant(bound, where)))
        elif isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise QueryError(f"{where}: a value bound is a number.")
        else:
            limits.append((operator, bound))

    def matches(doc: dict[str, Any]) -> bool:
        actual = _instant(doc[name], "") if name == "timestamp" else doc[name]
        for operator, bound in limits:
            if operator == "gte" and not actual >= bound:
                return False
            if operator == "gt" and not actual > bound:
                return False
            if operator == "lte" and not actual <= bound:
                return False
            if operator == "lt" and not actual < bound:
                return False
        return True

    return matches


def _filter(clause: Any, path: str) -> Predicate:
    kind, spec = _single(clause, path)
    if kind == "term":
        return _term(spec, f"{path}.term")
    if kind == "range":
        return _range(spec, f"{path}.range")
    raise QueryError(f"{path}.{kind}: not supported; a filter is a term or a range.")


def clause(value: Any, path: str) -> tuple[list[Predicate], float]:
    """The predicates of a query clause (all must match) and the score of a hit."""
    kind, spec = _single(value, path)
    if kind == "match_all":
        _only(_object(spec, f"{path}.match_all"), (), f"{path}.match_all", "match_all takes no options")
        return [], 1.0
    if kind == "bool":
        spec = _object(spec, f"{path}.bool")
        _only(spec, ("filter",), f"{path}.bool", "this function takes bool.filter only")
        filters = spec.get("filter", [])
        if isinstance(filters, dict):
            filters = [filters]
        if not isinstance(filters, list):
            raise QueryError(f"{path}.bool.filter: expected a list of filters.")
        return [_filter(item, f"{path}.bool.filter[{index}]") for index, item in enumerate(filters)], 0.0
    if kind in {"term", "range"}:
        return [_filter(value, path)], 0.0
    raise QueryError(f"{path}.{kind}: not supported; use match_all, bool.filter, term or range.")


def _aggregation(name: str, value: Any, path: str) -> tuple[str, int]:
    for nested in ("aggs", "aggregations"):
        if nested in _object(value, path):
            raise QueryError(f"{path}.{nested}: sub-aggregations are not supported.")
    kind, spec = _single(value, path)
    if kind != "terms":
        raise QueryError(f"{path}.{kind}: not supported; this function has terms aggregations only.")
    spec = _object(spec, f"{path}.terms")
    _only(spec, ("field", "size"), f"{path}.terms")
    if "field" not in spec:
        raise QueryError(f"{path}.terms.field: required.")
    field = _field(str(spec["field"]), f"{path}.terms.field")
    size = _size(spec.get("size", DEFAULT_SIZE), f"{path}.terms.size", minimum=1)
    return field, size


def _buckets(docs: list[dict[str, Any]], field: str, size: int) -> dict[str, Any]:
    counts: dict[Any, int] = {}
    for doc in docs:
        counts[doc[field]] = counts.get(doc[field], 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    shown = ordered[:size]
    return {
        "doc_count_error_upper_bound": 0,
        "sum_other_doc_count": sum(count for _, count in ordered[size:]),
        "buckets": [{"key": key, "doc_count": count} for key, count in shown],
    }


def _matching(query: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    predicates, score = clause(query["query"], "query.query") if "query" in query else ([], 1.0)
    return [doc for doc in observations() if all(test(doc) for test in predicates)], score


def find(query: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    _only(query, ("size", "query", "aggs", "aggregations"), "query")
    if "aggs" in query and "aggregations" in query:
        raise QueryError("query: give aggs or aggregations, not both.")
    size = _size(query.get("size", DEFAULT_SIZE), "query.size", minimum=0)
    aggs = _object(query.get("aggs", query.get("aggregations", {})), "query.aggs")
    terms = {name: _aggregation(name, spec, f"query.aggs.{name}") for name, spec in aggs.items()}
    docs, score = _matching(query)
    answer: dict[str, Any] = {
        "took": 0,
        "timed_out": False,
        "hits": {
            "total": {"value": len(docs), "relation": "eq"},
            "max_score": score if docs and size else None,
            "hits": [
                {"_index": "observations", "_id": doc["id"], "_score": score, "_source": doc} for doc in docs[:size]
            ],
        },
    }
    if terms:
        answer["aggregations"] = {name: _buckets(docs, field, limit) for name, (field, limit) in terms.items()}
    answer["took"] = int((time.perf_counter() - started) * 1000)
    return answer


def count(query: dict[str, Any]) -> dict[str, Any]:
    _only(query, ("query",), "query", "COUNT takes query alone (no size or aggs), as Elasticsearch's _count")
    docs, _ = _matching(query)
    return {"count": len(docs)}


def handler(event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidRequest('Send an object such as {"action": "COUNT", "query": {}}.')
    unknown = sorted(set(event) - {"action", "query"})
    if unknown:
        raise InvalidRequest(f"Unknown member(s) {', '.join(unknown)}; send action and query.")
    action = event.get("action")
    if action not in {"FIND", "COUNT"}:
        raise InvalidRequest(f'Unknown action {action!r}; use "FIND" or "COUNT".')
    if "query" not in event:
        raise InvalidRequest(f"{action} needs a query (an object; {{}} matches everything).")
    query = _object(event["query"], "query")
    return find(query) if action == "FIND" else count(query)
