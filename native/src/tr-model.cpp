#include "tr-model.h"

#include "tr-common.h"

#include <cstdio>
#include <cstring>
#include <memory>

int64_t tr_gguf_get_int(const gguf_context * gguf, const char * key, int64_t fallback) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0) {
        return fallback;
    }
    switch (gguf_get_kv_type(gguf, id)) {
        case GGUF_TYPE_UINT8:  return gguf_get_val_u8(gguf, id);
        case GGUF_TYPE_INT8:   return gguf_get_val_i8(gguf, id);
        case GGUF_TYPE_UINT16: return gguf_get_val_u16(gguf, id);
        case GGUF_TYPE_INT16:  return gguf_get_val_i16(gguf, id);
        case GGUF_TYPE_UINT32: return gguf_get_val_u32(gguf, id);
        case GGUF_TYPE_INT32:  return gguf_get_val_i32(gguf, id);
        case GGUF_TYPE_UINT64: return (int64_t) gguf_get_val_u64(gguf, id);
        case GGUF_TYPE_INT64:  return gguf_get_val_i64(gguf, id);
        default: throw tr_error(tr_format("GGUF key %s is not an integer", key));
    }
}

float tr_gguf_get_f32(const gguf_context * gguf, const char * key, float fallback) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0) {
        return fallback;
    }
    switch (gguf_get_kv_type(gguf, id)) {
        case GGUF_TYPE_FLOAT32: return gguf_get_val_f32(gguf, id);
        case GGUF_TYPE_FLOAT64: return (float) gguf_get_val_f64(gguf, id);
        default: throw tr_error(tr_format("GGUF key %s is not a float", key));
    }
}

namespace {

struct gguf_deleter { void operator()(gguf_context * c) const { gguf_free(c); } };
struct ggml_ctx_deleter { void operator()(ggml_context * c) const { ggml_free(c); } };
struct file_deleter { void operator()(FILE * f) const { fclose(f); } };

// Creates the model's tensor for `name` with the stored type, checking the shape.
ggml_tensor * model_tensor(tr_model & model, ggml_context * meta, const char * name,
                           int64_t ne0, int64_t ne1, bool required = true) {
    ggml_tensor * src = ggml_get_tensor(meta, name);
    if (!src) {
        if (required) {
            throw tr_error(tr_format("%s: tensor %s is missing", model.path.c_str(), name));
        }
        return nullptr;
    }
    if (src->ne[0] != ne0 || src->ne[1] != ne1 || src->ne[2] != 1 || src->ne[3] != 1) {
        throw tr_error(tr_format("%s: tensor %s has shape [%lld, %lld, %lld], expected [%lld, %lld]",
            model.path.c_str(), name, (long long) src->ne[0], (long long) src->ne[1], (long long) src->ne[2],
            (long long) ne0, (long long) ne1));
    }
    ggml_tensor * t = ggml_dup_tensor(model.ctx, src);
    ggml_set_name(t, name);
    return t;
}

} // namespace

tr_model * tr_model_load(const char * path, ggml_backend_t backend) {
    auto model = std::make_unique<tr_model>();
    model->path = path;

    ggml_context * meta_raw = nullptr;
    gguf_init_params gparams = { /*.no_alloc =*/ true, /*.ctx =*/ &meta_raw };
    std::unique_ptr<gguf_context, gguf_deleter> gguf(gguf_init_from_file(path, gparams));
    std::unique_ptr<ggml_context, ggml_ctx_deleter> meta(meta_raw);
    if (!gguf) {
        throw tr_error(tr_format("cannot read %s as GGUF (missing, truncated or not a model)", path));
    }

    const int64_t arch_id = gguf_find_key(gguf.get(), "general.architecture");
    if (arch_id < 0 || gguf_get_kv_type(gguf.get(), arch_id) != GGUF_TYPE_STRING) {
        throw tr_error(tr_format("%s: general.architecture is missing", path));
    }
    model->arch_name = gguf_get_val_str(gguf.get(), arch_id);
    if (model->arch_name == "llama") {
        model->arch = TR_ARCH_LLAMA;
    } else if (model->arch_name == "qwen2") {
        model->arch = TR_ARCH_QWEN2;
    } else {
        throw tr_error(tr_format("%s: architecture '%s' is not supported for training (llama, qwen2)", path, model->arch_name.c_str()));
    }
    const std::string a = model->arch_name;
    auto key = [&](const char * suffix) { return a + "." + suffix; };

    tr_hparams & hp = model->hp;
    hp.n_embd      = tr_gguf_get_int(gguf.get(), key("embedding_length").c_str(), -1);
    hp.n_layer     = tr_gguf_get_int(gguf.get(), key("block_count").c_str(), -1);
    hp.n_ff        = tr_gguf_get_int(gguf.get(), key("feed_forward_length").c_str(), -1);
    hp.n_head      = tr_gguf_get_int(gguf.get(), key("attention.head_count").c_str(), -1);
    hp.n_head_kv   = tr_gguf_get_int(gguf.get(), key("attention.head_count_kv").c_str(), hp.n_head);
    hp.n_ctx_train = tr_gguf_get_int(gguf.get(), key("context_length").c_str(), -1);
    if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_ff <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_ctx_train <= 0 ||
        hp.n_embd % hp.n_head != 0 || hp.n_head % hp.n_head_kv != 0) {
        throw tr_error(tr_format("%s: missing or inconsistent %s.* hyper-parameters", path, a.c_str()));
    }
    hp.n_embd_head = hp.n_embd / hp.n_head;
    if (tr_gguf_get_int(gguf.get(), key("attention.key_length").c_str(), hp.n_embd_head) != hp.n_embd_head ||
        tr_gguf_get_int(gguf.get(), key("attention.value_length").c_str(), hp.n_embd_head) != hp.n_embd_head) {
        throw tr_error(tr_format("%s: head sizes other than n_embd/n_head are not supported", path));
    }
    hp.n_rot = tr_gguf_get_int(gguf.get(), key("rope.dimension_count").c_str(), hp.n_embd_head);
    hp.rope_freq_base = tr_gguf_get_f32(gguf.get(), key("rope.freq_base").c_str(), 10000.0f);
    const float rope_scale = tr_gguf_get_f32(gguf.get(), key("rope.scale_linear").c_str(), 0.0f);
    hp.rope_freq_scale = rope_scale > 0.0f ? 1.0f / rope_scale : 1.0f;
    const int64_t scaling_id = gguf_find_key(gguf.get(), key("rope.scaling.type").c_str());
    if (scaling_id >= 0) {
        const std::string scaling = gguf_get_val_str(gguf.get(), scaling_id);
        if (scaling != "none" && scaling != "linear") {
            throw tr_error(tr_format("%s: rope scaling '%s' is not supported for training", path, scaling.c_str()));
        }
        const float factor = tr_gguf_get_f32(gguf.get(), key("rope.scaling.factor").c_str(), 0.0f);
        if (scaling == "linear" && factor > 0.0f) {
            hp.rope_freq_scale = 1.0f / factor;
        }
    }
    hp.rms_eps = tr_gguf_get_f32(gguf.get(), key("attention.layer_norm_rms_epsilon").c_str(), -1.0f);
    if (hp.rms_eps <= 0.0f) {
        throw tr_error(tr_format("%s: %s.attention.layer_norm_rms_epsilon is missing", path, a.c_str()));
    }
    // as llama.cpp does: LLaMA rotates adjacent pairs, Qwen2 the two halves of each head
    hp.rope_type = model->arch == TR_ARCH_QWEN2 ? GGML_ROPE_TYPE_NEOX : GGML_ROPE_TYPE_NORMAL;

    ggml_tensor * embd_meta = ggml_get_tensor(meta.get(), "token_embd.weight");
    if (!embd_meta) {
        throw tr_error(tr_format("%s: token_embd.weight is missing", path));
    }
    hp.n_vocab = embd_meta->ne[1];

    const size_t n_tensors = 3 + 12 * hp.n_layer;
    ggml_init_params cparams = { n_tensors * ggml_tensor_overhead(), nullptr, /*no_alloc =*/ true };
    model->ctx = ggml_init(cparams);

    const int64_t n_embd = hp.n_embd, n_kv = hp.n_embd_kv(), n_ff = hp.n_ff;
    model->tok_embd    = model_tensor(*model, meta.get(), "token_embd.weight", n_embd, hp.n_vocab);
    model->output_norm = model_tensor(*model, meta.get(), "output_norm.weight", n_embd, 1);
    model->output      = model_tensor(*model, meta.get(), "output.weight", n_embd, hp.n_vocab, /*required =*/ false);
    if (!model->output) {
        TR_LOG_INFO("%s: no output.weight, the output head is tied to token_embd.weight", path);
        model->output = model->tok_embd;
    }
    model->layers.resize(hp.n_layer);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        tr_layer & l = model->layers[il];
        char name[GGML_MAX_NAME];
        auto blk = [&](const char * t) { snprintf(name, sizeof(name), "blk.%lld.%s", (long long) il, t); return name; };
        l.attn_norm = model_tensor(*model, meta.get(), blk("attn_norm.weight"), n_embd, 1);
        l.wq = model_tensor(*model, meta.get(), blk("attn_q.weight"), n_embd, n_embd);
        l.wk = model_tensor(*model, meta.get(), blk("attn_k.weight"), n_embd, n_kv);
        l.wv = model_tensor(*model, meta.get(), blk("attn_v.weight"), n_embd, n_kv);
        l.wo = model_tensor(*model, meta.get(), blk("attn_output.weight"), n_embd, n_embd);
        const bool bias = model->arch == TR_ARCH_QWEN2;
        l.bq = model_tensor(*model, meta.get(), blk("attn_q.bias"), n_embd, 1, bias);
        l.bk = model_tensor(*model, meta.get(), blk("attn_k.bias"), n_kv, 1, bias);
        l.bv = model_tensor(*model, meta.get(), blk("attn_v.bias"), n_kv, 1, bias);
        l.ffn_norm = model_tensor(*model, meta.get(), blk("ffn_norm.weight"), n_embd, 1);
        l.ffn_gate = model_tensor(*model, meta.get(), blk("ffn_gate.weight"), n_embd, n_ff);
        l.ffn_up   = model_tensor(*model, meta.get(), blk("ffn_up.weight"), n_embd, n_ff);
        l.ffn_down = model_tensor(*model, meta.get(), blk("ffn_down.weight"), n_ff, n_embd);
    }
    model->weight_type = model->layers[0].wq->type;

    model->buf = ggml_backend_alloc_ctx_tensors(model->ctx, backend);
    if (!model->buf) {
        ggml_free(model->ctx);
        throw tr_error(tr_format("%s: not enough memory for the weights", path));
    }
    ggml_backend_buffer_set_usage(model->buf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);

    // Read each tensor's bytes from the file. A host buffer is filled in place; a device buffer
    // goes through one reusable staging vector.
    std::unique_ptr<FILE, file_deleter> file(fopen(path, "rb"));
    if (!file) {
        tr_model_free(model.release());
        throw tr_error(tr_format("cannot open %s", path));
    }
    const bool host = ggml_backend_buffer_is_host(model->buf);
    std::vector<uint8_t> staging;
    const size_t data_offset = gguf_get_data_offset(gguf.get());
    for (ggml_tensor * t = ggml_get_first_tensor(model->ctx); t; t = ggml_get_next_tensor(model->ctx, t)) {
        const int64_t id = gguf_find_tensor(gguf.get(), t->name);
        const size_t offset = data_offset + gguf_get_tensor_offset(gguf.get(), id);
        const size_t size = ggml_nbytes(t);
        void * dst = t->data;
        if (!host) {
            staging.resize(size);
            dst = staging.data();
        }
        if (fseeko(file.get(), (off_t) offset, SEEK_SET) != 0 || fread(dst, 1, size, file.get()) != size) {
            tr_model_free(model.release());
            throw tr_error(tr_format("%s: tensor data of %s is truncated", path, t->name));
        }
        if (!host) {
            ggml_backend_tensor_set(t, staging.data(), 0, size);
        }
    }

    TR_LOG_INFO("loaded %s: arch %s, %lld layers, n_embd %lld, heads %lld/%lld, n_ff %lld, vocab %lld, weights %s, %.1f MiB",
        path, a.c_str(), (long long) hp.n_layer, (long long) hp.n_embd, (long long) hp.n_head, (long long) hp.n_head_kv,
        (long long) hp.n_ff, (long long) hp.n_vocab, ggml_type_name(model->weight_type),
        ggml_backend_buffer_get_size(model->buf) / 1048576.0);
    return model.release();
}

void tr_model_free(tr_model * model) {
    if (!model) {
        return;
    }
    if (model->buf) ggml_backend_buffer_free(model->buf);
    if (model->ctx) ggml_free(model->ctx);
    delete model;
}
