"""API objects projected onto a stream's JSON schema, compiled once per stream.

Most records are the API's object with fewer keys, and the schema already says how: keep its
properties in its order (a missing key becomes None), normalise every ``date-time`` to the
records' UTC form (``timestamps.normalize``), project a nested object (None unless it is an
object) or each object of an array (None stays None) the same way, and pass everything else on
untouched, above all the open objects whose keys belong to the customer (``attributes``,
``data``, ``config``: no declared properties). The schema is walked once, by ``projection()``;
per record there remain one dict of the kept keys and one step per converted key. The records
then already conform, so the SDK's per-record recursive conformance can stay off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_refiner.timestamps import normalize

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

Record = dict[str, Any]


def projection(
    schema: Mapping[str, Any], *, as_sent: Collection[str] = ()
) -> Callable[[Mapping[str, Any]], Record]:
    """The function giving an item's record: the schema's keys in order, values conformed.

    Top-level keys in ``as_sent`` pass on as the API sends them. That is for objects whose
    schema names the usual keys while the record keeps every key: singer-sdk's ``ObjectType``
    marks every object ``additionalProperties`` by default, so the schema cannot say it.
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    keys = tuple(properties)
    converted = {key: prop for key, prop in properties.items() if key not in as_sent}
    stamps = tuple(key for key, prop in converted.items() if prop.get("format") == "date-time")
    objects = tuple((key, projection(p)) for key, p in converted.items() if _is_object(p))
    arrays = tuple((key, projection(p["items"])) for key, p in converted.items() if _is_array(p))

    def project(item: Mapping[str, Any]) -> Record:
        get = item.get
        record = {key: get(key) for key in keys}
        for key in stamps:
            if value := record[key]:
                record[key] = normalize(value)
            else:
                record[key] = None  # as normalize() has it for "" too, without the call
        for key, nested in objects:
            value = record[key]
            record[key] = nested(value) if isinstance(value, dict) else None
        for key, nested in arrays:
            if (value := record[key]) is not None:
                record[key] = list(map(nested, value))
        return record

    return project


def _kinds(prop: Mapping[str, Any]) -> set[str]:
    types = prop.get("type")
    return {types} if isinstance(types, str) else set(types or ())


def _is_object(prop: Mapping[str, Any]) -> bool:
    """An object with declared properties (an open object has none and passes untouched)."""
    return "object" in _kinds(prop) and bool(prop.get("properties"))


def _is_array(prop: Mapping[str, Any]) -> bool:
    """An array of objects with declared properties."""
    items = prop.get("items")
    return "array" in _kinds(prop) and isinstance(items, dict) and _is_object(items)
