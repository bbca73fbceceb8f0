"""The claims of each paper's abstract, one row per claim, for every chapter's paper.

Written for this book from the abstracts (``shared/seeds``): each entry is the claim
id the ledger must register and the abstract's sentence (shortened with "...", never
reworded). Background sentences (what others did, what the paper hopes for) are left
out; every sentence that says what the paper shows, proves, builds or measures is in.
When a chapter lands (``notebooks/<slug>/lecture.md`` exists), ``tests/claims`` fails
until every id of its paper here is registered in :mod:`effteach.claims`.

Book: notebooks/claims/ledger.md.
"""

from __future__ import annotations

#: arXiv id -> [(claim id, the abstract's sentence)].
ABSTRACT_CLAIMS: dict[str, list[tuple[str, str]]] = {
    "2410.09397": [  # pebble_io
        ("pebble_io.tight_bounds",
         "Using the red-blue pebble game framework, we establish tight bounds on I/O "
         "complexity across all cache sizes."),
        ("pebble_io.fa_optimal_large_cache",
         "We confirm that the de facto standard I/O aware algorithm FlashAttention is "
         "optimal for both forward and backward passes for the large cache size "
         "scenario."),
        ("pebble_io.small_cache_algorithm",
         "For small cache sizes, we provide an algorithm that improves over existing "
         "methods and achieves the tight bounds."),
        ("pebble_io.sparse_bounds",
         "We extend our analysis to sparse attention ..., deriving fine-grained lower "
         "bounds for both forward and backward passes and both small and large "
         "caches."),
    ],
    "2408.13233": [  # poly_attention
        ("poly_attention.almost_linear_gradients",
         "Our approach enables the computation of gradients for the entire multi-layer "
         "transformer model in almost linear time n^{1+o(1)}."),
        ("poly_attention.any_loss_bounded_error",
         "Our theory holds for any loss function and maintains a bounded approximation "
         "error across the entire model."),
        ("poly_attention.practical_submodules",
         "Our analysis can hold when the multi-layer transformer model contains many "
         "practical sub-modules, such as residual connection, casual mask, and "
         "multi-head attention."),
    ],
    "2410.09375": [  # looped_mlp
        ("looped_mlp.programmable_computer",
         "A looped 23-layer ReLU-MLP is capable to perform the basic necessary "
         "operations, effectively functioning as a programmable computer."),
        ("looped_mlp.practical_weights",
         "It remains unclear whether a ReLU-MLP can be made into a universal "
         "programmable computer using a practical number of weights ... we provide an "
         "affirmative answer."),
        ("looped_mlp.no_transformer_needed",
         "Complex tasks, such as functioning as a programmable computer, do not "
         "necessarily require advanced architectures like Transformers."),
        ("looped_mlp.looped_transformer_layers",
         "It has been shown that a looped 13-layer Transformer can function as a "
         "universal programmable computer."),
    ],
    "2412.12441": [  # newton_prune
        ("newton_prune.training_free_newton_score",
         "We propose a training-free pruning method that calculates a numerical score "
         "with Newton's method for the Attention and MLP modules, respectively."),
        ("newton_prune.compensation",
         "We further propose another compensation algorithm to recover the pruned "
         "model for better performance."),
        ("newton_prune.theory",
         "To verify the effectiveness of our method, we provide both theoretical "
         "support and extensive experiments."),
        ("newton_prune.sota_memory_speed",
         "Our method achieves state-of-the-art performance with reduced memory usage "
         "and faster generation speeds on GPUs."),
    ],
    "2410.11261": [  # attention_prune
        ("attention_prune.nonlinear_objective",
         "A novel approach to LLM weight pruning that directly optimizes for "
         "approximating the attention matrix ... accounts for the non-linear nature of "
         "the Softmax attention mechanism."),
        ("attention_prune.gd_convergence",
         "We provide theoretical guarantees for the convergence of our Gradient "
         "Descent-based optimization method to a near-optimal pruning mask solution."),
        ("attention_prune.maintains_performance",
         "Our preliminary empirical results demonstrate the effectiveness of this "
         "approach in maintaining model performance while significantly reducing "
         "computational costs."),
    ],
    "2407.14717": [  # dp_attention
        ("dp_attention.dp_data_structure",
         "We design a novel differential privacy (DP) data structure to address the "
         "privacy security of cross-attention with a theoretical guarantee."),
        ("dp_attention.complexity",
         "Our data structure requires O~(ndr^2) memory consumption with O~(nr^2) "
         "initialization time complexity and O~(alpha^{-1} r^2) query time complexity "
         "for a single token query."),
        ("dp_attention.error_bounds",
         "Our data structure can guarantee that the user query is (epsilon, delta)-DP "
         "with O~(n^{-1} epsilon^{-1} alpha^{-1/2} R^{2s} R_w r^2) additive error and "
         "n^{-1} (alpha + epsilon_s) relative error between our output and the true "
         "answer."),
        ("dp_attention.adaptive_queries",
         "Our result is robust to adaptive queries in which users can intentionally "
         "attack the cross-attention system."),
        ("dp_attention.first_dp_cross_attention",
         "To our knowledge, this is the first work to provide DP for cross-attention."),
    ],
    "2412.12444": [  # lazy_dit
        ("lazy_dit.skipping_is_possible",
         "Performing the full computation of the model at each diffusion step is "
         "unnecessary, as some computations can be skipped by lazily reusing the "
         "results of previous steps."),
        ("lazy_dit.similarity_lower_bound",
         "The lower bound of similarity between outputs at consecutive steps is "
         "notably high."),
        ("lazy_dit.linear_approximation",
         "This similarity can be linearly approximated using the inputs."),
        ("lazy_dit.trained_laziness",
         "We incorporate lazy learning layers into the model, effectively trained to "
         "maximize laziness, enabling dynamic skipping of redundant computations."),
        ("lazy_dit.beats_ddim",
         "LazyDiT outperforms the DDIM sampler across multiple diffusion transformer "
         "models at various resolutions."),
        ("lazy_dit.mobile",
         "We implement our method on mobile devices, achieving better performance than "
         "DDIM with similar latency."),
    ],
    "2505.14708": [  # draft_attention
        ("draft_attention.attention_share",
         "Attention alone accounts for over 80% of total latency, and generating just "
         "8 seconds of 720p video takes tens of minutes."),
        ("draft_attention.training_free_sparse",
         "DraftAttention, a training-free framework for the acceleration of video "
         "diffusion transformers with dynamic sparse attention on GPUs."),
        ("draft_attention.reorder_structured",
         "We reorder the query, key, and value based on the draft attention map ... "
         "This reordering enables structured sparsity that aligns with "
         "hardware-optimized execution."),
        ("draft_attention.draft_approximates",
         "Our theoretical analysis demonstrates that the low-resolution draft "
         "attention closely approximates the full attention."),
        ("draft_attention.quality_speedup",
         "Our method outperforms existing sparse attention approaches in video "
         "generation quality and achieves up to 1.75x end-to-end speedup on GPUs."),
    ],
    "2505.14709": [  # fastcar
        ("fastcar.mlp_dominates",
         "MLP modules in the decode phase dominate the inference latency."),
        ("fastcar.temporal_redundancy",
         "There exists high temporal redundancy in MLP outputs of adjacent frames."),
        ("fastcar.tas_replay",
         "The Temporal Attention Score (TAS) is proposed to determine whether to apply "
         "the replay strategy ... with detailed theoretical analysis and "
         "justification."),
        ("fastcar.fpga_drs",
         "We develop a hardware accelerator on FPGA with Dynamic Resource Scheduling "
         "(DRS) based on TAS to enable better resource utilization and faster "
         "inference."),
        ("fastcar.speedup_vs_sparse",
         "Our method outperforms traditional sparse attention approaches with more "
         "than 2.1x decoding speedup and higher energy efficiency on the edge."),
        ("fastcar.combined_less_drift",
         "By combining FastCar and sparse attention, FastCar can boost the performance "
         "of sparse attention with alleviated drifting."),
    ],
    "2506.00577": [  # econ_rl
        ("econ_rl.recon_model",
         "We introduce Recon, a 7B-parameter open-source LLM post-trained on a "
         "hand-curated dataset of 2,100 high-quality economic reasoning problems."),
        ("econ_rl.benchmark_gains",
         "Comprehensive evaluation on economic reasoning benchmarks and multi-agent "
         "games reveals clear improvements in structured reasoning and economic "
         "rationality."),
        ("econ_rl.post_training_generalizes",
         "Post-training techniques, specifically SFT and RLVR, can effectively "
         "generalize to multi-agent scenarios ... shedding light on the roles of SFT "
         "and RL in shaping model behavior."),
    ],
}


def abstract_claims(slug: str) -> list[tuple[str, str]]:
    """The abstract claims of a chapter's paper (empty for a chapter without one).

    Raises:
        ValueError: ``slug`` is not a chapter of :data:`effteach.CHAPTERS`.
    """
    from effteach import CHAPTERS

    if slug not in CHAPTERS:
        raise ValueError(f"slug: unknown chapter {slug!r}; expected one of "
                         f"{sorted(CHAPTERS)}")
    paper = CHAPTERS[slug][1]
    return list(ABSTRACT_CLAIMS.get(paper, [])) if paper else []
