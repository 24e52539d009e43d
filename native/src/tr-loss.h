// Loss heads: the pluggable end of the training graph. The body (tr-graph), the optimizer
// (tr-optim), checkpoints and export are shared; a new objective (reward model, DPO, PPO) is a new
// head plus its data feeder. A head turns the final hidden states into the SUM of its per-item
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

struct tr_loss_head {
    virtual ~tr_loss_head() = default;
    virtual const char * name() const = 0;
    // Items this batch contributes to the average (target tokens for language modelling).
    virtual int64_t n_items(const tr_batch & batch) const = 0;
    // hidden: [n_embd, n_rows * n_ctx] after the final norm. Returns a scalar F32 tensor.
    virtual ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora * lora,
                                ggml_tensor * hidden, const tr_batch & batch) = 0;
    // Fills the inputs build() created, after the graph is allocated.
    virtual void set_inputs(const tr_batch & batch) = 0;
};

// "lm": next-token negative log-likelihood summed over positions with a target (SFT: assistant
// tokens only; continued pre-training: every token). Log-probabilities come from log(soft_max)
// gathered at the targets, with no one-hot label tensor, so the same head yields per-token
// log-probs for DPO/PPO later.
std::unique_ptr<tr_loss_head> tr_loss_head_init(const std::string & kind);
