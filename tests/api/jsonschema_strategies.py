"""Hypothesis strategies and a checker for the JSON Schema subset the OpenAPI document uses.

Written here because hypothesis-jsonschema does not work with this hypothesis version. The
checker is independent of pydantic (which validates requests in the API), so the fuzz test
compares the API's verdict with the document's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Schema = dict[str, Any]


class Resolver:
    def __init__(self, document: dict[str, Any]):
        self.schemas = document["components"]["schemas"]

    def __call__(self, node: Schema) -> Schema:
        while "$ref" in node:
            node = self.schemas[node["$ref"].rsplit("/", 1)[1]]
        return node


def strategy(
    node: Schema,
    resolve: Resolver,
    path: str = "",
    hints: dict[str, Callable[[], st.SearchStrategy]] | None = None,
) -> st.SearchStrategy:
    """Values valid for `node`; `hints` add realistic values at some paths (a real phone)."""
    hints = hints or {}
    node = resolve(node)
    generated = _strategy(node, resolve, path, hints)
    if path in hints:
        return st.one_of(hints[path](), generated)
    return generated


def _strategy(node, resolve, path, hints) -> st.SearchStrategy:
    if "anyOf" in node:
        return st.one_of(*(strategy(option, resolve, path, hints) for option in node["anyOf"]))
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {
                name: strategy(sub, resolve, _join(path, name), hints)
                for name, sub in properties.items()
                if name in required
            },
            optional={
                name: strategy(sub, resolve, _join(path, name), hints)
                for name, sub in properties.items()
                if name not in required
            },
        )
    if kind == "array":
        return st.lists(
            strategy(node["items"], resolve, f"{path}[]", hints),
            min_size=node.get("minItems", 0),
            max_size=min(node.get("maxItems", 4), 4),
        )
    if kind == "string":
        low, high = node.get("minLength", 0), node.get("maxLength", 40)
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) <= high
            )
        return st.one_of(
            st.text(min_size=low, max_size=min(high, 30)),
            st.text(min_size=high, max_size=high),  # right at the limit
        )
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**40)), node.get("maximum", 2**40))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise NotImplementedError(node)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def conforms(node: Schema, value: Any, resolve: Resolver) -> bool:
    """Whether `value` is valid for `node` (JSON types: a bool is not an integer)."""
    node = resolve(node)
    if "anyOf" in node:
        return any(conforms(option, value, resolve) for option in node["anyOf"])
    if "enum" in node and value not in node["enum"]:
        return False
    kind = node.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return False
        properties = node.get("properties", {})
        if node.get("additionalProperties") is False and set(value) - set(properties):
            return False
        if set(node.get("required", ())) - set(value):
            return False
        return all(conforms(properties[k], v, resolve) for k, v in value.items())
    if kind == "array":
        return (
            isinstance(value, list)
            and node.get("minItems", 0) <= len(value) <= node.get("maxItems", 10**9)
            and all(conforms(node["items"], item, resolve) for item in value)
        )
    if kind == "string":
        return (
            isinstance(value, str)
            and node.get("minLength", 0) <= len(value) <= node.get("maxLength", 10**9)
            and ("pattern" not in node or re.fullmatch(node["pattern"], value) is not None)
        )
    if kind == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and node.get("minimum", -(10**30)) <= value <= node.get("maximum", 10**30)
        )
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return True
