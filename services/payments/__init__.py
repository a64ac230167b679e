"""Payment providers behind small adapters of our own: create, fetch back, refund (SPEC H1)."""
