"""One error hierarchy for xenctl.

Every error a user can cause or meet is a ``XenctlError``. Each stage has its own subclass and
carries the fields its message is built from; the command line is the one place that turns an
error into text on stderr and an exit code.

::

    XenctlError
    ├── UsageError            a command line that cannot be carried out
    ├── ProfileError          a host profile file that is not valid (file, path)
    ├── SpecError             spec files that are not valid: every issue, each with file and line
    ├── ConfigError           an xm/xl config file that cannot be read safely (file, line)
    ├── PlanError             a plan that cannot be made or carried out (objects, numbers)
    ├── LockError             another command holds the host (its holder named)
    ├── EngineError           the hypervisor refused an operation (op, object)
    │   ├── NotFoundError     the named domain, volume or export does not exist
    │   ├── XenError          a refusal whose text is the one Xen's tools print
    │   └── InjectedFault     a failure asked for through fault injection
    └── StoreError            the host's state file cannot be opened or read
"""

from __future__ import annotations


class XenctlError(Exception):
    """The root of every error xenctl reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(XenctlError):
    """A command line that names something impossible or malformed."""


class ProfileError(XenctlError):
    """A host profile that cannot be used; names the file and the field."""

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        where = ": ".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.path = path
        self.reason = message


def one_line(text: str) -> str:
    """Text as one line shows it: control characters escaped (a key ``"\\r"`` shows as \\r)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class SpecIssue:
    """One mistake in a spec file: where it is (file, line, column, field path) and what is wrong."""

    __slots__ = ("column", "file", "line", "message", "path")

    def __init__(self, file: str, line: int | None, column: int | None, path: str, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        line = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return one_line(line)  # one problem, one line: whatever a file's name or keys hold

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line or 0, self.column or 0, self.message)


class SpecError(XenctlError):
    """Spec files with mistakes; ``issues`` has every one, in file and line order."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=SpecIssue.sort_key)
        count = len(self.issues)
        lines = [str(issue) for issue in self.issues]
        if count > 1:
            lines.append(f"{count} problems in the specs.")
        super().__init__("\n".join(lines))


class ConfigError(XenctlError):
    """An xm or xl config file that cannot be read, or asks for something xenctl will not run."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        where = f"{file}:{line}" if file and line else (file or "")
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line
        self.reason = message


class PlanError(XenctlError):
    """Specs and a host that cannot be reconciled: a clash, or a plan the host could not carry."""


class LockError(XenctlError):
    """The host is locked by another command, named in the message."""


class EngineError(XenctlError):
    """The hypervisor refused an operation on an object."""

    def __init__(self, message: str, *, op: str = "", obj: str = "") -> None:
        super().__init__(message)
        self.op = op
        self.obj = obj


class NotFoundError(EngineError):
    """The object named does not exist on the host."""


class XenError(EngineError):
    """A refusal worded as Xen's own tools word it (``xm`` prints ``Error: <message>``)."""


class InjectedFault(EngineError):
    """A failure that fault injection asked for."""


class StoreError(XenctlError):
    """The host's state file is missing, unreadable or from an unknown version."""
