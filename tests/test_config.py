import pytest

from sat_lib.config import ConfigError, load_config, project_config


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


def test_relative_paths_resolve_against_the_file(tmp_path):
    f = tmp_path / "_config.yml"
    f.write_text("data:\n  cache_dir: c\n  roots:\n    digits: [d]\n")
    cfg = load_config(f)
    assert cfg.cache_dir == tmp_path / "c" and cfg.roots_for("digits") == (tmp_path / "d",)
