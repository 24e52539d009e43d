// Test and benchmark models without downloads: either a copy of an existing GGUF with its 2-D
// weight matrices converted to another type (F16, Q8_0, Q4_0, Q4_K, ...), or a random-weight
// model with real shapes (e.g. Qwen2-0.5B's) that borrows another GGUF's tokenizer. Speed does not
// depend on the weights' values, and the tokenizer makes the file loadable by node-llama-cpp.
#pragma once

#include "ggml.h"

#include <cstdint>
#include <string>

struct tr_make_model_params {
    std::string out;
    std::string type = "f32";  // ggml type name of the 2-D weights: f32, f16, q8_0, q4_0, q4_K, ...
    // mode 1: convert this model's weights
    std::string weights_from;
    // mode 2: random weights with these shapes, tokenizer copied from vocab_from, or — without
    // vocab_from — n_vocab tokens and no tokenizer (enough for the trainer, not for llama.cpp)
    std::string vocab_from;
    int64_t n_vocab = 0;
    std::string arch = "llama";  // llama | qwen2
    int64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx = 4096;
    uint64_t seed = 1;
    float std = 0.02f;
};

struct tr_make_model_result {
    int64_t n_params = 0;
    int64_t n_converted = 0;  // matrices stored in the requested type
    int64_t n_kept = 0;       // matrices written in llama.cpp's fallback type: their rows do not fit the type's blocks
};

tr_make_model_result tr_make_model(const tr_make_model_params & params);  // throws tr_error
ggml_type tr_type_from_name(const std::string & name);                      // throws tr_error
