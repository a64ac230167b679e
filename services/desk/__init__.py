"""The desk: what the Telegram Mini App (K1) shows and does, across a person's shops.

Who is asking comes from Telegram's signed initData (`launch`) or a desktop session opened
by a single-use link (`login`); everything an order shows or does goes through the same
services as the buttons in the chat, so the role checks stay where they are.
"""
