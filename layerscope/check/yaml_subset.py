"""The small part of YAML a `.dive-ci` file uses: nested block mappings of scalars.

No YAML library is a dependency, and a CI gate must not guess: anything outside this subset
(lists, flow collections, anchors, multi-line scalars, tabs in indentation, duplicate keys)
is an error with its line number. Scalars are kept as the text a Go config loader would
turn into a string (`GetString`): quotes removed, null as None, booleans as "true"/"false".
"""

from __future__ import annotations

import re

Mapping = dict[str, "str | Mapping | None"]

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "\\": "\\", "/": "/", " ": " "}
_KEY = re.compile(
    r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}\[\],&*!|>%@`-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+|$)"""
)


class YamlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse(text: str) -> Mapping:
    root: Mapping = {}
    stack: list[tuple[int, Mapping]] = []  # (indent of this mapping's keys, mapping)
    pending: tuple[int, Mapping, str] | None = None  # a `key:` that may open a block
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line in ("---", "..."):
            continue
        body = line.lstrip(" ")
        if body.startswith("\t"):
            raise YamlError(number, "tabs are not allowed in indentation")
        indent = len(line) - len(body)
        if not stack:
            stack.append((indent, root))
        if pending is not None:
            p_indent, p_map, p_key = pending
            pending = None
            if indent > p_indent:
                child: Mapping = {}
                p_map[p_key] = child
                stack.append((indent, child))
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        if indent != stack[-1][0]:
            raise YamlError(number, "indentation does not match any enclosing mapping")
        mapping = stack[-1][1]
        if body.startswith("- ") or body == "-":
            raise YamlError(number, "lists are not supported in a CI config")
        m = _KEY.match(body)
        if m is None:
            raise YamlError(number, f"expected 'key: value', got {stripped[:40]!r}")
        key = _unquote(m.group(1), number)
        if key in mapping:
            raise YamlError(number, f"duplicate key {key!r}")
        value = _scalar(body[m.end() :], number)
        mapping[key] = value
        if value is None:
            pending = (indent, mapping, key)
    return root


def _unquote(token: str, number: int) -> str:
    if token.startswith('"'):
        return _double(token[1:-1], number)
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    return token


def _double(body: str, number: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt not in _ESCAPES:
            raise YamlError(number, f"unsupported escape \\{nxt}")
        out.append(_ESCAPES[nxt])
        i += 2
    return "".join(out)


def _scalar(rest: str, number: int) -> str | None:
    rest = rest.strip()
    if not rest or rest.startswith("#"):
        return None
    if rest[0] in "\"'":
        quote = rest[0]
        pattern = r'"((?:[^"\\]|\\.)*)"' if quote == '"' else r"'((?:[^']|'')*)'"
        m = re.match(pattern, rest)
        if m is None:
            raise YamlError(number, "unterminated quoted string")
        tail = rest[m.end() :].strip()
        if tail and not tail.startswith("#"):
            raise YamlError(number, f"unexpected text after the quoted value: {tail[:20]!r}")
        return _double(m.group(1), number) if quote == '"' else m.group(1).replace("''", "'")
    if rest[0] in "[{&*!|>%@`":
        raise YamlError(number, f"unsupported YAML value {rest[:20]!r}")
    value = re.split(r"\s#", rest, maxsplit=1)[0].rstrip()
    if value in _NULLS:
        return None
    if value in _TRUE:
        return "true"
    if value in _FALSE:
        return "false"
    return value
