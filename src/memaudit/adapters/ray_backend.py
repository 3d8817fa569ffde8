"""`ray` backend: adapter calls as Ray Data `map_batches` over a pool of model-replica actors
(one per GPU where GPUs exist), for multi-GPU and multi-node audits. Optional extra
`memaudit[ray]`; `address` joins an existing cluster.

Samples are seeded per (seed, prompt, index), so the results equal the local backend's whatever
actor or batch a request lands in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserInputError
from .base import ALL_CAPABILITIES, AdapterBase, ScoreResult
from .hf import HFAdapter
from .sampler import SAMPLER


class _Replica:
    """One model replica inside a Ray actor."""

    def __init__(
        self,
        model_dir: str,
        batch_size: int,
        trust_pickle: bool,
        model_input: dict[str, Any] | None,
        known_codes: list[str],
        dtype: str = "auto",
    ) -> None:
        self.adapter = HFAdapter(
            Path(model_dir),
            batch_size=batch_size,
            trust_pickle=trust_pickle,
            model_input=model_input,
            dtype=dtype,
        )
        self.adapter.learn(known_codes)

    def __call__(
        self, batch: dict[str, np.ndarray], op: str, params: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        items = [json.loads(x) for x in batch["payload"]]
        if op == "generate":
            results: list[Any] = self.adapter.generate(items, **params)
        elif op == "score":
            results = [
                [r.logprobs.tolist(), r.mean.tolist(), r.std.tolist()] for r in self.adapter.score(items)
            ]
        else:
            results = self.adapter.embed(items).tolist()
        return {"i": batch["i"], "result": np.array([json.dumps(r) for r in results], dtype=object)}


class RayAdapter(AdapterBase):
    def __init__(
        self,
        model_dir: Path,
        batch_size: int = 64,
        replicas: int | None = None,
        address: str | None = None,
        trust_pickle: bool = False,
        num_cpus: int | None = None,
        model_input: dict[str, Any] | None = None,
        dtype: str = "auto",
    ) -> None:
        try:
            import ray
        except ImportError:
            raise UserInputError(
                "Ray installed for --backend ray", "no module 'ray'", "pip install 'memaudit[ray]'"
            ) from None
        self.local = HFAdapter(
            model_dir,
            batch_size=batch_size,
            trust_pickle=trust_pickle,  # vocab, fingerprint
            model_input=model_input,
        )
        self.model_input, self.known_codes, self.dtype = dict(model_input or {}), [], dtype
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        gpus = int(ray.cluster_resources().get("GPU", 0))
        self.replicas = replicas or max(1, gpus)
        self.gpus_per_replica = 1 if gpus else 0
        self.model_dir, self.batch_size, self.trust_pickle = (
            str(Path(model_dir).resolve()),
            batch_size,
            trust_pickle,
        )

    def capabilities(self) -> frozenset[str]:
        return ALL_CAPABILITIES

    def fingerprint(self) -> str:
        return self.local.fingerprint()

    def numerics(self) -> str:
        """The replicas' sampler, device kind and dtype (auto resolves on each replica's device)."""
        return f"{SAMPLER}|{'cuda' if self.gpus_per_replica else 'cpu'}|{self.dtype}"

    def learn(self, codes: Sequence[str]) -> None:
        """Codes the replicas' tokenizers must be able to decode (multi-token vocabularies)."""
        self.local.tokenizer.learn(codes)
        self.known_codes = sorted(set(self.known_codes) | set(codes))

    def window_plan(
        self,
        sequences: Sequence[Sequence[str]],
        prompts: Sequence[Sequence[str]] = (),
        max_new_codes: int = 0,
    ) -> dict:
        return self.local.window_plan(sequences, prompts, max_new_codes)

    def vocabulary(self):
        return self.local.vocabulary()

    def code_embeddings(self) -> dict[str, np.ndarray]:
        return self.local.code_embeddings()

    def _map(self, op: str, payloads: Sequence[Any], params: dict[str, Any]) -> list[Any]:
        import ray

        if not payloads:
            return []
        ds = ray.data.from_items([{"i": i, "payload": json.dumps(list(p))} for i, p in enumerate(payloads)])
        out = ds.map_batches(
            _Replica,
            fn_constructor_kwargs={
                "model_dir": self.model_dir,
                "batch_size": self.batch_size,
                "trust_pickle": self.trust_pickle,
                "model_input": self.model_input,
                "known_codes": self.known_codes,
                "dtype": self.dtype,
            },
            fn_kwargs={"op": op, "params": params},
            batch_size=self.batch_size,
            concurrency=self.replicas,
            num_gpus=self.gpus_per_replica,
        )
        rows = sorted(out.take_all(), key=lambda r: int(r["i"]))
        return [json.loads(r["result"]) for r in rows]

    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        n_samples: int,
        max_new_codes: int,
        temperature: float,
        top_p: float,
        seed: int,
        first_sample: int = 0,
    ) -> list[list[list[str]]]:
        return self._map(
            "generate",
            prompts,
            {
                "n_samples": n_samples,
                "max_new_codes": max_new_codes,
                "temperature": temperature,
                "top_p": top_p,
                "seed": seed,
                "first_sample": first_sample,
            },
        )

    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]:
        return [ScoreResult(*(np.asarray(x, float) for x in r)) for r in self._map("score", sequences, {})]

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        rows = self._map("embed", sequences, {})
        return np.asarray(rows, float) if rows else np.zeros((0, 0))
