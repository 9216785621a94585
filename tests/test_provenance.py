import platform

import torch

from sat_lib import provenance
from sat_lib.provenance import device_name, processor_name


def test_cpu_device_names_the_processor_model_and_threads(monkeypatch):
    monkeypatch.setattr(provenance, "processor_name", lambda: "AMD EPYC 9R14")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert device_name("cpu") == f"cpu (AMD EPYC 9R14, x86_64, {torch.get_num_threads()} threads)"


def test_cpu_device_without_a_model_name_says_the_architecture_once(monkeypatch):
    monkeypatch.setattr(provenance, "processor_name", lambda: "x86_64")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert device_name("cpu") == f"cpu (x86_64, {torch.get_num_threads()} threads)"


def test_processor_name_reads_cpuinfo(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n")
    real = provenance.Path
    monkeypatch.setattr(provenance, "Path", lambda p: info if p == "/proc/cpuinfo" else real(p))
    assert processor_name() == "AMD EPYC 9R14 96-Core Processor"


def test_processor_name_falls_back_to_the_architecture(monkeypatch):
    def unreadable(_):
        raise OSError("no /proc here")
    monkeypatch.setattr(provenance, "Path", lambda p: type("P", (), {"read_text": unreadable})())
    monkeypatch.setattr(platform, "processor", lambda: "")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert processor_name() == "arm64"
