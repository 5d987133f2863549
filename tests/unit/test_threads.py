"""The thread/wait policy (tuneforge/threads.py): idle OpenMP threads sleep unless the user chose otherwise, the
thread count follows OMP_NUM_THREADS or the CPUs available, and the CLI entry applies the wait policy."""

from __future__ import annotations

import os
import sys

import pytest

from tuneforge.threads import choose_num_threads, set_openmp_wait_policy


def test_wait_policy_defaults_to_passive():
    env = {}
    set_openmp_wait_policy(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.parametrize("users", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "10000"}])
def test_a_users_wait_policy_wins(users):
    env = dict(users)
    set_openmp_wait_policy(env)
    assert env == users


@pytest.mark.parametrize("value, expected", [("", 3), ("1", 1), ("4", 4), ("2,1", 2), ("0", 3), ("many", 3)])
def test_thread_count_follows_omp_num_threads_else_available_cpus(value, expected):
    env = {"OMP_NUM_THREADS": value} if value else {}
    assert choose_num_threads(3, env) == expected


def test_thread_count_is_at_least_one():
    assert choose_num_threads(0, {}) == 1


def test_cli_entry_sets_the_wait_policy(monkeypatch):
    from tuneforge.cli.main import main

    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.setenv(name, "x")  # so that monkeypatch restores the real state afterwards
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["tuneforge", "--help"])
    with pytest.raises(SystemExit):
        main()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
