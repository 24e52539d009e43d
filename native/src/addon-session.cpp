// The TrainingSession class of the addon: promise-returning methods that run on the libuv pool
// (one at a time per session: `busy`), cheap synchronous accessors, and dispose(). Its
// TypeScript declaration is NativeTrainingSession in main/node/training/native.ts.
#include "addon.h"
#include "tr-common.h"
#include "tr-session.h"
#include "tr-state.h"

#include <cstring>

namespace {

struct session_wrap {
    tr_session * s = nullptr;
    bool busy = false;  // only touched on the JS thread
    napi_ref self = nullptr;  // held while a call is in flight, so GC cannot free a working session
};

session_wrap * unwrap(napi_env env, napi_value self, bool allow_busy = false) {
    session_wrap * w = nullptr;
    NAPI_CHECK(env, napi_unwrap(env, self, reinterpret_cast<void **>(&w)));
    if (!w || !w->s) {
        throw napi_error("the training session has been disposed");
    }
    if (w->busy && !allow_busy) {
        throw napi_error("the training session is busy with another call");
    }
    return w;
}

// ---- argument conversion ----

tr_batch parse_batch(napi_env env, napi_value v) {
    tr_batch b;
    b.n_rows  = (int32_t) napi_to_int64(env, napi_prop(env, v, "nRows"), "batch.nRows");
    b.n_ctx   = (int32_t) napi_to_int64(env, napi_prop(env, v, "nCtx"), "batch.nCtx");
    b.tokens  = napi_to_int32_vector(env, napi_prop(env, v, "tokens"), "batch.tokens");
    b.pos     = napi_to_int32_vector(env, napi_prop(env, v, "positions"), "batch.positions");
    b.seg     = napi_to_int32_vector(env, napi_prop(env, v, "segments"), "batch.segments");
    b.targets = napi_to_int32_vector(env, napi_prop(env, v, "targets"), "batch.targets");
    // preference heads only (see tr_batch::pairs)
    if (!napi_is_undefined(env, napi_prop(env, v, "pairs"))) {
        b.pairs        = napi_to_int32_vector(env, napi_prop(env, v, "pairs"), "batch.pairs");
        b.pair_weights = napi_to_float_vector(env, napi_prop(env, v, "pairWeights"), "batch.pairWeights");
        b.pair_offsets = napi_to_float_vector(env, napi_prop(env, v, "pairOffsets"), "batch.pairOffsets");
    }
    if (!napi_is_undefined(env, napi_prop(env, v, "targetValues"))) {
        b.target_values = napi_to_float_vector(env, napi_prop(env, v, "targetValues"), "batch.targetValues");
    }
    if (!napi_is_undefined(env, napi_prop(env, v, "sequenceWeights"))) {
        b.seq_weights = napi_to_float_vector(env, napi_prop(env, v, "sequenceWeights"), "batch.sequenceWeights");
    }
    return b;
}

// An adapter list argument: undefined → `fallback`, true → the trainable set, false → none,
// or an array of adapter names.
tr_lora_set parse_apply(napi_env env, napi_value v, const tr_session & s, const tr_lora_set & fallback) {
    if (napi_is_undefined(env, v)) return fallback;
    napi_valuetype t;
    NAPI_CHECK(env, napi_typeof(env, v, &t));
    if (t == napi_boolean) return napi_to_bool(env, v, "adapters") ? s.train_set : tr_lora_set{};
    std::vector<std::string> names;
    for (napi_value item : napi_to_array(env, v, "adapters")) names.push_back(napi_to_string(env, item, "adapters[]"));
    return tr_session_adapter_set(s, names);
}

std::vector<tr_batch> parse_batches(napi_env env, napi_value v) {
    std::vector<tr_batch> out;
    for (napi_value item : napi_to_array(env, v, "batches")) {
        out.push_back(parse_batch(env, item));
    }
    if (out.empty()) {
        throw napi_error("batches must not be empty");
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_metadata(napi_env env, napi_value v) {
    std::vector<std::pair<std::string, std::string>> out;
    if (napi_is_undefined(env, v)) {
        return out;
    }
    napi_value keys;
    NAPI_CHECK(env, napi_get_property_names(env, v, &keys));
    for (napi_value k : napi_to_array(env, keys, "metadata keys")) {
        const std::string key = napi_to_string(env, k, "metadata key");
        napi_value val;
        NAPI_CHECK(env, napi_get_property(env, v, k, &val));
        out.emplace_back(key, napi_to_string(env, val, "metadata value"));
    }
    return out;
}

napi_value eval_result_to_js(napi_env env, const tr_eval_result & r) {
    napi_value o = napi_make_object(env);
    napi_set(env, o, "lossSum", napi_make_double(env, r.loss_sum));
    napi_set(env, o, "nItems", napi_make_double(env, (double) r.n_items));
    napi_set(env, o, "nTokens", napi_make_double(env, (double) r.n_tokens));
    napi_set(env, o, "scores", napi_make_float32_array(env, r.scores.data(), r.scores.size()));
    return o;
}

// ---- session tasks ----

// A task on a session: marks it busy and keeps the JS object alive until the call ends.
struct session_task : napi_task {
    session_wrap * w;
    explicit session_task(session_wrap * w) : w(w) {}
    void finally(napi_env env) override {
        w->busy = false;
        uint32_t refs = 0;
        napi_reference_unref(env, w->self, &refs);
    }
};

napi_value queue_session_task(napi_env env, napi_value self, session_wrap * w, const char * name, session_task * task,
                              napi_value progress = nullptr) {
    w->busy = true;
    uint32_t refs = 0;
    NAPI_CHECK(env, napi_reference_ref(env, w->self, &refs));
    try {
        return napi_queue_task(env, name, task, progress);
    } catch (...) {
        w->busy = false;
        napi_reference_unref(env, w->self, &refs);
        throw;
    }
}

napi_value session_train_step(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 4);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            std::vector<tr_batch> batches;
            float lr;
            double max_norm = 0.0;
            tr_step_result r;
            using session_task::session_task;
            void execute() override {
                r = tr_session_train_step(*w->s, batches, lr, [this](int d, int t) { report(d, t); }, max_norm);
            }
            napi_value resolve(napi_env env) override {
                napi_value o = napi_make_object(env);
                napi_set(env, o, "loss", napi_make_double(env, r.loss));
                napi_set(env, o, "nItems", napi_make_double(env, (double) r.n_items));
                napi_set(env, o, "nTokens", napi_make_double(env, (double) r.n_tokens));
                napi_set(env, o, "gradNorm", napi_make_double(env, r.grad_norm));
                napi_set(env, o, "gradScale", napi_make_double(env, r.grad_scale));
                napi_set(env, o, "step", napi_make_double(env, (double) r.iter));
                napi_set(env, o, "downscaled", napi_make_bool(env, r.downscaled));
                napi_set(env, o, "scores", napi_make_float32_array(env, r.scores.data(), r.scores.size()));
                return o;
            }
        };
        auto * t = new task(w);
        try {
            t->batches = parse_batches(env, a[0]);
            t->lr = (float) napi_to_double(env, a[1], "lr");
            if (!napi_is_undefined(env, a[3])) t->max_norm = napi_prop_double(env, a[3], "maxGradNorm", 0.0);
        } catch (...) {
            delete t;
            throw;
        }
        return queue_session_task(env, a.self, w, "zhongjing.trainStep", t, a[2]);
    });
}

napi_value session_accumulate(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            std::vector<tr_batch> batches;
            tr_eval_result r;
            using session_task::session_task;
            void execute() override { r = tr_session_accumulate(*w->s, batches); }
            napi_value resolve(napi_env env) override { return eval_result_to_js(env, r); }
        };
        auto * t = new task(w);
        try { t->batches = parse_batches(env, a[0]); } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.accumulate", t);
    });
}

napi_value session_evaluate(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            tr_batch batch;
            tr_eval_result r;
            using session_task::session_task;
            void execute() override { r = tr_session_eval(*w->s, batch); }
            napi_value resolve(napi_env env) override { return eval_result_to_js(env, r); }
        };
        auto * t = new task(w);
        try { t->batch = parse_batch(env, a[0]); } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.evaluate", t);
    });
}

napi_value session_logits(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 2);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            tr_batch batch;
            tr_lora_set apply;
            std::vector<float> logits;
            using session_task::session_task;
            void execute() override { logits = tr_session_logits(*w->s, batch, apply); }
            napi_value resolve(napi_env env) override { return napi_make_float32_array(env, logits.data(), logits.size()); }
        };
        auto * t = new task(w);
        try {
            t->batch = parse_batch(env, a[0]);
            t->apply = parse_apply(env, a[1], *w->s, w->s->train_set);
        } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.logits", t);
    });
}

napi_value session_scores(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 3);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            tr_batch batch;
            tr_lora_set apply;
            std::string kind;
            std::vector<float> values;
            using session_task::session_task;
            void execute() override { values = tr_session_scores(*w->s, batch, apply, kind); }
            napi_value resolve(napi_env env) override { return napi_make_float32_array(env, values.data(), values.size()); }
        };
        auto * t = new task(w);
        try {
            t->batch = parse_batch(env, a[0]);
            t->kind = napi_to_string(env, a[1], "kind");
            t->apply = parse_apply(env, a[2], *w->s, w->s->train_set);
        } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.scores", t);
    });
}

napi_value session_save_state(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 2);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            std::string path;
            std::vector<std::pair<std::string, std::string>> metadata;
            using session_task::session_task;
            void execute() override { tr_session_save_state(*w->s, path.c_str(), metadata); }
            napi_value resolve(napi_env env) override { return nullptr; }
        };
        auto * t = new task(w);
        try {
            t->path = napi_to_string(env, a[0], "path");
            t->metadata = parse_metadata(env, a[1]);
        } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.saveState", t);
    });
}

napi_value session_load_state(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            std::string path;
            using session_task::session_task;
            void execute() override { tr_session_load_state(*w->s, path.c_str()); }
            napi_value resolve(napi_env env) override {
                napi_value o = napi_make_object(env);
                napi_set(env, o, "step", napi_make_double(env, (double) w->s->optim->iter));
                napi_set(env, o, "microStep", napi_make_double(env, (double) w->s->micro_step));
                return o;
            }
        };
        auto * t = new task(w);
        try { t->path = napi_to_string(env, a[0], "path"); } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.loadState", t);
    });
}

napi_value session_export_adapter(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 4);
        session_wrap * w = unwrap(env, a.self);
        struct task : session_task {
            std::string path;
            const tr_lora * lora = nullptr;
            bool with_head = true;
            std::vector<std::pair<std::string, std::string>> metadata;
            using session_task::session_task;
            void execute() override { tr_lora_export(*lora, *w->s->model, path.c_str(), metadata, with_head); }
            napi_value resolve(napi_env env) override { return nullptr; }
        };
        auto * t = new task(w);
        try {
            t->path = napi_to_string(env, a[0], "path");
            t->metadata = parse_metadata(env, a[1]);
            t->lora = !napi_is_undefined(env, a[2]) ? tr_session_adapter(*w->s, napi_to_string(env, a[2], "adapter"))
                    : !w->s->train_set.empty()      ? w->s->train_set.front()
                                                    : w->s->adapters.front();
            if (!napi_is_undefined(env, a[3])) t->with_head = napi_prop_bool(env, a[3], "head", true);
        } catch (...) { delete t; throw; }
        return queue_session_task(env, a.self, w, "zhongjing.exportAdapter", t);
    });
}

// ---- synchronous session methods (cheap) ----

napi_value session_info(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 0);
        tr_session & s = *unwrap(env, a.self, /*allow_busy =*/ true)->s;
        const tr_hparams & hp = s.model->hp;
        napi_value o = napi_make_object(env);
        napi_set(env, o, "architecture", napi_make_string(env, s.model->arch_name));
        napi_set(env, o, "nVocab", napi_make_double(env, (double) hp.n_vocab));
        napi_set(env, o, "nEmbd", napi_make_double(env, (double) hp.n_embd));
        napi_set(env, o, "nLayer", napi_make_double(env, (double) hp.n_layer));
        napi_set(env, o, "nHead", napi_make_double(env, (double) hp.n_head));
        napi_set(env, o, "nHeadKv", napi_make_double(env, (double) hp.n_head_kv));
        napi_set(env, o, "nFf", napi_make_double(env, (double) hp.n_ff));
        napi_set(env, o, "nCtxTrain", napi_make_double(env, (double) hp.n_ctx_train));
        napi_set(env, o, "weightType", napi_make_string(env, ggml_type_name(s.model->weight_type)));
        napi_set(env, o, "device", napi_make_string(env, s.backend.device));
        napi_set(env, o, "threads", napi_make_double(env, s.backend.n_threads));
        napi_set(env, o, "trainableParams", napi_make_double(env, (double) tr_session_n_trainable(s)));
        napi_value adapters;
        NAPI_CHECK(env, napi_create_array_with_length(env, s.adapters.size(), &adapters));
        for (size_t i = 0; i < s.adapters.size(); ++i) {
            const tr_lora & l = *s.adapters[i];
            napi_value ad = napi_make_object(env);
            napi_set(env, ad, "name", napi_make_string(env, l.name));
            napi_set(env, ad, "trainable", napi_make_bool(env, l.trainable));
            napi_set(env, ad, "head", napi_make_bool(env, l.head != nullptr));
            napi_set(env, ad, "rank", napi_make_double(env, l.params.rank));
            napi_set(env, ad, "alpha", napi_make_double(env, l.params.alpha));
            napi_set(env, ad, "params", napi_make_double(env, (double) tr_lora_n_params(l)));
            NAPI_CHECK(env, napi_set_element(env, adapters, (uint32_t) i, ad));
        }
        napi_set(env, o, "adapters", adapters);
        napi_set(env, o, "step", napi_make_double(env, (double) s.optim->iter));
        napi_set(env, o, "microStep", napi_make_double(env, (double) s.micro_step));
        napi_set(env, o, "lossHead", napi_make_string(env, s.loss->name()));
        return o;
    });
}

napi_value session_tensor_names(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        tr_session & s = *unwrap(env, a.self)->s;
        const tr_lora & l = !napi_is_undefined(env, a[0]) ? *tr_session_adapter(s, napi_to_string(env, a[0], "adapter"))
                          : !s.train_set.empty()         ? *s.train_set.front()
                                                         : *s.adapters.front();
        napi_value arr;
        NAPI_CHECK(env, napi_create_array_with_length(env, l.tensors.size(), &arr));
        for (size_t i = 0; i < l.tensors.size(); ++i) {
            NAPI_CHECK(env, napi_set_element(env, arr, (uint32_t) i, napi_make_string(env, l.tensors[i]->name)));
        }
        return arr;
    });
}

ggml_tensor * find_tensor(tr_session & s, const std::string & name, bool gradient) {
    ggml_tensor * t = gradient ? tr_session_grad(s, name.c_str()) : tr_session_tensor(s, name);
    if (!t) {
        throw napi_error("no trainable tensor named " + name);
    }
    return t;
}

napi_value get_tensor_impl(napi_env env, napi_callback_info info, bool gradient) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        tr_session & s = *unwrap(env, a.self)->s;
        ggml_tensor * t = find_tensor(s, napi_to_string(env, a[0], "name"), gradient);
        std::vector<float> data(ggml_nelements(t));
        ggml_backend_tensor_get(t, data.data(), 0, ggml_nbytes(t));
        return napi_make_float32_array(env, data.data(), data.size());
    });
}

napi_value session_get_tensor(napi_env env, napi_callback_info info)   { return get_tensor_impl(env, info, false); }
napi_value session_get_gradient(napi_env env, napi_callback_info info) { return get_tensor_impl(env, info, true); }

napi_value session_set_tensor(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 2);
        tr_session & s = *unwrap(env, a.self)->s;
        ggml_tensor * t = find_tensor(s, napi_to_string(env, a[0], "name"), false);
        std::vector<float> data = napi_to_float_vector(env, a[1], "data");
        if ((int64_t) data.size() != ggml_nelements(t)) {
            throw napi_error("data has " + std::to_string(data.size()) + " values, the tensor " + std::to_string(ggml_nelements(t)));
        }
        ggml_backend_tensor_set(t, data.data(), 0, ggml_nbytes(t));
        return nullptr;
    });
}

napi_value session_dispose(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 0);
        session_wrap * w = nullptr;
        NAPI_CHECK(env, napi_unwrap(env, a.self, reinterpret_cast<void **>(&w)));
        if (w && w->busy) {
            throw napi_error("cannot dispose the training session while a call is in flight");
        }
        if (w && w->s) {
            tr_session_free(w->s);
            w->s = nullptr;
        }
        return nullptr;
    });
}

napi_value session_disposed(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 0);
        session_wrap * w = nullptr;
        NAPI_CHECK(env, napi_unwrap(env, a.self, reinterpret_cast<void **>(&w)));
        return napi_make_bool(env, !w || !w->s);
    });
}

void session_finalize(napi_env env, void * data, void *) {
    auto * w = static_cast<session_wrap *>(data);
    // a session the program forgot to dispose: free it with its object (never while busy: the
    // in-flight call holds a reference to the object)
    if (w->s) {
        TR_LOG_WARN("a training session was garbage-collected without dispose()");
        tr_session_free(w->s);
    }
    if (w->self) napi_delete_reference(env, w->self);
    delete w;
}

napi_value session_ctor(napi_env env, napi_callback_info info) {
    return napi_guard(env, [&]() -> napi_value {
        napi_args a = napi_get_args(env, info, 1);
        napi_valuetype t = napi_undefined;
        if (a[0]) NAPI_CHECK(env, napi_typeof(env, a[0], &t));
        if (t != napi_external) {
            throw napi_error("sessions are created with createSession()");
        }
        void * ptr = nullptr;
        NAPI_CHECK(env, napi_get_value_external(env, a[0], &ptr));
        auto * w = new session_wrap();
        w->s = static_cast<tr_session *>(ptr);
        NAPI_CHECK(env, napi_wrap(env, a.self, w, session_finalize, nullptr, nullptr));
        NAPI_CHECK(env, napi_create_reference(env, a.self, 0, &w->self));
        return a.self;
    });
}

} // namespace

napi_value session_class_define(napi_env env) {
    napi_property_descriptor methods[] = {
    {"info", nullptr, session_info, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"trainStep", nullptr, session_train_step, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"accumulate", nullptr, session_accumulate, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"evaluate", nullptr, session_evaluate, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"logits", nullptr, session_logits, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"scores", nullptr, session_scores, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"tensorNames", nullptr, session_tensor_names, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"getTensor", nullptr, session_get_tensor, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"getGradient", nullptr, session_get_gradient, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setTensor", nullptr, session_set_tensor, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"saveState", nullptr, session_save_state, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"loadState", nullptr, session_load_state, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"exportAdapter", nullptr, session_export_adapter, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"dispose", nullptr, session_dispose, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"disposed", nullptr, nullptr, session_disposed, nullptr, nullptr, napi_default, nullptr},
    };
    napi_value ctor;
    NAPI_CHECK(env, napi_define_class(env, "TrainingSession", NAPI_AUTO_LENGTH, session_ctor, nullptr,
                                      sizeof(methods) / sizeof(methods[0]), methods, &ctor));
    return ctor;
}
