#include "tr-graph.h"

#include "tr-common.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Dropout masks come from one pool of random keep/drop values per micro-step; every LoRA site
// reads a window of it at its own random offset. Sites whose offsets differ see independent
// values at each (row, column), like PEFT's per-module dropout, without one full-size random
// tensor per site and layer (that would be gigabytes for a 7B model).
static const int64_t k_dropout_span = 8192;

int64_t tr_batch::n_targets() const {
    int64_t n = 0;
    for (int32_t t : targets) n += t >= 0;
    return n;
}

int64_t tr_batch::n_real_tokens() const {
    int64_t n = 0;
    for (int32_t s : seg) n += s >= 0;
    return n;
}

std::vector<int32_t> tr_batch::sequence_ends() const {
    std::vector<int32_t> ends;
    const std::vector<int32_t> of = sequence_of_position();
    for (int32_t k = 0; k < (int32_t) of.size(); ++k) {
        if (of[k] < 0) continue;
        if (of[k] == (int32_t) ends.size()) ends.push_back(k);
        else ends[of[k]] = k;
    }
    return ends;
}

std::vector<int32_t> tr_batch::sequence_of_position() const {
    std::vector<int32_t> of((size_t) n_tokens(), -1);
    int32_t n = -1;
    for (int32_t r = 0; r < n_rows; ++r) {
        int32_t current = -1;
        for (int32_t i = 0; i < n_ctx; ++i) {
            const int32_t k = r * n_ctx + i;
            if (seg[k] < 0) continue;
            if (seg[k] != current) {
                ++n;
                current = seg[k];
            }
            of[k] = n;
        }
    }
    return of;
}

void tr_batch::validate(int64_t n_vocab) const {
    const size_t n = (size_t) n_tokens();
    if (n_rows < 1 || n_ctx < 1) {
        throw tr_error(tr_format("batch needs n_rows >= 1 and n_ctx >= 1, got %d x %d", n_rows, n_ctx));
    }
    if (tokens.size() != n || pos.size() != n || seg.size() != n || targets.size() != n) {
        throw tr_error(tr_format("batch arrays must all hold n_rows * n_ctx = %zu values", n));
    }
    for (size_t i = 0; i < n; ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab || targets[i] < -1 || targets[i] >= n_vocab) {
            throw tr_error(tr_format("batch position %zu: token %d / target %d outside the vocabulary (%lld)",
                i, tokens[i], targets[i], (long long) n_vocab));
        }
        if (pos[i] < 0) {
            throw tr_error(tr_format("batch position %zu: negative position", i));
        }
        if (seg[i] < 0 && targets[i] >= 0) {
            throw tr_error(tr_format("batch position %zu: a padding token cannot have a target", i));
        }
    }
    const size_t n_pairs = pair_weights.size();
    if (pairs.size() != 2 * n_pairs || pair_offsets.size() != n_pairs) {
        throw tr_error("batch pairs need 2 sequence indices, one weight and one offset per pair");
    }
    if (!pairs.empty() || !seq_weights.empty()) {
        const int64_t n_seq = (int64_t) sequence_ends().size();
        for (int32_t p : pairs) {
            if (p < 0 || p >= n_seq) {
                throw tr_error(tr_format("batch pair names sequence %d; the batch has %lld", p, (long long) n_seq));
            }
        }
        if (!seq_weights.empty() && (int64_t) seq_weights.size() != n_seq) {
            throw tr_error(tr_format("batch seq weights: %zu values for %lld sequences", seq_weights.size(), (long long) n_seq));
        }
    }
}

size_t tr_graph_size(const tr_model & model) {
    return 4096 + (size_t) model.hp.n_layer * 1024;
}

namespace {

struct graph_builder {
    ggml_context * ctx;
    const tr_model & model;
    const tr_lora_set & loras;
    const tr_graph_params & gp;
    ggml_tensor * pool = nullptr;
    tr_rng offsets;
    int64_t n_tokens;

    // W x, plus each applied adapter's path (alpha/r) B (A dropout(x)) where it has this site.
    ggml_tensor * mm(ggml_tensor * w, ggml_tensor * x, int il, tr_lora_target target) {
        ggml_tensor * y = ggml_mul_mat(ctx, w, x);
        for (const tr_lora * lora : loras) {
            const tr_lora_pair & p = lora->layers[il][target];
            if (!p.a) {
                continue;
            }
            ggml_tensor * xa = x;
            if (pool && lora->trainable) {
                const int64_t n_in = x->ne[0];
                const int64_t offset = (int64_t) (offsets.next_u64() % (uint64_t) k_dropout_span);
                ggml_tensor * keep = ggml_view_2d(ctx, pool, n_in, n_tokens, n_in * sizeof(float), offset * sizeof(float));
                xa = ggml_mul(ctx, x, keep);
            }
            ggml_tensor * ab = ggml_mul_mat(ctx, p.b, ggml_mul_mat(ctx, p.a, xa));
            y = ggml_add(ctx, y, ggml_scale(ctx, ab, lora->scale));
        }
        return y;
    }

    // Draws the dropout offsets of layer il's sites without building them (see tr_graph_build).
    void skip_layer(int il) {
        if (!pool) return;
        for (const tr_lora * lora : loras) {
            if (!lora->trainable) continue;
            for (int target = 0; target < TR_LORA_N_TARGETS; ++target) {
                if (lora->layers[il][target].a) offsets.next_u64();
            }
        }
    }

    // [d, n_kv_head, T, B] -> [d, T, n_head, B], repeating each KV head for its query group.
    // Explicit (not mul_mat broadcasting): ggml's mul_mat backward cannot broadcast heads when
    // the batch dimension is > 1.
    ggml_tensor * expand_heads(ggml_tensor * x, int64_t d, int64_t T, int64_t B) {
        const int64_t n_head = model.hp.n_head, n_head_kv = model.hp.n_head_kv;
        x = ggml_cont(ctx, ggml_permute(ctx, x, 0, 2, 1, 3));  // [d, T, n_kv, B]
        if (n_head == n_head_kv) {
            return x;
        }
        const int64_t group = n_head / n_head_kv;
        x = ggml_reshape_4d(ctx, x, d * T, 1, n_head_kv, B);
        x = ggml_repeat_4d(ctx, x, d * T, group, n_head_kv, B);
        return ggml_reshape_4d(ctx, x, d, T, n_head, B);
    }
};

} // namespace

ggml_tensor * tr_graph_build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras,
                             const tr_batch & batch, const tr_graph_params & gp, tr_graph_inputs & inp,
                             const tr_graph_span & span) {
    const tr_hparams & hp = model.hp;
    const int64_t T = batch.n_ctx, B = batch.n_rows, N = T * B;
    const int64_t d = hp.n_embd_head;
    const int first = span.first;
    const int last = span.last < 0 ? (int) hp.n_layer : span.last;
    GGML_ASSERT(0 <= first && first <= last && last <= (int) hp.n_layer);
    GGML_ASSERT(!span.final_norm || last == (int) hp.n_layer);

    graph_builder gb{ctx, model, loras, gp, nullptr, tr_rng(gp.seed, TR_RNG_STREAM_DROPOUT, 2 * gp.dropout_counter), N};

    inp = tr_graph_inputs();
    ggml_tensor * x = span.input;
    if (!x) {
        inp.tokens = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, N);
        ggml_set_name(inp.tokens, "inp_tokens");
        ggml_set_input(inp.tokens);
        x = ggml_get_rows(ctx, model.tok_embd, inp.tokens);  // [n_embd, N]
    }
    if (first < last) {
        inp.pos  = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, N);
        inp.mask = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, T, T, 1, B);
        ggml_set_name(inp.pos, "inp_pos");
        ggml_set_name(inp.mask, "inp_mask");
        ggml_set_input(inp.pos);
        ggml_set_input(inp.mask);
        bool any_trainable = false;
        for (const tr_lora * l : loras) any_trainable |= l->trainable;
        if (any_trainable && gp.dropout && gp.dropout_p > 0.0f) {
            inp.dropout_pool = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, tr_graph_dropout_pool_size(model, N));
            ggml_set_name(inp.dropout_pool, "inp_dropout_pool");
            ggml_set_input(inp.dropout_pool);
            gb.pool = inp.dropout_pool;
        }
    }
    // The dropout sites draw their pool offsets in graph order: a graph that starts at a later
    // layer draws (and drops) the earlier layers' first, so each site keeps the mask it has in
    // the whole graph (gradient checkpointing recomputes a layer with the same dropout).
    for (int il = 0; il < first; ++il) gb.skip_layer(il);

    const float kq_scale = 1.0f / sqrtf((float) d);
    for (int il = first; il < last; ++il) {
        if (span.layer_inputs) span.layer_inputs->push_back(x);
        const tr_layer & l = model.layers[il];

        ggml_tensor * cur = ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.rms_eps), l.attn_norm);

        ggml_tensor * q = gb.mm(l.wq, cur, il, TR_LORA_Q);
        ggml_tensor * k = gb.mm(l.wk, cur, il, TR_LORA_K);
        ggml_tensor * v = gb.mm(l.wv, cur, il, TR_LORA_V);
        if (l.bq) q = ggml_add(ctx, q, l.bq);
        if (l.bk) k = ggml_add(ctx, k, l.bk);
        if (l.bv) v = ggml_add(ctx, v, l.bv);

        q = ggml_reshape_3d(ctx, q, d, hp.n_head, N);
        k = ggml_reshape_3d(ctx, k, d, hp.n_head_kv, N);
        q = ggml_rope_ext(ctx, q, inp.pos, nullptr, (int) hp.n_rot, hp.rope_type, (int) hp.n_ctx_train,
                          hp.rope_freq_base, hp.rope_freq_scale, 0.0f, 1.0f, 32.0f, 1.0f);
        k = ggml_rope_ext(ctx, k, inp.pos, nullptr, (int) hp.n_rot, hp.rope_type, (int) hp.n_ctx_train,
                          hp.rope_freq_base, hp.rope_freq_scale, 0.0f, 1.0f, 32.0f, 1.0f);

        // heads to dim 2, rows of the batch to dim 3: [d, T, n_head, B]
        q = ggml_cont(ctx, ggml_permute(ctx, ggml_reshape_4d(ctx, q, d, hp.n_head, T, B), 0, 2, 1, 3));
        k = gb.expand_heads(ggml_reshape_4d(ctx, k, d, hp.n_head_kv, T, B), d, T, B);

        ggml_tensor * kq = ggml_mul_mat(ctx, k, q);  // [T_k, T_q, n_head, B]
        kq = ggml_soft_max_ext(ctx, kq, inp.mask, kq_scale, 0.0f);

        // V transposed per head: [T, d, n_head, B]
        ggml_tensor * vt = ggml_reshape_4d(ctx, v, d, hp.n_head_kv, T, B);
        vt = ggml_cont(ctx, ggml_permute(ctx, vt, 1, 2, 0, 3));  // [T, d, n_kv, B]
        if (hp.n_head != hp.n_head_kv) {
            const int64_t group = hp.n_head / hp.n_head_kv;
            vt = ggml_reshape_4d(ctx, vt, T * d, 1, hp.n_head_kv, B);
            vt = ggml_repeat_4d(ctx, vt, T * d, group, hp.n_head_kv, B);
            vt = ggml_reshape_4d(ctx, vt, T, d, hp.n_head, B);
        }
        ggml_tensor * kqv = ggml_mul_mat(ctx, vt, kq);  // [d, T_q, n_head, B]
        cur = ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3));  // [d, n_head, T, B]
        cur = ggml_reshape_2d(ctx, cur, hp.n_embd, N);
        cur = gb.mm(l.wo, cur, il, TR_LORA_O);
        x = ggml_add(ctx, x, cur);

        cur = ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.rms_eps), l.ffn_norm);
        ggml_tensor * gate = gb.mm(l.ffn_gate, cur, il, TR_LORA_GATE);
        ggml_tensor * up   = gb.mm(l.ffn_up, cur, il, TR_LORA_UP);
        cur = ggml_swiglu_split(ctx, gate, up);  // silu(gate) * up; the fused form has no backward
        cur = gb.mm(l.ffn_down, cur, il, TR_LORA_DOWN);
        x = ggml_add(ctx, x, cur);
    }
    if (!span.final_norm) {
        return x;
    }
    return ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.rms_eps), model.output_norm);
}

namespace {

// Contractions shorter than this run poorly as GEMMs (and a GEMM needs both sides transposed).
const int64_t k_short = 64;

// An out_prod of two matrices. (Attention's batched ones were tried as GEMMs too: no faster here.)
bool is_plain_out_prod(const ggml_tensor * node) {
    if (node->op != GGML_OP_OUT_PROD) return false;
    const ggml_tensor * a = node->src[0];
    const ggml_tensor * b = node->src[1];
    return a->ne[2] == 1 && a->ne[3] == 1 && b->ne[2] == 1 && b->ne[3] == 1;
}

// dx = out_prod(W, gᵀ): the gradient of y = mul_mat(W, x) with respect to x (W [n_in, n_out],
// g [n_out, N]), when the contraction over n_out is long: the base's weights, LoRA's B.
bool is_input_gradient(const ggml_tensor * node) {
    return is_plain_out_prod(node) && node->src[1]->op == GGML_OP_TRANSPOSE && node->src[0]->ne[1] >= k_short &&
           (node->src[0]->type == GGML_TYPE_F32 || ggml_n_dims(node->src[0]) == 2);
}

// out_prod(a, b) with short rows (a [r, M]): LoRA B's gradient out_prod(Ax, g), [r, n_out].
bool is_short_row_product(const ggml_tensor * node) {
    return is_plain_out_prod(node) && node->ne[0] < k_short && node->src[0]->type == GGML_TYPE_F32 &&
           node->src[1]->type == GGML_TYPE_F32 && !ggml_is_transposed(node->src[0]) && !ggml_is_transposed(node->src[1]);
}

// A product whose contraction is the LoRA rank (LoRA B's forward, B [r, n_out] times Ax [r, N]):
// on the CPU a contraction shorter than the GEMM kernel's step (16 floats with AVX-512) falls back
// to one r-long dot product per output value.
bool is_short_contraction(const ggml_tensor * node) {
    if (node->op != GGML_OP_MUL_MAT) return false;
    const ggml_tensor * a = node->src[0];
    const ggml_tensor * b = node->src[1];
    return a->ne[0] < k_short && a->ne[0] % 16 != 0 && a->type == GGML_TYPE_F32 && b->type == GGML_TYPE_F32 &&
           ggml_n_dims(a) == 2 && ggml_n_dims(b) == 2 && !ggml_is_transposed(a) && !ggml_is_transposed(b);
}

// Turns `node` into another op with the same shape, type and strides, so that the views other
// nodes hold of it stay valid.
void become(ggml_tensor * node, ggml_op op, ggml_tensor * src0, ggml_tensor * src1) {
    node->op = op;
    std::memset(node->op_params, 0, sizeof(node->op_params));
    node->src[0] = src0;
    node->src[1] = src1;
}

} // namespace

ggml_cgraph * tr_graph_backward_rewrite(ggml_context * ctx, ggml_cgraph * gf, size_t graph_size, ggml_type wt_type,
                                        bool on_cpu, int64_t slice_values, tr_graph_inputs & inp) {
    if (slice_values <= 0) slice_values = TR_BACKWARD_SLICE_VALUES;
    const int n = ggml_graph_n_nodes(gf);
    int64_t max_rows = 0;
    bool any = false;
    for (int i = 0; i < n; ++i) {
        const ggml_tensor * node = ggml_graph_node(gf, i);
        if (is_input_gradient(node)) {
            any = true;
            max_rows = std::max(max_rows, node->src[0]->ne[1]);  // made only when a weight needs it
        }
        any |= is_short_row_product(node) || (on_cpu && is_short_contraction(node));
    }
    if (!any) {
        return gf;
    }

    // Re-adding the nodes in their order keeps it: each node's sources are already in the new
    // graph, except the ones made here, which land right before their one user and are freed
    // after it (one weight at a time is ever held in this form, never the model).
    ggml_cgraph * out = ggml_new_graph_custom(ctx, graph_size, /*grads =*/ false);
    for (int i = 0; i < n; ++i) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        if (is_input_gradient(node)) {
            ggml_tensor * w = node->src[0];                             // [n_in, n_out]
            ggml_tensor * g = node->src[1]->src[0];                     // [n_out, N]
            if (!ggml_is_contiguous(g)) g = ggml_cont(ctx, g);
            // Wᵀ rows [first, first + rows) times the same rows of g. A weight with many output
            // rows (the LM head: 152k × n_embd for Qwen2, 2.2 GB of F32 Wᵀ at 7B) goes through in
            // slices, dx = Σ W_sᵀ·g_s, so that only one slice's copies are held at a time.
            auto product = [&](int64_t first, int64_t rows) {
                // an F16/BF16 weight converts straight into a BF16 Wᵀ; anything else is dequantised
                // to F32 first (get_rows is the one dequantising op every backend has for every type)
                const bool direct = w->type == GGML_TYPE_F32 || (wt_type == GGML_TYPE_BF16 && (w->type == GGML_TYPE_F16 || w->type == GGML_TYPE_BF16));
                ggml_tensor * ws = rows == w->ne[1] ? w : ggml_view_2d(ctx, w, w->ne[0], rows, w->nb[1], first * w->nb[1]);
                if (!direct) {
                    if (!inp.row_index) {
                        inp.row_index = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, max_rows);
                        ggml_set_name(inp.row_index, "inp_row_index");
                        ggml_set_input(inp.row_index);
                    }
                    ws = ggml_get_rows(ctx, w, ggml_view_1d(ctx, inp.row_index, rows, first * sizeof(int32_t)));
                }
                ggml_tensor * wt = wt_type == GGML_TYPE_F32 ? ggml_cont(ctx, ggml_transpose(ctx, ws))  // [rows, n_in]
                                                            : ggml_cpy(ctx, ggml_transpose(ctx, ws), ggml_new_tensor_2d(ctx, wt_type, rows, ws->ne[0]));
                ggml_format_name(wt, "%s (transposed for backward)", w->name);
                ggml_tensor * gs = rows == g->ne[0] ? g : ggml_cont(ctx, ggml_view_2d(ctx, g, rows, g->ne[1], g->nb[1], first * sizeof(float)));
                return std::make_pair(wt, gs);
            };
            const int64_t n_out = w->ne[1];
            const int64_t slice = std::max<int64_t>(1, slice_values / w->ne[0]);
            if (n_out <= slice + slice / 2) {
                auto [wt, gs] = product(0, n_out);
                become(node, GGML_OP_MUL_MAT, wt, gs);
            } else {
                ggml_tensor * sum = nullptr;
                int64_t first = 0;
                for (; n_out - first > slice + slice / 2; first += slice) {
                    auto [wt, gs] = product(first, slice);
                    ggml_tensor * part = ggml_mul_mat(ctx, wt, gs);
                    sum = sum ? ggml_add(ctx, sum, part) : part;
                }
                auto [wt, gs] = product(first, n_out - first);
                become(node, GGML_OP_ADD, sum, ggml_mul_mat(ctx, wt, gs));
            }
        } else if (is_short_row_product(node)) {
            // out_prod(b, a) runs along the long side; the node becomes its small transposed copy
            become(node, GGML_OP_CONT, ggml_transpose(ctx, ggml_out_prod(ctx, node->src[1], node->src[0])), nullptr);
        } else if (on_cpu && is_short_contraction(node)) {
            // the same sum as multiply-adds along n_out: out_prod(Bᵀ, (Ax)ᵀ), both copies small.
            // The backward was built from the forward already, so only this node's kernel changes.
            ggml_tensor * bt = ggml_cont(ctx, ggml_transpose(ctx, node->src[0]));  // [n_out, r]
            ggml_tensor * xt = ggml_cont(ctx, ggml_transpose(ctx, node->src[1]));  // [N, r]
            become(node, GGML_OP_OUT_PROD, bt, xt);
        }
        ggml_build_forward_expand(out, node);
    }
    return out;
}

ggml_tensor * tr_graph_lm_head(ggml_context * ctx, const tr_model & model, ggml_tensor * hidden) {
    return ggml_mul_mat(ctx, model.output, hidden);
}

int64_t tr_graph_dropout_pool_size(const tr_model & model, int64_t n_tokens) {
    return std::max(model.hp.n_embd, model.hp.n_ff) * n_tokens + k_dropout_span;
}

void tr_graph_set_inputs(const tr_graph_inputs & inp, const tr_batch & batch, const tr_graph_params & gp,
                         tr_graph_host_inputs * host) {
    const int64_t T = batch.n_ctx, B = batch.n_rows;
    tr_graph_host_inputs local;
    tr_graph_host_inputs & h = host ? *host : local;
    if (inp.row_index) {
        std::vector<int32_t> rows((size_t) ggml_nelements(inp.row_index));
        for (size_t i = 0; i < rows.size(); ++i) rows[i] = (int32_t) i;
        ggml_backend_tensor_set(inp.row_index, rows.data(), 0, ggml_nbytes(inp.row_index));
    }
    if (inp.tokens) ggml_backend_tensor_set(inp.tokens, batch.tokens.data(), 0, ggml_nbytes(inp.tokens));
    if (inp.pos) ggml_backend_tensor_set(inp.pos, batch.pos.data(), 0, ggml_nbytes(inp.pos));

    if (inp.mask) {
        // Causal within a sequence, nothing across sequences. A padding token sees only itself, so
        // no softmax row is all -INF (that would be NaN, and NaN * 0 still poisons the gradients).
        if (h.mask.empty()) {
            h.mask.assign((size_t) (T * T * B), -INFINITY);
            for (int64_t b = 0; b < B; ++b) {
                const int32_t * seg = batch.seg.data() + b * T;
                float * m = h.mask.data() + b * T * T;
                for (int64_t iq = 0; iq < T; ++iq) {
                    float * row = m + iq * T;
                    if (seg[iq] < 0) {
                        row[iq] = 0.0f;
                        continue;
                    }
                    for (int64_t ik = 0; ik <= iq; ++ik) {
                        if (seg[ik] == seg[iq]) {
                            row[ik] = 0.0f;
                        }
                    }
                }
            }
        }
        ggml_backend_tensor_set(inp.mask, h.mask.data(), 0, ggml_nbytes(inp.mask));
    }

    if (inp.dropout_pool) {
        // inverted dropout: kept values are scaled by 1/(1-p), so the expectation is unchanged
        // and evaluation (no dropout) needs no rescaling
        if (h.pool.empty()) {
            const float p = gp.dropout_p;
            const float keep = 1.0f / (1.0f - p);
            h.pool.resize((size_t) ggml_nelements(inp.dropout_pool));
            tr_rng rng(gp.seed, TR_RNG_STREAM_DROPOUT, 2 * gp.dropout_counter + 1);
            for (float & v : h.pool) {
                v = rng.next_f32() < p ? 0.0f : keep;
            }
        }
        ggml_backend_tensor_set(inp.dropout_pool, h.pool.data(), 0, ggml_nbytes(inp.dropout_pool));
    }
}
