"""Fake outside systems on loopback, answering as their public documentation says."""
