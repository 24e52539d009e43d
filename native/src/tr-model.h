// The frozen base model: hyper-parameters and weights read from a GGUF file into a backend
// buffer. Weights keep their stored type (F32, F16, Q8_0, Q4_0, Q4_K, ...): ggml's mul_mat and
// out_prod have quantised CPU paths, so LoRA trains on top of a quantised base without a copy.
#pragma once

#include "ggml.h"
#include "ggml-backend.h"
#include "gguf.h"

#include <string>
#include <vector>

enum tr_arch {
    TR_ARCH_LLAMA,
    TR_ARCH_QWEN2,
};

struct tr_hparams {
    int64_t n_vocab     = 0;
    int64_t n_embd      = 0;
    int64_t n_layer     = 0;
    int64_t n_head      = 0;
    int64_t n_head_kv   = 0;
    int64_t n_ff        = 0;
    int64_t n_embd_head = 0;
    int64_t n_rot       = 0;
    int64_t n_ctx_train = 0;
    int     rope_type   = 0;    // GGML_ROPE_TYPE_NORMAL (llama) or GGML_ROPE_TYPE_NEOX (qwen2)
    float   rope_freq_base  = 10000.0f;
    float   rope_freq_scale = 1.0f;
    float   rms_eps     = 1e-5f;

    int64_t n_embd_kv() const { return n_embd_head * n_head_kv; }
};

struct tr_layer {
    ggml_tensor * attn_norm = nullptr;
    ggml_tensor * wq = nullptr, * wk = nullptr, * wv = nullptr, * wo = nullptr;
    ggml_tensor * bq = nullptr, * bk = nullptr, * bv = nullptr;  // qwen2 only
    ggml_tensor * ffn_norm = nullptr;
    ggml_tensor * ffn_gate = nullptr, * ffn_up = nullptr, * ffn_down = nullptr;
};

struct tr_model {
    std::string path;
    std::string arch_name;
    tr_arch     arch = TR_ARCH_LLAMA;
    tr_hparams  hp;
    ggml_type   weight_type = GGML_TYPE_F32;  // type of blk.0.attn_q.weight, for reports

    ggml_context *        ctx = nullptr;
    ggml_backend_buffer_t buf = nullptr;

    ggml_tensor * tok_embd    = nullptr;
    ggml_tensor * output_norm = nullptr;
    ggml_tensor * output      = nullptr;  // == tok_embd when the model ties embeddings
    std::vector<tr_layer> layers;
};

// Throws tr_error on a missing file, an unsupported architecture or a wrong tensor shape.
tr_model * tr_model_load(const char * path, ggml_backend_t backend);
void       tr_model_free(tr_model * model);

// Integer / float metadata of any stored integer width; -1 / fallback when absent.
int64_t tr_gguf_get_int(const gguf_context * gguf, const char * key, int64_t fallback);
float   tr_gguf_get_f32(const gguf_context * gguf, const char * key, float fallback);
