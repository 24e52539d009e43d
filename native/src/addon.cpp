// The N-API surface of the trainer: module functions (createSession, devices, makeModel,
// setLogLevel, build info). Its TypeScript types live in ONE file: main/node/training/native.ts.
// Long calls return promises and run on the libuv pool; the session class is addon-session.cpp.
#include "addon.h"
#include "napi-util.h"
#include "tr-backend.h"
#include "tr-common.h"
#include "tr-make-model.h"
#include "tr-session.h"
#include "tr-state.h"

#include <cstring>
#include <memory>

namespace {

struct addon_data {
    napi_ref session_ctor = nullptr;
};

uint32_t parse_targets(napi_env env, napi_value v) {
    if (napi_is_undefined(env, v)) {
        return (1u << TR_LORA_N_TARGETS) - 1;
    }
    uint32_t bits = 0;
    for (napi_value item : napi_to_array(env, v, "lora.targets")) {
        const std::string name = napi_to_string(env, item, "lora.targets[]");
        bool found = false;
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            if (name == tr_lora_target_short_name((tr_lora_target) t)) {
                bits |= 1u << t;
                found = true;
            }
        }
        if (!found) {
            throw napi_error("unknown LoRA target '" + name + "' (q, k, v, o, gate, up, down)");
        }
    }
    return bits;
}

// ---- module functions ----

napi_value create_session(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        napi_value o = a[0];
        tr_session_params p;
        p.model_path = napi_to_string(env, napi_prop(env, o, "modelPath"), "modelPath");
        p.loss = napi_prop_string(env, o, "lossHead", "lm");
        p.seed = (uint64_t) napi_prop_double(env, o, "seed", 0);
        p.backend.n_threads = (int) napi_prop_double(env, o, "threads", 0);
        if (p.backend.n_threads < 1) {
            throw napi_error("threads must be given (>= 1): the library default oversubscribes small machines");
        }
        p.backend.use_gpu = napi_prop_bool(env, o, "gpu", false);
        p.gradient_checkpointing = napi_prop_bool(env, o, "gradientCheckpointing", false);
        p.loss_chunk_targets = (int64_t) napi_prop_double(env, o, "lossChunkTargets", 0);
        p.backward_slice_values = (int64_t) napi_prop_double(env, o, "backwardSliceValues", 0);
        napi_value loss = napi_prop(env, o, "loss");
        if (!napi_is_undefined(env, loss)) {
            p.loss_params.beta            = (float) napi_prop_double(env, loss, "beta", p.loss_params.beta);
            p.loss_params.label_smoothing = (float) napi_prop_double(env, loss, "labelSmoothing", p.loss_params.label_smoothing);
            p.loss_params.center_coef     = (float) napi_prop_double(env, loss, "centerRewards", p.loss_params.center_coef);
            p.loss_params.clip_range       = (float) napi_prop_double(env, loss, "clipRange", p.loss_params.clip_range);
            p.loss_params.clip_range_value = (float) napi_prop_double(env, loss, "clipRangeValue", p.loss_params.clip_range_value);
            p.loss_params.vf_coef          = (float) napi_prop_double(env, loss, "vfCoef", p.loss_params.vf_coef);
        }
        // `adapters` (named, trainable or frozen, optional head / init file), or the single
        // trainable adapter described by `lora`
        napi_value adapters = napi_prop(env, o, "adapters");
        std::vector<napi_value> list;
        if (!napi_is_undefined(env, adapters)) list = napi_to_array(env, adapters, "adapters");
        else list.push_back(nullptr);
        for (napi_value item : list) {
            tr_adapter_params ap;
            napi_value lora = item ? napi_prop(env, item, "lora") : napi_prop(env, o, "lora");
            if (item) {
                ap.name      = napi_prop_string(env, item, "name", ap.name);
                ap.trainable = napi_prop_bool(env, item, "trainable", true);
                ap.head      = napi_prop_bool(env, item, "head", false);
                ap.init_path = napi_prop_string(env, item, "initFrom", "");
            }
            ap.lora.seed = p.seed;
            ap.lora.targets = (1u << TR_LORA_N_TARGETS) - 1;
            if (!napi_is_undefined(env, lora)) {
                ap.lora.rank    = (int) napi_prop_double(env, lora, "rank", ap.lora.rank);
                ap.lora.alpha   = (float) napi_prop_double(env, lora, "alpha", ap.lora.alpha);
                ap.lora.dropout = (float) napi_prop_double(env, lora, "dropout", ap.lora.dropout);
                ap.lora.targets = parse_targets(env, napi_prop(env, lora, "targets"));
                ap.lora.seed    = (uint64_t) napi_prop_double(env, lora, "seed", (double) p.seed);
            }
            p.adapters.push_back(ap);
        }
        napi_value adamw = napi_prop(env, o, "adamw");
        if (!napi_is_undefined(env, adamw)) {
            p.adamw.beta1        = (float) napi_prop_double(env, adamw, "beta1", p.adamw.beta1);
            p.adamw.beta2        = (float) napi_prop_double(env, adamw, "beta2", p.adamw.beta2);
            p.adamw.eps          = (float) napi_prop_double(env, adamw, "eps", p.adamw.eps);
            p.adamw.weight_decay = (float) napi_prop_double(env, adamw, "weightDecay", p.adamw.weight_decay);
            p.adamw.grad_clip    = (float) napi_prop_double(env, adamw, "gradClip", p.adamw.grad_clip);
        }
        struct task : napi_task {
            tr_session_params p;
            tr_session * s = nullptr;
            void execute() override { s = tr_session_init(p); }
            napi_value resolve(napi_env env) override {
                addon_data * data = nullptr;
                NAPI_CHECK(env, napi_get_instance_data(env, reinterpret_cast<void **>(&data)));
                napi_value ctor, ext, obj;
                NAPI_CHECK(env, napi_get_reference_value(env, data->session_ctor, &ctor));
                NAPI_CHECK(env, napi_create_external(env, s, nullptr, nullptr, &ext));
                tr_session * owned = s;
                s = nullptr;
                if (napi_new_instance(env, ctor, 1, &ext, &obj) != napi_ok) {
                    tr_session_free(owned);
                    throw napi_error("cannot create the session object");
                }
                return obj;
            }
            ~task() override { tr_session_free(s); }  // a session nobody received
        };
        auto * t = new task();
        t->p = p;
        return napi_queue_task(env, "zhongjing.createSession", t, nullptr);
    });
}

napi_value devices(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        std::vector<tr_device_info> devs = tr_backend_devices();
        napi_value arr;
        NAPI_CHECK(env, napi_create_array_with_length(env, devs.size(), &arr));
        for (size_t i = 0; i < devs.size(); ++i) {
            napi_value o = napi_make_object(env);
            napi_set(env, o, "name", napi_make_string(env, devs[i].name));
            napi_set(env, o, "description", napi_make_string(env, devs[i].description));
            napi_set(env, o, "type", napi_make_string(env, devs[i].type));
            napi_set(env, o, "memoryFree", napi_make_double(env, (double) devs[i].memory_free));
            napi_set(env, o, "memoryTotal", napi_make_double(env, (double) devs[i].memory_total));
            NAPI_CHECK(env, napi_set_element(env, arr, (uint32_t) i, o));
        }
        return arr;
    });
}

napi_value make_model(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        napi_value o = a[0];
        struct task : napi_task {
            tr_make_model_params p;
            tr_make_model_result r;
            void execute() override { r = tr_make_model(p); }
            napi_value resolve(napi_env env) override {
                napi_value res = napi_make_object(env);
                napi_set(env, res, "nParams", napi_make_double(env, (double) r.n_params));
                napi_set(env, res, "nConverted", napi_make_double(env, (double) r.n_converted));
                napi_set(env, res, "nKept", napi_make_double(env, (double) r.n_kept));
                return res;
            }
        };
        auto t = std::make_unique<task>();
        t->p.out          = napi_to_string(env, napi_prop(env, o, "out"), "out");
        t->p.type         = napi_prop_string(env, o, "type", "f32");
        t->p.weights_from = napi_prop_string(env, o, "weightsFrom", "");
        t->p.vocab_from   = napi_prop_string(env, o, "vocabFrom", "");
        t->p.arch         = napi_prop_string(env, o, "architecture", "llama");
        t->p.n_embd       = (int64_t) napi_prop_double(env, o, "nEmbd", 0);
        t->p.n_layer      = (int64_t) napi_prop_double(env, o, "nLayer", 0);
        t->p.n_head       = (int64_t) napi_prop_double(env, o, "nHead", 0);
        t->p.n_head_kv    = (int64_t) napi_prop_double(env, o, "nHeadKv", (double) t->p.n_head);
        t->p.n_ff         = (int64_t) napi_prop_double(env, o, "nFf", 0);
        t->p.n_ctx        = (int64_t) napi_prop_double(env, o, "nCtx", 4096);
        t->p.seed         = (uint64_t) napi_prop_double(env, o, "seed", 1);
        if (t->p.weights_from.empty() && t->p.vocab_from.empty()) {
            throw napi_error("makeModel needs weightsFrom (convert) or vocabFrom (random weights)");
        }
        return napi_queue_task(env, "zhongjing.makeModel", t.release(), nullptr);
    });
}

napi_value set_log_level(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        const std::string level = napi_to_string(env, a[0], "level");
        if      (level == "debug") tr_log_set_level(TR_LOG_LEVEL_DEBUG);
        else if (level == "info")  tr_log_set_level(TR_LOG_LEVEL_INFO);
        else if (level == "warn")  tr_log_set_level(TR_LOG_LEVEL_WARN);
        else if (level == "error") tr_log_set_level(TR_LOG_LEVEL_ERROR);
        else throw napi_error("log level must be debug, info, warn or error");
        return nullptr;
    });
}

void addon_data_free(napi_env env, void * data, void *) {
    auto * d = static_cast<addon_data *>(data);
    if (d->session_ctor) napi_delete_reference(env, d->session_ctor);
    delete d;
}

} // namespace

NAPI_MODULE_INIT() {
    return napi_guard(env, [&]() -> napi_value {
        napi_value ctor = session_class_define(env);
        auto * data = new addon_data();
        NAPI_CHECK(env, napi_create_reference(env, ctor, 1, &data->session_ctor));
        NAPI_CHECK(env, napi_set_instance_data(env, data, addon_data_free, nullptr));

        napi_value fn;
        NAPI_CHECK(env, napi_create_function(env, "createSession", NAPI_AUTO_LENGTH, create_session, nullptr, &fn));
        napi_set(env, exports, "createSession", fn);
        NAPI_CHECK(env, napi_create_function(env, "devices", NAPI_AUTO_LENGTH, devices, nullptr, &fn));
        napi_set(env, exports, "devices", fn);
        NAPI_CHECK(env, napi_create_function(env, "makeModel", NAPI_AUTO_LENGTH, make_model, nullptr, &fn));
        napi_set(env, exports, "makeModel", fn);
        NAPI_CHECK(env, napi_create_function(env, "setLogLevel", NAPI_AUTO_LENGTH, set_log_level, nullptr, &fn));
        napi_set(env, exports, "setLogLevel", fn);
        napi_value build = napi_make_object(env);
        napi_set(env, build, "variant", napi_make_string(env, ZJ_VARIANT));
        napi_set(env, build, "binsDir", napi_make_string(env, tr_backend_libs_dir().c_str()));
        napi_set(env, build, "ggmlVersion", napi_make_string(env, ggml_version()));
        napi_set(env, build, "ggmlCommit", napi_make_string(env, ggml_commit()));
        napi_set(env, exports, "build", build);
        return exports;
    });
}
