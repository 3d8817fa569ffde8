"""Run in CEHR-GPT's environment: what CEHR-GPT itself computes, for tests/test_cehrgpt.py to
compare with the audit's numbers.

    python cehrgpt_own.py MODEL_DIR PREPARED_DATASET_DIR N_SUBJECTS PROMPT_TOKENS MAX_NEW

prints {"loss": {subject_id: loss}, "greedy": [{"prompt": [...], "tokens": [...]}]}: each
subject's loss as the model computes it from its own prepared dataset row (input_ids, ages,
labels = input_ids), and greedy continuations of the first PROMPT_TOKENS tokens of those
subjects' streams by CEHR-GPT's own generate.
"""

import json
import sys

import torch
from cehrgpt.models.hf_cehrgpt import CEHRGPT2LMHeadModel
from cehrgpt.models.tokenization_hf_cehrgpt import CehrGptTokenizer
from datasets import load_from_disk
from transformers import GenerationConfig

model_dir, prepared, n, prompt_len, max_new = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
tokenizer = CehrGptTokenizer.from_pretrained(model_dir)
model = CEHRGPT2LMHeadModel.from_pretrained(model_dir).eval()
rows = load_from_disk(prepared)["train"].select(range(n))
out = {"loss": {}, "greedy": []}
config = GenerationConfig(
    do_sample=False,
    max_new_tokens=max_new,
    pad_token_id=tokenizer.pad_token_id,
    eos_token_id=tokenizer.end_token_id,
    bos_token_id=tokenizer.end_token_id,
)
with torch.no_grad():
    for row in rows:
        ids = torch.tensor([row["input_ids"][: model.config.n_positions]])
        ages = torch.tensor([row["ages"][: model.config.n_positions]])
        out["loss"][str(row["person_id"])] = float(model(input_ids=ids, ages=ages, labels=ids).loss)
        prompt = ids[:, :prompt_len]
        result = model.generate(input_ids=prompt, generation_config=config, cehrgpt_tokenizer=tokenizer)
        sequences = result.sequences if hasattr(result, "sequences") else result
        new = sequences[0, prompt_len:].tolist()
        out["greedy"].append(
            {
                "prompt": tokenizer.decode(prompt[0].tolist(), skip_special_tokens=False),
                "tokens": tokenizer.decode(new, skip_special_tokens=False),
            }
        )
print(json.dumps(out))
