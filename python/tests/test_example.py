"""python/examples/seeds.py keeps saying what it says: qgemm matches torch on every seed, the
naive variants do not."""
import pathlib
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import seeds  # noqa: E402


def test_seeds_example(capsys):
    rows = seeds.main(seeds=range(2))
    assert "per seed" in capsys.readouterr().out
    for seed, q, naive, flips, div, r7, rq in rows:
        assert q == 0 and div == 0
        assert naive > 0 and r7 > 0 and rq > 0
