"""Why a run stops: the stop family shared with the tap (``refiner_http.stops``).

``TargetRefiner.invoke`` logs the message of a :class:`RunStoppedError` as the run's last line
(no traceback: the message says what happened and what to change) and exits with
``exit_code``; anything else is a bug and keeps the SDK's traceback.
"""

from __future__ import annotations

from refiner_http.stops import EXIT_FAILED, RunInterruptedError, RunStoppedError

__all__ = ["EXIT_FAILED", "RunInterruptedError", "RunStoppedError"]
