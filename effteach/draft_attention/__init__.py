"""draft_attention: sparse video attention guided by a low-resolution draft.

Paper: Shen et al., "DraftAttention: Fast Video Diffusion via Low-Resolution
    Attention Guidance", arXiv 2505.14708.
Book: notebooks/draft_attention/lecture.md.
"""

from effteach.draft_attention.draft import (
    MASK_KINDS,
    MODES,
    DraftConfig,
    baseline_blocks,
    check_sparsity,
    draft_attention,
    draft_map,
    kv_block_lists,
    masked_attention,
    n_windows,
    pool_draft,
    select_blocks,
    sparse_pipeline,
    token_mask,
    window_ids,
    window_permutation,
)
from effteach.draft_attention.experiments import (
    attention_fn,
    draft_rollout,
    load_results,
    quality_sweep,
)

__all__ = [
    "MASK_KINDS",
    "attention_fn",
    "draft_rollout",
    "load_results",
    "quality_sweep",
    "MODES",
    "DraftConfig",
    "baseline_blocks",
    "check_sparsity",
    "draft_attention",
    "draft_map",
    "kv_block_lists",
    "masked_attention",
    "n_windows",
    "sparse_pipeline",
    "pool_draft",
    "select_blocks",
    "token_mask",
    "window_ids",
    "window_permutation",
]
