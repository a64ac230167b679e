"""Deliveries that move orders by themselves (issue 18): a shop's carrier accounts, the
parcels followed at their carriers as timer rows of their own, and the sweep that polls them
and lets the workflow's `on_carrier:` map move the orders, through OrderService.apply.
"""
