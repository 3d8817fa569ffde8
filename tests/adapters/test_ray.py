"""The Ray backend on a local Ray instance (2 CPUs) gives the local backend's results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional extra memaudit[ray]; .ci/run installs it")


def test_ray_backend_matches_the_local_backend(model_dir: Path) -> None:
    from memaudit.adapters.hf import HFAdapter
    from memaudit.adapters.ray_backend import RayAdapter
    from memaudit.testing import check_adapter

    prompts = [
        ["SEX//F", "AGE//70-74"],
        ["SEX//M", "AGE//30-34", "LAB//SODIUM//NORMAL"],
        ["SEX//M"],
        ["SEX//F", "AGE//20-24"],
    ]
    local = HFAdapter(model_dir, batch_size=4)
    try:
        remote = RayAdapter(model_dir, batch_size=2, replicas=2, num_cpus=2)
        assert remote.generate(prompts, 3, 10, 1.0, 0.95, 11) == local.generate(prompts, 3, 10, 1.0, 0.95, 11)
        seqs = [p + ["TIME//1-4w", "LAB//WBC//NORMAL"] for p in prompts]
        for a, b in zip(remote.score(seqs), local.score(seqs)):
            np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
            np.testing.assert_allclose(a.std, b.std, atol=1e-5)
        np.testing.assert_allclose(remote.embed(seqs), local.embed(seqs), atol=1e-5)
        assert remote.fingerprint() == local.fingerprint()
        assert len(check_adapter(remote)) == 5  # the Ray workers honour first_sample too
    finally:
        ray.shutdown()
