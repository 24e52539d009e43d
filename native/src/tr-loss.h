// Loss heads: the pluggable end of the training graph. The body (tr-graph), the optimizer
// (tr-optim), checkpoints and export are shared; an objective (SFT, PT, reward model, DPO, later
// PPO) is a head here plus its data feeder in main/node/training/objectives/. A head turns the final hidden states into the SUM of its per-item
// losses over a micro-batch and says how many items that sum covers; the session divides by the
// item count of the whole accumulation window, so accumulating micro-batches is exactly one big
// batch.
//
// Every op a head uses needs a backward pass in this ggml: not sigmoid, tanh, gelu, clamp, norm,
// flash-attn, fused swiglu, mul_mat_id, set_rows, elementwise min/max. Known rewrites:
// RM loss softplus(r_l - r_h); clip(r,a,b) = a + relu(r-a) - relu(r-b); min(a,b) = a - relu(a-b);
// log-probs = log(soft_max(x)).
#pragma once

#include "tr-graph.h"

#include <memory>
#include <string>
#include <vector>

struct tr_loss_params {
    float beta            = 1.0f;  // preference heads: z = beta * (score difference - offset)
    float label_smoothing = 0.0f;  // preference heads: weight of the flipped-label term
    float center_coef     = 0.0f;  // reward head: weight of the score² centering term
    float clip_range       = 0.2f;  // ppo: the policy ratio is clipped to [1-ε, 1+ε]
    float clip_range_value = 0.2f;  // ppo: the value may move at most this far from its rollout value
    float vf_coef          = 0.1f;  // ppo: weight of the value loss
};

struct tr_loss_head {
    virtual ~tr_loss_head() = default;
    virtual const char * name() const = 0;
    // Items this batch contributes to the average (target tokens for language modelling, the
    // summed pair weights for preference heads: one per ranking when its pairs share weight 1).
    virtual double n_items(const tr_batch & batch) const = 0;
    // hidden: [n_embd, n_rows * n_ctx] after the final norm. Returns a scalar F32 tensor.
    virtual ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras,
                                ggml_tensor * hidden, const tr_batch & batch) = 0;
    // Fills the inputs build() created, after the graph is allocated.
    virtual void set_inputs(const tr_batch & batch) = 0;
    // Per-sequence scores of the last computed graph (reward or summed log-prob); empty for "lm".
    virtual std::vector<float> scores() const { return {}; }
    // A metrics output off the loss path that the graph must compute too (null: none).
    virtual ggml_tensor * extra_output() const { return nullptr; }
};

// Per-sequence scores without a loss, for scoring and for DPO's reference log-probs:
//   "reward": the scalar head of the first applied adapter that has one, on each sequence's last token;
//   "logp":   the sum of log p(target) over each sequence's target positions;
//   "tokens": log p(target) at every target position, in target order [M];
//   "policy": log p(target) [M], then the value head of the first applied adapter that has one at
//             the same positions [M], then the entropy of the next-token distribution there [M].
struct tr_score_builder {
    std::string kind;
    ggml_tensor * out = nullptr;  // F32 [S] (or [M] / [3M] for the per-token kinds)
    // "policy": the log-prob and value nodes themselves (a loss must not go through the concat,
    // which has no backward here)
    ggml_tensor * logp_node = nullptr, * value_node = nullptr;
    // inputs
    ggml_tensor * ends = nullptr, * rows = nullptr, * picks = nullptr, * member = nullptr;
    int64_t n_vocab = 0;

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras, ggml_tensor * hidden,
                        const tr_batch & batch);
    void set_inputs(const tr_batch & batch);
};

// "lm": next-token negative log-likelihood summed over positions with a target (SFT: assistant
// tokens only; continued pre-training: every token). Log-probabilities come from log(soft_max)
// gathered at the targets, with no one-hot label tensor, so the same head yields per-token
// log-probs for DPO/PPO later.
//
// "reward": the reward model's ranking loss on the scalar head (the paper's K-wise loss when a
// K-ranking's C(K,2) ordered pairs each weigh 1/C(K,2)), with an optional margin and centering.
// "dpo": sigmoid DPO on summed log-probs, the offset holding the reference log-ratio.
// "ppo": per response token, the clipped surrogate −min(r·A, clip(r, 1±ε)·A) with r = exp(logp −
// logp_old), plus vf_coef · ½·max((v − R)², (clip(v, v_old ± ε_v) − R)²) on the value head of the
// policy adapter (shared body); inputs per target token come in tr_batch::target_values as four
// runs of M values: logp_old, advantage, return, value_old. min/max/clip are written with relu
// (ggml has no backward for them).
std::unique_ptr<tr_loss_head> tr_loss_head_init(const std::string & kind, const tr_loss_params & params = {});
