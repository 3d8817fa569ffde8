"""CEHR-GPT models, served by CEHR-GPT's own classes in CEHR-GPT's own Python.

`memaudit import-cehrgpt` (pipeline/stacks.py) turns what CEHR-GPT's pretraining runner wrote
into an audit directory: `cehrgpt_import.json` (the model directory, the Python that has
`cehrgpt`, the visit-type tokens) and `streams.parquet` (each subject's stream as CEHR-GPT's data
pipeline built it, with each token's age). This adapter starts `cehrgpt_bridge.py` in that Python
and sends it requests (see that file): the forward pass and the sampler are CEHR-GPT's, so the
audit scores and samples the model exactly as CEHR-GPT runs it.

Its stream, as the audit reads it: the demographic prompt (`year:`, `age:N` in exact years, the
gender and race tokens) is the header; `[VS]`, the visit type, `[VE]` and `[END]` are markers;
`D<n>`, `LT` and the other time tokens CEHR-GPT recognises are time gaps (`codes:K` counts neither).
Scoring passes each token's age from the stream (its training input), so a subject's loss equals
CEHR-GPT's own; a prompt that is not a subject's stream gets the ages CEHR-GPT's sampler would
construct. Values (`include_values: true`) are not sent: the bridge passes none, as CEHR-GPT's
generate does without them, and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from ...cohort.conventions import StreamStructure
from ...errors import UserInputError
from ...fingerprint import hash_files
from ..base import EMBED, GENERATE, SCORE, AdapterBase, ScoreResult, sample_seed
from ..sampler import SAMPLER

IMPORT_FILE = "cehrgpt_import.json"
STREAMS_FILE = "streams.parquet"
BRIDGE = Path(__file__).with_name("cehrgpt_bridge.py")
SAMPLER_FILE = Path(__file__).parents[1] / "sampler.py"
PREFIX_KEY = 8  # tokens that index the streams for the age lookup


class CehrGptVocabulary:
    def __init__(self, tokens: Sequence[str], unknown: str | None) -> None:
        self._tokens, self._known, self._unknown = list(tokens), set(tokens), unknown

    def knows(self, code: str) -> bool:
        return code in self._known

    def tokens(self) -> list[str]:
        return list(self._tokens)

    def unknown_token(self) -> str | None:
        return self._unknown


class CehrGptAdapter(AdapterBase):
    """An imported CEHR-GPT model (a directory written by `memaudit import-cehrgpt`)."""

    def __init__(self, import_dir: Path, batch_size: int = 32) -> None:
        self.import_dir = Path(import_dir)
        self.batch_size = batch_size
        spec = json.loads((self.import_dir / IMPORT_FILE).read_text())
        self.model_dir, self.python = Path(spec["model"]), spec["python"]
        self._visit_types = frozenset(spec.get("visit_types", ()))
        self._ages = _StreamAges(self.import_dir / STREAMS_FILE)
        self._process = subprocess.Popen(
            [self.python, str(BRIDGE), str(self.model_dir), str(SAMPLER_FILE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = self._read()
        if "ready" not in first:
            self.close()
            raise UserInputError(
                f"a CEHR-GPT model that CEHR-GPT in {self.python} loads",
                str(first.get("error", "no answer"))[:300],
                "run scripts/setup_cehrgpt.sh, or re-import with --python pointing at the Python "
                "where cehrgpt is installed",
            )
        self.info = first["ready"]
        self._fingerprint: str | None = None
        hours = {t for t in self.info["vocab"] if t.startswith("i-H")}  # inpatient hour tokens
        self._structure = StreamStructure(
            frozenset(self.info["markers"]) | self._visit_types | hours, dict(self.info["gap_days"])
        )
        self._vocabulary = CehrGptVocabulary(self.info["vocab"], self.info["special"]["unknown"])

    # --- the bridge ------------------------------------------------------------------------------
    def _read(self) -> dict:
        line = self._process.stdout.readline() if self._process.stdout else ""
        if not line:
            return {"error": f"the bridge in {self.python} exited ({self._process.poll()})"}
        return json.loads(line)

    def _ask(self, request: dict) -> dict:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"CEHR-GPT bridge: {reply['error']}")
        return reply

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            process.kill()

    # --- what the audit reads --------------------------------------------------------------------
    def capabilities(self) -> frozenset[str]:
        return frozenset({GENERATE, SCORE, EMBED})

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            files = hash_files(
                p
                for p in self.model_dir.iterdir()
                if p.is_file() and p.name.endswith((".safetensors", ".json"))
            )
            self._fingerprint = hashlib.sha256(f"cehrgpt\x1e{files}".encode()).hexdigest()[:16]
        return self._fingerprint

    def numerics(self) -> str:
        return f"{SAMPLER}|cehrgpt-bridge|cpu|float32"

    def vocabulary(self) -> CehrGptVocabulary:
        return self._vocabulary

    def stream_structure(self) -> StreamStructure:
        return self._structure

    def stream_table(self) -> Path:
        return self.import_dir / STREAMS_FILE

    def window_plan(self, sequences, prompts=(), max_new_codes: int = 0) -> dict:
        context = int(self.info["context"])
        lengths = np.array([len(s) for s in sequences] or [0])
        longer = int((lengths > context).sum())
        summary = (
            f"{longer} of {len(sequences)} audited timelines exceed CEHR-GPT's context of {context} "
            f"tokens and were scored over their first {context}."
            if longer
            else f"Every audited timeline fits CEHR-GPT's context ({int(lengths.max())} of {context} tokens)."
        )
        summary += (
            " Its stream is read as CEHR-GPT's pipeline wrote it: the demographic prompt (year, exact age, "
            "gender, race) is the static tier, and codes:K counts clinical codes only, with its visit "
            "markers "
            "([VS], visit type, [VE]) and day-gap tokens riding along uncounted; markers are dropped from "
            "sampled continuations and day gaps are read as time."
        )
        if self.info.get("include_values"):
            summary += (
                " The model was trained with values (include_values); the audit sends none, as CEHR-GPT's "
                "generate does without them, so scores and samples are conditioned on codes and time only."
            )
        return {
            "context_tokens": context,
            "sequences": len(sequences),
            "sequences_longer_than_context": longer,
            "longest_sequence_tokens": int(lengths.max()),
            "values_sent": False,
            "summary": summary,
        }

    # --- batch methods ---------------------------------------------------------------------------
    def _fit(self, sequence: Sequence[str]) -> list[str]:
        return list(sequence)[: int(self.info["context"])]

    def score(self, sequences: Sequence[Sequence[str]]) -> list[ScoreResult]:
        out: list[ScoreResult] = []
        for start in range(0, len(sequences), self.batch_size):
            chunk = [self._fit(s) for s in sequences[start : start + self.batch_size]]
            reply = self._ask({"op": "score", "sequences": chunk, "ages": [self._ages.of(s) for s in chunk]})
            for i in range(len(chunk)):
                # codes 2..n: the first has no prediction (CEHR-GPT has no start token)
                out.append(
                    ScoreResult(
                        *(np.asarray(reply[k][i], dtype=np.float64) for k in ("logprobs", "mean", "std"))
                    )
                )
        return out

    def embed(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        rows = []
        for start in range(0, len(sequences), self.batch_size):
            chunk = [self._fit(s) for s in sequences[start : start + self.batch_size]]
            reply = self._ask({"op": "embed", "sequences": chunk, "ages": [self._ages.of(s) for s in chunk]})
            rows.extend(reply["vectors"])
        return np.asarray(rows, dtype=np.float64).reshape(len(sequences), -1)

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
        """Samples of CEHR-GPT's own sampler, markers ([VS], visit type, [VE]) removed: they are
        structure, not generated codes; time-gap tokens stay (T1 reads them as time)."""
        if any(len(p) < 2 for p in prompts):
            raise UserInputError(
                "prompts that open with CEHR-GPT's demographic prompt (year:, age:, gender, race)",
                "an empty prompt (tier none: CEHR-GPT generates only after a demographic prompt)",
                "drop tier none from the config's tiers (preset cehrgpt does)",
            )
        room = int(self.info["context"]) - max_new_codes
        markers = self._structure.markers
        out: list[list[list[str]]] = []
        per_call = max(1, self.batch_size // max(n_samples, 1))
        for start in range(0, len(prompts), per_call):
            chunk = [list(p) for p in prompts[start : start + per_call]]
            seeds = [[sample_seed(seed, p, first_sample + j) for j in range(n_samples)] for p in chunk]
            reply = self._ask(
                {
                    "op": "generate",
                    "prompts": [p[:4] + p[4:][-(room - 4) :] if len(p) > room else p for p in chunk],
                    "seeds": seeds,
                    "max_new": max_new_codes,
                    "temperature": temperature,
                    "top_p": top_p,
                }
            )
            out.extend(
                [[t for t in sample if t not in markers] for sample in samples]
                for samples in reply["samples"]
            )
        return out


class _StreamAges:
    """Each token's age as CEHR-GPT's data pipeline gave it, for sequences that are (a prefix of) a
    subject's stream; None for others (the bridge constructs ages as CEHR-GPT's sampler does)."""

    def __init__(self, path: Path) -> None:
        self._by_prefix: dict[tuple[str, ...], list[tuple[list[str], list[int]]]] = {}
        frame = pl.read_parquet(path, columns=["codes", "ages"])
        for codes, ages in frame.iter_rows():
            self._by_prefix.setdefault(tuple(codes[:PREFIX_KEY]), []).append((list(codes), list(ages)))

    def of(self, sequence: Sequence[str]) -> list[int] | None:
        """A demographic prompt alone (shorter than the key) gets the constructed ages, which
        equal the stream's there: every token carries the age of the `age:N` token."""
        sequence = list(sequence)
        for codes, ages in (
            self._by_prefix.get(tuple(sequence[:PREFIX_KEY]), []) if len(sequence) >= PREFIX_KEY else []
        ):
            if codes[: len(sequence)] == sequence:
                return ages[: len(sequence)]
        return None
