"""Turn the errors users cause (bad data, unknown model, bad config) into a clear message and exit code."""

from __future__ import annotations

import functools
import sys


def user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from tuneforge.config import ConfigError
        from tuneforge.data.problems import DataError
        from tuneforge.models.resolve import ModelNotFound

        try:
            return fn(*args, **kwargs)
        except (DataError, ModelNotFound, ConfigError, FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)

    return wrapper
