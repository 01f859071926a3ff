"""Multi-step flows, one module each: a small state machine with ``/cancel`` and a timeout."""

from __future__ import annotations

import warnings
from typing import Any

from telegram.ext import ConversationHandler
from telegram.warnings import PTBUserWarning


def keyed_per_user(**options: Any) -> ConversationHandler:
    """A conversation keyed by chat and user, whose steps may include button presses.

    PTB warns that such button handlers are not tracked per message; that is the intent here (one
    flow per person per chat, whatever message the button sits on), so the warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(**options)
