// A training session: ONE copy of the base model, any number of named adapters on it (each
// trainable or frozen, each optionally with a scalar head), one optimizer over the trainable
// tensors, one loss head (the objective), on one backend. A forward pass names the adapters it
// applies: DPO trains "policy" and scores "reference" on the same weights; PPO will hold policy,
// reference, value and reward adapters the same way, so its memory stays near one base model.
// Not thread-safe; the N-API layer runs one call at a time per session on a worker thread.
#pragma once

#include "tr-backend.h"
#include "tr-graph.h"
#include "tr-lora.h"
#include "tr-loss.h"
#include "tr-model.h"
#include "tr-optim.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct tr_adapter_params {
    std::string    name = "train";
    bool           trainable = true;
    bool           head = false;   // with a scalar head (reward model, value model)
    std::string    init_path;      // load from this LoRA GGUF instead of initialising (rank, targets from the file)
    tr_lora_params lora;
};

struct tr_session_params {
    std::string       model_path;
    std::string       loss = "lm";
    tr_loss_params    loss_params;
    // In order; the trainable ones are what training forwards apply unless a call names others.
    std::vector<tr_adapter_params> adapters;
    tr_adamw_params   adamw;
    tr_backend_params backend;
    uint64_t          seed = 0;  // dropout masks (LoRA init has lora.seed)
    // Type of the transposed weights in the backward (tr_graph_backward_rewrite): COUNT = by
    // backend (F32 on the CPU, BF16 on a GPU); the benchmark sets it to compare the two.
    ggml_type         backward_type = GGML_TYPE_COUNT;
    // Gradient checkpointing: keep only each layer's input from the forward and compute each
    // layer again, alone, for its backward. Activation memory falls from every layer's
    // intermediates to one layer's (plus n_layer inputs of [n_embd, N]) for about one more
    // forward pass of compute. What lets a 7B model train at a long context on a 24 GB card.
    bool              gradient_checkpointing = false;
    // With gradient checkpointing, the LM loss is computed over slices of at most this many target
    // tokens (0 = 512): its vocabulary-sized logits are then alive for one slice at a time.
    int64_t           loss_chunk_targets = 0;
    // A frozen weight's transposed copy for the backward is made in slices of about this many
    // values (0 = TR_BACKWARD_SLICE_VALUES); the tests set it small to check the slicing.
    int64_t           backward_slice_values = 0;
};

// Gradient checkpointing's memory, sized for the largest micro-batch so far (a graph views the
// first n_embd × N values of each): the input of each layer and the last layer's output, two
// gradient buffers used in turn, and the constant 1 (the seed of each layer's backward; its
// incoming gradient is already in the buffer).
struct tr_checkpoints {
    int64_t capacity = 0;  // tokens
    ggml_context * ctx = nullptr;
    ggml_backend_buffer_t buf = nullptr;
    std::vector<ggml_tensor *> x;  // n_layer + 1 tensors of n_embd × capacity
    ggml_tensor * grad[2] = {nullptr, nullptr};
    ggml_tensor * one = nullptr;
};

struct tr_session {
    tr_session_params params;
    tr_backend backend;
    tr_model * model = nullptr;
    std::vector<tr_lora *> adapters;
    tr_lora_set train_set;  // the trainable adapters
    tr_optim * optim = nullptr;
    std::unique_ptr<tr_loss_head> loss;

    uint64_t micro_step = 0;  // training forwards done: selects the dropout masks
    size_t   graph_size = 0;
    // --explain: after each compute, which backend ran how many nodes of each op kind (op name →
    // backend name → count), summed until tr_session_explain_take() empties it. Off by default:
    // walking the graph costs a little on every compute.
    bool explain = false;
    std::map<std::string, std::map<std::string, int64_t>> explained;
    std::string fallback_warned;  // on a GPU: the ops last logged as computed on the CPU instead
    // --profile: wall time per op kind and operand shapes ("MUL_MAT q8_0 512x1536 | 512x256" → ms,
    // calls), summed until tr_session_profile_take(). It makes the scheduler run and wait for
    // one node at a time, so it is for a step of its own, never for the timed ones.
    bool profile = false;
    std::map<std::string, std::pair<double, int64_t>> profiled;
    int64_t profile_t0 = 0;
    std::vector<uint8_t> meta;  // memory for the per-graph tensor metadata (no data)
    tr_checkpoints checkpoints;  // allocated on the first checkpointed micro-batch
};

struct tr_step_result {
    double  loss       = 0.0;  // mean loss over the window's items
    double  n_items    = 0;
    int64_t n_tokens   = 0;    // non-padding tokens processed
    double  grad_norm  = 0.0;  // before clipping
    float   grad_scale = 1.0f; // clipping factor applied
    int64_t iter       = 0;    // optimizer steps after this one
    bool    downscaled = false; // the gradient norm passed max_norm and was scaled down to it
    std::vector<float> scores;  // per-sequence scores of the window's micro-batches, in order
};

struct tr_eval_result {
    double  loss_sum = 0.0;
    double  n_items  = 0;
    int64_t n_tokens = 0;
    std::vector<float> scores;
};

using tr_progress_fn = std::function<void(int done, int total)>;

tr_session * tr_session_init(const tr_session_params & params);  // throws tr_error
void         tr_session_free(tr_session * session);

// Zeroes the gradient, accumulates it over `batches` (dropout on), clips and takes one AdamW step.
// When max_norm > 0 and the gradient norm exceeds it, the gradient is scaled down to max_norm for
// this step (on top of the configured clipping): the habit of taming a step whose gradient
// explodes, without losing the step.
tr_step_result tr_session_train_step(tr_session & s, const std::vector<tr_batch> & batches, float lr,
                                     const tr_progress_fn & progress = nullptr, double max_norm = 0.0);
// Zeroes the gradient and accumulates it over `batches` without dropout and without a step:
// for gradient checks. The gradients stay readable through tr_session_grad().
tr_eval_result tr_session_accumulate(tr_session & s, const std::vector<tr_batch> & batches);
ggml_tensor *  tr_session_grad(const tr_session & s, const char * param_name);
// Loss without gradients and without dropout.
tr_eval_result tr_session_eval(tr_session & s, const tr_batch & batch);
// Logits [n_vocab, n_rows * n_ctx] of every position with the given adapters applied.
std::vector<float> tr_session_logits(tr_session & s, const tr_batch & batch, const tr_lora_set & apply);
// Per-sequence scores ("reward" or "logp", see tr_score_builder) with the given adapters.
std::vector<float> tr_session_scores(tr_session & s, const tr_batch & batch, const tr_lora_set & apply, const std::string & kind);

// What --explain gathered since the last call (and empties it).
std::map<std::string, std::map<std::string, int64_t>> tr_session_explain_take(tr_session & s);
// What --profile gathered since the last call (and empties it): key → (milliseconds, calls).
std::map<std::string, std::pair<double, int64_t>> tr_session_profile_take(tr_session & s);

tr_lora * tr_session_adapter(const tr_session & s, const std::string & name);  // throws when absent
// Adapters by name; an empty list means none (the bare base model).
tr_lora_set tr_session_adapter_set(const tr_session & s, const std::vector<std::string> & names);
// A trainable tensor by name; "adapter/tensor" picks the adapter, a bare name searches all.
ggml_tensor * tr_session_tensor(const tr_session & s, const std::string & name);
int64_t tr_session_n_trainable(const tr_session & s);

// Checkpoint state: the trainable adapters' tensors (named "<adapter>/<tensor>"), AdamW moments
// and step, the dropout counter. The caller (JS)
// stores the data cursor and its own RNG state beside it.
void tr_session_save_state(tr_session & s, const char * path, const std::vector<std::pair<std::string, std::string>> & metadata);
void tr_session_load_state(tr_session & s, const char * path);
