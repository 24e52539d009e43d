// LoRA adapters on the base model's projection matrices. Layout matches what llama.cpp loads:
// for a weight W with ne = [n_in, n_out], lora_a has ne = [n_in, r] and lora_b ne = [r, n_out],
// and the layer computes W x + (alpha / r) · B (A x). B starts at zero, so training starts
// from the base model exactly.
#pragma once

#include "tr-model.h"

#include <array>
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
    tr_lora_params params;
    float scale = 1.0f;  // alpha / rank

    std::vector<std::array<tr_lora_pair, TR_LORA_N_TARGETS>> layers;
    std::vector<ggml_tensor *> tensors;  // every trainable tensor, in a fixed order (a then b, layer by layer)

    ggml_context *        ctx = nullptr;
    ggml_backend_buffer_t buf = nullptr;
};

// A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) from the seed (PEFT's kaiming-uniform bound), B = 0.
tr_lora * tr_lora_init(const tr_model & model, const tr_lora_params & params, ggml_backend_t backend);
void      tr_lora_free(tr_lora * lora);

ggml_tensor * tr_lora_find(const tr_lora & lora, const char * name);
int64_t       tr_lora_n_params(const tr_lora & lora);

// Writes a LoRA GGUF that llama.cpp (and so node-llama-cpp) loads: general.type=adapter,
// adapter.type=lora, adapter.lora.alpha, tensors blk.N.<target>.weight.lora_{a,b} in F32.
// `metadata` pairs are stored as strings (provenance). Written to a temporary file, then renamed.
void tr_lora_export(const tr_lora & lora, const tr_model & model, const char * path,
                    const std::vector<std::pair<std::string, std::string>> & metadata);
