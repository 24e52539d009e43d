// AdamW with gradient accumulation and global-norm clipping, on ggml ops but without ggml-opt's
// context. ggml-opt (this version) never zeroes its gradient accumulators when graphs are rebuilt
// per step with opt_period 1, so gradients grow step after step; it also keeps its moments and
// step counter private, so a checkpoint could not restore them. Here the accumulators, moments
// and counter are ours: zeroed explicitly before every window, saved and restored exactly.
#pragma once

#include "tr-backend.h"

#include "ggml.h"

#include <cstdint>
#include <vector>

struct tr_adamw_params {
    float beta1        = 0.9f;
    float beta2        = 0.999f;
    float eps          = 1e-8f;
    float weight_decay = 0.0f;  // decoupled (AdamW), applied as w *= 1 - lr * wd
    float grad_clip    = 1.0f;  // max global L2 norm of the gradient; <= 0 disables clipping
};

struct tr_optim {
    tr_adamw_params hp;
    std::vector<ggml_tensor *> params;  // not owned (the LoRA tensors)
    std::vector<ggml_tensor *> grads;   // accumulators, one per param
    std::vector<ggml_tensor *> m, v;    // AdamW moments
    // The gradient seeded into the loss node: 1 / (items in the accumulation window), so the
    // accumulated gradient is that of the window's mean loss.
    ggml_tensor * loss_seed = nullptr;

    ggml_context *        ctx_grads = nullptr;
    ggml_context *        ctx_state = nullptr;
    ggml_backend_buffer_t buf_grads = nullptr;
    ggml_backend_buffer_t buf_state = nullptr;

    int64_t iter = 0;  // optimizer steps taken (AdamW bias correction uses iter + 1)
};

tr_optim * tr_optim_init(const std::vector<ggml_tensor *> & params, const tr_adamw_params & hp, ggml_backend_t backend);
void       tr_optim_free(tr_optim * opt);

void          tr_optim_zero_grad(tr_optim & opt);
void          tr_optim_set_loss_seed(tr_optim & opt, float seed);
ggml_tensor * tr_optim_grad(const tr_optim & opt, const ggml_tensor * param);

// Global L2 norm of the accumulated gradient.
double tr_optim_grad_norm(tr_optim & opt, tr_backend & backend);
// One AdamW update with the accumulated gradient times grad_scale (the clipping factor).
void   tr_optim_step(tr_optim & opt, tr_backend & backend, float lr, float grad_scale);
