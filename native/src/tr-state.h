// Reading and writing tensors and metadata as GGUF with ggml's own gguf_* API (no Python
// anywhere): LoRA adapters, checkpoints (LoRA + AdamW moments + counters) and generated models.
// Files appear under their final name only when complete: written beside, fsync'ed, renamed.
#pragma once

#include "ggml.h"
#include "ggml-backend.h"
#include "gguf.h"

#include <string>
#include <vector>

struct tr_gguf_out {
    gguf_context * gguf = nullptr;
    std::vector<ggml_context *> ctxs;  // host copies of the tensors added

    tr_gguf_out();
    ~tr_gguf_out();
    tr_gguf_out(const tr_gguf_out &) = delete;
    tr_gguf_out & operator=(const tr_gguf_out &) = delete;

    // Copies the tensor's data now (from any backend) under `name` (default: its own name).
    void add(const ggml_tensor * t, const char * name = nullptr);
    // Adds a host tensor of the given type from raw bytes.
    void add_raw(const char * name, ggml_type type, const int64_t * ne, int n_dims, const void * data);
    // Atomic write: <path>.tmp-<pid>, fsync, rename. Throws tr_error on I/O failure.
    void write(const char * path) const;
};

struct tr_gguf_in {
    gguf_context * gguf = nullptr;
    ggml_context * meta = nullptr;
    std::string path;

    explicit tr_gguf_in(const char * path);  // throws tr_error
    ~tr_gguf_in();
    tr_gguf_in(const tr_gguf_in &) = delete;
    tr_gguf_in & operator=(const tr_gguf_in &) = delete;

    bool has_tensor(const char * name) const;
    // Reads `name` into `dst` (any backend); type and shape must match exactly.
    void read(const char * name, ggml_tensor * dst) const;
    std::string get_str(const char * key, const char * fallback = "") const;
};
