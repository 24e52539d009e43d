// A training session: one base model, one LoRA, one optimizer, one loss head, on one backend.
// Not thread-safe; the N-API layer runs one call at a time per session on a worker thread.
#pragma once

#include "tr-backend.h"
#include "tr-graph.h"
#include "tr-lora.h"
#include "tr-loss.h"
#include "tr-model.h"
#include "tr-optim.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct tr_session_params {
    std::string       model_path;
    std::string       loss = "lm";
    tr_lora_params    lora;
    tr_adamw_params   adamw;
    tr_backend_params backend;
    uint64_t          seed = 0;  // dropout masks (LoRA init has lora.seed)
};

struct tr_session {
    tr_session_params params;
    tr_backend backend;
    tr_model * model = nullptr;
    tr_lora  * lora  = nullptr;
    tr_optim * optim = nullptr;
    std::unique_ptr<tr_loss_head> loss;

    uint64_t micro_step = 0;  // training forwards done: selects the dropout masks
    size_t   graph_size = 0;
    std::vector<uint8_t> meta;  // memory for the per-graph tensor metadata (no data)
};

struct tr_step_result {
    double  loss       = 0.0;  // mean loss over the window's items
    int64_t n_items    = 0;
    int64_t n_tokens   = 0;    // non-padding tokens processed
    double  grad_norm  = 0.0;  // before clipping
    float   grad_scale = 1.0f; // clipping factor applied
    int64_t iter       = 0;    // optimizer steps after this one
};

struct tr_eval_result {
    double  loss_sum = 0.0;
    int64_t n_items  = 0;
    int64_t n_tokens = 0;
};

using tr_progress_fn = std::function<void(int done, int total)>;

tr_session * tr_session_init(const tr_session_params & params);  // throws tr_error
void         tr_session_free(tr_session * session);

// Zeroes the gradient, accumulates it over `batches` (dropout on), clips and takes one AdamW step.
tr_step_result tr_session_train_step(tr_session & s, const std::vector<tr_batch> & batches, float lr,
                                     const tr_progress_fn & progress = nullptr);
// Zeroes the gradient and accumulates it over `batches` without dropout and without a step:
// for gradient checks. The gradients stay readable through tr_session_grad().
tr_eval_result tr_session_accumulate(tr_session & s, const std::vector<tr_batch> & batches);
ggml_tensor *  tr_session_grad(const tr_session & s, const char * param_name);
// Loss without gradients and without dropout.
tr_eval_result tr_session_eval(tr_session & s, const tr_batch & batch);
// Logits [n_vocab, n_rows * n_ctx] of every position, with or without the LoRA.
std::vector<float> tr_session_logits(tr_session & s, const tr_batch & batch, bool use_lora);

// Checkpoint state: LoRA tensors, AdamW moments and step, the dropout counter. The caller (JS)
// stores the data cursor and its own RNG state beside it.
void tr_session_save_state(tr_session & s, const char * path, const std::vector<std::pair<std::string, std::string>> & metadata);
void tr_session_load_state(tr_session & s, const char * path);
