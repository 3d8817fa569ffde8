"""Model adapters: the protocol (base.py), the transformers backend (hf.py), precomputed samples
(generations.py), Ray (ray_backend.py), the response cache and the request dispatcher."""
