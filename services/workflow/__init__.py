"""Workflows: definitions as data (definition), the pure engine (engine), presets."""
