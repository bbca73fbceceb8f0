"""lazy_dit: learn which DiT modules may reuse the previous step, and skip them.

Paper: Shen et al., "LazyDiT: Lazy Learning for the Acceleration of Diffusion
    Transformers", AAAI 2025, arXiv 2412.12444.
Book: notebooks/lazy_dit/lecture.md.
"""
