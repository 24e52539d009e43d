#include "tr-lora.h"

#include "tr-common.h"
#include "tr-state.h"

#include <cmath>
#include <cstring>
#include <memory>

static const char * k_gguf_names[TR_LORA_N_TARGETS]  = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
static const char * k_short_names[TR_LORA_N_TARGETS] = {"q", "k", "v", "o", "gate", "up", "down"};

const char * tr_lora_target_gguf_name(tr_lora_target target)  { return k_gguf_names[target]; }
const char * tr_lora_target_short_name(tr_lora_target target) { return k_short_names[target]; }

static ggml_tensor * tr_layer_weight(const tr_layer & l, int target) {
    switch (target) {
        case TR_LORA_Q:    return l.wq;
        case TR_LORA_K:    return l.wk;
        case TR_LORA_V:    return l.wv;
        case TR_LORA_O:    return l.wo;
        case TR_LORA_GATE: return l.ffn_gate;
        case TR_LORA_UP:   return l.ffn_up;
        case TR_LORA_DOWN: return l.ffn_down;
        default:           return nullptr;
    }
}

const char * const TR_LORA_HEAD_NAME = "zhongjing.score.weight";

tr_lora * tr_lora_init(const tr_model & model, const tr_lora_params & params, ggml_backend_t backend, bool with_head) {
    if (params.rank < 1 || params.rank > 1024) {
        throw tr_error(tr_format("LoRA rank must be in 1..1024, got %d", params.rank));
    }
    if (!(params.alpha > 0.0f)) {
        throw tr_error(tr_format("LoRA alpha must be > 0, got %g", params.alpha));
    }
    if (!(params.dropout >= 0.0f && params.dropout < 1.0f)) {
        throw tr_error(tr_format("LoRA dropout must be in [0, 1), got %g", params.dropout));
    }
    if ((params.targets & ((1u << TR_LORA_N_TARGETS) - 1)) == 0) {
        throw tr_error("LoRA needs at least one target (q, k, v, o, gate, up, down)");
    }

    auto lora = std::make_unique<tr_lora>();
    lora->params = params;
    lora->scale  = params.alpha / (float) params.rank;
    lora->layers.resize(model.hp.n_layer);

    const size_t n_tensors = 2 * TR_LORA_N_TARGETS * model.hp.n_layer + 1;
    ggml_init_params cparams = { n_tensors * ggml_tensor_overhead(), nullptr, /*no_alloc =*/ true };
    lora->ctx = ggml_init(cparams);

    for (int64_t il = 0; il < model.hp.n_layer; ++il) {
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            if (!(params.targets & (1u << t))) {
                continue;
            }
            const ggml_tensor * w = tr_layer_weight(model.layers[il], t);
            tr_lora_pair & p = lora->layers[il][t];
            p.a = ggml_new_tensor_2d(lora->ctx, GGML_TYPE_F32, w->ne[0], params.rank);
            p.b = ggml_new_tensor_2d(lora->ctx, GGML_TYPE_F32, params.rank, w->ne[1]);
            ggml_format_name(p.a, "blk.%lld.%s.weight.lora_a", (long long) il, k_gguf_names[t]);
            ggml_format_name(p.b, "blk.%lld.%s.weight.lora_b", (long long) il, k_gguf_names[t]);
            ggml_set_param(p.a);
            ggml_set_param(p.b);
            lora->tensors.push_back(p.a);
            lora->tensors.push_back(p.b);
        }
    }

    if (with_head) {
        lora->head = ggml_new_tensor_2d(lora->ctx, GGML_TYPE_F32, model.hp.n_embd, 1);
        ggml_set_name(lora->head, TR_LORA_HEAD_NAME);
        ggml_set_param(lora->head);
        lora->tensors.push_back(lora->head);
    }

    lora->buf = ggml_backend_alloc_ctx_tensors(lora->ctx, backend);
    if (!lora->buf) {
        ggml_free(lora->ctx);
        throw tr_error("not enough memory for the LoRA tensors");
    }
    ggml_backend_buffer_clear(lora->buf, 0);

    // A per tensor from its own stream position, so that the values do not depend on which
    // other targets are enabled: the stream counter is (layer, target).
    std::vector<float> values;
    for (int64_t il = 0; il < model.hp.n_layer; ++il) {
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            ggml_tensor * a = lora->layers[il][t].a;
            if (!a) {
                continue;
            }
            tr_rng rng(params.seed, TR_RNG_STREAM_LORA_INIT, (uint64_t) il * TR_LORA_N_TARGETS + t);
            const float bound = 1.0f / sqrtf((float) a->ne[0]);
            values.resize(ggml_nelements(a));
            for (float & v : values) {
                v = (2.0f * rng.next_f32() - 1.0f) * bound;
            }
            ggml_backend_tensor_set(a, values.data(), 0, ggml_nbytes(a));
        }
    }

    if (lora->head) {
        tr_rng rng(params.seed, TR_RNG_STREAM_HEAD_INIT, 0);
        const float bound = 1.0f / sqrtf((float) model.hp.n_embd);
        values.resize(ggml_nelements(lora->head));
        for (float & v : values) {
            v = (2.0f * rng.next_f32() - 1.0f) * bound;
        }
        ggml_backend_tensor_set(lora->head, values.data(), 0, ggml_nbytes(lora->head));
    }

    TR_LOG_INFO("LoRA: rank %d, alpha %g (scale %g), dropout %g, %zu tensors, %lld trainable parameters",
        params.rank, params.alpha, lora->scale, params.dropout, lora->tensors.size(), (long long) tr_lora_n_params(*lora));
    return lora.release();
}

tr_lora * tr_lora_load(const tr_model & model, const char * path, ggml_backend_t backend, bool want_head) {
    tr_gguf_in in(path);
    if (in.get_str("general.type") != "adapter" || in.get_str("adapter.type") != "lora") {
        throw tr_error(tr_format("%s is not a LoRA adapter (general.type=adapter, adapter.type=lora)", path));
    }
    const std::string arch = in.get_str("general.architecture");
    if (arch != model.arch_name) {
        throw tr_error(tr_format("%s is an adapter for a %s model; the base model is %s", path, arch.c_str(), model.arch_name.c_str()));
    }
    tr_lora_params params;
    params.targets = 0;
    int rank = -1;
    for (int64_t il = 0; il < model.hp.n_layer; ++il) {
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            const std::string name = tr_format("blk.%lld.%s.weight.lora_a", (long long) il, k_gguf_names[t]);
            if (!in.has_tensor(name.c_str())) {
                continue;
            }
            params.targets |= 1u << t;
            const ggml_tensor * a = ggml_get_tensor(in.meta, name.c_str());
            rank = (int) a->ne[1];
        }
    }
    if (params.targets == 0 || rank < 1) {
        throw tr_error(tr_format("%s holds no LoRA tensors for this model's layers", path));
    }
    params.rank = rank;
    params.alpha = tr_gguf_get_f32(in.gguf, "adapter.lora.alpha", (float) rank);
    auto lora = std::unique_ptr<tr_lora, void (*)(tr_lora *)>(
        tr_lora_init(model, params, backend, want_head || in.has_tensor(TR_LORA_HEAD_NAME)), tr_lora_free);
    lora->head_from_file = in.has_tensor(TR_LORA_HEAD_NAME);
    for (int64_t il = 0; il < model.hp.n_layer; ++il) {
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            if ((params.targets & (1u << t)) &&
                !in.has_tensor(tr_format("blk.%lld.%s.weight.lora_a", (long long) il, k_gguf_names[t]).c_str())) {
                throw tr_error(tr_format("%s: layer %lld has no %s adapter while other layers do", path, (long long) il, k_gguf_names[t]));
            }
        }
    }
    try {
        for (ggml_tensor * t : lora->tensors) {
            if (t != lora->head || lora->head_from_file) in.read(t->name, t);
        }
    } catch (const tr_error & e) {
        throw tr_error(tr_format("%s does not fit this base model (was it trained on another one?): %s", path, e.what()));
    }
    TR_LOG_INFO("loaded LoRA adapter %s: rank %d, alpha %g, %zu tensors%s", path, params.rank, params.alpha,
        lora->tensors.size(), lora->head ? ", with a scalar head" : "");
    return lora.release();
}

void tr_lora_free(tr_lora * lora) {
    if (!lora) {
        return;
    }
    if (lora->buf) ggml_backend_buffer_free(lora->buf);
    if (lora->ctx) ggml_free(lora->ctx);
    delete lora;
}

ggml_tensor * tr_lora_find(const tr_lora & lora, const char * name) {
    for (ggml_tensor * t : lora.tensors) {
        if (strcmp(t->name, name) == 0) {
            return t;
        }
    }
    return nullptr;
}

int64_t tr_lora_n_params(const tr_lora & lora) {
    int64_t n = 0;
    for (const ggml_tensor * t : lora.tensors) {
        n += ggml_nelements(t);
    }
    return n;
}

void tr_lora_export(const tr_lora & lora, const tr_model & model, const char * path,
                    const std::vector<std::pair<std::string, std::string>> & metadata, bool with_head) {
    tr_gguf_out out;
    gguf_set_val_str(out.gguf, "general.type", "adapter");
    gguf_set_val_str(out.gguf, "general.architecture", model.arch_name.c_str());
    gguf_set_val_str(out.gguf, "adapter.type", "lora");
    gguf_set_val_f32(out.gguf, "adapter.lora.alpha", lora.params.alpha);
    gguf_set_val_u32(out.gguf, "adapter.lora.rank", (uint32_t) lora.params.rank);
    if (lora.head && with_head) {
        gguf_set_val_str(out.gguf, "zhongjing.head", "score");
    }
    for (const auto & kv : metadata) {
        gguf_set_val_str(out.gguf, kv.first.c_str(), kv.second.c_str());
    }
    for (ggml_tensor * t : lora.tensors) {
        if (t != lora.head || with_head) out.add(t);
    }
    out.write(path);
    TR_LOG_INFO("exported LoRA adapter %s (%zu tensors)", path, lora.tensors.size());
}
