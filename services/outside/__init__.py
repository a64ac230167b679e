"""What every adapter to an outside system shares: HTTP through an injected transport, and
the vault that keeps the credentials shops give us encrypted at rest (DESIGN "The outside
world")."""
