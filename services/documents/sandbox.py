"""The sandbox a shop's document template runs in: its text is untrusted input.

Jinja2's SandboxedEnvironment already refuses attribute walking (`__class__`, `__globals__`,
`_TemplateReference__context`, unsafe `str.format`); on top of it:
  - StrictUndefined: a misspelt variable is an error the shop is shown, not an empty cell;
  - no loader: `{% include %}`, `{% import %}`, `{% extends %}` reach no file (and validation
    refuses them before that);
  - limits against templates that would eat the machine: `range()` and sequence/string
    repetition are capped, `**` may not make huge numbers, the padding and replacing string
    methods and filters may not build strings past the output cap, the output is counted as
    it is produced, and a render has a time budget checked at every call, attribute access and
    output chunk (plus, in the main thread, an interval timer for loops that do none of those).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_RANGE = 1000  # items a range() may have: a document has no more lines than that
MAX_OUTPUT = 300_000  # characters of HTML a render may produce (a long invoice is ~30 000)
MAX_SEQUENCE = 10_000  # items or characters `*` may make
MAX_INT_BITS = 128  # `**` results beyond this are refused
RENDER_BUDGET = 2.0  # seconds of rendering before it is stopped
MAX_TEMPLATE = 100_000  # characters of template text accepted

# Filters a template may use: the harmless ones as they are; the rest are not offered.
SAFE_FILTERS = (
    "abs capitalize default d escape e first float forceescape int join last length count "
    "list lower max min replace reverse round safe sort string striptags sum title trim "
    "truncate upper batch slice center indent wordwrap urlencode"
).split()
# String methods that can build a long string from a short one: their result size is checked.
GROWING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"})
FORBIDDEN_METHODS = frozenset({"format", "format_map"})  # widths in format specs: unbounded


class TemplateProblem(Exception):
    """Why a template is refused or its render was stopped, in words for the shop.

    `kind`: syntax | unknown_variable | forbidden | limit | error; `line` where known;
    `code` names a reason the edges say in the shop's language (`REASONS`), when it has one."""

    def __init__(
        self, kind: str, message: str, line: int | None = None, *, code: str | None = None
    ):
        self.kind = kind
        self.message = message
        self.line = line
        self.code = code
        super().__init__(f"line {line}: {message}" if line else message)

    def __reduce__(self):  # crosses from the render worker's process as it is
        return (_problem, (self.kind, self.message, self.line, self.code))


def _problem(kind: str, message: str, line: int | None, code: str | None) -> TemplateProblem:
    return TemplateProblem(kind, message, line, code=code)


# The reasons a render in the worker pool is stopped or an image refused (services/documents/
# pool.py, pdf.py), which the edges put in the shop's own words.
TOO_SLOW, TOO_BIG, TOO_MANY_PAGES, PDF_TOO_LARGE, IMAGE_REFUSED = (
    "too_slow",
    "too_big",
    "too_many_pages",
    "pdf_too_large",
    "image_refused",
)


class _Budget:
    """The limits of one render: a deadline and the output produced so far."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.output = 0

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateProblem("limit", "the template takes too long to render", code=TOO_SLOW)


_current = threading.local()


def _budget() -> _Budget | None:
    return getattr(_current, "budget", None)


def _tick() -> None:
    budget = _budget()
    if budget is not None:
        budget.check()


def _checked_length(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise TemplateProblem("limit", f"a value longer than {MAX_OUTPUT} characters")
    return value


def safe_range(*args: int) -> range:
    """range(), refusing more than MAX_RANGE items (range(10**9) would loop for ever)."""
    _tick()
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise TemplateProblem("limit", f"range() may have at most {MAX_RANGE} items")
    return result


def _guard(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose result is checked against the output cap (and the clock)."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OUTPUT:
                raise TemplateProblem("limit", f"a number above {MAX_OUTPUT} given to a filter")
        return _checked_length(function(*args, **kwargs))

    guarded.__name__ = getattr(function, "__name__", "filter")
    # Jinja passes the environment/context to filters marked so: keep the mark.
    for mark in ("jinja_pass_arg",):
        if hasattr(function, mark):
            setattr(guarded, mark, getattr(function, mark))
    return guarded


class DocumentSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, filters: Mapping[str, Callable[..., Any]] | None = None):
        super().__init__(
            undefined=StrictUndefined,
            autoescape=True,  # the shop's and the buyer's text is data, not markup
            loader=None,
            keep_trailing_newline=True,
        )
        offered = {name: _guard(self.filters[name]) for name in SAFE_FILTERS}
        offered.update(filters or {})
        self.filters = offered
        self.tests = dict(self.tests)
        # No lipsum (its n is unbounded); range is ours; cycler, joiner, namespace are harmless.
        self.globals = {
            "range": safe_range,
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
            "namespace": self.globals["namespace"],
            "dict": dict,
        }

    # -- every call, attribute access and operator of a template comes through here ----------

    def call(__self, __context, __obj, *args, **kwargs):
        _tick()
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str):
            if name in FORBIDDEN_METHODS:
                raise SecurityError(f"str.{name}() is not allowed in documents")
            if name in GROWING_METHODS:
                for value in (*args, *kwargs.values()):
                    if isinstance(value, int) and not isinstance(value, bool):
                        if value > MAX_OUTPUT:
                            raise TemplateProblem("limit", f"str.{name}() of {value} characters")
                if name == "replace" and len(args) >= 2:
                    old, new = str(args[0]), str(args[1])
                    grow = max(0, len(new) - len(old)) * (__obj.__self__.count(old) if old else 1)
                    if len(__obj.__self__) + grow > MAX_OUTPUT:
                        raise TemplateProblem("limit", "str.replace() would be too long")
        return _checked_length(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj, attribute):
        _tick()
        if isinstance(obj, str) and attribute in FORBIDDEN_METHODS:
            raise SecurityError(f"str.{attribute}() is not allowed in documents")
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * max(times, 0) > MAX_SEQUENCE:
                        raise TemplateProblem(
                            "limit", f"repeating a value past {MAX_SEQUENCE} items or characters"
                        )
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
                raise TemplateProblem("limit", "a number too large")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of strings is not allowed in documents")
        return super().call_binop(context, operator, left, right)


# -- checking a template's text before it is used -----------------------------------------

FORBIDDEN_NODES = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
}


def parse(env: DocumentSandbox, body: str) -> nodes.Template:
    if len(body) > MAX_TEMPLATE:
        raise TemplateProblem("limit", f"the template is longer than {MAX_TEMPLATE} characters")
    try:
        return env.parse(body)
    except TemplateSyntaxError as error:
        raise TemplateProblem("syntax", error.message or "syntax error", error.lineno) from error


# Names Jinja itself gives a template: loops, macros, blocks.
TEMPLATE_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self"})


def check_tree(tree: nodes.Template, known: frozenset[str] | set[str]) -> None:
    """Refuse what can be seen without running: file access, private attributes, names that
    are neither document variables nor the sandbox's globals."""
    for node_type, tag in FORBIDDEN_NODES.items():
        for node in tree.find_all(node_type):
            raise TemplateProblem("forbidden", f"{tag} is not allowed in documents", node.lineno)
    private: list[tuple[int, int, str]] = []  # (line, -depth order, name)
    for index, node in enumerate(tree.find_all((nodes.Getattr, nodes.Getitem))):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            name = node.arg.value
        else:
            continue
        if name.startswith("_"):
            private.append((node.lineno, -index, name))
    if private:
        # The first line's innermost access: `''.__class__.__mro__` names `__class__`.
        line, _, name = min(private)
        raise TemplateProblem("forbidden", f"access to the private attribute '{name}'", line)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    assigned |= {macro.name for macro in tree.find_all(nodes.Macro)}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name not in known and node.name not in assigned:
            if node.name in TEMPLATE_NAMES:
                continue
            raise TemplateProblem(
                "unknown_variable", f"unknown variable '{node.name}'", node.lineno
            )


# -- rendering within the limits ------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the interval timer; a BaseException so template code cannot swallow it."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """An interval timer for loops that never call anything: main thread only (signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum, _frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render(
    env: DocumentSandbox,
    template: Template,
    variables: Mapping[str, Any],
    *,
    budget: float = RENDER_BUDGET,
) -> str:
    """The template's HTML, or TemplateProblem saying why not (with the line where known)."""
    limits = _Budget(budget)
    _current.budget = limits
    chunks: list[str] = []
    try:
        with _alarm(budget + 0.5):
            for chunk in template.generate(**variables):
                limits.output += len(chunk)
                if limits.output > MAX_OUTPUT:
                    raise TemplateProblem(
                        "limit", f"the document is longer than {MAX_OUTPUT} characters"
                    )
                limits.check()
                chunks.append(chunk)
    except _Timeout as error:
        raise TemplateProblem(
            "limit", "the template takes too long to render", code=TOO_SLOW
        ) from error
    except TemplateProblem:
        raise
    except UndefinedError as error:
        raise TemplateProblem("unknown_variable", _undefined(error), _line(error)) from error
    except SecurityError as error:
        raise TemplateProblem("forbidden", str(error), _line(error)) from error
    except TemplateSyntaxError as error:
        raise TemplateProblem("syntax", error.message or "syntax error", error.lineno) from error
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as error:
        raise TemplateProblem("error", f"{type(error).__name__}: {error}", _line(error)) from error
    except RecursionError as error:
        raise TemplateProblem("limit", "the template recurses too deep") from error
    finally:
        _current.budget = None
    return "".join(chunks)


def _undefined(error: UndefinedError) -> str:
    text = str(error)
    # "'dict object' has no attribute 'nmber'" says nothing to a shop: name the variable part.
    if "has no attribute" in text:
        return "unknown variable " + text.split("has no attribute", 1)[1].strip()
    if text.endswith("is undefined"):
        return "unknown variable " + text.removesuffix(" is undefined").strip()
    return text


def _line(error: BaseException) -> int | None:
    """The template line an error was raised at, from the traceback of the compiled code."""
    tb = error.__traceback__
    line = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename == "<template>":
            # Jinja rewrites the traceback: its frames carry the template's own line numbers.
            debug = frame.f_globals.get("__jinja_template__")
            line = tb.tb_lineno if debug is None else debug.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line
