"""What the page and the API change: xm's actions, through ``xenctl.app.actions``.

Each action takes the host's lock as the CLI's command does (refused at once, naming the
holder, when another command has it) and is refused with the words Xen's tools use. Input from
a request is hostile until checked here: bodies are JSON objects with known fields of known
types, files are names in the host's own directories (the xen root for configs, the save
directory for saves), never paths.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from xenctl.app import actions
from xenctl.errors import NotFoundError, UsageError, XenError
from xenctl.web.hosts import check_ref, config_path

if TYPE_CHECKING:
    from xenctl.app.host import Host
    from xenctl.engine.api import Domain

LOCK_TIMEOUT = 0.0  # as the CLI: refused at once, naming the holder
MAX_NUMBER = 2**31
# Each action's fields, by xm's name for it.
FIELDS: dict[str, dict[str, type]] = {
    "shutdown": {},
    "reboot": {},
    "destroy": {},
    "pause": {},
    "unpause": {},
    "save": {"file": str},
    "mem-set": {"memory": int},
    "vcpu-set": {"vcpus": int},
}


def json_body(raw: bytes, fields: dict[str, type]) -> dict[str, Any]:
    """The request's JSON object, with only ``fields``, each of its type (empty body: {})."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise UsageError("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("the request body must be a JSON object")
    for key, value in data.items():
        kind = fields.get(key)
        if kind is None:
            known = ", ".join(fields) or "none"
            raise UsageError(f"unknown field {str(key)[:40]!r} (the fields here: {known})")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER):
            raise UsageError(f"{key} must be a whole number from 0 to {MAX_NUMBER}")
        if kind is not int and not isinstance(value, kind):
            raise UsageError(f"{key} must be a {'string' if kind is str else 'true or false'}")
        if isinstance(value, str) and (len(value) > 1000 or not value.isprintable()):
            raise UsageError(f"{key} must be at most 1000 printable characters")
    return data


def whole(text: str, what: str) -> int:
    """A number typed into a form, as the CLI reads one."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_NUMBER:
        raise UsageError(f"{what} {text[:40]!r} is not a whole number")
    return int(text)


def locking(action: str, ref: str) -> actions.Locking:
    return actions.Locking(f"xenctl serve: {action} {ref}"[:200], LOCK_TIMEOUT)


def create(host: Host, name: str, paused: bool = False) -> Domain:
    """xm create NAME: a domain from the xm config file NAME in the xen root."""
    from xenctl.xmconfig.domain import to_domain_config
    from xenctl.xmconfig.reader import read_config

    path = config_path(host, name)
    described = to_domain_config(read_config(path, {}))
    if described.config.name.startswith("-"):
        raise XenError(f"Invalid VM Name: {described.config.name[:80]!r} starts with '-'")
    return actions.create(host, described.config, locking("create", name), paused=paused)


def act(host: Host, ref: str, action: str, body: dict[str, Any]) -> Domain | None:
    """Do ``action`` to the domain; the domain afterwards (None: it is gone)."""
    check_ref(ref)
    how = locking(action, ref)
    if action in ("shutdown", "reboot"):
        actions.shutdown(host, [ref], how, reboot=action == "reboot")
    elif action == "destroy":
        actions.destroy(host, ref, how)
    elif action == "pause":
        actions.pause(host, ref, how)
    elif action == "unpause":
        actions.unpause(host, ref, how)
    elif action == "save":
        actions.save(host, ref, save_path(host, str(body.get("file", ""))), how)
    elif action == "mem-set":
        actions.set_memory(host, ref, _needed(body, "memory"), how)
    elif action == "vcpu-set":
        actions.set_vcpus(host, ref, _needed(body, "vcpus"), how)
    else:
        raise UsageError(f"no action {action[:40]!r}; the actions are {', '.join(FIELDS)}")
    try:
        return host.driver.domain(ref)
    except NotFoundError:
        return None


def _needed(body: dict[str, Any], name: str) -> int:
    if name not in body:
        raise UsageError(f"give {name} as a whole number")
    return int(body[name])


def save_path(host: Host, name: str) -> str:
    """A save file, by its name in the host's save directory."""
    if not name or len(name) > 255 or "/" in name or "\0" in name or name.startswith("."):
        raise UsageError("name the save file by a file name (it goes in the host's save directory)")
    return os.path.join(host.driver.snapshot().host.save_dir, name)


def restore(host: Host, name: str, paused: bool = False) -> Domain:
    """xm restore: the domain saved in the file ``name`` of the save directory."""
    return actions.restore(host, save_path(host, name), locking("restore", name), paused=paused)
