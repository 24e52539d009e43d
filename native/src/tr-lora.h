// LoRA adapters on the base model's projection matrices. Layout matches what llama.cpp loads:
// for a weight W with ne = [n_in, n_out], lora_a has ne = [n_in, r] and lora_b ne = [r, n_out],
// and the layer computes W x + (alpha / r) · B (A x). B starts at zero, so training starts
// from the base model exactly.
//
// One session holds several named adapters on ONE copy of the base weights (see tr-session.h):
// a trainable policy, a frozen reference, a reward model with its scalar head, later a value
// model. An adapter may carry a scalar head (ne = [n_embd, 1], "zhongjing.score.weight") that
// maps the final hidden state of a sequence's last token to one number (reward or value).
#pragma once

#include "tr-model.h"

#include <array>
#include <utility>
#include <cstdint>
#include <string>
#include <vector>

enum tr_lora_target {
    TR_LORA_Q = 0,
    TR_LORA_K,
    TR_LORA_V,
    TR_LORA_O,
    TR_LORA_GATE,
    TR_LORA_UP,
    TR_LORA_DOWN,
    TR_LORA_N_TARGETS,
};

// The GGUF tensor name stem ("attn_q", ...) and the short name used in options ("q", ...).
const char * tr_lora_target_gguf_name(tr_lora_target target);
const char * tr_lora_target_short_name(tr_lora_target target);

struct tr_lora_params {
    int      rank    = 8;
    float    alpha   = 16.0f;
    float    dropout = 0.0f;    // on the LoRA path's input, as PEFT's lora_dropout
    uint32_t targets = 0;       // bit (1 << tr_lora_target)
    uint64_t seed    = 0;       // A's initialisation
};

struct tr_lora_pair {
    ggml_tensor * a = nullptr;
    ggml_tensor * b = nullptr;
};

struct tr_lora {
    std::string name = "train";  // how a forward pass names it
    bool trainable = true;       // frozen adapters get no gradient, no optimizer state, no dropout
    tr_lora_params params;
    float scale = 1.0f;  // alpha / rank

    std::vector<std::array<tr_lora_pair, TR_LORA_N_TARGETS>> layers;
    ggml_tensor * head = nullptr;        // optional scalar head [n_embd, 1]
    bool head_from_file = false;
    std::vector<ggml_tensor *> tensors;  // every tensor, in a fixed order (a then b, layer by layer; the head last)

    ggml_context *        ctx = nullptr;
    ggml_backend_buffer_t buf = nullptr;
};

extern const char * const TR_LORA_HEAD_NAME;  // "zhongjing.score.weight"

// A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) from the seed (PEFT's kaiming-uniform bound), B = 0; the
// head (when asked for) ~ U(-1/sqrt(n_embd), 1/sqrt(n_embd)) from its own stream.
tr_lora * tr_lora_init(const tr_model & model, const tr_lora_params & params, ggml_backend_t backend,
                       bool with_head = false);
// An adapter written by tr_lora_export (or any llama.cpp LoRA GGUF of this layout): rank, alpha,
// targets and head come from the file. Throws tr_error when the file is not a LoRA adapter, was
// made for another architecture, or its shapes do not fit this base model.
// want_head adds a freshly initialised head when the file has none (a reward model started from
// an SFT adapter); `head_from_file` tells which happened.
tr_lora * tr_lora_load(const tr_model & model, const char * path, ggml_backend_t backend, bool want_head = false);
void      tr_lora_free(tr_lora * lora);

ggml_tensor * tr_lora_find(const tr_lora & lora, const char * name);
int64_t       tr_lora_n_params(const tr_lora & lora);

// Writes a LoRA GGUF that llama.cpp (and so node-llama-cpp) loads: general.type=adapter,
// adapter.type=lora, adapter.lora.alpha, tensors blk.N.<target>.weight.lora_{a,b} in F32.
// `metadata` pairs are stored as strings (provenance). Written to a temporary file, then renamed.
// with_head = false leaves the scalar head out: llama.cpp refuses any tensor that is not a LoRA
// pair, so a policy with a value head is exported for inference without it.
void tr_lora_export(const tr_lora & lora, const tr_model & model, const char * path,
                    const std::vector<std::pair<std::string, std::string>> & metadata, bool with_head = true);
