import pytest

from sat_lib.config import ConfigError, load_config, project_config
from sat_lib.provenance import PROJECT_ROOT


def test_repository_config_is_valid():
    cfg = project_config()
    assert cfg.default_profile in ("smoke", "quick", "paper")
    assert cfg.roots_for("cifar10") and all(p.is_absolute() for p in cfg.roots_for("cifar10"))
    assert "sat-matrix" in cfg.chapters


def test_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_RESULTS_DIR", str(tmp_path / "r"))
    (tmp_path / "c.tar.gz").write_bytes(b"")
    monkeypatch.setenv("SAT_DATA_CIFAR10", str(tmp_path / "c.tar.gz"))
    cfg = project_config()
    assert cfg.results_dir == tmp_path / "r"
    assert cfg.roots_for("cifar10")[0] == tmp_path / "c.tar.gz"


def test_a_data_variable_that_points_nowhere_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SAT_DATA_CIFAR10", str(tmp_path / "typo.tar.gz"))
    with pytest.raises(ConfigError, match="SAT_DATA_CIFAR10=.*typo.tar.gz does not exist"):
        project_config().roots_for("cifar10")


def test_executor_section_is_checked(tmp_path):
    f = tmp_path / "_config.yml"
    f.write_text("executor:\n  scheduler: slurm\n")
    with pytest.raises(ConfigError, match="unknown scheduler 'slurm'"):
        load_config(f)
    f.write_text("executor:\n  workers: 2\n")
    with pytest.raises(ConfigError, match="unknown keys \\['workers'\\]"):
        load_config(f)
    f.write_text("executor:\n  scheduler: tcp://10.0.0.5:8786\n  threads_per_worker: 2\n")
    assert load_config(f).executor.scheduler == "tcp://10.0.0.5:8786"


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yml")
    bad = tmp_path / "_config.yml"
    bad.write_text("chapters:\n  x:\n    fast: {}\n")
    with pytest.raises(ConfigError, match="unknown profile"):
        load_config(bad)
    bad.write_text("a: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("default_profile: turbo\n")
    with pytest.raises(ConfigError, match="default_profile"):
        load_config(bad)
    bad.write_text("data:\n  weights_store: {dir: w, dtype: float8}\n")
    with pytest.raises(ConfigError, match="dtype must be one of"):
        load_config(bad)
    bad.write_text("data:\n  weights_store: {zoos: [tiny]}\n")
    with pytest.raises(ConfigError, match="weights_store needs `dir`"):
        load_config(bad)


def test_relative_paths_resolve_against_the_file(tmp_path):
    f = tmp_path / "_config.yml"
    f.write_text("data:\n  cache_dir: c\n  roots:\n    digits: [d]\n")
    cfg = load_config(f)
    assert cfg.cache_dir == tmp_path / "c" and cfg.roots_for("digits") == (tmp_path / "d",)


def test_an_overlay_sets_parameters_of_several_chapters_upstream_included(tmp_path, monkeypatch):
    from sat_lib.experiments import sat_components
    from sat_lib.experiments._chapter import resolve_params

    overlay = tmp_path / "overlay.yml"
    overlay.write_text("chapters:\n  sat-matrix:\n    quick: {zoo: cifar-cpu-long}\n")
    before = resolve_params("sat-matrix", "quick")
    monkeypatch.setenv("SAT_CONFIG_OVERLAY", str(overlay))
    after = resolve_params("sat-matrix", "quick")
    assert after.zoo == "cifar-cpu-long" and after.n_images == before.n_images  # the rest of the profile kept
    assert sat_components.matrix_config(resolve_params("sat-components", "quick")).zoo == "cifar-cpu-long"


@pytest.mark.parametrize("text, message", [
    ("chapters:\n  sat-matrx:\n    quick: {zoo: x}\n", "'sat-matrx' is not configured"),
    ("chapters:\n  sat-matrix:\n    fast: {zoo: x}\n", "unknown profile 'fast'"),
    ("data:\n  cache_dir: x\n", "holds only `chapters:`"),
    ("chapters: [", "not valid YAML"),
])
def test_a_bad_overlay_is_named(tmp_path, monkeypatch, text, message):
    overlay = tmp_path / "overlay.yml"
    overlay.write_text(text)
    monkeypatch.setenv("SAT_CONFIG_OVERLAY", str(overlay))
    with pytest.raises(ConfigError, match=message):
        project_config()
    monkeypatch.setenv("SAT_CONFIG_OVERLAY", str(tmp_path / "missing.yml"))
    with pytest.raises(ConfigError, match="is not a file"):
        project_config()


@pytest.mark.parametrize("overlay", sorted((PROJECT_ROOT / "data" / "overlays").glob("*.yml")), ids=lambda p: p.name)
def test_every_committed_overlay_resolves(overlay, monkeypatch):
    """A pending recomputation's overlay names real chapters, profiles, parameters and values."""
    import yaml

    from sat_lib.experiments._chapter import resolve_params

    monkeypatch.setenv("SAT_CONFIG_OVERLAY", str(overlay))
    for chapter, profiles in yaml.safe_load(overlay.read_text())["chapters"].items():
        for profile, values in profiles.items():
            cfg = resolve_params(chapter, profile)
            assert all(getattr(cfg, k) == (tuple(v) if isinstance(v, list) else v) for k, v in values.items())
