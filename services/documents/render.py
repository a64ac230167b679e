"""Template text + variables -> PDF bytes, through the sandbox; and checking an upload."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from jinja2 import Template, TemplateSyntaxError

from services.documents import sandbox
from services.documents.pdf import html_to_pdf
from services.documents.sandbox import DocumentSandbox, TemplateProblem
from services.documents.variables import TOP_LEVEL

COMPILED_KEPT = 64  # compiled templates kept: the defaults plus the shops' recent ones
PDFS_KEPT = 64  # documents kept by their HTML (tens of KB each)


class DocumentRenderer:
    """One sandbox for all renders; compiled templates are reused (compiling costs more
    than rendering a short document)."""

    def __init__(self, budget: float = sandbox.RENDER_BUDGET) -> None:
        self._env = DocumentSandbox()
        self._budget = budget  # seconds a render may take
        self._compiled: OrderedDict[str, Template] = OrderedDict()
        # PDFs by (HTML, title): the HTML holds everything the PDF shows (order version,
        # template version, shop's details, the day), so a hit is never stale. An order's
        # invoice goes to the buyer by Telegram and by e-mail, and again on a retried send.
        self._pdfs: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._pdfs_lock = threading.Lock()

    def check(self, body: str) -> None:
        """Refuse, without running it, a template that cannot be right: TemplateProblem."""
        self._template(body)

    def html(self, body: str, variables: Mapping[str, Any]) -> str:
        return sandbox.render(self._env, self._template(body), variables, budget=self._budget)

    def pdf(self, body: str, variables: Mapping[str, Any], *, title: str = "") -> bytes:
        """The PDF of the template's HTML, kept by that HTML: an order's invoice goes to the
        buyer by Telegram and by e-mail, and again on a retried send."""
        html = self.html(body, variables)
        key = (html, title)
        with self._pdfs_lock:
            kept = self._pdfs.get(key)
            if kept is not None:
                self._pdfs.move_to_end(key)
                return kept
        pdf = html_to_pdf(html, title=title)
        with self._pdfs_lock:
            self._pdfs[key] = pdf
            while len(self._pdfs) > PDFS_KEPT:
                self._pdfs.popitem(last=False)
        return pdf

    def _template(self, body: str) -> Template:
        template = self._compiled.get(body)
        if template is None:
            tree = sandbox.parse(self._env, body)
            sandbox.check_tree(tree, TOP_LEVEL | set(self._env.globals))
            try:  # compiling finds what parsing does not: a filter that is not offered
                template = self._env.from_string(body)
            except TemplateSyntaxError as error:
                raise TemplateProblem("syntax", error.message or "", error.lineno) from error
            self._compiled[body] = template
            if len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(body)
        return template
