"""Every parameter aiogram injects into a Telegram handler is named and typed as
handlers.telegram.context says (`HandlerData`, and `FilterData` for what filters add).

aiogram fills a handler's parameters by name from one dict (its own data, the Dispatcher's
workflow data, what the middlewares and the filters add), so a misspelt name is silently
never given and an untyped one hides what the handler depends on. Here the real Dispatcher
is built and every handler it routes to is read: each parameter after the event must be
annotated, under a name the context lists, with the type it lists.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import ForwardRef

import pytest
from aiogram import Dispatcher, Router
from aiogram.fsm.storage.memory import MemoryStorage

from bot.container import build_container
from bot.settings import Settings
from bot.telegram import build_dispatcher
from handlers.telegram.context import FilterData, HandlerData


def type_name(annotation: object) -> str:
    """'FSMContext' for FSMContext, 'FSMContext', ForwardRef('NotRequired[FSMContext]')."""
    if isinstance(annotation, ForwardRef):
        annotation = annotation.__forward_arg__
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", repr(annotation))
    return re.sub(r"^NotRequired\[(.*)\]$", r"\1", annotation)


EXPECTED = {
    name: type_name(annotation)
    for data in (HandlerData, FilterData)
    for name, annotation in data.__annotations__.items()
}


def routers(router: Router) -> Iterator[Router]:
    yield router
    for child in router.sub_routers:
        yield from routers(child)


def handler_parameters(dispatcher: Dispatcher) -> list[tuple[str, inspect.Parameter]]:
    found = []
    for router in routers(dispatcher):
        for event, observer in router.observers.items():
            if event in ("update", "error"):
                continue
            for handler in observer.handlers:
                callback = handler.callback
                where = f"{callback.__module__}.{callback.__qualname__}"
                _event, *injected = inspect.signature(callback).parameters.values()
                found += [(where, parameter) for parameter in injected]
    return found


def problem(where: str, parameter: inspect.Parameter) -> str | None:
    name, annotation = parameter.name, parameter.annotation
    if annotation is inspect.Parameter.empty:
        return f"{where}: {name} has no type"
    if name not in EXPECTED:
        return f"{where}: nothing gives a handler {name!r}"
    if name == "callback_data":
        return None  # each handler names its own CallbackData class
    expected = EXPECTED[name]
    if parameter.default is None:
        expected += " | None"  # a handler that can do without it
    if type_name(annotation) != expected:
        return f"{where}: {name} is {type_name(annotation)}, not {expected}"
    return None


@pytest.fixture
async def dispatcher(tmp_path):
    settings = Settings(
        _env_file=None,
        bot_token="42:TEST",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shopbot.db'}",
    )
    container = build_container(settings)
    try:
        yield build_dispatcher(container, MemoryStorage())
    finally:
        await container.close()


async def test_the_context_types_everything_the_dispatcher_holds(dispatcher):
    # given the Dispatcher the bot runs with
    # then every long-lived object handlers may ask for is listed, with its type
    assert set(dispatcher.workflow_data) - set(HandlerData.__annotations__) == set()


async def test_every_injected_handler_parameter_is_typed_as_the_context_says(dispatcher):
    # given every handler the Dispatcher routes to
    parameters = handler_parameters(dispatcher)
    assert len({where for where, _ in parameters}) > 100  # the whole bot, not a part of it

    # then each injected parameter is annotated, under a name that is given, with its type
    problems = [problem(where, parameter) for where, parameter in parameters]
    assert [p for p in problems if p is not None] == []


def test_a_wrong_signature_is_caught():
    # given parameters as a careless handler would write them
    def handler(message, i18n, actor=None, users: object = None, mailer: str = "", state=None):
        pass

    # when they are checked
    _event, *injected = inspect.signature(handler).parameters.values()
    found = [problem("handler", parameter) for parameter in injected]

    # then each is named: untyped, typed wrong, and a name nothing gives
    assert found == [
        "handler: i18n has no type",
        "handler: actor has no type",
        "handler: users is object, not UserService | None",
        "handler: nothing gives a handler 'mailer'",
        "handler: state has no type",
    ]
