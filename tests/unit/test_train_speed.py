"""The training progress bar's tokens/s: a logged step resets the measuring window, and the bar must keep showing
the last window's rate instead of 0 until the next step adds tokens."""

from __future__ import annotations

import time

from tuneforge.train.sft import _Speed


def test_the_bar_shows_the_last_windows_rate_after_a_logged_step():
    speed = _Speed()
    speed.since = time.time() - 2.0  # a 2-second window
    speed.add(1000)
    logged = speed.rate()
    assert 400 < logged <= 500
    speed.reset()  # what a logged step does
    assert speed.rate() == 0
    assert abs(speed.shown() - logged) < 1  # not 0 tok/s
    speed.since -= 1.0
    speed.add(10)
    assert 5 < speed.shown() <= 10  # the new window's rate once it has tokens
