"""Time to a target accuracy by searching the epoch budget: the smallest whole number of epochs E whose own full
schedule (never a checkpoint of a longer run) ends at or above the target.

``search_epochs`` gallops from a guess (steps of 1, 2, 4, … epochs up from a miss or down from a hit) until it
holds a miss and a hit, then bisects between them, so with a good guess it costs two trainings (E hits, E − 1
misses). Each budget is trained at most once; the search stops at ``max_epochs`` or when the next training would
take the seconds spent past ``max_seconds``, and then says so. It assumes that accuracy grows with E; seed noise
can break that near the target, so every trial is kept to show it.

``python benchmarks/_search.py`` runs ``self_test``: the search against fake trainers of known accuracy curves.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Trial:
    """One training of ``epochs`` epochs: the seconds it took and the test accuracy it ended at."""

    epochs: int
    seconds: float
    accuracy: float


@dataclass
class SearchResult:
    """``status``: ``resolved`` (``hit`` and ``hit.epochs`` − 1 missed, or one epoch reached the target),
    ``bracketed`` (a hit, but the caps stopped the bisection above a miss more than one epoch below it) or
    ``not reached`` (no budget within the caps reached the target). ``miss``: the largest budget below ``hit``
    that missed (the last miss), if any was trained."""

    target: float
    status: str
    hit: Trial | None
    miss: Trial | None
    trials: list[Trial] = field(default_factory=list)
    stopped_by: str | None = None  # "max_epochs" | "max_seconds" when a cap ended the search

    @property
    def seconds(self) -> float | None:
        """The time to target: the training seconds of the smallest budget that reached it."""
        return self.hit.seconds if self.hit else None

    @property
    def interpolated_seconds(self) -> float | None:
        """A secondary number: the time at which the straight line from (miss seconds, miss accuracy) to (hit
        seconds, hit accuracy) crosses the target. ``None`` without a miss or when the miss was not below the
        hit's accuracy."""
        if not (self.hit and self.miss) or self.hit.accuracy <= self.miss.accuracy:
            return None
        frac = (self.target - self.miss.accuracy) / (self.hit.accuracy - self.miss.accuracy)
        return self.miss.seconds + frac * (self.hit.seconds - self.miss.seconds)

    def to_dict(self) -> dict:
        return {"status": self.status, "stopped_by": self.stopped_by,
                "epochs": self.hit.epochs if self.hit else None, "seconds": self.seconds,
                "accuracy": self.hit.accuracy if self.hit else None,
                "miss_epochs": self.miss.epochs if self.miss else None,
                "miss_seconds": self.miss.seconds if self.miss else None,
                "miss_accuracy": self.miss.accuracy if self.miss else None,
                "interpolated_seconds": self.interpolated_seconds,
                "trials": [asdict(t) for t in self.trials]}


class _Capped(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


def search_epochs(run: Callable[[int], Trial], target: float, guess: int, *, max_epochs: int,
                  max_seconds: float = math.inf,
                  predict_seconds: Callable[[int], float] | None = None) -> SearchResult:
    """The smallest number of epochs whose training reaches ``target`` (accuracy), searched from ``guess``.

    ``run(epochs)`` trains one fresh model for ``epochs`` epochs and returns its ``Trial``. ``predict_seconds(e)``
    estimates a training's seconds: a training that would take the seconds spent past ``max_seconds`` is not
    started (without it only finished trainings count)."""
    if max_epochs < 1:
        raise ValueError(f"search_epochs: max_epochs must be >= 1, got {max_epochs}")
    if not 0 < target <= 1:
        raise ValueError(f"search_epochs: target must be an accuracy in (0, 1], got {target}")
    done: dict[int, Trial] = {}

    def attempt(epochs: int) -> bool:
        if epochs not in done:
            spent = sum(t.seconds for t in done.values())
            ahead = predict_seconds(epochs) if predict_seconds else 0.0
            if spent + ahead > max_seconds or spent >= max_seconds:
                raise _Capped("max_seconds")
            trial = run(epochs)
            if trial.epochs != epochs:
                raise ValueError(f"search_epochs: run({epochs}) returned a trial of {trial.epochs} epochs")
            done[epochs] = trial
        return done[epochs].accuracy >= target

    lo, hi = 0, None  # the largest budget known to miss (0: none needed below 1), the smallest known to hit
    stopped = None
    try:
        start = min(max(1, int(guess)), max_epochs)
        if attempt(start):  # gallop down from a hit
            hi, step = start, 1
            while hi > 1:
                e = max(1, hi - step)
                if not attempt(e):
                    lo = e
                    break
                hi, step = e, 2 * step
        else:  # gallop up from a miss
            lo, step = start, 1
            while hi is None:
                if lo >= max_epochs:
                    raise _Capped("max_epochs")
                e = min(max_epochs, lo + step)
                if attempt(e):
                    hi = e
                else:
                    lo, step = e, 2 * step
        while hi - lo > 1:  # bisect
            mid = (lo + hi) // 2
            if attempt(mid):
                hi = mid
            else:
                lo = mid
    except _Capped as cap:
        stopped = cap.why
    trials = sorted(done.values(), key=lambda t: t.epochs)
    hit = done.get(hi) if hi is not None else None
    misses = [t for t in trials if t.accuracy < target and (hit is None or t.epochs < hit.epochs)]
    miss = misses[-1] if misses else None
    if hit is None:
        status = "not reached"
    elif hit.epochs == 1 or (miss is not None and miss.epochs == hit.epochs - 1):
        status = "resolved"
    else:
        status = "bracketed"
    return SearchResult(target, status, hit, miss, trials, stopped)


def search_plan(guess: int, truth: int, *, max_epochs: int) -> list[int]:
    """The budgets ``search_epochs`` trains from ``guess`` when ``truth`` epochs are the first to reach the target
    (a noiseless trainer), in the order it trains them: for estimating a search's cost before running it."""
    order: list[int] = []
    search_epochs(lambda e: order.append(e) or Trial(e, 0.0, float(e >= truth)), 0.5, guess, max_epochs=max_epochs)
    return order


def summarise(results: list[SearchResult]) -> dict:
    """Median and range over seeds of the time to target (a seed that did not reach it counts as infinitely
    slow: the median is ``None`` when half or more did not, the maximum when any did not), and the same of the
    epochs and of the interpolated seconds."""
    def stats(values: list[float | None]) -> dict:
        v = sorted(math.inf if x is None else x for x in values)
        if not v:
            return {"median": None, "min": None, "max": None}
        n = len(v)
        med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
        fin = lambda x: None if math.isinf(x) else x  # noqa: E731
        return {"median": fin(med), "min": fin(v[0]), "max": fin(v[-1])}

    return {"seconds": stats([r.seconds for r in results]),
            "epochs": stats([r.hit.epochs if r.hit else None for r in results]),
            "interpolated_seconds": stats([r.interpolated_seconds if r.hit else None for r in results]),
            "n_seeds": len(results), "n_reached": sum(r.hit is not None for r in results),
            "n_resolved": sum(r.status == "resolved" for r in results)}


def ratio(slow: dict, fast: dict) -> dict | None:
    """``slow`` / ``fast`` of two ``summarise(...)["seconds"]``: the ratio of medians, and its range over all
    pairings of seeds (slowest of ``slow`` over fastest of ``fast`` and the other way round)."""
    if slow["median"] is None or fast["median"] is None:
        return None
    high = slow["max"] / fast["min"] if slow["max"] is not None else None
    return {"median": slow["median"] / fast["median"], "low": slow["min"] / fast["max"] if fast["max"] else None,
            "high": high}


def self_test() -> None:
    """The search against fake trainers whose accuracy is a known function of the epochs."""
    def fake(curve, seconds_per_epoch=10.0):
        calls = []

        def run(e):
            calls.append(e)
            return Trial(e, seconds_per_epoch * e, curve(e))
        return run, calls

    curve = lambda e: 1 - 0.5 * 0.8 ** e  # noqa: E731  # first reaches 0.8 at e = 5 (0.836; e = 4: 0.795)
    truth = next(e for e in range(1, 100) if curve(e) >= 0.8)
    assert truth == 5
    for guess in (1, 2, 3, 4, 5, 6, 9, 17, 40):
        run, calls = fake(curve)
        res = search_epochs(run, 0.8, guess, max_epochs=40)
        assert (res.status, res.hit.epochs, res.miss.epochs) == ("resolved", 5, 4), (guess, res)
        assert len(calls) == len(set(calls)), f"a budget trained twice: {calls}"
        assert res.seconds == 50.0 and 40 < res.interpolated_seconds < 50, res
    run, calls = fake(curve)
    assert search_epochs(run, 0.8, 5, max_epochs=40).trials == [Trial(4, 40.0, curve(4)), Trial(5, 50.0, curve(5))]
    assert len(calls) == 2  # an exact guess costs two trainings
    # every budget reaches it: one epoch is the answer, with no miss
    res = search_epochs(fake(lambda e: 0.9)[0], 0.8, 3, max_epochs=40)
    assert (res.status, res.hit.epochs, res.miss, res.interpolated_seconds) == ("resolved", 1, None, None), res
    # never reached within max_epochs
    run, calls = fake(lambda e: 0.5)
    res = search_epochs(run, 0.8, 2, max_epochs=12)
    assert (res.status, res.hit, res.stopped_by, max(calls)) == ("not reached", None, "max_epochs", 12), res
    assert res.miss.epochs == 12
    # the seconds cap: at 10 s an epoch, 60 s allows 2 + 3 epochs, not the 5 after them
    run, calls = fake(curve)
    res = search_epochs(run, 0.8, 2, max_epochs=40, max_seconds=60, predict_seconds=lambda e: 10.0 * e)
    assert (res.status, res.stopped_by, calls) == ("not reached", "max_seconds", [2, 3]), (res, calls)
    # a cap that stops the bisection leaves a bracket: 1 (miss), 2, 4, 8 (hit at 8 > 5), bisection not begun
    run, calls = fake(curve)
    res = search_epochs(run, 0.8, 1, max_epochs=40, max_seconds=150, predict_seconds=lambda e: 10.0 * e)
    assert (res.status, res.hit.epochs, res.miss.epochs, calls) == ("bracketed", 8, 4, [1, 2, 4, 8]), (res, calls)
    # a guess above max_epochs is clamped
    assert search_epochs(fake(curve)[0], 0.8, 99, max_epochs=6).hit.epochs == 5
    # noise: a non-monotone curve still ends at a miss one epoch below a hit
    noisy = {1: .5, 2: .6, 3: .81, 4: .79, 5: .82, 6: .85}
    res = search_epochs(fake(lambda e: noisy.get(e, .9))[0], 0.8, 4, max_epochs=40)
    assert res.status == "resolved" and res.hit.epochs - res.miss.epochs == 1, res
    assert search_plan(5, 5, max_epochs=40) == [5, 4] and search_plan(10, 5, max_epochs=40) == [10, 9, 7, 3, 5, 4]
    # summaries and ratios
    ok = [SearchResult(0.8, "resolved", Trial(e, 10.0 * e, .8), None) for e in (3, 4, 5)]
    s = summarise(ok)
    assert s["seconds"] == {"median": 40.0, "min": 30.0, "max": 50.0} and s["n_reached"] == 3, s
    slow = summarise([SearchResult(0.8, "resolved", Trial(e, 100.0 * e, .8), None) for e in (3, 4, 5)])
    assert ratio(slow["seconds"], s["seconds"]) == {"median": 10.0, "low": 6.0, "high": 500 / 30}
    half = summarise(ok[:1] + [SearchResult(0.8, "not reached", None, None)] * 2)
    assert half["seconds"] == {"median": None, "min": 30.0, "max": None}
    assert ratio(half["seconds"], s["seconds"]) is None
    print("search self-test: ok")


if __name__ == "__main__":
    self_test()
