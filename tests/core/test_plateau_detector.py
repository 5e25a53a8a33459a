"""Plateau detection on synthetic loss curves (kan_core.plateau)."""

import math
import random
import statistics

import pytest

from kan_core.plateau import PlateauDetector, plateau_step

P = 20  # patience used below


def decay_then_flat(flat_from: int, n: int, floor: float = 0.01) -> list[float]:
    """Exponential decay (fast: 5 % a step) until ``flat_from``, then a constant."""
    out = []
    for s in range(n):
        out.append(floor + math.exp(-0.05 * min(s, flat_from)))
    return out


def test_stops_on_a_flat_tail_within_two_windows():
    curve = decay_then_flat(flat_from=100, n=1000)
    stop = plateau_step(curve, patience=P, rel_tol=1e-3)
    # The decline before step 100 is ~5 %/step: no stop there; once flat, two windows suffice.
    assert stop is not None and 100 < stop <= 100 + 2 * P + 1, stop


def test_does_not_stop_during_a_slow_steady_decrease():
    # 1/(1 + n/100): at step 5000 it still falls ~0.4 % per 20 steps, above rel_tol = 0.1 %
    slow = [1.0 / (1.0 + n / 100.0) for n in range(5000)]
    assert plateau_step(slow, patience=P, rel_tol=1e-3) is None
    # the same curve stops once rel_tol exceeds its fall per window (~0.4-4 %/window)
    assert plateau_step(slow, patience=P, rel_tol=0.05) is not None


def test_noise_spikes_neither_stop_a_decrease_nor_keep_a_plateau_going():
    rng = random.Random(0)
    base = [math.exp(-n / 200.0) for n in range(600)]  # ~10 % fall per window
    spiky = [v * (10.0 if n % 7 == 3 else 0.1 if n % 11 == 5 else 1.0) for n, v in enumerate(base)]
    noisy = [v * (1 + 0.05 * rng.uniform(-1, 1)) for v in spiky]
    assert plateau_step(noisy, patience=P, rel_tol=1e-3) is None
    flat = [1.0 * (50.0 if n % 9 == 0 else 0.02 if n % 13 == 0 else 1.0) for n in range(300)]
    stop = plateau_step(flat, patience=P, rel_tol=1e-3)
    assert stop == 2 * P, stop  # spikes in both windows leave the medians equal


def test_not_before_min_steps():
    flat = [0.5] * 500
    assert plateau_step(flat, patience=P) == 2 * P  # the two windows are the least
    assert plateau_step(flat, patience=P, min_steps=150) == 150
    assert plateau_step(flat[:149], patience=P, min_steps=150) is None


def test_held_steps_grid_updates_restart_the_count():
    # Grid updates every 5 steps until step 50 make the loss jump; held steps are not counted.
    curve = [1.0 + (0.5 if n % 5 == 0 and n < 50 else 0.0) for n in range(1, 400)]
    assert plateau_step(curve, patience=P, hold_until=50) == 50 + 2 * P
    det = PlateauDetector(patience=P)
    for _ in range(2 * P - 1):
        assert not det.update(1.0)
    assert not det.update(1.0, hold=True) and det.counted == 0
    assert [det.update(1.0) for _ in range(2 * P)][-1] and det.counted == 2 * P


def test_reset_and_non_finite_values_restart_the_count():
    det = PlateauDetector(patience=5)
    for _ in range(9):
        det.update(1.0)
    det.reset()
    assert not any(det.update(1.0) for _ in range(9))
    assert not det.update(float("nan")) and det.counted == 0
    assert not any(det.update(1.0) for _ in range(9)) and det.update(1.0)


def test_several_values_stop_only_when_all_are_flat():
    # the loss levels off while the regulariser keeps falling (sparsification in progress)
    rows = [(0.1, 10.0 * math.exp(-n / 100.0)) for n in range(300)]
    assert plateau_step(rows, patience=P) is None
    rows += [(0.1, rows[-1][1])] * 100
    stop = plateau_step(rows, patience=P)
    assert stop is not None and 300 < stop <= 300 + 2 * P + 1, stop


def test_zero_loss_is_a_plateau():
    assert plateau_step([0.0] * 100, patience=P) == 2 * P


def oracle(curve: list[float], patience: int, rel_tol: float) -> int | None:
    """Brute force: the first step n ≥ 2p whose last window's median fell by at most rel_tol
    of the previous window's median."""
    for n in range(2 * patience, len(curve) + 1):
        a = statistics.median(curve[n - 2 * patience : n - patience])
        b = statistics.median(curve[n - patience : n])
        if not a - b > rel_tol * abs(a):
            return n
    return None


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_brute_force_oracle_on_random_curves(seed):
    rng = random.Random(seed)
    rate = rng.uniform(0.0, 0.02)
    curve = [math.exp(-rate * n) * (1 + rng.uniform(-0.02, 0.02)) for n in range(400)]
    patience, rel_tol = rng.randint(3, 25), rng.choice([1e-3, 1e-2, 3e-2])
    assert plateau_step(curve, patience, rel_tol) == oracle(curve, patience, rel_tol)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"patience": 0}, "patience must be ≥ 1"),
        ({"patience": 2.5}, "patience must be a whole number"),
        ({"rel_tol": 0}, "rel_tol must be a number in"),
        ({"rel_tol": 1.5}, "rel_tol must be a number in"),
        ({"min_steps": -1}, "min_steps must be ≥ 0"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PlateauDetector(**kwargs)


def test_a_changing_number_of_values_is_refused():
    det = PlateauDetector(patience=3)
    det.update((1.0, 2.0))
    with pytest.raises(ValueError, match="got 1 values; earlier steps had 2"):
        det.update(1.0)
    with pytest.raises(ValueError, match="at least one value"):
        det.update(())
