"""The safe evaluator of xm config files: it walks a parsed file's statements and values itself.

``Evaluator.run`` takes the syntax tree of a config (``ast.parse`` only reads) and binds its
names, evaluating only the subset real configs use (see ``reader``); anything else is refused
with the file, line and construct named. Every value is held within limits: a config that builds
huge strings, lists or numbers is refused, not evaluated.
"""

from __future__ import annotations

import ast
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from xenctl.errors import ConfigError
from xenctl.xmconfig.formatting import INTEGER, conversions, lenient_args
from xenctl.xmconfig.hostcalls import DEFAULT_MACHINE, is_uname_machine, plain_search, regex_function
from xenctl.xmconfig.words import article, brief, construct, kind, operator, source

MAX_STRING = 1 << 20  # the longest string a config may build
MAX_ITEMS = 10_000  # the longest list
MAX_VALUE_NODES = 100_000  # values (list items, strings, numbers) one value may hold in all
MAX_STATEMENTS = 5_000  # a config file sets tens of keys, not thousands
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"os", "sys", "string", "re", "socket"}


@dataclass
class XmVariable:
    """A variable declared with ``xm_vars.var``: its name, its help text, whether it is checked."""

    name: str
    use: str = ""
    checked: bool = False


@dataclass
class ConfigFile:
    """What a config file set: its options in order, and the command-line variables it declared."""

    path: str
    options: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    variables: dict[str, XmVariable] = field(default_factory=dict)


class Evaluator:
    """Evaluates one config file's statements, with the variables given on the command line."""

    def __init__(self, path: str, given: dict[str, str], machine: str = DEFAULT_MACHINE) -> None:
        self.path = path
        self.machine = machine
        self.modules: set[str] = set()  # imported modules' names, for os.uname() and re.search
        self.given = given
        self.config = ConfigFile(path)
        self.names: dict[str, Any] = dict(given)
        self.skipped: set[str] = set()  # functions and modules, which may only be named, not used

    def refuse(self, node: ast.AST, what: str) -> ConfigError:
        """Refuse a construct; ``what`` reads after "is not allowed" ("a for statement")."""
        return ConfigError(
            f"{what} is not allowed in a config file; xenctl runs nothing",
            file=self.path,
            line=getattr(node, "lineno", None),
        )

    def run(self, tree: ast.Module) -> ConfigFile:
        if len(tree.body) > MAX_STATEMENTS:
            raise ConfigError(f"more than {MAX_STATEMENTS:,} statements: not a config file", file=self.path)
        for statement in tree.body:
            try:
                self.statement(statement)
            except (RecursionError, OverflowError, MemoryError, ValueError, TypeError) as exc:
                # Python's own limits (deep nesting, huge numbers): still one clear refusal.
                what = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc) or type(exc).__name__
                raise ConfigError(f"cannot evaluate this line: {what}", file=self.path, line=statement.lineno) from None
        return self.config

    # -- statements -------------------------------------------------------------------------

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise self.refuse(node, "assigning to anything but a plain name")
            self.bind(node.targets[0].id, self.value(node.value), node)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name) or not isinstance(node.op, ast.Add):
                raise self.refuse(node, "this kind of assignment")
            name = node.target.id
            self.bind(name, self.binop(ast.Add(), self.lookup(name, node), self.value(node.value), node), node)
        elif isinstance(node, ast.Expr):
            self.expression_statement(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.skip_import(node)
        elif isinstance(node, ast.FunctionDef):
            # xmexample2's check function: defining it runs nothing, and xenctl never calls it.
            self.skipped.add(node.name)
        elif isinstance(node, ast.Pass):
            return
        elif isinstance(node, ast.If) and regex_function(node.test, self.modules):
            self.if_statement(node, node.test)
        else:
            raise self.refuse(node, f"{article(construct(node))} statement")

    def if_statement(self, node: ast.If, test: Any) -> None:
        """``if re.search('64', arch):``, the stock HVM examples' test, and only that kind."""
        function = regex_function(test, self.modules) or ""
        found = plain_search(function, self.value(test.args[0]), self.value(test.args[1]))
        if found is None:
            raise self.refuse(node, f"re.{function} of other than plain text and a string")
        for statement in node.body if found else node.orelse:
            self.statement(statement)

    def bind(self, name: str, value: Any, node: ast.stmt) -> None:
        self.modules.discard(name)
        if name in self.skipped:
            self.skipped.discard(name)
        if name.startswith("__"):
            raise self.refuse(node, f"the name {name}")
        self.names[name] = value
        if name in self.config.variables:
            return
        self.config.options[name] = value
        self.config.lines[name] = node.lineno

    def expression_statement(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return  # a docstring
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            owner = value.func.value
            if isinstance(owner, ast.Name) and owner.id == "xm_vars":
                if value.func.attr == "var":
                    self.declare(value)
                    return
                if value.func.attr == "check" and not value.args and not value.keywords:
                    self.check_variables(value)
                    return
        raise self.refuse(node, f"the expression '{source(node)}'")

    def declare(self, call: ast.Call) -> None:
        if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            raise self.refuse(call, "xm_vars.var without a variable name")
        name = call.args[0].value
        use = ""
        checked = False
        for keyword in call.keywords:
            if (
                keyword.arg == "use"
                and isinstance(keyword.value, ast.Constant)
                and isinstance(keyword.value.value, str)
            ):
                use = keyword.value.value
            elif keyword.arg == "check":
                checked = True
        self.config.variables[name] = XmVariable(name, use, checked)
        given = self.given.get(name)
        if given is None or not checked:
            return
        # xenctl never runs the check function; it holds the variable to what its help text says,
        # as xmexample2's vmid_check did ("Integer greater than 0.").
        words = use.lower()
        if "integer" in words or "greater than 0" in words or "positive" in words:
            if not INTEGER.match(given):
                raise ConfigError(
                    f"variable {name}={given!r} is not an integer ({use})", file=self.path, line=call.lineno
                )
            if ("greater than 0" in words or "positive" in words) and int(given) <= 0:
                raise ConfigError(
                    f"variable {name}={given} is not greater than 0 ({use})", file=self.path, line=call.lineno
                )
        if INTEGER.match(given):
            self.names[name] = int(given)  # what xmexample2's check function returned

    def check_variables(self, call: ast.Call) -> None:
        for variable in self.config.variables.values():
            if variable.name not in self.given:
                hint = f" ({variable.use})" if variable.use else ""
                raise ConfigError(
                    f"variable {variable.name} is not set; give it on the command line: {variable.name}=VALUE{hint}",
                    file=self.path,
                    line=call.lineno,
                )

    def skip_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.ImportFrom) and (node.level or not node.module):
            raise self.refuse(node, "a relative import")
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        for module in modules:
            if module.split(".")[0] not in _STDLIB:
                raise self.refuse(node, f"importing {module}")
        bound = node.names
        for alias in bound:
            self.skipped.add((alias.asname or alias.name).split(".")[0])
            if isinstance(node, ast.Import) and alias.asname is None and alias.name in ("os", "re"):
                self.modules.add(alias.name)

    # -- expressions ------------------------------------------------------------------------

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, int, float, bool)) or node.value is None:
                return self.sane(node.value, node)
            raise self.refuse(node, f"the constant {brief(node.value)}")
        if isinstance(node, ast.Name):
            return self.lookup(node.id, node)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(item) for item in node.elts]
            if len(items) > MAX_ITEMS:
                raise self.refuse(node, "a list this long")
            return self.bounded(items if isinstance(node, ast.List) else tuple(items), node)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.refuse(node, "** in a dict")
            result = {}
            for key_node, value_node in zip(node.keys, node.values, strict=True):
                key = self.value(key_node) if key_node is not None else None
                if not isinstance(key, (str, int, float, bool)):
                    raise self.refuse(node, f"a dict key that is {kind(key)}")
                result[key] = self.value(value_node)
            return self.bounded(result, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.value(node.left), self.value(node.right), node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand if isinstance(node.op, ast.USub) else operand
            raise self.refuse(node, "a sign on something not a number")
        if isinstance(node, ast.Call):
            return self.call(node)
        if is_uname_machine(node, self.modules):
            return self.machine  # the stock HVM examples' arch = os.uname()[4]
        if isinstance(node, ast.Attribute):
            raise self.refuse(node, f"attribute access '{source(node)}'")
        raise self.refuse(node, f"{construct(node)} '{source(node)}'")

    def sane(self, value: Any, node: ast.AST) -> Any:
        """A single value within what configs hold: 64-bit integers, finite floats, real text."""
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 63:
            raise self.refuse(node, "a number this large")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.refuse(node, "a number that is not finite")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self.refuse(node, "a string that is not text (a lone surrogate)") from None
        return value

    def bounded(self, value: Any, node: ast.AST) -> Any:
        """Refuse a value that holds too much in all, counting what repeats: ``[d, d]`` doubles,
        and a list of one long string 5,000 times is 5,000 long strings."""
        self.weigh(value, node)
        return value

    def weigh(self, value: Any, node: ast.AST) -> tuple[int, int]:
        """(items, characters) a value holds in all; refuses past the limits."""
        sizes: dict[int, tuple[int, int]] = {}

        def size(item: Any) -> tuple[int, int]:
            if isinstance(item, str):
                return 1, len(item)
            if not isinstance(item, (list, tuple, dict)):
                return 1, 24  # a number as text, at most
            known = sizes.get(id(item))
            if known is None:
                children = item.values() if isinstance(item, dict) else item
                items, chars = 1, 2
                for child in children:
                    child_items, child_chars = size(child)
                    items, chars = items + child_items, chars + child_chars + 2
                    if items > MAX_VALUE_NODES or chars > MAX_STRING:
                        raise self.refuse(node, "a value this large")
                known = sizes[id(item)] = (items, chars)
            return known

        return size(value)

    def lookup(self, name: str, node: ast.AST) -> Any:
        if name in self.names:
            return self.names[name]
        if name in self.skipped:
            raise self.refuse(node, f"using {name}")
        raise ConfigError(f"name '{name}' is not defined", file=self.path, line=getattr(node, "lineno", None))

    def call(self, node: ast.Call) -> Any:
        func = node.func
        builtin = func.id not in self.names and func.id not in self.skipped if isinstance(func, ast.Name) else False
        if isinstance(func, ast.Name) and func.id in ("int", "str") and builtin:
            if len(node.args) != 1 or node.keywords:
                raise self.refuse(node, f"{func.id}() with other than one argument")
            argument = self.value(node.args[0])
            if not isinstance(argument, (str, int, float, bool)):
                raise self.refuse(node, f"{func.id}() of {kind(argument)}")
            if func.id == "str":
                return _check_length(str(argument), node, self)
            try:
                return self.sane(int(argument), node)
            except (TypeError, ValueError, OverflowError):
                raise ConfigError(f"int({brief(argument)}) is not a number", file=self.path, line=node.lineno) from None
        raise self.refuse(node, f"calling '{source(func)}'")

    def binop(self, op: ast.operator, left: Any, right: Any, node: ast.AST) -> Any:
        if isinstance(op, ast.Add):
            if isinstance(left, str) and isinstance(right, str):
                return _check_length(left + right, node, self)
            if isinstance(left, list) and isinstance(right, list):
                if len(left) + len(right) > MAX_ITEMS:
                    raise self.refuse(node, "a list this long")
                return self.bounded(left + right, node)
            if _number(left) and _number(right):
                return self.sane(left + right, node)
        elif isinstance(op, (ast.Sub, ast.Mult)) and _number(left) and _number(right):
            return self.sane(left - right if isinstance(op, ast.Sub) else left * right, node)
        elif isinstance(op, ast.Mod) and isinstance(left, str):
            return self.format(left, right, node)
        raise self.refuse(node, f"'{operator(op)}' between {kind(left)} and {kind(right)}")

    def format(self, template: str, args: Any, node: ast.AST) -> str:
        """``template % args``, with xm's leniency: ``%d`` takes an integer-like string."""
        specs = conversions(template)
        _items, arg_chars = self.weigh(args, node)
        if specs and len(template) + len(specs) * (arg_chars + 1000) > MAX_STRING:
            raise self.refuse(node, "a format this large")  # %(a)s many times over a long a
        if specs is None:
            raise ConfigError(
                f"cannot format {template!r}: incomplete format", file=self.path, line=getattr(node, "lineno", None)
            )
        for width, precision, _conversion in specs:
            for number in (width, precision):
                if number == "*" or (number and int(number) > 1000):
                    raise self.refuse(node, "a format width this large")
        values = lenient_args(specs, args)
        try:
            return _check_length(template % values, node, self)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ConfigError(
                f"cannot format {template!r}: {exc}", file=self.path, line=getattr(node, "lineno", None)
            ) from None


def _check_length(text: str, node: ast.AST, evaluator: Evaluator) -> str:
    if len(text) > MAX_STRING:
        raise evaluator.refuse(node, "a string this long")
    return text


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
