// Compute backends for training: the CPU device always, plus one GPU device when asked for and
// present. The devices come from ggml's backend registry, which lives in the shared libggml that
// node-llama-cpp loaded first, so both use the same dlopen'ed CPU (or CUDA) library.
#pragma once

#include "ggml-backend.h"

#include <string>
#include <vector>

struct tr_backend_params {
    int  n_threads = 1;      // CPU threads; never ggml's default (see ARCHITECTURE.md "Threads")
    bool use_gpu   = false;  // pick the first GPU device when there is one
};

struct tr_backend {
    ggml_backend_t cpu  = nullptr;
    ggml_backend_t gpu  = nullptr;  // null on CPU-only runs
    ggml_backend_t main = nullptr;  // where weights, LoRA and optimizer state live: gpu ?: cpu
    ggml_backend_sched_t sched = nullptr;
    int n_threads = 1;
    std::string device;             // description of the main device, for logs and run records
};

// Throws tr_error when no CPU device can be found.
void tr_backend_init(tr_backend & backend, const tr_backend_params & params);
// The scheduler, sized for graphs of up to graph_size nodes (known once the model is read).
void tr_backend_sched_init(tr_backend & backend, size_t graph_size);
// Threads of the CPU backend for the next computes (backend.n_threads stays the configured count).
void tr_backend_set_cpu_threads(tr_backend & backend, int n_threads);
void tr_backend_free(tr_backend & backend);

struct tr_device_info {
    std::string name;
    std::string description;
    std::string type;  // cpu | gpu | igpu | accel
    size_t memory_free  = 0;
    size_t memory_total = 0;
};

// Directory of the libggml-base.so loaded into this process (found at run time, so it is right in
// a checkout and in the packaged app); "" if unknown.
std::string tr_backend_libs_dir();
// Registers the backends of the bundled binaries if nobody did (node-llama-cpp normally has).
void tr_backend_ensure_loaded();
std::vector<tr_device_info> tr_backend_devices();
