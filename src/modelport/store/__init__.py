"""The SQL store: every prediction, the feedback people give, and what models learn from it.

No Flask here: the web layer, the CLI and the training code all call these functions.
"""

from modelport.store.db import Store
from modelport.store.recorder import SqlRecorder

__all__ = ["SqlRecorder", "Store"]
