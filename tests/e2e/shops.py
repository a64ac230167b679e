"""The shops, people and orders the end-to-end tests arrange, through the real services and
the emulator, so that a test file says in one line what shop it needs (a `ShopRecipe`) and a
test opens it with `open_shop`.

The cast is fixed, so that assertions can name people: Olga owns every shop, Max is its
manager, Petr its packer, Anna its accountant, and Eve sits in the staff group without being
staff. Everyone in a shop has opened the bot (/start) before the test goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from bot.sandbox.state import SandboxChat, SandboxUser
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import ItemDraft
from storage.models import Buyer, DialogMessage, Order, User
from tests.factories import bind_buyer, draft, item, merge_settings

OWNER = "Olga"
STAFF_NAMES = {"manager": "Max", "packer": "Petr", "accountant": "Anna"}
OUTSIDER = "Eve"  # in the staff group, not the shop's staff


@dataclass(frozen=True)
class ShopRecipe:
    """What a test's shop is. `speaks` is the language of its people's Telegram apps,
    `language` the shop's own (what the staff group and the buyer's news are written in)."""

    staff: tuple[str, ...] = ("manager",)  # roles besides the owner, one person each
    preset: str = "marketplace"
    name: str = "Cats & Dogs"
    speaks: str = "en"
    language: str = "ru"
    currency: str = "RUB"
    settings: Mapping[str, Any] = field(default_factory=dict)  # merged into the shop's
    group: bool = False  # a staff group of everyone and Eve, bound by the owner's /bind


@dataclass(frozen=True)
class StaffedShop:
    """An opened shop and its people, as the emulator's users."""

    id: int
    owner: SandboxUser
    staff: Mapping[str, SandboxUser]  # role -> person, in the recipe's order
    group: SandboxChat | None = None

    @property
    def manager(self) -> SandboxUser:
        return self.staff["manager"]

    @property
    def packer(self) -> SandboxUser:
        return self.staff["packer"]

    @property
    def accountant(self) -> SandboxUser:
        return self.staff["accountant"]

    def __iter__(self) -> Iterator[Any]:
        """The id, the owner, the staff in the recipe's order, then the group if there is one:
        `shop_id, owner, packer = await open_shop(tg, SHOP)`."""
        yield self.id
        yield self.owner
        yield from self.staff.values()
        if self.group is not None:
            yield self.group


async def open_shop(tg, recipe: ShopRecipe = ShopRecipe(), **changes: Any) -> StaffedShop:
    """The recipe's shop, made through the shop service; `changes` override the recipe's
    fields (a second shop's name, another preset)."""
    recipe = replace(recipe, **changes)
    emulator, shops = tg.emulator, tg.container.shops
    owner = emulator.user(OWNER, username="olga", language_code=recipe.speaks)
    created = await shops.create_shop(
        name=recipe.name,
        owner_telegram_id=owner.id,
        preset=recipe.preset,
        owner_name=OWNER,
        currency=recipe.currency,
        language=recipe.language,
    )
    shop_id = created.shop.id
    staff = {}
    for role in recipe.staff:
        name = STAFF_NAMES[role]
        staff[role] = emulator.user(name, language_code=recipe.speaks)
        await shops.add_staff(shop_id, staff[role].id, role, name=name)
    if recipe.settings:
        await merge_settings(tg.container.sessions, shop_id, recipe.settings)
    for person in (owner, *staff.values()):
        await tg.say(person, "/start")
    group = None
    if recipe.group:
        outsider = emulator.user(OUTSIDER, language_code=recipe.speaks)
        group = emulator.group("Cats staff", owner, *staff.values(), outsider)
        emulator.add_bot_to_group(group, owner)
        await tg.settle()
        await tg.say(owner, "/bind", chat=group)
    return StaffedShop(shop_id, owner, staff, group)


# -- people as the bot knows them ----------------------------------------------------------


async def db_user(tg, person: SandboxUser) -> User:
    """The person's row, recorded as the bot's identity middleware does on each update."""
    name = " ".join(filter(None, (person.first_name, person.last_name)))
    return await tg.container.users.touch(
        person.id, name=name, username=person.username, telegram_language=person.language_code
    )


async def ref(tg, person: SandboxUser) -> ActorRef:
    """The person as the order service's actor, as if they acted from Telegram."""
    return ActorRef.user((await db_user(tg, person)).id)


# -- orders --------------------------------------------------------------------------------


async def place_order(tg, shop_id: int, *items: ItemDraft, **draft_args: Any) -> Order:
    """One order, placed as a shop's website places it through the storefront API. With no
    goods named, the usual one: two CAT-1 at 1 500,00, delivered for 300,00 (3 300,00)."""
    if not items:
        items = (item("CAT-1", 2, 150_000),)
        draft_args.setdefault("delivery_cost", 30_000)
    [order] = await tg.container.orders.create_orders(
        shop_id, draft(*items, **draft_args), ActorRef.system(Channel.API), source="api"
    )
    return order


async def fresh(tg, order_id: int) -> Order:
    """The order as it stands now."""
    return await tg.container.orders.get(order_id, ActorRef.system())


async def status_of(tg, order_id: int) -> str:
    return (await fresh(tg, order_id)).status


async def place_orders(
    tg, shop_id: int, count: int, *items: ItemDraft, **draft_args: Any
) -> list[Order]:
    """`count` orders alike, numbered in the order they were placed."""
    return [await place_order(tg, shop_id, *items, **draft_args) for _ in range(count)]


async def received_order(tg, shop_id: int, manager: SandboxUser, *, days: int = 14):
    """An order with a returnable line (2 units, `days` to return) and one that is not,
    which Ivan opened by its link and has received; returns the order and Ivan."""
    order = await place_order(
        tg,
        shop_id,
        item("CAT-1", 2, 150_000, returnable=True, return_days=days),
        item("FOOD-1", 1, 5_000),
    )
    ivan = await buyer_via_link(tg, order)
    staff = await ref(tg, manager)
    for action, inputs in (
        ("confirm", {}),
        ("mark_paid", {}),
        ("ship", {"carrier": "CDEK", "track_code": "RA123456789RU"}),
    ):
        await tg.container.orders.apply(order.id, staff, action, inputs)
    buyer = ActorRef.user(await bound_user(tg, order))
    await tg.container.orders.apply(order.id, buyer, "confirm_receipt")
    await tg.deliver()
    return order, ivan


# -- buyers --------------------------------------------------------------------------------


async def buyer_via_link(tg, order: Order, name: str = "Ivan") -> SandboxUser:
    """The order's buyer opening its link (from the storefront's confirmation page) in
    Telegram, which binds the order to their account."""
    person = tg.emulator.user(name, language_code="en")
    await tg.say(person, f"/start {order.buyer_token}")
    return person


async def bound_buyer(tg, order: Order, name: str = "Ivan") -> SandboxUser:
    """The order's buyer, who opened the bot and whose account owns the order (bound the
    way the link binds it, without the link's messages in the chat)."""
    person = tg.emulator.user(name)
    await tg.say(person, "/start")
    await bind_buyer(tg.container, order, await db_user(tg, person))
    return person


async def bound_user(tg, order: Order) -> int | None:
    """The user id the order's buyer is bound to (None while nobody opened the link)."""
    async with tg.container.sessions() as session:
        return (await session.get(Buyer, order.buyer_id)).user_id


async def dialog_of(tg, order_id: int) -> list[tuple[str, str]]:
    """The order's dialog as (direction, text), oldest first."""
    async with tg.container.sessions() as session:
        rows = await session.scalars(
            select(DialogMessage)
            .where(DialogMessage.order_id == order_id)
            .order_by(DialogMessage.id)
        )
        return [(m.direction, m.text) for m in rows]
