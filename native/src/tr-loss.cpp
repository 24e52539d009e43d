#include "tr-loss.h"

#include "tr-common.h"

namespace {

// Gathers log p(target) at every position that has a target: [1, M] (M = targets in the batch).
struct target_logp {
    ggml_tensor * rows = nullptr;   // I32 [M]: positions with a target
    ggml_tensor * picks = nullptr;  // I32 [M]: flat index m * n_vocab + target into the log-probs
    int64_t n_vocab = 0;

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, ggml_tensor * hidden, const tr_batch & batch) {
        const int64_t M = batch.n_targets();
        GGML_ASSERT(M > 0);
        n_vocab = model.hp.n_vocab;
        rows  = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, M);
        picks = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, M);
        ggml_set_name(rows, "loss_rows");
        ggml_set_name(picks, "loss_picks");
        ggml_set_input(rows);
        ggml_set_input(picks);
        // only the positions that carry a loss go through the vocabulary-sized head
        ggml_tensor * h = ggml_get_rows(ctx, hidden, rows);                   // [n_embd, M]
        ggml_tensor * logits = tr_graph_lm_head(ctx, model, h);               // [n_vocab, M]
        ggml_tensor * logp = ggml_log(ctx, ggml_soft_max(ctx, logits));       // [n_vocab, M]
        logp = ggml_reshape_2d(ctx, logp, 1, n_vocab * M);
        return ggml_get_rows(ctx, logp, picks);                               // [1, M]
    }

    void set_inputs(const tr_batch & batch) {
        std::vector<int32_t> r, p;
        const int64_t n = batch.n_tokens();
        if (n_vocab * batch.n_targets() > INT32_MAX) {
            throw tr_error("micro-batch too large for the log-prob gather (n_vocab * targets > 2^31)");
        }
        for (int64_t i = 0; i < n; ++i) {
            if (batch.targets[i] >= 0) {
                p.push_back((int32_t) (r.size() * n_vocab + batch.targets[i]));
                r.push_back((int32_t) i);
            }
        }
        ggml_backend_tensor_set(rows, r.data(), 0, ggml_nbytes(rows));
        ggml_backend_tensor_set(picks, p.data(), 0, ggml_nbytes(picks));
    }
};

struct tr_loss_lm : tr_loss_head {
    target_logp gather;

    const char * name() const override { return "lm"; }

    double n_items(const tr_batch & batch) const override { return (double) batch.n_targets(); }

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora_set &, ggml_tensor * hidden,
                        const tr_batch & batch) override {
        return ggml_scale(ctx, ggml_sum(ctx, gather.build(ctx, model, hidden, batch)), -1.0f);
    }

    void set_inputs(const tr_batch & batch) override { gather.set_inputs(batch); }
};

const tr_lora * head_adapter(const tr_lora_set & loras) {
    for (const tr_lora * l : loras) {
        if (l->head) return l;
    }
    throw tr_error("a reward score needs an adapter with a scalar head among the applied adapters");
}

// Preference loss over pairs of sequence scores (see tr_batch::pairs).
struct tr_loss_pairwise : tr_loss_head {
    std::string kind;  // "reward" | "dpo"
    tr_loss_params hp;
    tr_score_builder score;
    ggml_tensor * diff = nullptr;     // F32 [S, P]: +1 at better, -1 at worse
    ggml_tensor * offsets = nullptr;  // F32 [P]
    ggml_tensor * weights = nullptr;  // F32 [P]
    ggml_tensor * seq_w = nullptr;    // F32 [S] (centering), or null
    int64_t n_seq = 0;

    tr_loss_pairwise(const std::string & kind, const tr_loss_params & hp) : kind(kind), hp(hp) {
        score.kind = kind == "reward" ? "reward" : "logp";
    }

    const char * name() const override { return kind.c_str(); }

    double n_items(const tr_batch & batch) const override {
        double n = 0.0;
        for (float w : batch.pair_weights) n += w;
        return n;
    }

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras, ggml_tensor * hidden,
                        const tr_batch & batch) override {
        const int64_t P = batch.n_pairs();
        GGML_ASSERT(P > 0);
        ggml_tensor * s = score.build(ctx, model, loras, hidden, batch);  // [S]
        n_seq = s->ne[0];
        diff    = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_seq, P);
        offsets = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, P);
        weights = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, P);
        ggml_set_name(diff, "pair_diff");
        ggml_set_name(offsets, "pair_offsets");
        ggml_set_name(weights, "pair_weights");
        ggml_set_input(diff);
        ggml_set_input(offsets);
        ggml_set_input(weights);

        ggml_tensor * d = ggml_mul_mat(ctx, diff, ggml_reshape_2d(ctx, s, n_seq, 1));  // [P, 1]
        d = ggml_reshape_1d(ctx, d, P);
        ggml_tensor * z = ggml_scale(ctx, ggml_sub(ctx, d, offsets), hp.beta);
        // -log σ(z) = softplus(-z); label smoothing adds ε·(-log σ(-z)) = ε·softplus(z)
        ggml_tensor * l = ggml_softplus(ctx, ggml_neg(ctx, z));
        if (hp.label_smoothing > 0.0f) {
            l = ggml_add(ctx, ggml_scale(ctx, l, 1.0f - hp.label_smoothing), ggml_scale(ctx, ggml_softplus(ctx, z), hp.label_smoothing));
        }
        ggml_tensor * loss = ggml_sum(ctx, ggml_mul(ctx, l, weights));
        if (hp.center_coef > 0.0f && !batch.seq_weights.empty()) {
            seq_w = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n_seq);
            ggml_set_name(seq_w, "seq_weights");
            ggml_set_input(seq_w);
            ggml_tensor * c = ggml_sum(ctx, ggml_mul(ctx, ggml_sqr(ctx, s), seq_w));
            loss = ggml_add(ctx, loss, ggml_scale(ctx, c, hp.center_coef));
        } else {
            seq_w = nullptr;
        }
        return loss;
    }

    void set_inputs(const tr_batch & batch) override {
        score.set_inputs(batch);
        const int64_t P = batch.n_pairs();
        std::vector<float> dm((size_t) (n_seq * P), 0.0f);
        for (int64_t p = 0; p < P; ++p) {
            dm[(size_t) (p * n_seq + batch.pairs[2 * p])] += 1.0f;
            dm[(size_t) (p * n_seq + batch.pairs[2 * p + 1])] -= 1.0f;
        }
        ggml_backend_tensor_set(diff, dm.data(), 0, ggml_nbytes(diff));
        ggml_backend_tensor_set(offsets, batch.pair_offsets.data(), 0, ggml_nbytes(offsets));
        ggml_backend_tensor_set(weights, batch.pair_weights.data(), 0, ggml_nbytes(weights));
        if (seq_w) {
            ggml_backend_tensor_set(seq_w, batch.seq_weights.data(), 0, ggml_nbytes(seq_w));
        }
    }

    std::vector<float> scores() const override {
        std::vector<float> out((size_t) ggml_nelements(score.out));
        ggml_backend_tensor_get(score.out, out.data(), 0, ggml_nbytes(score.out));
        return out;
    }
};

// relu-built helpers (no backward for min/max/clamp in this ggml)
ggml_tensor * clip_between(ggml_context * ctx, ggml_tensor * x, ggml_tensor * lo, ggml_tensor * hi) {
    // lo + relu(x - lo) - relu(x - hi), for lo <= hi
    return ggml_sub(ctx, ggml_add(ctx, lo, ggml_relu(ctx, ggml_sub(ctx, x, lo))), ggml_relu(ctx, ggml_sub(ctx, x, hi)));
}

ggml_tensor * max_of(ggml_context * ctx, ggml_tensor * a, ggml_tensor * b) {
    return ggml_add(ctx, b, ggml_relu(ctx, ggml_sub(ctx, a, b)));
}

struct tr_loss_ppo : tr_loss_head {
    tr_loss_params hp;
    tr_score_builder policy;  // kind "policy": logp [M], value [M], entropy [M]
    ggml_tensor * inputs = nullptr;  // F32 [M, 4]: logp_old, advantage, return, value_old
    ggml_tensor * ones = nullptr;    // F32 [M]: 1 (for 1±ε and clip bounds)
    int64_t M = 0;

    explicit tr_loss_ppo(const tr_loss_params & hp) : hp(hp) { policy.kind = "policy"; }

    const char * name() const override { return "ppo"; }

    double n_items(const tr_batch & batch) const override { return (double) batch.n_targets(); }

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras, ggml_tensor * hidden,
                        const tr_batch & batch) override {
        M = batch.n_targets();
        GGML_ASSERT(M > 0);
        policy.build(ctx, model, loras, hidden, batch);  // scores [3M] for metrics
        ggml_tensor * logp = policy.logp_node;
        ggml_tensor * value = policy.value_node;
        inputs = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, M, 4);
        ones = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, M);
        ggml_set_name(inputs, "ppo_inputs");
        ggml_set_name(ones, "ppo_ones");
        ggml_set_input(inputs);
        ggml_set_input(ones);
        const size_t row = M * sizeof(float);
        ggml_tensor * logp_old = ggml_view_1d(ctx, inputs, M, 0);
        ggml_tensor * adv      = ggml_view_1d(ctx, inputs, M, row);
        ggml_tensor * ret      = ggml_view_1d(ctx, inputs, M, 2 * row);
        ggml_tensor * v_old    = ggml_view_1d(ctx, inputs, M, 3 * row);

        // policy: max(-A·r, -A·clip(r, 1-ε, 1+ε))
        ggml_tensor * ratio = ggml_exp(ctx, ggml_sub(ctx, logp, logp_old));
        ggml_tensor * lo = ggml_scale(ctx, ones, 1.0f - hp.clip_range);
        ggml_tensor * hi = ggml_scale(ctx, ones, 1.0f + hp.clip_range);
        ggml_tensor * pg1 = ggml_neg(ctx, ggml_mul(ctx, adv, ratio));
        ggml_tensor * pg2 = ggml_neg(ctx, ggml_mul(ctx, adv, clip_between(ctx, ratio, lo, hi)));
        ggml_tensor * pg = max_of(ctx, pg1, pg2);

        // value: ½·max((v - R)², (v_old + clip(v - v_old, -ε_v, ε_v) - R)²)
        ggml_tensor * dv = ggml_sub(ctx, value, v_old);
        ggml_tensor * v_clipped = ggml_add(ctx, v_old, clip_between(ctx, dv, ggml_scale(ctx, ones, -hp.clip_range_value), ggml_scale(ctx, ones, hp.clip_range_value)));
        ggml_tensor * vf1 = ggml_sqr(ctx, ggml_sub(ctx, value, ret));
        ggml_tensor * vf2 = ggml_sqr(ctx, ggml_sub(ctx, v_clipped, ret));
        ggml_tensor * vf = ggml_scale(ctx, max_of(ctx, vf1, vf2), 0.5f);

        return ggml_add(ctx, ggml_sum(ctx, pg), ggml_scale(ctx, ggml_sum(ctx, vf), hp.vf_coef));
    }

    void set_inputs(const tr_batch & batch) override {
        policy.set_inputs(batch);
        if ((int64_t) batch.target_values.size() != 4 * M) {
            throw tr_error(tr_format("ppo needs 4 values per target token (%lld), got %zu", (long long) M, batch.target_values.size()));
        }
        ggml_backend_tensor_set(inputs, batch.target_values.data(), 0, ggml_nbytes(inputs));
        std::vector<float> one((size_t) M, 1.0f);
        ggml_backend_tensor_set(ones, one.data(), 0, ggml_nbytes(ones));
    }

    std::vector<float> scores() const override {
        std::vector<float> out((size_t) ggml_nelements(policy.out));
        ggml_backend_tensor_get(policy.out, out.data(), 0, ggml_nbytes(policy.out));
        return out;
    }

    ggml_tensor * extra_output() const override { return policy.out; }
};

} // namespace

ggml_tensor * tr_score_builder::build(ggml_context * ctx, const tr_model & model, const tr_lora_set & loras,
                                      ggml_tensor * hidden, const tr_batch & batch) {
    const int64_t S = (int64_t) batch.sequence_ends().size();
    if (S == 0) {
        throw tr_error("the batch has no sequences to score");
    }
    if (kind == "tokens" || kind == "policy") {
        const int64_t M = batch.n_targets();
        if (M == 0) {
            throw tr_error("token scores need target tokens");
        }
        target_logp gather;
        ggml_tensor * picked = ggml_reshape_1d(ctx, gather.build(ctx, model, hidden, batch), M);  // [M]
        rows = gather.rows;
        picks = gather.picks;
        n_vocab = gather.n_vocab;
        if (kind == "tokens") {
            out = picked;
        } else {
            const tr_lora * l = head_adapter(loras);
            ggml_tensor * h = ggml_get_rows(ctx, hidden, rows);                                // [n_embd, M]
            ggml_tensor * value = ggml_reshape_1d(ctx, ggml_mul_mat(ctx, l->head, h), M);     // [M]
            // entropy of the next-token distribution: -Σ p log p (a metric: no gradient is asked of it)
            ggml_tensor * logits = tr_graph_lm_head(ctx, model, h);
            ggml_tensor * p = ggml_soft_max(ctx, logits);
            // (log of p + 1e-30: a probability that underflows to 0 adds 0, not 0·-inf = NaN)
            ggml_tensor * entropy = ggml_reshape_1d(ctx, ggml_neg(ctx, ggml_sum_rows(ctx, ggml_mul(ctx, p, ggml_log(ctx, ggml_scale_bias(ctx, p, 1.0f, 1e-30f))))), M);
            logp_node = picked;
            value_node = value;
            out = ggml_concat(ctx, ggml_concat(ctx, picked, value, 0), entropy, 0);        // [3M]
        }
        ggml_set_name(out, "scores");
        ggml_set_output(out);
        return out;
    }
    if (kind == "reward") {
        const tr_lora * l = head_adapter(loras);
        ends = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, S);
        ggml_set_name(ends, "score_ends");
        ggml_set_input(ends);
        ggml_tensor * h = ggml_get_rows(ctx, hidden, ends);              // [n_embd, S]
        out = ggml_reshape_1d(ctx, ggml_mul_mat(ctx, l->head, h), S);    // [S]
    } else if (kind == "logp") {
        const int64_t M = batch.n_targets();
        if (M == 0) {
            throw tr_error("log-prob scores need target tokens in every batch");
        }
        target_logp gather;
        ggml_tensor * picked = gather.build(ctx, model, hidden, batch);  // [1, M]
        rows = gather.rows;
        picks = gather.picks;
        n_vocab = gather.n_vocab;
        member = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, M, S);           // 1 where target m is in sequence s
        ggml_set_name(member, "score_member");
        ggml_set_input(member);
        out = ggml_reshape_1d(ctx, ggml_mul_mat(ctx, member, ggml_reshape_2d(ctx, picked, M, 1)), S);
    } else {
        throw tr_error(tr_format("unknown score kind '%s' (reward, logp, tokens, policy)", kind.c_str()));
    }
    ggml_set_name(out, "scores");
    ggml_set_output(out);
    return out;
}

void tr_score_builder::set_inputs(const tr_batch & batch) {
    if (kind == "tokens" || kind == "policy") {
        target_logp gather;
        gather.rows = rows;
        gather.picks = picks;
        gather.n_vocab = n_vocab;
        gather.set_inputs(batch);
        return;
    }
    if (kind == "reward") {
        const std::vector<int32_t> e = batch.sequence_ends();
        ggml_backend_tensor_set(ends, e.data(), 0, ggml_nbytes(ends));
        return;
    }
    target_logp gather;
    gather.rows = rows;
    gather.picks = picks;
    gather.n_vocab = n_vocab;
    gather.set_inputs(batch);
    const std::vector<int32_t> of = batch.sequence_of_position();
    const int64_t M = member->ne[0];
    std::vector<float> m((size_t) ggml_nelements(member), 0.0f);
    int64_t j = 0;
    for (size_t i = 0; i < of.size(); ++i) {
        if (batch.targets[i] >= 0) {
            m[(size_t) (of[i] * M + j)] = 1.0f;
            ++j;
        }
    }
    ggml_backend_tensor_set(member, m.data(), 0, ggml_nbytes(member));
}

std::unique_ptr<tr_loss_head> tr_loss_head_init(const std::string & kind, const tr_loss_params & params) {
    if (kind == "lm") {
        return std::make_unique<tr_loss_lm>();
    }
    if (kind == "reward" || kind == "dpo") {
        if (!(params.beta > 0.0f) || !(params.label_smoothing >= 0.0f && params.label_smoothing < 0.5f) || !(params.center_coef >= 0.0f)) {
            throw tr_error("preference loss: beta must be > 0, label smoothing in [0, 0.5), centering >= 0");
        }
        return std::make_unique<tr_loss_pairwise>(kind, params);
    }
    if (kind == "ppo") {
        if (!(params.clip_range > 0.0f && params.clip_range < 1.0f) || !(params.clip_range_value > 0.0f) || !(params.vf_coef >= 0.0f)) {
            throw tr_error("ppo: clip range in (0, 1), value clip range > 0, value coefficient >= 0");
        }
        return std::make_unique<tr_loss_ppo>(params);
    }
    throw tr_error(tr_format("unknown loss head '%s' (lm, reward, dpo, ppo)", kind.c_str()));
}
