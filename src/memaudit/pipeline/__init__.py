"""The whole audit as one flow, used by the CLI, the Python API and validation alike:

    config = load_config(...)
    source = ModelSource(model=...)
    adapter = build_adapter(source, config)
    reference = build_reference(source, config)             # None without reference.model
    with RunDir.open(out) as run_dir:
        ctx = prepare(dataset, config, adapter, has_reference=reference is not None)
        outcome = run(ctx, dataset, adapter, run_dir, reference)
        report = write(outcome, dataset, adapter, run_dir, source)

`audit(...)` does all of it and applies the release gate. The flow lives in `build.py` (adapters,
context), `coverage.py` (what can be tested), `flow.py` (run, write, gate, audit, re-render),
`preflight.py` (`memaudit check`) and `export.py` (prompts for a model that runs elsewhere).
"""

from .build import ModelSource, build_adapter, build_reference, mask_token, prepare, read_unseen_members
from .coverage import coverage, coverage_table
from .export import export_prompts
from .flow import EXIT_GATE, EXIT_OK, LEVELS, audit, gate, rerender, run, vocabulary_check, write
from .preflight import check, planned_calls

__all__ = [
    "EXIT_GATE",
    "EXIT_OK",
    "LEVELS",
    "ModelSource",
    "audit",
    "build_adapter",
    "build_reference",
    "check",
    "coverage",
    "coverage_table",
    "export_prompts",
    "gate",
    "mask_token",
    "planned_calls",
    "prepare",
    "read_unseen_members",
    "rerender",
    "run",
    "vocabulary_check",
    "write",
]
