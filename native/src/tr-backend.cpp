#include "tr-backend.h"

#include "tr-common.h"

#include <dlfcn.h>
#include <stdlib.h>

std::string tr_backend_libs_dir() {
    // The directory of the libggml-base the dynamic loader found through our $ORIGIN-relative
    // rpath: node-llama-cpp's bins in this checkout or in the packaged app alike (never a path
    // fixed at build time). Its backend libraries (libggml-cpu-*.so, CUDA, ...) sit beside it.
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&ggml_backend_load_all_from_path), &info) == 0 || info.dli_fname == nullptr) {
        return "";
    }
    char * real = realpath(info.dli_fname, nullptr);
    std::string path = real != nullptr ? real : info.dli_fname;
    free(real);
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

void tr_backend_ensure_loaded() {
    if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) != nullptr) {
        return;
    }
    // The addon was loaded without node-llama-cpp having initialised its backends first (e.g. a
    // benchmark that only trains). Load them from the directory of the libggml we are linked to;
    // loading node-llama-cpp afterwards in the same process would register them a second time,
    // which is why the JS loader always initialises node-llama-cpp first.
    const std::string dir = tr_backend_libs_dir();
    TR_LOG_WARN("no ggml CPU device registered yet: loading backends from %s", dir.c_str());
    ggml_backend_load_all_from_path(dir.empty() ? nullptr : dir.c_str());
}

static const char * tr_device_type_name(enum ggml_backend_dev_type type) {
    switch (type) {
        case GGML_BACKEND_DEVICE_TYPE_CPU:   return "cpu";
        case GGML_BACKEND_DEVICE_TYPE_GPU:   return "gpu";
        case GGML_BACKEND_DEVICE_TYPE_IGPU:  return "igpu";
        case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
        default:                             return "other";
    }
}

std::vector<tr_device_info> tr_backend_devices() {
    tr_backend_ensure_loaded();
    std::vector<tr_device_info> out;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        tr_device_info info;
        info.name        = ggml_backend_dev_name(dev);
        info.description = ggml_backend_dev_description(dev);
        info.type        = tr_device_type_name(ggml_backend_dev_type(dev));
        ggml_backend_dev_memory(dev, &info.memory_free, &info.memory_total);
        out.push_back(info);
    }
    return out;
}

static void tr_backend_set_threads(ggml_backend_t backend, int n_threads) {
    ggml_backend_dev_t dev = ggml_backend_get_device(backend);
    ggml_backend_reg_t reg = dev ? ggml_backend_dev_backend_reg(dev) : nullptr;
    if (!reg) {
        return;
    }
    auto * set_n_threads = (ggml_backend_set_n_threads_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads");
    if (set_n_threads) {
        set_n_threads(backend, n_threads);
    }
}

void tr_backend_init(tr_backend & backend, const tr_backend_params & params) {
    tr_backend_ensure_loaded();

    ggml_backend_dev_t cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!cpu_dev) {
        throw tr_error("no ggml CPU device: node-llama-cpp's CPU backend library could not be loaded");
    }
    backend.cpu = ggml_backend_dev_init(cpu_dev, nullptr);
    if (!backend.cpu) {
        throw tr_error("cannot initialise the ggml CPU backend");
    }
    backend.n_threads = params.n_threads > 0 ? params.n_threads : 1;
    tr_backend_set_threads(backend.cpu, backend.n_threads);
    TR_LOG_INFO("CPU backend %s: n_threads = %d (set explicitly; ggml's default would oversubscribe small machines)",
        ggml_backend_dev_description(cpu_dev), backend.n_threads);

    if (params.use_gpu) {
        for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
            ggml_backend_dev_t dev = ggml_backend_dev_get(i);
            if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
                backend.gpu = ggml_backend_dev_init(dev, nullptr);
                if (backend.gpu) {
                    backend.device = tr_format("%s (%s)", ggml_backend_dev_name(dev), ggml_backend_dev_description(dev));
                    TR_LOG_INFO("GPU backend: %s", backend.device.c_str());
                    break;
                }
            }
        }
        if (!backend.gpu) {
            TR_LOG_WARN("a GPU was requested but none is available: training on the CPU");
        }
    }
    backend.main = backend.gpu ? backend.gpu : backend.cpu;
    if (!backend.gpu) {
        backend.device = tr_format("CPU (%s, %d threads)", ggml_backend_dev_description(cpu_dev), backend.n_threads);
    }

}

void tr_backend_sched_init(tr_backend & backend, size_t graph_size) {
    // The scheduler wants the CPU backend last; ops the GPU cannot run fall back to it.
    ggml_backend_t backends[2];
    int n_backends = 0;
    if (backend.gpu) {
        backends[n_backends++] = backend.gpu;
    }
    backends[n_backends++] = backend.cpu;
    backend.sched = ggml_backend_sched_new(backends, nullptr, n_backends, graph_size, /*parallel =*/ false, /*op_offload =*/ true);
    if (!backend.sched) {
        throw tr_error("cannot create the ggml backend scheduler");
    }
}

void tr_backend_set_cpu_threads(tr_backend & backend, int n_threads) {
    tr_backend_set_threads(backend.cpu, n_threads);
}

void tr_backend_free(tr_backend & backend) {
    if (backend.sched) ggml_backend_sched_free(backend.sched);
    if (backend.gpu)   ggml_backend_free(backend.gpu);
    if (backend.cpu)   ggml_backend_free(backend.cpu);
    backend = tr_backend();
}
