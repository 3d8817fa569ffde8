"""Backends for particular EHR foundation-model stacks, each run as its users run it: MEDS_EIC_AR's
checkpoint exported to a model directory (`eic_ar`), CEHR-GPT's model served by its own classes in
its own Python (`cehrgpt`, `cehrgpt_bridge`) and what its pretraining runner wrote read as an audit
directory (`cehrgpt_import`). The generic backends (a Hugging Face directory, precomputed
generations, Ray) are one level up."""
