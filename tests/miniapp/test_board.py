"""The board (K1): a column per status, a card per open order, and for each card only the
columns this person may drop it on; the drop is the order service's transition."""

from __future__ import annotations

from services.orders.actors import ActorRef
from tests.factories import make_order


async def test_columns_are_the_workflow_and_cards_the_open_orders(desk):
    c, shop = desk.container, desk.shop
    waiting = await make_order(c, shop)
    closed = await make_order(c, shop, phone="+79035550101", email=None)
    await c.orders.apply(
        closed.id, ActorRef.user(shop.owner.id), "cancel", {"reason": "out_of_stock"}
    )
    board = await c.desk_board.board(shop.owner.id)
    workflow = board.shop.current
    assert [column.status for column in board.columns] == [s.code for s in workflow.statuses]
    cards = {column.status: [card.id for card in column.cards] for column in board.columns}
    assert cards["awaiting_confirmation"] == [waiting.id]
    assert all(closed.id not in ids for ids in cards.values())  # closed orders: the table's


async def test_a_card_may_go_only_where_this_person_may_move_it(desk):
    c, shop = desk.container, desk.shop
    await make_order(c, shop)
    owner_board = await c.desk_board.board(shop.owner.id)
    packer_board = await c.desk_board.board(shop.packer.id)
    (card,) = owner_board.columns[0].cards
    owner_moves = owner_board.moves[card.moves]
    # the owner: confirm (awaiting payment), or cancel with a reason from the list
    assert set(owner_moves) == {"awaiting_payment", "cancelled"}
    (confirm,) = owner_moves["awaiting_payment"]
    assert (confirm.action, confirm.inputs, confirm.confirm) == ("confirm", (), False)
    (cancel,) = owner_moves["cancelled"]
    assert cancel.inputs == ("reason",)
    assert "out_of_stock" in {reason.code for reason in cancel.reasons}
    # the packer sees the card, and may drop it nowhere
    (packer_card,) = packer_board.columns[0].cards
    assert packer_board.moves[packer_card.moves] == {}


async def test_a_drop_with_inputs_goes_through_the_service_with_them(desk):
    c, shop = desk.container, desk.shop
    order = await make_order(c, shop)
    before = await desk.snapshot()
    missing = await desk.post(
        f"/app/api/orders/{order.id}/actions", {"action": "cancel"}, shop.owner
    )
    assert missing.status == 422 and (await missing.json())["input"] == "reason"
    assert await desk.snapshot() == before
    done = await desk.post(
        f"/app/api/orders/{order.id}/actions",
        {"action": "cancel", "inputs": {"reason": "out_of_stock", "comment": "sold out"}},
        shop.owner,
    )
    assert done.status == 200 and (await done.json())["status"] == "cancelled"


async def test_the_board_answers_as_json_too(desk):
    await make_order(desk.container, desk.shop)
    response = await desk.get("/app/api/board", desk.shop.owner)
    body = await response.json()
    first = body["columns"][0]
    assert first["status"] == "awaiting_confirmation" and first["count"] == 1
    key = first["cards"][0]["moves"]
    assert [m["action"] for m in body["moves"][key]["awaiting_payment"]] == ["confirm"]
