#include "tr-loss.h"

#include "tr-common.h"

namespace {

struct tr_loss_lm : tr_loss_head {
    ggml_tensor * rows = nullptr;     // I32 [M]: positions with a target
    ggml_tensor * picks = nullptr;    // I32 [M]: flat index m * n_vocab + target into the log-probs
    int64_t n_vocab = 0;

    const char * name() const override { return "lm"; }

    int64_t n_items(const tr_batch & batch) const override { return batch.n_targets(); }

    ggml_tensor * build(ggml_context * ctx, const tr_model & model, const tr_lora * lora,
                        ggml_tensor * hidden, const tr_batch & batch) override {
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
        ggml_tensor * picked = ggml_get_rows(ctx, logp, picks);               // [1, M]
        return ggml_scale(ctx, ggml_sum(ctx, picked), -1.0f);
    }

    void set_inputs(const tr_batch & batch) override {
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

} // namespace

std::unique_ptr<tr_loss_head> tr_loss_head_init(const std::string & kind) {
    if (kind == "lm") {
        return std::make_unique<tr_loss_lm>();
    }
    throw tr_error(tr_format("unknown loss head '%s' (lm)", kind.c_str()));
}
