"""The status chapter reads stored results only, and runs after the chapters whose results it reads."""
import pytest

from sat_lib.experiments import CHAPTERS, execution_order
from sat_lib.experiments.status import Config, collect


def test_status_runs_last_but_comes_first_in_the_book():
    assert execution_order()[-1] == "status"
    assert list(CHAPTERS)[0] == "status"


def test_a_profile_without_stored_results_leaves_its_chapters_blank(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path))
    found = collect(Config(profile="smoke"))
    assert set(found) == {name for name, ch in CHAPTERS.items() if ch.claims is not None}
    assert all(v is None for v in found.values())


def test_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="profile"):
        Config(profile="huge")
