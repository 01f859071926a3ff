"""Multi-step flows, one module each: a small state machine with ``/cancel`` and a timeout."""
