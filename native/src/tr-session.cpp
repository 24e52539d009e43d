#include "tr-session.h"

#include "tr-common.h"
#include "tr-state.h"

#include <algorithm>
#include <cmath>
#include <cstring>

tr_session * tr_session_init(const tr_session_params & params) {
    auto s = std::make_unique<tr_session>();
    s->params = params;
    s->loss = tr_loss_head_init(params.loss, params.loss_params);
    if (params.adapters.empty()) {
        throw tr_error("a session needs at least one adapter");
    }
    try {
        tr_backend_init(s->backend, params.backend);
        s->model = tr_model_load(params.model_path.c_str(), s->backend.main);
        std::vector<ggml_tensor *> trainable;
        for (const tr_adapter_params & a : params.adapters) {
            for (const tr_lora * other : s->adapters) {
                if (other->name == a.name) throw tr_error(tr_format("two adapters are named '%s'", a.name.c_str()));
            }
            if (a.name.empty() || a.name.find('/') != std::string::npos) {
                throw tr_error(tr_format("adapter name '%s' must be non-empty and without '/'", a.name.c_str()));
            }
            tr_lora * l = a.init_path.empty() ? tr_lora_init(*s->model, a.lora, s->backend.main, a.head)
                                              : tr_lora_load(*s->model, a.init_path.c_str(), s->backend.main, a.head && a.trainable);
            s->adapters.push_back(l);
            l->name = a.name;
            l->trainable = a.trainable;
            if (!a.init_path.empty()) {
                l->params.dropout = a.lora.dropout;  // dropout is a training setting, not part of the file
                if (a.head && !l->head_from_file && !a.trainable) {
                    throw tr_error(tr_format("%s has no scalar head (is it a reward model?)", a.init_path.c_str()));
                }
            }
            for (ggml_tensor * t : l->tensors) {
                if (a.trainable) {
                    trainable.push_back(t);
                } else {
                    t->flags &= ~GGML_TENSOR_FLAG_PARAM;  // frozen: no gradient is built for it
                }
            }
            if (a.trainable) s->train_set.push_back(l);
        }
        // a session without a trainable adapter only scores (a frozen reward model)
        s->optim = tr_optim_init(trainable, params.adamw, s->backend.main);
        // graph sizes depend on the model's depth, so the scheduler comes last
        s->graph_size = tr_graph_size(*s->model);
        tr_backend_sched_init(s->backend, 2 * s->graph_size);
    } catch (...) {
        tr_session_free(s.release());
        throw;
    }
    // the training graph, then its copy with the backward's products rewritten (tr-graph.h)
    s->meta.resize(s->graph_size * ggml_tensor_overhead() + ggml_graph_overhead_custom(s->graph_size, true) +
                   ggml_graph_overhead_custom(s->graph_size, false));
    TR_LOG_INFO("session: %s, loss head %s, %zu adapter%s on one base, seed %llu", s->backend.device.c_str(), s->loss->name(),
        s->adapters.size(), s->adapters.size() == 1 ? "" : "s", (unsigned long long) params.seed);
    return s.release();
}

namespace {

void free_checkpoints(tr_checkpoints & ck) {
    if (ck.buf) ggml_backend_buffer_free(ck.buf);
    if (ck.ctx) ggml_free(ck.ctx);
    ck = tr_checkpoints();
}

} // namespace

void tr_session_free(tr_session * s) {
    if (!s) {
        return;
    }
    free_checkpoints(s->checkpoints);
    tr_optim_free(s->optim);
    for (tr_lora * l : s->adapters) tr_lora_free(l);
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

// "512x1536", or "q8_0 512x1536" when the tensor is not F32
std::string shape_of(const ggml_tensor * t) {
    std::string out = t->type == GGML_TYPE_F32 ? "" : std::string(ggml_type_name(t->type)) + " ";
    for (int d = 0; d < ggml_n_dims(t); ++d) out += (d ? "x" : "") + std::to_string(t->ne[d]);
    return out;
}

// The scheduler asks before each node whether we want to see it (yes: it then computes that node
// alone and waits for it) and calls again once it is done.
bool profile_node(ggml_tensor * node, bool ask, void * user) {
    tr_session & s = *static_cast<tr_session *>(user);
    if (ask) {
        s.profile_t0 = ggml_time_us();
        return true;
    }
    std::string key = ggml_op_desc(node);
    for (int j = 0; j < GGML_MAX_SRC && node->src[j]; ++j) key += (j ? " | " : " ") + shape_of(node->src[j]);
    auto & [ms, calls] = s.profiled[key];
    ms += (double) (ggml_time_us() - s.profile_t0) / 1e3;
    calls++;
    return true;
}

void graph_compute(tr_session & s, ggml_cgraph * gf) {
    ggml_backend_sched_set_eval_callback(s.backend.sched, s.profile ? profile_node : nullptr, &s);
    if (ggml_backend_sched_graph_compute(s.backend.sched, gf) != GGML_STATUS_SUCCESS) {
        throw tr_error("graph computation failed");
    }
    // The scheduler's own assignment: an op that a GPU backend cannot run shows up on the CPU.
    // On a GPU every graph is looked at (a hash lookup per node), so such a fallback is never silent.
    const bool look = s.explain || s.backend.gpu;
    if (!look) {
        return;
    }
    std::map<std::string, int64_t> on_cpu;
    for (int i = 0; i < ggml_graph_n_nodes(gf); ++i) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        if (node->op == GGML_OP_NONE || node->op == GGML_OP_VIEW || node->op == GGML_OP_RESHAPE || node->op == GGML_OP_PERMUTE || node->op == GGML_OP_TRANSPOSE) {
            continue;  // no computation of their own
        }
        ggml_backend_t b = ggml_backend_sched_get_tensor_backend(s.backend.sched, node);
        if (s.explain) s.explained[ggml_op_desc(node)][b ? ggml_backend_name(b) : "?"]++;
        if (s.backend.gpu && b != s.backend.gpu) on_cpu[ggml_op_desc(node)]++;
    }
    std::string list;
    for (const auto & [op, n] : on_cpu) list += (list.empty() ? "" : ", ") + op + " x" + std::to_string(n);
    if (!list.empty() && list != s.fallback_warned) {
        s.fallback_warned = list;  // once per distinct list, not on every step
        TR_LOG_WARN("ops the GPU backend cannot run were computed on the CPU: %s", list.c_str());
    }
}

void graph_alloc(tr_session & s, ggml_cgraph * gf) {
    ggml_backend_sched_reset(s.backend.sched);
    if (!ggml_backend_sched_alloc_graph(s.backend.sched, gf)) {
        throw tr_error("cannot allocate the compute graph: out of memory (use a shorter context or fewer rows per micro-batch)");
    }
}

ggml_type backward_type(const tr_session & s) {
    if (s.params.backward_type != GGML_TYPE_COUNT) return s.params.backward_type;
    return s.backend.gpu ? GGML_TYPE_BF16 : GGML_TYPE_F32;
}

tr_graph_params graph_params(const tr_session & s, bool train) {
    tr_graph_params gp;
    gp.dropout = train;
    gp.dropout_p = s.train_set.empty() ? 0.0f : s.train_set.front()->params.dropout;
    gp.seed = s.params.seed;
    gp.dropout_counter = s.micro_step;
    return gp;
}

// The backward of `gf`, whose loss node is `loss` with incoming gradient `seed`: each trainable
// tensor's gradient is added into the optimizer's accumulator, `input`'s (a parameter only for
// this graph, or nullptr) into `input_grad`. Returns the graph to allocate and compute.
ggml_cgraph * with_backward(tr_session & s, ggml_context * ctx, ggml_cgraph * gf, ggml_tensor * loss, ggml_tensor * seed,
                            ggml_tensor * input, ggml_tensor * input_grad, tr_graph_inputs & inp) {
    const int n_nodes = ggml_graph_n_nodes(gf);
    std::vector<ggml_tensor *> grad_accs(n_nodes, nullptr);
    for (int i = 0; i < n_nodes; ++i) {
        ggml_tensor * node = ggml_graph_node(gf, i);
        if (node == loss) {
            grad_accs[i] = seed;
        } else if (input && node == input) {
            grad_accs[i] = input_grad;
        } else if (node->flags & GGML_TENSOR_FLAG_PARAM) {
            grad_accs[i] = tr_optim_grad(*s.optim, node);
            GGML_ASSERT(grad_accs[i] != nullptr);
        }
    }
    ggml_build_backward_expand(ctx, gf, grad_accs.data());
    return tr_graph_backward_rewrite(ctx, gf, s.graph_size, backward_type(s), s.backend.gpu == nullptr, s.params.backward_slice_values, inp);
}

// The loss of the graph's last hidden states, as the objective's output, with its extra output.
ggml_tensor * loss_of(tr_session & s, ggml_context * ctx, ggml_tensor * hidden, const tr_batch & batch, ggml_cgraph ** gf) {
    ggml_tensor * loss = s.loss->build(ctx, *s.model, s.train_set, hidden, batch);
    ggml_set_name(loss, "loss");
    ggml_set_output(loss);
    ggml_set_loss(loss);
    *gf = ggml_new_graph_custom(ctx, s.graph_size, /*grads =*/ true);
    ggml_build_forward_expand(*gf, loss);
    if (ggml_tensor * extra = s.loss->extra_output()) ggml_build_forward_expand(*gf, extra);
    return loss;
}

double read_loss(tr_session & s, ggml_tensor * loss, std::vector<float> & scores) {
    float value = 0.0f;
    ggml_backend_tensor_get(loss, &value, 0, sizeof(float));
    const std::vector<float> sc = s.loss->scores();
    scores.insert(scores.end(), sc.begin(), sc.end());
    return value;
}

// Forward + backward of one micro-batch in one graph. Our accumulators: each LoRA tensor's
// gradient is added into tr_optim's tensor in place, and the loss node's incoming gradient is the
// seed 1/items. Returns the batch's loss sum.
double accumulate_whole(tr_session & s, const tr_batch & batch, const tr_graph_params & gp, std::vector<float> & scores) {
    ctx_guard g{meta_ctx(s)};
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.train_set, batch, gp, inp);
    ggml_cgraph * gf = nullptr;
    ggml_tensor * loss = loss_of(s, g.ctx, hidden, batch, &gf);
    gf = with_backward(s, g.ctx, gf, loss, s.optim->loss_seed, nullptr, nullptr, inp);

    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    s.loss->set_inputs(batch);
    graph_compute(s, gf);
    return read_loss(s, loss, scores);
}

tr_checkpoints & checkpoints_for(tr_session & s, int64_t n_tokens) {
    tr_checkpoints & ck = s.checkpoints;
    if (ck.capacity >= n_tokens) return ck;
    free_checkpoints(ck);
    const int64_t n_layer = s.model->hp.n_layer, n = s.model->hp.n_embd * n_tokens;
    ggml_init_params params = { (size_t) (n_layer + 4) * ggml_tensor_overhead(), nullptr, /*no_alloc =*/ true };
    ck.ctx = ggml_init(params);
    for (int64_t il = 0; il <= n_layer; ++il) ck.x.push_back(ggml_new_tensor_1d(ck.ctx, GGML_TYPE_F32, n));
    ck.grad[0] = ggml_new_tensor_1d(ck.ctx, GGML_TYPE_F32, n);
    ck.grad[1] = ggml_new_tensor_1d(ck.ctx, GGML_TYPE_F32, n);
    ck.one = ggml_new_tensor_1d(ck.ctx, GGML_TYPE_F32, 1);
    ck.buf = ggml_backend_alloc_ctx_tensors(ck.ctx, s.backend.main);
    if (!ck.buf) {
        free_checkpoints(ck);
        throw tr_error("cannot allocate the gradient checkpoints: out of memory (use a shorter context or fewer rows per micro-batch)");
    }
    const float one = 1.0f;
    ggml_backend_tensor_set(ck.one, &one, 0, sizeof(float));
    ck.capacity = n_tokens;
    return ck;
}

// This micro-batch's [n_embd, N] of a checkpoint tensor.
ggml_tensor * batch_view(ggml_context * ctx, const tr_session & s, ggml_tensor * store, int64_t n_tokens) {
    const int64_t n_embd = s.model->hp.n_embd;
    return ggml_view_2d(ctx, store, n_embd, n_tokens, n_embd * sizeof(float), 0);
}

// The micro-batch as the loss piece takes it. The LM loss sums over target tokens, and its
// logits, their softmax and its gradient are n_vocab values per target (3 × 152k floats per token
// for Qwen2): with more targets than params.loss_chunk_targets it is computed over slices of them,
// each a copy of the batch with the other targets masked (-1). Other heads take it whole.
std::vector<tr_batch> loss_parts(const tr_session & s, const tr_batch & batch) {
    const int64_t chunk = s.params.loss_chunk_targets > 0 ? s.params.loss_chunk_targets : 512;
    if (std::strcmp(s.loss->name(), "lm") != 0 || batch.n_targets() <= chunk) return {batch};
    std::vector<tr_batch> parts;
    int64_t in_part = chunk;
    for (size_t i = 0; i < batch.targets.size(); ++i) {
        if (batch.targets[i] < 0) continue;
        if (in_part == chunk) {
            parts.push_back(batch);
            std::fill(parts.back().targets.begin(), parts.back().targets.end(), -1);
            in_part = 0;
        }
        parts.back().targets[i] = batch.targets[i];
        in_part++;
    }
    return parts;
}

// A kept layer input is a parameter (its gradient is wanted) only in the graph that uses it.
struct param_flag {
    ggml_tensor * t;
    explicit param_flag(ggml_tensor * tensor) : t(tensor) { if (t) t->flags |= GGML_TENSOR_FLAG_PARAM; }
    ~param_flag() { if (t) t->flags &= ~GGML_TENSOR_FLAG_PARAM; }
};

bool has_trainable_site(const tr_session & s, int il) {
    for (const tr_lora * l : s.train_set) {
        for (const tr_lora_pair & p : l->layers[il]) {
            if (p.a) return true;
        }
    }
    return false;
}

// The same gradient with gradient checkpointing (tr_session_params): the forward once without a
// backward, keeping each layer's input; the loss's gradient to the last layer's output; then each
// layer again from its kept input, top down, its backward seeded with the gradient from the layer
// above (the loss sum(y · dy) has gradient dy at y). Each piece builds the same nodes as the whole
// graph, with the same dropout masks, so the gradients agree up to summation order.
double accumulate_checkpointed(tr_session & s, const tr_batch & batch, const tr_graph_params & gp, std::vector<float> & scores) {
    const int n_layer = (int) s.model->hp.n_layer;
    const int64_t N = batch.n_tokens();
    tr_checkpoints & ck = checkpoints_for(s, N);
    tr_graph_host_inputs host;  // the mask and dropout pool, made once for all the pieces
    {
        ctx_guard g{meta_ctx(s)};
        tr_graph_inputs inp;
        std::vector<ggml_tensor *> layer_inputs;
        tr_graph_span span;
        span.final_norm = false;
        span.layer_inputs = &layer_inputs;
        ggml_tensor * out = tr_graph_build(g.ctx, *s.model, s.train_set, batch, gp, inp, span);
        ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, /*grads =*/ false);
        for (int il = 0; il < n_layer; ++il) {
            ggml_build_forward_expand(gf, ggml_cpy(g.ctx, layer_inputs[il], batch_view(g.ctx, s, ck.x[il], N)));
        }
        ggml_build_forward_expand(gf, ggml_cpy(g.ctx, out, batch_view(g.ctx, s, ck.x[n_layer], N)));
        graph_alloc(s, gf);
        tr_graph_set_inputs(inp, batch, gp, &host);
        graph_compute(s, gf);
    }
    // The loss piece: its gradient to the last layer's output is added into grad[0], over one graph
    // or, for the LM loss, one per slice of target tokens (each gradient adds onto the last).
    double value = 0.0;
    ggml_backend_tensor_memset(ck.grad[0], 0, 0, (size_t) (s.model->hp.n_embd * N) * sizeof(float));
    for (const tr_batch & part : loss_parts(s, batch)) {
        ctx_guard g{meta_ctx(s)};
        ggml_tensor * top = batch_view(g.ctx, s, ck.x[n_layer], N);
        ggml_tensor * top_grad = batch_view(g.ctx, s, ck.grad[0], N);
        param_flag flag(top);
        tr_graph_inputs inp;
        tr_graph_span span;
        span.first = span.last = n_layer;
        span.input = top;
        ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.train_set, part, gp, inp, span);
        ggml_cgraph * gf = nullptr;
        ggml_tensor * loss = loss_of(s, g.ctx, hidden, part, &gf);
        gf = with_backward(s, g.ctx, gf, loss, s.optim->loss_seed, top, top_grad, inp);
        graph_alloc(s, gf);
        tr_graph_set_inputs(inp, part, gp, &host);
        s.loss->set_inputs(part);
        graph_compute(s, gf);
        value += read_loss(s, loss, scores);
    }
    for (int il = n_layer - 1; il >= 0; --il) {
        const bool below = il > 0;  // the first layer's input is the embeddings: no gradient wanted
        if (!below && !has_trainable_site(s, il)) continue;
        ctx_guard g{meta_ctx(s)};
        ggml_tensor * x  = batch_view(g.ctx, s, ck.x[il], N);
        ggml_tensor * dy = batch_view(g.ctx, s, ck.grad[(n_layer - 1 - il) % 2], N);
        ggml_tensor * dx = batch_view(g.ctx, s, ck.grad[(n_layer - il) % 2], N);
        param_flag flag(below ? x : nullptr);
        if (below) ggml_backend_tensor_memset(ck.grad[(n_layer - il) % 2], 0, 0, ggml_nbytes(dx));
        tr_graph_inputs inp;
        tr_graph_span span;
        span.first = il;
        span.last = il + 1;
        span.input = x;
        span.final_norm = false;
        ggml_tensor * y = tr_graph_build(g.ctx, *s.model, s.train_set, batch, gp, inp, span);
        ggml_tensor * loss = ggml_sum(g.ctx, ggml_mul(g.ctx, y, dy));
        ggml_set_loss(loss);
        ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, /*grads =*/ true);
        ggml_build_forward_expand(gf, loss);
        gf = with_backward(s, g.ctx, gf, loss, ck.one, below ? x : nullptr, dx, inp);
        graph_alloc(s, gf);
        tr_graph_set_inputs(inp, batch, gp, &host);
        graph_compute(s, gf);
    }
    return value;
}

// Forward + backward of one micro-batch, adding its gradient into the optimizer's accumulators.
// Returns the batch's loss sum.
double accumulate_one(tr_session & s, const tr_batch & batch, bool train, std::vector<float> & scores) {
    const tr_graph_params gp = graph_params(s, train);
    const double value = s.params.gradient_checkpointing ? accumulate_checkpointed(s, batch, gp, scores)
                                                         : accumulate_whole(s, batch, gp, scores);
    if (train) {
        s.micro_step++;
    }
    return value;
}

tr_eval_result accumulate(tr_session & s, const std::vector<tr_batch> & batches, bool train, const tr_progress_fn & progress) {
    if (s.train_set.empty()) {
        throw tr_error("this session has no trainable adapter (it can only score)");
    }
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
            r.loss_sum += accumulate_one(s, b, train, r.scores);
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
                                     const tr_progress_fn & progress, double max_norm) {
    const int64_t t0 = ggml_time_us();
    const tr_eval_result acc = accumulate(s, batches, /*train =*/ true, progress);
    const int64_t t1 = ggml_time_us();
    tr_step_result r;
    r.loss = acc.loss_sum / (double) acc.n_items;
    r.n_items = acc.n_items;
    r.n_tokens = acc.n_tokens;
    r.scores = acc.scores;
    r.grad_norm = tr_optim_grad_norm(*s.optim, s.backend);
    if (!std::isfinite(r.grad_norm) || !std::isfinite(r.loss)) {
        throw tr_error(tr_format("non-finite loss (%g) or gradient norm (%g): lower the learning rate", r.loss, r.grad_norm));
    }
    const float clip = s.optim->hp.grad_clip;
    r.grad_scale = (clip > 0.0f && r.grad_norm > clip) ? (float) (clip / r.grad_norm) : 1.0f;
    if (max_norm > 0.0 && r.grad_norm > max_norm) {
        r.downscaled = true;
        r.grad_scale = std::min(r.grad_scale, (float) (max_norm / r.grad_norm));
        TR_LOG_WARN("step %lld: gradient norm %.4g exploded past %.4g, scaled down to it", (long long) s.optim->iter + 1, r.grad_norm, max_norm);
    }
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

tr_lora * tr_session_adapter(const tr_session & s, const std::string & name) {
    for (tr_lora * l : s.adapters) {
        if (l->name == name) return l;
    }
    throw tr_error(tr_format("no adapter named '%s' in this session", name.c_str()));
}

tr_lora_set tr_session_adapter_set(const tr_session & s, const std::vector<std::string> & names) {
    tr_lora_set set;
    for (const std::string & n : names) set.push_back(tr_session_adapter(s, n));
    return set;
}

ggml_tensor * tr_session_tensor(const tr_session & s, const std::string & name) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos) {
        return tr_lora_find(*tr_session_adapter(s, name.substr(0, slash)), name.substr(slash + 1).c_str());
    }
    for (const tr_lora * l : s.train_set) {
        if (ggml_tensor * t = tr_lora_find(*l, name.c_str())) return t;
    }
    return nullptr;
}

int64_t tr_session_n_trainable(const tr_session & s) {
    int64_t n = 0;
    for (const tr_lora * l : s.train_set) n += tr_lora_n_params(*l);
    return n;
}

ggml_tensor * tr_session_grad(const tr_session & s, const char * param_name) {
    ggml_tensor * p = tr_session_tensor(s, param_name);
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
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, s.train_set, batch, gp, inp);
    ggml_tensor * loss = s.loss->build(g.ctx, *s.model, s.train_set, hidden, batch);
    ggml_set_output(loss);
    ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, false);
    ggml_build_forward_expand(gf, loss);
    if (ggml_tensor * extra = s.loss->extra_output()) ggml_build_forward_expand(gf, extra);
    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    s.loss->set_inputs(batch);
    graph_compute(s, gf);
    float value = 0.0f;
    ggml_backend_tensor_get(loss, &value, 0, sizeof(float));
    r.loss_sum = value;
    r.scores = s.loss->scores();
    return r;
}

std::vector<float> tr_session_scores(tr_session & s, const tr_batch & batch, const tr_lora_set & apply, const std::string & kind) {
    batch.validate(s.model->hp.n_vocab);
    ctx_guard g{meta_ctx(s)};
    const tr_graph_params gp = graph_params(s, /*train =*/ false);
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, apply, batch, gp, inp);
    tr_score_builder score;
    score.kind = kind;
    ggml_tensor * out = score.build(g.ctx, *s.model, apply, hidden, batch);
    ggml_cgraph * gf = ggml_new_graph_custom(g.ctx, s.graph_size, false);
    ggml_build_forward_expand(gf, out);
    graph_alloc(s, gf);
    tr_graph_set_inputs(inp, batch, gp);
    score.set_inputs(batch);
    graph_compute(s, gf);
    std::vector<float> values(ggml_nelements(out));
    ggml_backend_tensor_get(out, values.data(), 0, ggml_nbytes(out));
    return values;
}

std::map<std::string, std::map<std::string, int64_t>> tr_session_explain_take(tr_session & s) {
    std::map<std::string, std::map<std::string, int64_t>> out;
    out.swap(s.explained);
    return out;
}

std::map<std::string, std::pair<double, int64_t>> tr_session_profile_take(tr_session & s) {
    std::map<std::string, std::pair<double, int64_t>> out;
    out.swap(s.profiled);
    return out;
}

std::vector<float> tr_session_logits(tr_session & s, const tr_batch & batch, const tr_lora_set & apply) {
    batch.validate(s.model->hp.n_vocab);
    ctx_guard g{meta_ctx(s)};
    tr_graph_params gp = graph_params(s, /*train =*/ false);
    tr_graph_inputs inp;
    ggml_tensor * hidden = tr_graph_build(g.ctx, *s.model, apply, batch, gp, inp);
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

// v2 names every tensor "<adapter>/<tensor>" (several trainable adapters may share tensor names);
// v1 (one adapter, bare names) is still read.
static const char * k_state_version = "zhongjing.trainer.state.v2";
static const char * k_state_version_v1 = "zhongjing.trainer.state.v1";

namespace {

// The checkpoint name of the optimizer's i-th parameter.
std::string state_name(const tr_session & s, size_t i, bool v1) {
    const ggml_tensor * p = s.optim->params[i];
    if (v1) return p->name;
    for (const tr_lora * l : s.train_set) {
        for (const ggml_tensor * t : l->tensors) {
            if (t == p) return l->name + "/" + p->name;
        }
    }
    GGML_ABORT("optimizer parameter without an adapter");
}

} // namespace

void tr_session_save_state(tr_session & s, const char * path, const std::vector<std::pair<std::string, std::string>> & metadata) {
    if (s.train_set.empty()) {
        throw tr_error("this session has no trainable adapter: nothing to checkpoint");
    }
    tr_gguf_out out;
    gguf_set_val_str(out.gguf, "general.type", "zhongjing-trainer-state");
    gguf_set_val_str(out.gguf, "zhongjing.state.version", k_state_version);
    gguf_set_val_u64(out.gguf, "zhongjing.state.iter", (uint64_t) s.optim->iter);
    gguf_set_val_u64(out.gguf, "zhongjing.state.micro_step", s.micro_step);
    gguf_set_val_u32(out.gguf, "zhongjing.state.lora_rank", (uint32_t) s.train_set.front()->params.rank);
    gguf_set_val_u32(out.gguf, "zhongjing.state.lora_targets", s.train_set.front()->params.targets);
    for (const auto & kv : metadata) {
        gguf_set_val_str(out.gguf, kv.first.c_str(), kv.second.c_str());
    }
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        const std::string name = state_name(s, i, false);
        out.add(s.optim->params[i], name.c_str());
        out.add(s.optim->m[i], (name + ".adam_m").c_str());
        out.add(s.optim->v[i], (name + ".adam_v").c_str());
    }
    out.write(path);
}

void tr_session_load_state(tr_session & s, const char * path) {
    tr_gguf_in in(path);
    if (s.train_set.empty()) {
        throw tr_error("this session has no trainable adapter: nothing to restore");
    }
    const std::string version = in.get_str("zhongjing.state.version");
    const bool v1 = version == k_state_version_v1;
    if (version != k_state_version && !(v1 && s.train_set.size() == 1)) {
        throw tr_error(tr_format("%s is not a trainer state file of this version", path));
    }
    const tr_lora & first = *s.train_set.front();
    const int64_t rank = tr_gguf_get_int(in.gguf, "zhongjing.state.lora_rank", -1);
    const int64_t targets = tr_gguf_get_int(in.gguf, "zhongjing.state.lora_targets", -1);
    if (rank != first.params.rank || targets != (int64_t) first.params.targets) {
        throw tr_error(tr_format("%s was saved with LoRA rank %lld / targets 0x%llx, this session has rank %d / targets 0x%x",
            path, (long long) rank, (long long) targets, first.params.rank, first.params.targets));
    }
    // read everything before changing anything: a bad file leaves the session as it was
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        const std::string name = state_name(s, i, v1);
        for (const std::string & n : {name, name + ".adam_m", name + ".adam_v"}) {
            if (!in.has_tensor(n.c_str())) {
                throw tr_error(tr_format("%s: tensor %s is missing", path, n.c_str()));
            }
        }
    }
    for (size_t i = 0; i < s.optim->params.size(); ++i) {
        const std::string name = state_name(s, i, v1);
        in.read(name.c_str(), s.optim->params[i]);
        in.read((name + ".adam_m").c_str(), s.optim->m[i]);
        in.read((name + ".adam_v").c_str(), s.optim->v[i]);
    }
    s.optim->iter = tr_gguf_get_int(in.gguf, "zhongjing.state.iter", 0);
    s.micro_step = (uint64_t) tr_gguf_get_int(in.gguf, "zhongjing.state.micro_step", 0);
    TR_LOG_INFO("restored trainer state %s: step %lld, micro-step %llu", path, (long long) s.optim->iter,
        (unsigned long long) s.micro_step);
}
