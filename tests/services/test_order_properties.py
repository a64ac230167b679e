"""Property tests through the real service and database (hypothesis).

Random people take random actions on random orders. Whatever happens: a status changes only
along a transition the workflow has, taken by someone it names; a refused request changes
nothing; and the audit log holds exactly one event per change, forming an unbroken chain.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.orders.actors import ActorRef
from services.refusals import OrderRefused
from services.vocabulary import DELIVERY_METHODS, PAYMENT_METHODS, SUPERVISOR_ROLES
from services.workflow.presets import PRESETS, load_preset
from storage.models import OrderEvent
from tests.factories import bind_buyer, item, make_order, make_shop

PEOPLE = ("owner", "manager", "packer", "courier", "accountant", "stranger", "buyer", "system")
ALL_ACTIONS = sorted({t.code for p in PRESETS for t in load_preset(p).transitions} | {"junk"})

inputs = st.fixed_dictionaries(
    {},
    optional={
        "carrier": st.sampled_from(["CDEK", "Nova Poshta", ""]),
        "track_code": st.sampled_from(["RA123456789RU", "x", "20450000000000"]),
        "comment": st.sampled_from(["", "called twice"]),
    },
)


def may_take(transition, person: str) -> bool:
    """The rule, restated independently of the engine: who may take a transition."""
    if person == "system":
        return transition.system
    if person == "buyer":
        return transition.buyer
    if person == "stranger":
        return False
    return bool(transition.staff_roles) and (
        person in transition.staff_roles or person in SUPERVISOR_ROLES
    )


async def status_events(services, order_id):
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OrderEvent)
                .where(OrderEvent.order_id == order_id, OrderEvent.to_status.is_not(None))
                .order_by(OrderEvent.id)
            )
        )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    preset=st.sampled_from(PRESETS),
    payment=st.sampled_from(PAYMENT_METHODS),
    delivery=st.sampled_from(DELIVERY_METHODS),
    availability=st.sampled_from(["in_stock", "made_to_order"]),
    length=st.integers(min_value=1, max_value=14),
    data=st.data(),
)
async def test_random_actions_follow_the_workflow(
    services, shops_cache, preset, payment, delivery, availability, length, data
):
    shop = shops_cache.get(preset)
    if shop is None:
        shop = shops_cache[preset] = await make_shop(services, preset)
    order = await make_order(
        services, shop, item(availability=availability), payment=payment, delivery=delivery
    )
    await bind_buyer(services, order, shop.buyer_user)
    workflow = load_preset(preset)
    people = {
        "owner": ActorRef.user(shop.owner.id),
        "manager": ActorRef.user(shop.manager.id),
        "packer": ActorRef.user(shop.packer.id),
        "courier": ActorRef.user(shop.courier.id),
        "accountant": ActorRef.user(shop.accountant.id),
        "stranger": ActorRef.user(shop.stranger.id),
        "buyer": ActorRef.user(shop.buyer_user.id),
        "system": ActorRef.system(),
    }
    owner = people["owner"]
    status, version = order.status, order.version
    changes = 0
    reasons = [r.code for r in workflow.cancel_reasons] + ["junk"]
    for _ in range(length):
        # Mostly actions that exist in the current status, so that deep paths are walked;
        # sometimes any action at all, or junk.
        here = sorted({t.code for t in workflow.transitions_from(status)}) or ALL_ACTIONS
        action = data.draw(st.one_of(st.sampled_from(here), st.sampled_from(ALL_ACTIONS)))
        person = data.draw(st.sampled_from(PEOPLE))
        given_inputs = data.draw(inputs)
        if data.draw(st.booleans()):
            given_inputs["reason"] = data.draw(st.sampled_from(reasons))
        before_events = len(await status_events(services, order.id))
        try:
            result = await services.orders.apply(order.id, people[person], action, given_inputs)
        except OrderRefused:
            # a refusal changes nothing
            fresh = await services.orders.get(order.id, owner)
            assert (fresh.status, fresh.version) == (status, version)
            assert len(await status_events(services, order.id)) == before_events
            continue
        first = result.decision.steps[0].transition
        # the first step is a transition of the workflow, out of the status the order was in,
        # taken by someone it names, with its guards passing
        assert first.code == action and status in first.sources
        assert may_take(first, person), (person, action)
        assert not workflow.status(status).is_final
        for later in result.decision.steps[1:]:
            assert later.transition.automatic
        for s in result.decision.steps:
            for guard in s.transition.guards:
                assert guard.allows(
                    {
                        "payment_method": payment,
                        "delivery_method": delivery,
                        "availability": availability,
                    }[guard.field]
                )
        changes += len(result.decision.steps)
        status, version = result.order.status, result.order.version
        assert len(await status_events(services, order.id)) == before_events + len(
            result.decision.steps
        )
    # the audit log: the creation, then one event per change, each starting where the last ended
    events = await status_events(services, order.id)
    assert len(events) == 1 + changes
    assert events[0].action == "create"
    for previous, event in itertools.pairwise(events):
        assert event.from_status == previous.to_status
    assert events[-1].to_status == status
    async with services.sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order.id)
        )
    assert total == len(events)
