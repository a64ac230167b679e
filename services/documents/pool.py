"""Documents rendered in worker processes with hard limits (issue 14, item 4).

A shop's template is untrusted code for the sandbox (sandbox.py) and untrusted layout for the
PDF writer (pdf.py). Both run here in a pool of separate processes, never on the bot's event
loop, so a template that is slow or hungry stalls nothing but its own worker:

- wall time: a render that is not back within `seconds` has its worker killed (SIGKILL) and
  replaced; the shop is told the template takes too long;
- memory: each worker caps its own address space (`resource.setrlimit(RLIMIT_AS)`), so a
  render that would take more gets MemoryError (or dies) in the worker, not in the bot;
- pages and output size: pdf.py's MAX_PAGES and MAX_PDF_BYTES, the sandbox's MAX_OUTPUT;
- the event loop only awaits: a request goes down a pipe from a thread of the default
  executor, and waiting for a free worker is an asyncio queue.

Workers start on the first render (a bot that renders nothing starts none), from a
`forkserver`, so they do not inherit the bot's threads, sockets or event loop.

A document is rendered once however many ask for it (issue 15): the PDFs are kept here, in
the bot's process, by what the request carries (template, variables, title: everything the
PDF shows), so an order's invoice made for the buyer's Telegram message is the one attached
to their e-mail and the one their link opens, whichever worker would have taken each, and
asking for it again while it is being rendered waits for that render.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import multiprocessing
import os
import pickle
import resource
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from services.documents.sandbox import TOO_BIG, TOO_SLOW, TemplateProblem

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_SECONDS = 10.0
DEFAULT_MEMORY_MB = 512
STARTUP_SECONDS = 60.0  # a worker's start and warm-up, not counted in any render's time
PDFS_KEPT = 256  # documents kept in the bot's process (an invoice is 10-40 KB)


@dataclass(frozen=True)
class RenderLimits:
    seconds: float = DEFAULT_SECONDS  # wall time of one render, then the worker is killed
    memory_mb: int = DEFAULT_MEMORY_MB  # address space of one worker process


def _too_slow() -> TemplateProblem:
    return TemplateProblem("limit", "the template takes too long to render", code=TOO_SLOW)


def _too_big() -> TemplateProblem:
    return TemplateProblem("limit", "the template needs too much memory", code=TOO_BIG)


# -- the worker's side ---------------------------------------------------------------------


def _serve(conn: Connection, memory_mb: int, budget: float) -> None:
    """A worker's life: cap its memory, then answer requests until the pipe closes."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from services.documents.render import DocumentRenderer

    renderer = DocumentRenderer(budget=budget)
    try:  # fonts parsed and code loaded before the first request's clock starts
        renderer.pdf("<p>ready</p>", {})
    except Exception:
        pass
    try:
        conn.send(("ready", os.getpid()))
    except (OSError, ValueError):
        return
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        spent = False
        try:
            answer: tuple[str, Any] = ("ok", _handle(renderer, request))
        except TemplateProblem as problem:
            answer = ("problem", problem)
        except MemoryError:
            answer, spent = ("problem", _too_big()), True  # a fresh worker is cleaner
        except RecursionError:
            answer = ("problem", TemplateProblem("limit", "the template recurses too deep"))
        except Exception as error:  # a bug of ours, not the shop's: named, not detailed
            answer = ("problem", TemplateProblem("error", type(error).__name__))
        try:
            conn.send(answer)
        except (OSError, MemoryError, ValueError):
            return
        if spent:
            return


def _handle(renderer: Any, request: tuple[str, str, Mapping[str, Any], str]) -> Any:
    what, body, variables, title = request
    if what == "check":
        renderer.check(body)
        return None
    if what == "preview":  # checked without running, then rendered
        renderer.check(body)
    return renderer.pdf(body, variables, title=title)


# -- the bot's side ------------------------------------------------------------------------


class _Worker:
    def __init__(self, context: Any, limits: RenderLimits):
        ours, theirs = context.Pipe()
        # The sandbox's own budget stops most slow templates politely, before the kill.
        budget = max(0.1, limits.seconds * 0.8)
        self.process = context.Process(
            target=_serve, args=(theirs, limits.memory_mb, budget), daemon=True
        )
        self.process.start()
        theirs.close()
        self.conn = ours
        # Blocking (the pool calls this in a thread): wait until the worker is warmed up.
        if not ours.poll(STARTUP_SECONDS):
            self.kill()
            raise OSError("a document worker did not start")
        ours.recv()

    def ask(self, request: tuple) -> tuple[str, Any]:
        """In a thread: send the request, wait for the answer (EOFError: the worker died)."""
        self.conn.send(request)
        return self.conn.recv()

    def alive(self) -> bool:
        return self.process.is_alive() and not self.conn.closed

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class RenderPool:
    """`await pool.pdf(body, variables, title=...)`: the PDF, or TemplateProblem. Several
    renders run at once, one per worker; more wait for a free one."""

    def __init__(self, workers: int = DEFAULT_WORKERS, limits: RenderLimits | None = None):
        self._size = max(1, workers)
        self.limits = limits or RenderLimits()
        self._context = multiprocessing.get_context("forkserver")
        # The fork server imports the renderer once; each worker forks from it ready to go.
        self._context.set_forkserver_preload(["services.documents.render"])
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: set[_Worker] = set()
        self._closed = False
        self._pdfs: OrderedDict[bytes, bytes] = OrderedDict()  # request's digest -> PDF
        self._rendering: dict[bytes, asyncio.Future[bytes]] = {}
        self.renders = 0  # documents rendered by the workers (not the ones found kept)

    async def check(self, body: str) -> None:
        await self._run(("check", body, {}, ""))

    async def pdf(
        self, body: str, variables: Mapping[str, Any], *, title: str = "", check: bool = False
    ) -> bytes:
        request = ("preview" if check else "pdf", body, dict(variables), title)
        if check:  # a template being edited: checked and rendered every time
            return await self._render(request)
        key = _digest(request)
        kept = self._pdfs.get(key)
        if kept is not None:
            self._pdfs.move_to_end(key)
            return kept
        loop = asyncio.get_running_loop()
        underway = self._rendering.get(key)
        if underway is not None and underway.get_loop() is loop:
            try:
                return await asyncio.shield(underway)
            except _Abandoned:
                pass  # the one rendering it was cancelled: render it here
        mine: asyncio.Future[bytes] = loop.create_future()
        self._rendering[key] = mine
        try:
            pdf = await self._render(request)
        except BaseException as error:
            failed = error if isinstance(error, TemplateProblem) else _Abandoned()
            mine.set_exception(failed)
            mine.exception()  # retrieved: nobody may be waiting for it
            raise
        finally:
            if self._rendering.get(key) is mine:
                del self._rendering[key]
        mine.set_result(pdf)
        self._pdfs[key] = pdf
        while len(self._pdfs) > PDFS_KEPT:
            self._pdfs.popitem(last=False)
        return pdf

    async def _render(self, request: tuple) -> bytes:
        self.renders += 1
        return await self._run(request)

    async def close(self) -> None:
        self._closed = True
        workers, self._workers = list(self._workers), set()
        for worker in workers:
            await asyncio.to_thread(worker.kill)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def _run(self, request: tuple) -> Any:
        if self._closed:
            raise RuntimeError("the render pool is closed")
        worker = await self._take()
        keep = True
        try:
            kind, value = await asyncio.wait_for(
                asyncio.to_thread(worker.ask, request), timeout=self.limits.seconds
            )
            # A worker that ran out of memory leaves after answering: a fresh one next.
            keep = not (kind == "problem" and value.code == TOO_BIG)
        except TimeoutError:
            keep = False
            log.warning("a document render passed %.0f s: its worker killed", self.limits.seconds)
            raise _too_slow() from None
        except (EOFError, OSError, BrokenPipeError):
            keep = False
            log.warning("a document worker died during a render (memory limit?)")
            raise _too_big() from None
        except BaseException:
            keep = False  # cancelled mid-way: the worker may still be busy; replace it
            raise
        finally:
            self._give_back(worker if keep else None, dead=None if keep else worker)
        if kind == "ok":
            return value
        raise value

    async def _take(self) -> _Worker:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            # First use, or another event loop (tests run one per test): the idle workers
            # are offered again on this loop; the empty slots start workers when used.
            self._loop, self._idle = loop, asyncio.Queue()
            alive = [w for w in self._workers if w.alive()]
            for worker in alive[: self._size]:
                self._idle.put_nowait(worker)
            for _ in range(self._size - len(alive[: self._size])):
                self._idle.put_nowait(None)
        worker = await self._idle.get()
        if worker is not None and worker.alive():
            return worker
        if worker is not None:
            self._workers.discard(worker)
            await asyncio.to_thread(worker.kill)
        try:
            fresh = await asyncio.to_thread(_Worker, self._context, self.limits)
        except BaseException:
            self._idle.put_nowait(None)
            raise
        self._workers.add(fresh)
        return fresh

    def _give_back(self, worker: _Worker | None, *, dead: _Worker | None) -> None:
        if dead is not None:
            self._workers.discard(dead)
            # Killed off the loop: join() waits for the process to be gone.
            asyncio.get_running_loop().run_in_executor(None, dead.kill)
        assert self._idle is not None
        self._idle.put_nowait(worker)


class _Abandoned(Exception):
    """The render others waited for did not finish for a reason of its own (cancelled, a
    worker lost): each waiter renders the document itself."""


def _digest(request: tuple) -> bytes:
    """What identifies a request's PDF. Pickled without the memo (`fast`), so that equal
    values give equal bytes however their objects are shared."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(request)
    return hashlib.blake2b(buffer.getvalue(), digest_size=32).digest()


_shared: RenderPool | None = None


def shared_pool() -> RenderPool:
    """The process's pool with the default limits, for a DocumentService built without the
    composition root's (which owns and closes its own)."""
    global _shared
    if _shared is None or _shared._closed:
        _shared = RenderPool()
    return _shared
