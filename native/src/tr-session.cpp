#include "tr-session.h"

#include "tr-common.h"
#include "tr-state.h"

#include <cmath>
#include <cstring>

tr_session * tr_session_init(const tr_session_params & params) {
    auto s = std::make_unique<tr_session>();
    s->params = params;
    s->loss = tr_loss_head_init(params.loss);
    try {
        tr_backend_init(s->backend, params.backend);
        s->model = tr_model_load(params.model_path.c_str(), s->backend.main);
        s->lora  = tr_lora_init(*s->model, params.lora, s->backend.main);
        s->optim = tr_optim_init(s->lora->tensors, params.adamw, s->backend.main);
        // graph sizes depend on the model's depth, so the scheduler comes last
        s->graph_size = tr_graph_size(*s->model);
        tr_backend_sched_init(s->backend, 2 * s->graph_size);
    } catch (...) {
        tr_session_free(s.release());
        throw;
    }
    s->meta.resize(s->graph_size * ggml_tensor_overhead() + ggml_graph_overhead_custom(s->graph_size, true));
    TR_LOG_INFO("session: %s, loss head %s, seed %llu", s->backend.device.c_str(), s->loss->name(),
        (unsigned long long) params.seed);
    return s.release();
}

void tr_session_free(tr_session * s) {
    if (!s) {
        return;
    }
    tr_optim_free(s->optim);
    tr_lora_free(s->lora);
    tr_model_free(s->model);
    tr_backend_free(s->backend);
    delete s;
}

namespace {

ggml_context * meta_ctx(tr_session & s) {
    ggml_init_params params = { s.meta.size(), s.meta.data(), /*no_alloc =*/ true };
    return ggml_init(params);
}

struct ctx_guard {
    ggml_context * ctx;
    ~ctx_guard() { ggml_free(ctx); }
};

void graph_compute(tr_session & s, ggml_cgraph * gf) {
    if (ggml_backend_sched_graph_compute(s.backend.sched, gf) != GGML_STATUS_SUCCESS) {
        throw tr_error("graph computation failed");
    }
}

void graph_alloc(tr_session & s, ggml_cgraph * gf) {
    ggml_backend_sched_reset(s.backend.sched);
    if (!ggml_backend_sched_alloc_graph(s.backend.sched, gf)) {
        throw tr_error("cannot allocate the compute graph: out of memory (use a shorter context or fewer rows per micro-batch)");
    }
}

tr_graph_params graph_params(const tr_session & s, bool train) {
    tr_graph_params gp;
    gp.use_lora = true;
    gp.dropout = train;
    gp.dropout_p = s.lora->params.dropout;
    gp.seed = s.params.seed;
    gp.dropout_counter = s.micro_step;
    return gp;
}

// Forward + backward of one micro-batch, adding its gradient into the optimizer's accumulators.
// Returns the batch's loss sum.
double accumulate_one(tr_session & s, const tr_batch & batch, bool train) {
    ctx_guard g{meta_ctx(s)};
    const tr_graph_params gp = graph_params(s, train);
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.lora, batch, gp, inp);
    ggml_tensor * loss = s.loss->build(g.ctx, *s.model, s.lora, hidden, batch);
    ggml_set_name(loss, "loss");
    ggml_set_output(loss);
    ggml_set_loss(loss);

    ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, /*grads =*/ true);
    ggml_build_forward_expand(gf, loss);

    // Our accumulators: each LoRA tensor's gradient is added into tr_optim's tensor in place,
    // and the loss node's incoming gradient is the seed 1/items. Nothing else is persistent.
    const int n_nodes = ggml_graph_n_nodes(gf);
    std::vector<ggml_tensor *> grad_accs(n_nodes, nullptr);
    for (int i = 0; i < n_nodes; ++i) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        if (node == loss) {
            grad_accs[i] = s.optim->loss_seed;
        } else if (node->flags & GGML_TENSOR_FLAG_PARAM) {
            grad_accs[i] = tr_optim_grad(*s.optim, node);
            GGML_ASSERT(grad_accs[i] != nullptr);
        }
    }
    ggml_build_backward_expand(g.ctx, gf, grad_accs.data());

    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    s.loss->set_inputs(batch);
    graph_compute(s, gf);

    float value = 0.0f;
    ggml_backend_tensor_get(loss, &value, 0, sizeof(float));
    if (train) {
        s.micro_step++;
    }
    return value;
}

tr_eval_result accumulate(tr_session & s, const std::vector<tr_batch> & batches, bool train, const tr_progress_fn & progress) {
    tr_eval_result r;
    for (const tr_batch & b : batches) {
        b.validate(s.model->hp.n_vocab);
        r.n_items  += s.loss->n_items(b);
        r.n_tokens += b.n_real_tokens();
    }
    if (r.n_items == 0) {
        throw tr_error("the micro-batches of this step have no loss items (no assistant tokens?)");
    }
    tr_optim_zero_grad(*s.optim);
    tr_optim_set_loss_seed(*s.optim, (float) (1.0 / (double) r.n_items));
    int done = 0;
    for (const tr_batch & b : batches) {
        if (s.loss->n_items(b) > 0) {
            r.loss_sum += accumulate_one(s, b, train);
        } else if (train) {
            s.micro_step++;  // keep the dropout stream aligned with the batch sequence
        }
        if (progress) {
            progress(++done, (int) batches.size());
        }
    }
    return r;
}

} // namespace

tr_step_result tr_session_train_step(tr_session & s, const std::vector<tr_batch> & batches, float lr,
                                     const tr_progress_fn & progress) {
    const int64_t t0 = ggml_time_us();
    const tr_eval_result acc = accumulate(s, batches, /*train =*/ true, progress);
    const int64_t t1 = ggml_time_us();
    tr_step_result r;
    r.loss = acc.loss_sum / (double) acc.n_items;
    r.n_items = acc.n_items;
    r.n_tokens = acc.n_tokens;
    r.grad_norm = tr_optim_grad_norm(*s.optim, s.backend);
    if (!std::isfinite(r.grad_norm) || !std::isfinite(r.loss)) {
        throw tr_error(tr_format("non-finite loss (%g) or gradient norm (%g): lower the learning rate", r.loss, r.grad_norm));
    }
    const float clip = s.optim->hp.grad_clip;
    r.grad_scale = (clip > 0.0f && r.grad_norm > clip) ? (float) (clip / r.grad_norm) : 1.0f;
    const int64_t t2 = ggml_time_us();
    tr_optim_step(*s.optim, s.backend, lr, r.grad_scale);
    const int64_t t3 = ggml_time_us();
    TR_LOG_DEBUG("step %lld: forward+backward %.2f ms, grad norm %.2f ms, AdamW %.2f ms", (long long) s.optim->iter,
        (t1 - t0) / 1e3, (t2 - t1) / 1e3, (t3 - t2) / 1e3);
    r.iter = s.optim->iter;
    return r;
}

tr_eval_result tr_session_accumulate(tr_session & s, const std::vector<tr_batch> & batches) {
    return accumulate(s, batches, /*train =*/ false, nullptr);
}

ggml_tensor * tr_session_grad(const tr_session & s, const char * param_name) {
    ggml_tensor * p = tr_lora_find(*s.lora, param_name);
    return p ? tr_optim_grad(*s.optim, p) : nullptr;
}

tr_eval_result tr_session_eval(tr_session & s, const tr_batch & batch) {
    batch.validate(s.model->hp.n_vocab);
    tr_eval_result r;
    r.n_items = s.loss->n_items(batch);
    r.n_tokens = batch.n_real_tokens();
    if (r.n_items == 0) {
        return r;
    }
    ctx_guard g{meta_ctx(s)};
    const tr_graph_params gp = graph_params(s, /*train =*/ false);
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.lora, batch, gp, inp);
    ggml_tensor * loss = s.loss->build(g.ctx, *s.model, s.lora, hidden, batch);
    ggml_set_output(loss);
    ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, false);
    ggml_build_forward_expand(gf, loss);
    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    s.loss->set_inputs(batch);
    graph_compute(s, gf);
    float value = 0.0f;
    ggml_backend_tensor_get(loss, &value, 0, sizeof(float));
    r.loss_sum = value;
    return r;
}

std::vector<float> tr_session_logits(tr_session & s, const tr_batch & batch, bool use_lora) {
    batch.validate(s.model->hp.n_vocab);
    ctx_guard g{meta_ctx(s)};
    tr_graph_params gp = graph_params(s, /*train =*/ false);
    gp.use_lora = use_lora;
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.lora, batch, gp, inp);
    ggml_tensor * logits = tr_graph_lm_head(g.ctx, *s.model, hidden);
    ggml_set_output(logits);
    ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, false);
    ggml_build_forward_expand(gf, logits);
    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    graph_compute(s, gf);
    std::vector<float> out(ggml_nelements(logits));
    ggml_backend_tensor_get(logits, out.data(), 0, ggml_nbytes(logits));
    return out;
}

static const char * k_state_version = "zhongjing.trainer.state.v1";

void tr_session_save_state(tr_session & s, const char * path, const std::vector<std::pair<std::string, std::string>> & metadata) {
    tr_gguf_out out;
    gguf_set_val_str(out.gguf, "general.type", "zhongjing-trainer-state");
    gguf_set_val_str(out.gguf, "zhongjing.state.version", k_state_version);
    gguf_set_val_u64(out.gguf, "zhongjing.state.iter", (uint64_t) s.optim->iter);
    gguf_set_val_u64(out.gguf, "zhongjing.state.micro_step", s.micro_step);
    gguf_set_val_u32(out.gguf, "zhongjing.state.lora_rank", (uint32_t) s.lora->params.rank);
    gguf_set_val_u32(out.gguf, "zhongjing.state.lora_targets", s.lora->params.targets);
    for (const auto & kv : metadata) {
        gguf_set_val_str(out.gguf, kv.first.c_str(), kv.second.c_str());
    }
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        out.add(s.optim->params[i]);
        out.add(s.optim->m[i]);
        out.add(s.optim->v[i]);
    }
    out.write(path);
}

void tr_session_load_state(tr_session & s, const char * path) {
    tr_gguf_in in(path);
    if (in.get_str("zhongjing.state.version") != k_state_version) {
        throw tr_error(tr_format("%s is not a trainer state file of this version", path));
    }
    const int64_t rank = tr_gguf_get_int(in.gguf, "zhongjing.state.lora_rank", -1);
    const int64_t targets = tr_gguf_get_int(in.gguf, "zhongjing.state.lora_targets", -1);
    if (rank != s.lora->params.rank || targets != (int64_t) s.lora->params.targets) {
        throw tr_error(tr_format("%s was saved with LoRA rank %lld / targets 0x%llx, this session has rank %d / targets 0x%x",
            path, (long long) rank, (long long) targets, s.lora->params.rank, s.lora->params.targets));
    }
    // read everything before changing anything: a bad file leaves the session as it was
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        for (const ggml_tensor * t : {s.optim->params[i], s.optim->m[i], s.optim->v[i]}) {
            if (!in.has_tensor(t->name)) {
                throw tr_error(tr_format("%s: tensor %s is missing", path, t->name));
            }
        }
    }
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        in.read(s.optim->params[i]->name, s.optim->params[i]);
        in.read(s.optim->m[i]->name, s.optim->m[i]);
        in.read(s.optim->v[i]->name, s.optim->v[i]);
    }
    s.optim->iter = tr_gguf_get_int(in.gguf, "zhongjing.state.iter", 0);
    s.micro_step = (uint64_t) tr_gguf_get_int(in.gguf, "zhongjing.state.micro_step", 0);
    TR_LOG_INFO("restored trainer state %s: step %lld, micro-step %llu", path, (long long) s.optim->iter,
        (unsigned long long) s.micro_step);
}
