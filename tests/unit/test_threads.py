"""The wait policy (tuneforge/threads.py): idle OpenMP threads sleep unless the user chose otherwise, and the CLI
entry applies it."""

from __future__ import annotations

import os
import sys

import pytest

from tuneforge.threads import set_openmp_wait_policy


def test_wait_policy_defaults_to_passive():
    env = {}
    set_openmp_wait_policy(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.parametrize("users", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "10000"}])
def test_a_users_wait_policy_wins(users):
    env = dict(users)
    set_openmp_wait_policy(env)
    assert env == users


def test_cli_entry_sets_the_wait_policy(monkeypatch):
    from tuneforge.cli.main import main

    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.setenv(name, "x")  # so that monkeypatch restores the real state afterwards
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["tuneforge", "--help"])
    with pytest.raises(SystemExit):
        main()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
