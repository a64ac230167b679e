"""The shop's workflow drawn as a graph (K1, seeds 001/002): statuses as boxes in columns by
how many steps they are from the initial one, transitions as arrows.

A pure layout (no I/O) from the workflow definition, so the page is the same for every
version and the editing service (the workflows issue's) can redraw a draft before saving it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from services.workflow.definition import StatusKind, Workflow

BOX_WIDTH = 168
BOX_HEIGHT = 52
COLUMN_GAP = 72
ROW_GAP = 28
MARGIN = 16


@dataclass(frozen=True)
class Node:
    code: str
    title: Mapping[str, str]
    kind: StatusKind
    responsible: str | None
    has_limit: bool
    x: int
    y: int
    position: int  # its place in the workflow's own list (the order the shop set, 002)


@dataclass(frozen=True)
class Edge:
    action: str
    title: Mapping[str, str]
    source: str
    target: str
    who: tuple[str, ...]  # staff roles, "buyer", "system"
    automatic: bool
    path: str  # SVG path data, from the source's box to the target's


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def layout(workflow: Workflow) -> Graph:
    codes = [s.code for s in workflow.statuses]
    layer = {workflow.initial.code: 0}
    queue = deque([workflow.initial.code])
    while queue:
        current = queue.popleft()
        for transition in workflow.transitions_from(current):
            if transition.target not in layer:
                layer[transition.target] = layer[current] + 1
                queue.append(transition.target)
    deepest = max(layer.values(), default=0)
    for code in codes:  # statuses no transition reaches: a column of their own at the end
        layer.setdefault(code, deepest + 1)
    rows: dict[int, int] = {}
    nodes = []
    for position, status in enumerate(workflow.statuses):
        column = layer[status.code]
        row = rows.get(column, 0)
        rows[column] = row + 1
        nodes.append(
            Node(
                code=status.code,
                title=status.title,
                kind=status.kind,
                responsible=status.responsible,
                has_limit=status.sla is not None,
                x=MARGIN + column * (BOX_WIDTH + COLUMN_GAP),
                y=MARGIN + row * (BOX_HEIGHT + ROW_GAP),
                position=position,
            )
        )
    at = {node.code: node for node in nodes}
    edges = []
    for transition in workflow.transitions:
        who = tuple(sorted(transition.staff_roles))
        who += ("buyer",) if transition.buyer else ()
        who += ("system",) if transition.system or transition.automatic else ()
        for source in transition.sources:
            if source in at and transition.target in at:
                edges.append(
                    Edge(
                        action=transition.code,
                        title=transition.title,
                        source=source,
                        target=transition.target,
                        who=who,
                        automatic=transition.automatic,
                        path=_path(at[source], at[transition.target]),
                    )
                )
    width = max((n.x for n in nodes), default=0) + BOX_WIDTH + MARGIN
    height = max((n.y for n in nodes), default=0) + BOX_HEIGHT + MARGIN + 40
    return Graph(nodes, edges, width, height)


def _path(source: Node, target: Node) -> str:
    """A curve from the source's right edge to the target's left; backwards, a loop below."""
    if target.x > source.x:
        x1, y1 = source.x + BOX_WIDTH, source.y + BOX_HEIGHT // 2
        x2, y2 = target.x, target.y + BOX_HEIGHT // 2
        bend = (x2 - x1) // 2
        return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
    x1, y1 = source.x + BOX_WIDTH // 2, source.y + BOX_HEIGHT
    x2, y2 = target.x + BOX_WIDTH // 2, target.y + BOX_HEIGHT
    low = max(y1, y2) + 36
    return f"M{x1},{y1} C{x1},{low} {x2},{low} {x2},{y2}"
