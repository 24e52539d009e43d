// The transformer forward graph for training (llama, qwen2), written with ops that all have a
// backward pass in this ggml: get_rows, rms_norm, mul_mat, rope_ext, soft_max_ext with a mask,
// swiglu in its split form, add/mul/scale, permute/cont/reshape, repeat. It mirrors llama.cpp's
// graph (same ops, same order) so its logits match llama.cpp's on the same GGUF.
#pragma once

#include "tr-lora.h"
#include "tr-model.h"

#include <cstdint>
#include <vector>

// One micro-batch on the host: n_rows rows of n_ctx tokens. A row holds one padded sequence or
// several packed ones; `seg` numbers the sequences inside a row (-1 = padding) and `pos` restarts
// at 0 for each, so a token attends only to earlier tokens of its own sequence, exactly as if
// that sequence were evaluated alone. `targets` is the next token to predict at each position,
// or -1 where no loss is taken (prompt and user turns in SFT, padding).
struct tr_batch {
    int32_t n_rows = 0;
    int32_t n_ctx  = 0;
    std::vector<int32_t> tokens;
    std::vector<int32_t> pos;
    std::vector<int32_t> seg;
    std::vector<int32_t> targets;

    // Preference heads (reward model, DPO): sequences are numbered in order of appearance
    // (row-major; each (row, seg) is one sequence). Each pair says sequence `better` is preferred
    // to `worse`; its loss is w · [(1-ε) softplus(-z) + ε softplus(z)] with
    // z = β (score[better] - score[worse] - offset). The offset is the RM's margin or DPO's
    // reference log-ratio. seq_weights (optional) weigh the reward-centering term score².
    std::vector<int32_t> pairs;         // 2 per pair: better, worse
    std::vector<float>   pair_weights;  // 1 per pair
    std::vector<float>   pair_offsets;  // 1 per pair
    std::vector<float>   seq_weights;   // empty, or 1 per sequence
    // PPO: per target position (target order), 4 runs of n_targets values (see tr-loss.h)
    std::vector<float>   target_values;

    int64_t n_tokens() const { return (int64_t) n_rows * n_ctx; }
    int64_t n_pairs() const { return (int64_t) pair_weights.size(); }
    // The sequences in order: for each, the flat index of its last token.
    std::vector<int32_t> sequence_ends() const;
    // Sequence number of each flat position (-1 for padding).
    std::vector<int32_t> sequence_of_position() const;
    int64_t n_targets() const;
    int64_t n_real_tokens() const;  // tokens that are not padding
    // Throws tr_error on inconsistent sizes or out-of-range ids.
    void validate(int64_t n_vocab) const;
};

// The adapters a forward pass applies, each added on top of the frozen base (W x + Σ scale·B A x).
using tr_lora_set = std::vector<const tr_lora *>;

struct tr_graph_params {
    bool     dropout         = false;  // training forward: LoRA dropout on the trainable adapters
    float    dropout_p       = 0.0f;   // the LoRA dropout probability
    uint64_t seed            = 0;
    uint64_t dropout_counter = 0;      // the micro-step: selects this forward's dropout masks
};

// Input tensors of a built graph, filled by tr_graph_set_inputs after allocation.
struct tr_graph_inputs {
    ggml_tensor * tokens = nullptr;        // I32 [N]
    ggml_tensor * pos    = nullptr;        // I32 [N]
    ggml_tensor * mask   = nullptr;        // F32 [n_ctx, n_ctx, 1, n_rows]: 0 or -INF
    ggml_tensor * dropout_pool = nullptr;  // F32 [pool]: 0 or 1/(1-p)
    ggml_tensor * row_index = nullptr;     // I32 [rows]: 0, 1, 2, … (made by tr_graph_backward_rewrite)
};

// Which part of the body a graph holds. The default is all of it: token embeddings, every layer,
// the final RMS norm. Gradient checkpointing builds pieces: the layers once without a backward,
// keeping each layer's input (`layer_inputs`); then the final norm alone on the last layer's
// output; then each layer alone again, from its kept input, with its backward.
struct tr_graph_span {
    int first = 0;                                      // layers [first, last)
    int last  = -1;                                     // -1: up to the last layer
    ggml_tensor * input = nullptr;                      // layer `first`'s input [n_embd, N]; nullptr: the token embeddings
    bool final_norm = true;                             // end with the final RMS norm (only when last is the last layer)
    std::vector<ggml_tensor *> * layer_inputs = nullptr;  // receives each built layer's input, in order
};

// Builds the body (by default up to and including the final RMS norm): returns hidden states [n_embd, N].
ggml_tensor * tr_graph_build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras,
                             const tr_batch & batch, const tr_graph_params & gp, tr_graph_inputs & inp,
                             const tr_graph_span & span = tr_graph_span());

// Values of the dropout pool for a micro-batch of n_tokens tokens.
int64_t tr_graph_dropout_pool_size(const tr_model & model, int64_t n_tokens);

// The language-model head: logits [n_vocab, n] for hidden [n_embd, n].
ggml_tensor * tr_graph_lm_head(ggml_context * ctx, const tr_model & model, ggml_tensor * hidden);

// The host-side mask and dropout pool of one micro-batch, made by the first tr_graph_set_inputs that
// needs them and uploaded as they are by the next: gradient checkpointing builds a graph per layer.
struct tr_graph_host_inputs {
    std::vector<float> mask;
    std::vector<float> pool;
};

// Uploads the inputs the graph has (a piece of the body may lack tokens, positions or the mask).
void tr_graph_set_inputs(const tr_graph_inputs & inp, const tr_batch & batch, const tr_graph_params & gp,
                         tr_graph_host_inputs * host = nullptr);

// ggml builds the gradient of y = mul_mat(W, x) with respect to x as out_prod(W, dyᵀ). For a frozen
// F16 or quantised W that op dequantises a row of W once per token on the CPU (86 % of an F16
// step) and has no CUDA kernel at all (CUDA's OUT_PROD takes F32 only, so the scheduler would
// quietly run it on the CPU); even in F32 it is ~1.7x slower than the GEMM of the forward pass.
// This returns the same graph with those nodes turned into dx = mul_mat(Wᵀ, dy), Wᵀ made just
// before from W (dequantised by get_rows for any type, on any backend; transposed), and LoRA
// B's short-row gradient computed along its long side. The copies live only until their one
// user has run. `gf` is the graph after ggml_build_backward_expand; the result has no gradient
// bookkeeping (the accumulators are in place already) and is what gets allocated and computed.
// `inp.row_index` is created here when a weight needs dequantising. `wt_type` is Wᵀ's type: F32
// on the CPU (exact), BF16 on a GPU (cuBLAS then multiplies in BF16 on tensor cores, with dy in
// BF16 too: F32's range, the precision PyTorch's bf16 training has). `on_cpu`: LoRA B's forward,
// whose contraction is only the rank long, also becomes multiply-adds along its long side.
// `slice_values` (0 = TR_BACKWARD_SLICE_VALUES): a Wᵀ larger than this is made and multiplied in
// slices of about this many values, dx = Σ W_sᵀ·dy_s, one slice's copies held at a time.
ggml_cgraph * tr_graph_backward_rewrite(ggml_context * ctx, ggml_cgraph * gf, size_t graph_size, ggml_type wt_type,
                                        bool on_cpu, int64_t slice_values, tr_graph_inputs & inp);

// 2^25 values (128 MB as F32): for Qwen2 that slices the LM head (152k × n_embd; 2.2 GB of F32 at
// 7B, 0.5 GB at 0.5B) and, at 7B, the FFN's widest weights in two; everything else stays whole.
constexpr int64_t TR_BACKWARD_SLICE_VALUES = int64_t(1) << 25;

// Nodes a graph of this model needs (forward + backward + optimizer), for sizing contexts.
size_t tr_graph_size(const tr_model & model);
