"""Domain save files: ``LinuxGuestRecord``, the domain's configuration as an S-expression, memory.

``xm save`` writes the 16-byte signature ``LinuxGuestRecord``, a 4-byte big-endian length, the
configuration in xend's SXP notation, and the guest's memory pages. The simulation writes the
same header and configuration and a short stand-in for the pages. ``xm restore`` refuses a file
without the signature: "not a valid guest state file".
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from typing import Any, Union

from xenctl.errors import XenError

SIGNATURE = b"LinuxGuestRecord"
MAX_CONFIG = 1 << 20

Sxp = Union[str, list["Sxp"]]
_TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')
_PLAIN_RE = re.compile(r"^[A-Za-z0-9_.:/+@=,-]+$")


def dumps(node: Sxp) -> str:
    if isinstance(node, list):
        return "(" + " ".join(dumps(child) for child in node) + ")"
    if _PLAIN_RE.match(node):
        return node
    return '"' + node.replace("\\", "\\\\").replace('"', '\\"') + '"'


def loads(text: str) -> Sxp:
    stack: list[list[Sxp]] = [[]]
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            if text[pos:].strip():
                raise ValueError(f"unexpected character at {pos}")
            break
        pos = match.end()
        opening, closing, quoted, atom = match.groups()
        if opening:
            stack.append([])
        elif closing:
            if len(stack) < 2:
                raise ValueError("unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        elif quoted is not None:
            stack[-1].append(re.sub(r"\\(.)", r"\1", quoted))
        elif atom is not None:
            stack[-1].append(atom)
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("unbalanced '('")
    return stack[0][0]


def _to_sxp(name: str, value: Any) -> Sxp:
    if isinstance(value, dict):
        return [name, *[_to_sxp(k, v) for k, v in value.items() if v is not None]]
    if isinstance(value, list):
        return [name, *[_to_sxp("item", v) for v in value]]
    if isinstance(value, bool):
        return [name, "1" if value else "0"]
    return [name, str(value)]


def _from_sxp(node: Sxp, shape: Any) -> Any:
    """Read back a value written by ``_to_sxp``; ``shape`` is an example of the expected type."""
    if not isinstance(node, list) or not node:
        raise ValueError("malformed configuration")
    items = node[1:]
    if isinstance(shape, dict):
        result: dict[str, Any] = {}
        for child in items:
            if not isinstance(child, list) or not child or not isinstance(child[0], str):
                raise ValueError("malformed configuration")
            key = child[0]
            result[key] = _from_sxp(child, shape.get(key, shape.get("*", "")))
        return result
    if isinstance(shape, list):
        return [_from_sxp(child, shape[0] if shape else "") for child in items]
    if len(items) != 1 or not isinstance(items[0], str):
        raise ValueError("malformed configuration")
    text = items[0]
    if isinstance(shape, bool):
        return text == "1"
    if isinstance(shape, int):
        return int(text)
    if isinstance(shape, float):
        return float(text)
    return text


_SHAPE: dict[str, Any] = {
    "*": "",
    "memory": 0,
    "maxmem": 0,
    "vcpus": 0,
    "maxvcpus": 0,
    "shadow_memory": 0,
    "vifs": [{"*": ""}],
    "disks": [{"*": ""}],
    "xenctl": {"*": "", "run_time": 0.0, "cpu_time": 0.0, "online_vcpus": 0, "target": 0},
}


def write(path: str, record: dict[str, Any]) -> None:
    """Write a save file atomically; raises XenError with xm's message when it cannot."""
    body = dumps(_to_sxp("domain", record)).encode()
    data = SIGNATURE + struct.pack("!I", len(body)) + body + b"\0" * 64
    directory = os.path.dirname(os.path.abspath(path)) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".xenctl-save-", dir=directory)
    except OSError:
        raise XenError(f"xm save: Unable to create file {path}", op="save") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise XenError(f"xm save: Unable to create file {path}", op="save") from None


def read(path: str) -> dict[str, Any]:
    """Read a save file; raises XenError "not a valid guest state file" for anything else."""
    invalid = XenError(f"Restore failed: {path} is not a valid guest state file", op="restore", obj=path)
    try:
        with open(path, "rb") as stream:
            header = stream.read(len(SIGNATURE) + 4)
            if len(header) < len(SIGNATURE) + 4 or header[: len(SIGNATURE)] != SIGNATURE:
                raise invalid
            (length,) = struct.unpack("!I", header[len(SIGNATURE) :])
            if length > MAX_CONFIG:
                raise invalid
            body = stream.read(length)
    except OSError as exc:
        raise XenError(f"Unable to open {path}: {exc.strerror}", op="restore", obj=path) from None
    try:
        record = _from_sxp(loads(body.decode()), _SHAPE)
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(record, dict) or "name" not in record:
        raise invalid
    return record
