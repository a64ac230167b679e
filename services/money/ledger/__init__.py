"""The shop's ledger (F2, F4): its money per order, as postings between accounts.

Seed 004: payment reserves the shop's income (the goods minus the platform's commission or
distributor discount); the buyer's confirmation, or completion 15 days after fulfilment,
credits it together with the delivery cost; cancellations refund the buyer by how far the
order went; returns reverse their lines. Postings are written by the order's own
transaction (services/orders/decisions.py), so a status change and its money commit together.
"""
