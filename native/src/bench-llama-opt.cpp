// A separate, benchmark-only addon (zhongjing_bench.node): runs llama.cpp's own training path,
// llama_opt_init + llama_opt_epoch (ggml-opt, cross-entropy over every position, full vocabulary
// one-hot labels), on a model and token stream, and reports tokens/s. bench/train-throughput.ts
// puts it side by side with the trainer addon. Kept out of zhongjing_trainer.node so the product
// does not link libllama.
#include "napi-util.h"
#include "tr-common.h"

#include "ggml-opt.h"
#include "llama.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct filter_ud {
    std::string only;  // empty: every tensor llama_opt offers
};

bool param_filter(const struct ggml_tensor * tensor, void * userdata) {
    const auto * ud = static_cast<const filter_ud *>(userdata);
    return ud->only.empty() || ud->only == tensor->name;
}

struct opt_pars_ud {
    float lr;
};

ggml_opt_optimizer_params opt_pars(void * userdata) {
    ggml_opt_optimizer_params p = ggml_opt_get_default_optimizer_params(nullptr);
    p.adamw.alpha = static_cast<opt_pars_ud *>(userdata)->lr;
    p.adamw.wd = 0.0f;
    return p;
}

struct bench_task : napi_task {
    std::string model_path;
    std::vector<int32_t> tokens;
    int n_ctx = 256;
    int n_threads = 1;
    int epochs = 1;
    filter_ud filter;
    bool apply_threads = true;
    double seconds = 0.0;
    int64_t n_tokens = 0;
    double loss = 0.0;
    std::vector<double> epoch_seconds;

    void execute() override {
        llama_model_params mp = llama_model_default_params();
        mp.n_gpu_layers = 0;
        mp.load_mode = LLAMA_LOAD_MODE_NONE;  // llama_opt writes the weights: no mmap (as llama-finetune forces)
        mp.use_extra_bufts = false;
        llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
        if (!model) {
            throw tr_error("llama.cpp could not load " + model_path);
        }
        llama_context_params cp = llama_context_default_params();
        cp.n_ctx = n_ctx;
        cp.n_batch = n_ctx;
        cp.n_ubatch = n_ctx;
        cp.n_threads = n_threads;
        cp.n_threads_batch = n_threads;
        cp.type_k = GGML_TYPE_F32;  // as llama-finetune forces: OUT_PROD has no F16 path
        cp.type_v = GGML_TYPE_F32;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        llama_context * ctx = llama_init_from_model(model, cp);
        if (!ctx) {
            llama_model_free(model);
            throw tr_error("llama.cpp could not create a context");
        }
        TR_LOG_INFO("llama_opt bench: n_ctx %d, %d threads, trainable: %s", n_ctx, n_threads,
            filter.only.empty() ? "all" : filter.only.c_str());
        if (apply_threads) {
            // llama_opt_epoch computes through ggml-opt straight on the scheduler, never through
            // llama_context::graph_compute, which is where the context's thread count is applied
            // to the CPU backend: without this, training runs with ggml's default (4 threads) —
            // on a 2-core machine that is the oversubscription the design notes measured. One
            // decode applies n_threads to the backend, and the setting sticks.
            llama_token t = tokens[0];
            llama_batch b = llama_batch_get_one(&t, 1);
            if (llama_decode(ctx, b) != 0) {
                TR_LOG_WARN("warm-up decode failed; llama_opt keeps ggml's default thread count");
            }
            llama_memory_clear(llama_get_memory(ctx), true);
        }

        // datapoints of n_ctx tokens with a stride of n_ctx (no overlap), labels shifted by one
        const int64_t ndata = ((int64_t) tokens.size() - 1) / n_ctx;
        if (ndata < 1) {
            llama_free(ctx);
            llama_model_free(model);
            throw tr_error("not enough tokens for one datapoint");
        }
        ggml_opt_dataset_t dataset = ggml_opt_dataset_init(GGML_TYPE_I32, GGML_TYPE_I32, n_ctx, n_ctx, ndata, 1);
        auto * data = (int32_t *) ggml_opt_dataset_data(dataset)->data;
        auto * labels = (int32_t *) ggml_opt_dataset_labels(dataset)->data;
        for (int64_t i = 0; i < ndata; ++i) {
            for (int j = 0; j < n_ctx; ++j) {
                data[i * n_ctx + j] = tokens[i * n_ctx + j];
                labels[i * n_ctx + j] = tokens[i * n_ctx + j + 1];
            }
        }
        opt_pars_ud pars{1e-5f};
        llama_opt_params op{};
        op.n_ctx_train = 0;
        op.param_filter = param_filter;
        op.param_filter_ud = &filter;
        op.get_opt_pars = opt_pars;
        op.get_opt_pars_ud = &pars;
        op.optimizer_type = GGML_OPT_OPTIMIZER_TYPE_ADAMW;
        llama_opt_init(ctx, model, op);

        ggml_opt_result_t result = ggml_opt_result_init();
        for (int e = 0; e < epochs; ++e) {
            ggml_opt_result_reset(result);
            const auto t0 = std::chrono::steady_clock::now();
            llama_opt_epoch(ctx, dataset, result, nullptr, ndata, nullptr, nullptr);
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            epoch_seconds.push_back(s);
        }
        double unc = 0.0;
        ggml_opt_result_loss(result, &loss, &unc);
        // the first epoch includes graph building and allocation warm-up: report the rest when there is one
        seconds = epochs > 1 ? 0.0 : epoch_seconds[0];
        for (int e = 1; e < epochs; ++e) seconds += epoch_seconds[e];
        n_tokens = ndata * n_ctx * (epochs > 1 ? epochs - 1 : 1);
        ggml_opt_result_free(result);
        ggml_opt_dataset_free(dataset);
        llama_free(ctx);
        llama_model_free(model);
    }

    napi_value resolve(napi_env env) override {
        napi_value o = napi_make_object(env);
        napi_set(env, o, "seconds", napi_make_double(env, seconds));
        napi_set(env, o, "tokens", napi_make_double(env, (double) n_tokens));
        napi_set(env, o, "tokensPerSecond", napi_make_double(env, seconds > 0 ? n_tokens / seconds : 0));
        napi_set(env, o, "loss", napi_make_double(env, loss));
        return o;
    }
};

napi_value bench_llama_opt(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        auto t = std::make_unique<bench_task>();
        t->model_path = napi_to_string(env, napi_prop(env, a[0], "modelPath"), "modelPath");
        t->tokens = napi_to_int32_vector(env, napi_prop(env, a[0], "tokens"), "tokens");
        t->n_ctx = (int) napi_prop_double(env, a[0], "nCtx", 256);
        t->n_threads = (int) napi_prop_double(env, a[0], "threads", 0);
        t->epochs = (int) napi_prop_double(env, a[0], "epochs", 2);
        t->filter.only = napi_prop_string(env, a[0], "onlyTensor", "");
        t->apply_threads = napi_prop_bool(env, a[0], "applyThreads", true);
        if (t->n_threads < 1) {
            throw napi_error("threads must be given");
        }
        return napi_queue_task(env, "zhongjing.benchLlamaOpt", t.release(), nullptr);
    });
}

} // namespace

NAPI_MODULE_INIT() {
    return napi_guard(env, [&]() -> napi_value {
        napi_value fn;
        NAPI_CHECK(env, napi_create_function(env, "benchLlamaOpt", NAPI_AUTO_LENGTH, bench_llama_opt, nullptr, &fn));
        napi_set(env, exports, "benchLlamaOpt", fn);
        return exports;
    });
}
