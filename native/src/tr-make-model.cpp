#include "tr-make-model.h"

#include "tr-common.h"
#include "tr-model.h"
#include "tr-state.h"

#include <cstring>
#include <memory>
#include <vector>

ggml_type tr_type_from_name(const std::string & name) {
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char * n = ggml_type_name((ggml_type) t);
        if (n && strcasecmp(n, name.c_str()) == 0 && ggml_get_type_traits((ggml_type) t)->blck_size > 0) {
            return (ggml_type) t;
        }
    }
    throw tr_error(tr_format("unknown ggml type '%s'", name.c_str()));
}

namespace {

// LLAMA_FTYPE values, for general.file_type (display only in llama.cpp)
uint32_t file_type_of(ggml_type t) {
    switch (t) {
        case GGML_TYPE_F32:  return 0;
        case GGML_TYPE_F16:  return 1;
        case GGML_TYPE_Q4_0: return 2;
        case GGML_TYPE_Q8_0: return 7;
        case GGML_TYPE_Q4_K: return 15;
        case GGML_TYPE_Q6_K: return 18;
        default:             return 0;
    }
}

// The type llama.cpp's quantizer writes when rows of ne0 do not split into whole blocks of `type`
// (Qwen2-0.5B's 896-wide rows and Q4_K's 256-blocks): a 32-block type of about the same size, else
// F16; so a random-weight model of a real shape weighs what the real quantised file weighs.
ggml_type fallback_type(ggml_type type, int64_t ne0) {
    if (ne0 % ggml_blck_size(type) == 0) return type;
    ggml_type fallback = GGML_TYPE_F16;
    switch (type) {
        case GGML_TYPE_Q2_K:
        case GGML_TYPE_Q3_K: fallback = GGML_TYPE_Q4_0; break;
        case GGML_TYPE_Q4_K: fallback = GGML_TYPE_Q5_0; break;
        case GGML_TYPE_Q5_K: fallback = GGML_TYPE_Q5_1; break;
        case GGML_TYPE_Q6_K: fallback = GGML_TYPE_Q8_0; break;
        default: break;
    }
    return ne0 % ggml_blck_size(fallback) == 0 ? fallback : GGML_TYPE_F16;
}

// Converts one matrix [ne0, ne1] from F32 to `type`, or to llama.cpp's fallback type when rows do
// not split into whole blocks of it. Returns the type written.
ggml_type convert(const float * src, int64_t ne0, int64_t ne1, ggml_type type, std::vector<uint8_t> & dst) {
    if (type != GGML_TYPE_F32) type = fallback_type(type, ne0);
    if (type == GGML_TYPE_F32) {
        dst.resize(ne0 * ne1 * sizeof(float));
        memcpy(dst.data(), src, dst.size());
        return GGML_TYPE_F32;
    }
    dst.resize(ggml_row_size(type, ne0) * ne1);
    ggml_quantize_chunk(type, src, dst.data(), 0, ne1, ne0, nullptr);
    return type;
}

bool is_matrix_weight(const char * name, const int64_t * ne, int n_dims) {
    const size_t n = strlen(name);
    return n_dims >= 2 && ne[1] > 1 && n > 7 && strcmp(name + n - 7, ".weight") == 0;
}

void add_converted(tr_gguf_out & out, const char * name, const float * data, const int64_t * ne, int n_dims,
                   ggml_type type, tr_make_model_result & r) {
    std::vector<uint8_t> bytes;
    if (is_matrix_weight(name, ne, n_dims)) {
        const ggml_type written = convert(data, ne[0], ne[1], type, bytes);
        if (written == type || type == GGML_TYPE_F32) {
            r.n_converted++;
        } else {
            r.n_kept++;
            TR_LOG_WARN("make-model: %s has rows of %lld, not a multiple of %s blocks (%lld): written as %s, as llama.cpp's quantizer does",
                name, (long long) ne[0], ggml_type_name(type), (long long) ggml_blck_size(type), ggml_type_name(written));
        }
        out.add_raw(name, written, ne, n_dims, bytes.data());
    } else {
        out.add_raw(name, GGML_TYPE_F32, ne, n_dims, data);
    }
    int64_t n = 1;
    for (int i = 0; i < n_dims; ++i) n *= ne[i];
    r.n_params += n;
}

tr_make_model_result convert_model(const tr_make_model_params & p, ggml_type type) {
    tr_gguf_in in(p.weights_from.c_str());
    tr_gguf_out out;
    gguf_set_kv(out.gguf, in.gguf);
    gguf_set_val_u32(out.gguf, "general.file_type", file_type_of(type));
    tr_make_model_result r;
    std::vector<float> f32;
    for (ggml_tensor * t = ggml_get_first_tensor(in.meta); t; t = ggml_get_next_tensor(in.meta, t)) {
        // read as stored, then to F32
        ggml_init_params cp = { ggml_tensor_overhead() + ggml_nbytes(t) + 64, nullptr, false };
        std::unique_ptr<ggml_context, void (*)(ggml_context *)> ctx(ggml_init(cp), ggml_free);
        ggml_tensor * host = ggml_dup_tensor(ctx.get(), t);
        ggml_set_name(host, t->name);
        in.read(t->name, host);
        f32.resize(ggml_nelements(t));
        if (t->type == GGML_TYPE_F32) {
            memcpy(f32.data(), host->data, ggml_nbytes(t));
        } else {
            const auto * traits = ggml_get_type_traits(t->type);
            if (!traits->to_float) {
                throw tr_error(tr_format("cannot convert tensor %s of type %s", t->name, ggml_type_name(t->type)));
            }
            traits->to_float(host->data, f32.data(), ggml_nelements(t));
        }
        add_converted(out, t->name, f32.data(), t->ne, ggml_n_dims(t), type, r);
    }
    out.write(p.out.c_str());
    return r;
}

tr_make_model_result random_model(const tr_make_model_params & p, ggml_type type) {
    if (p.arch != "llama" && p.arch != "qwen2") {
        throw tr_error("make-model: arch must be llama or qwen2");
    }
    if (p.n_embd <= 0 || p.n_layer <= 0 || p.n_head <= 0 || p.n_head_kv <= 0 || p.n_ff <= 0 ||
        p.n_embd % p.n_head != 0 || p.n_head % p.n_head_kv != 0) {
        throw tr_error("make-model: inconsistent shape (n_embd % n_head, n_head % n_head_kv must be 0)");
    }
    const bool borrow = !p.vocab_from.empty();
    if (!borrow && p.n_vocab <= 0) {
        throw tr_error("make-model: give vocab_from (a GGUF whose tokenizer is copied) or n_vocab");
    }
    std::unique_ptr<tr_gguf_in> vocab(borrow ? new tr_gguf_in(p.vocab_from.c_str()) : nullptr);
    int64_t n_vocab = p.n_vocab;
    if (borrow) {
        const int64_t tokens_id = gguf_find_key(vocab->gguf, "tokenizer.ggml.tokens");
        if (tokens_id < 0) {
            throw tr_error(tr_format("%s has no tokenizer.ggml.tokens", p.vocab_from.c_str()));
        }
        n_vocab = (int64_t) gguf_get_arr_n(vocab->gguf, tokens_id);
    }

    tr_gguf_out out;
    {
        // every tokenizer.* key of the source, nothing else
        gguf_context * tmp = gguf_init_empty();
        if (borrow) gguf_set_kv(tmp, vocab->gguf);
        for (int64_t i = gguf_get_n_kv(tmp) - 1; i >= 0; --i) {
            const std::string key = gguf_get_key(tmp, i);
            if (key.rfind("tokenizer.", 0) != 0) {
                gguf_remove_key(tmp, key.c_str());
            }
        }
        gguf_set_val_str(out.gguf, "general.architecture", p.arch.c_str());
        gguf_set_val_str(out.gguf, "general.type", "model");
        gguf_set_val_str(out.gguf, "general.name", tr_format("random %s %lldx%lld (%s)", p.arch.c_str(),
            (long long) p.n_layer, (long long) p.n_embd, ggml_type_name(type)).c_str());
        gguf_set_val_u32(out.gguf, "general.file_type", file_type_of(type));
        gguf_set_kv(out.gguf, tmp);
        gguf_free(tmp);
    }
    const std::string a = p.arch;
    const int64_t head = p.n_embd / p.n_head;
    gguf_set_val_u32(out.gguf, (a + ".vocab_size").c_str(), (uint32_t) n_vocab);
    gguf_set_val_u32(out.gguf, (a + ".context_length").c_str(), (uint32_t) p.n_ctx);
    gguf_set_val_u32(out.gguf, (a + ".embedding_length").c_str(), (uint32_t) p.n_embd);
    gguf_set_val_u32(out.gguf, (a + ".block_count").c_str(), (uint32_t) p.n_layer);
    gguf_set_val_u32(out.gguf, (a + ".feed_forward_length").c_str(), (uint32_t) p.n_ff);
    gguf_set_val_u32(out.gguf, (a + ".attention.head_count").c_str(), (uint32_t) p.n_head);
    gguf_set_val_u32(out.gguf, (a + ".attention.head_count_kv").c_str(), (uint32_t) p.n_head_kv);
    gguf_set_val_f32(out.gguf, (a + ".attention.layer_norm_rms_epsilon").c_str(), 1e-6f);
    gguf_set_val_f32(out.gguf, (a + ".rope.freq_base").c_str(), a == "qwen2" ? 1000000.0f : 10000.0f);
    gguf_set_val_u32(out.gguf, (a + ".rope.dimension_count").c_str(), (uint32_t) head);

    tr_make_model_result r;
    uint64_t stream_counter = 0;
    std::vector<float> data;
    auto random = [&](const std::string & name, int64_t ne0, int64_t ne1, float std) {
        tr_rng rng(p.seed, TR_RNG_STREAM_MAKE_MODEL, stream_counter++);
        data.resize(ne0 * ne1);
        for (float & v : data) {
            // sum of 4 uniforms: approximately normal, exact and cheap
            v = (rng.next_f32() + rng.next_f32() + rng.next_f32() + rng.next_f32() - 2.0f) * 1.7320508f * std;
        }
        const int64_t ne[2] = {ne0, ne1};
        add_converted(out, name.c_str(), data.data(), ne, ne1 > 1 ? 2 : 1, type, r);
    };
    auto ones = [&](const std::string & name, int64_t n) {
        data.assign(n, 1.0f);
        const int64_t ne[1] = {n};
        add_converted(out, name.c_str(), data.data(), ne, 1, type, r);
    };
    const int64_t n_kv = head * p.n_head_kv;
    random("token_embd.weight", p.n_embd, n_vocab, p.std);
    for (int64_t il = 0; il < p.n_layer; ++il) {
        const std::string b = tr_format("blk.%lld.", (long long) il);
        ones(b + "attn_norm.weight", p.n_embd);
        random(b + "attn_q.weight", p.n_embd, p.n_embd, p.std);
        random(b + "attn_k.weight", p.n_embd, n_kv, p.std);
        random(b + "attn_v.weight", p.n_embd, n_kv, p.std);
        if (a == "qwen2") {
            random(b + "attn_q.bias", p.n_embd, 1, p.std);
            random(b + "attn_k.bias", n_kv, 1, p.std);
            random(b + "attn_v.bias", n_kv, 1, p.std);
        }
        random(b + "attn_output.weight", p.n_embd, p.n_embd, p.std);
        ones(b + "ffn_norm.weight", p.n_embd);
        random(b + "ffn_gate.weight", p.n_embd, p.n_ff, p.std);
        random(b + "ffn_up.weight", p.n_embd, p.n_ff, p.std);
        random(b + "ffn_down.weight", p.n_ff, p.n_embd, p.std);
    }
    ones("output_norm.weight", p.n_embd);
    random("output.weight", p.n_embd, n_vocab, p.std);
    out.write(p.out.c_str());
    return r;
}

} // namespace

tr_make_model_result tr_make_model(const tr_make_model_params & p) {
    const ggml_type type = tr_type_from_name(p.type);
    if (p.out.empty()) {
        throw tr_error("make-model: no output path");
    }
    tr_make_model_result r = !p.weights_from.empty() ? convert_model(p, type) : random_model(p, type);
    TR_LOG_INFO("make-model: wrote %s (%lld parameters, %lld matrices as %s, %lld in a fallback type)", p.out.c_str(),
        (long long) r.n_params, (long long) r.n_converted, ggml_type_name(type), (long long) r.n_kept);
    return r;
}
