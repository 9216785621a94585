from dataclasses import dataclass

import pytest

from sat_lib.params import ChapterConfig, ParameterError, coerce


@dataclass(frozen=True)
class Demo(ChapterConfig):
    steps: int = 10
    eps: float = 8 / 255
    name: str = "x"
    flag: bool = False
    sizes: tuple[int, ...] = (1, 2)
    models: tuple[str, ...] = ()


@pytest.mark.parametrize("tp,raw,want", [
    (int, "20", 20), (int, 3.0, 3), (float, "8/255", 8 / 255), (float, "0.5", 0.5), (float, 2, 2.0),
    (bool, "true", True), (bool, "no", False), (str, "abc", "abc"),
    (tuple[int, ...], "500,1000", (500, 1000)), (tuple[int, ...], "[1, 2]", (1, 2)), (tuple[int, ...], [3], (3,)),
    (tuple[str, ...], "a,b", ("a", "b")), (tuple[str, ...], "", ()), (int | None, "none", None),
])
def test_coerce(tp, raw, want):
    assert coerce(tp, raw, "here") == want


@pytest.mark.parametrize("tp,raw", [(int, "2.5"), (int, True), (float, "abc"), (bool, "maybe"), (str, 3),
                                    (tuple[int, ...], "a,b")])
def test_coerce_rejects(tp, raw):
    with pytest.raises(ParameterError, match="here"):
        coerce(tp, raw, "here")


def test_from_mapping_strict_suggests():
    with pytest.raises(ParameterError, match="did you mean 'steps'"):
        Demo.from_mapping({"step": 3}, strict=True)
    cfg = Demo.from_mapping({"steps": "3", "sizes": "4,5", "unrelated": 1})
    assert cfg.steps == 3 and cfg.sizes == (4, 5)
    assert cfg.as_dict()["sizes"] == [4, 5]
