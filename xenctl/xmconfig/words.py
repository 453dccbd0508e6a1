"""How the safe reader names what it refuses: a construct, an operator, a kind of value, a value."""

from __future__ import annotations

import ast
from typing import Any


def brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def article(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def kind(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        tuple: "a tuple",
        bool: "a boolean",
        dict: "a dict",
    }.get(type(value), "nothing" if value is None else type(value).__name__)


def operator(op: ast.operator) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.Mod: "%",
        ast.Pow: "**",
        ast.FloorDiv: "//",
    }.get(type(op), type(op).__name__)


def construct(node: ast.AST) -> str:
    names = {
        ast.If: "if",
        ast.For: "for",
        ast.While: "while",
        ast.With: "with",
        ast.Try: "try",
        ast.ClassDef: "class",
        ast.Delete: "del",
        ast.Global: "global",
        ast.Lambda: "lambda",
        ast.ListComp: "list comprehension",
        ast.DictComp: "dict comprehension",
        ast.SetComp: "set comprehension",
        ast.GeneratorExp: "generator expression",
        ast.Subscript: "subscript",
        ast.JoinedStr: "f-string",
        ast.AsyncFunctionDef: "async def",
        ast.Return: "return",
        ast.Raise: "raise",
        ast.Assert: "assert",
        ast.Compare: "comparison",
        ast.BoolOp: "boolean operator",
        ast.IfExp: "conditional expression",
        ast.Set: "set",
        ast.Starred: "starred expression",
        ast.NamedExpr: "walrus",
    }
    return names.get(type(node), type(node).__name__)


def source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
