#include "tr-optim.h"

#include "tr-common.h"

#include <cmath>
#include <memory>

tr_optim * tr_optim_init(const std::vector<ggml_tensor *> & params, const tr_adamw_params & hp, ggml_backend_t backend) {
    if (!(hp.beta1 >= 0.0f && hp.beta1 < 1.0f && hp.beta2 >= 0.0f && hp.beta2 < 1.0f && hp.eps >= 0.0f &&
          hp.weight_decay >= 0.0f && hp.weight_decay <= 1.0f)) {
        throw tr_error("AdamW: betas must be in [0, 1), eps >= 0, weight decay in [0, 1]");
    }
    auto opt = std::make_unique<tr_optim>();
    opt->hp = hp;
    opt->params = params;

    ggml_init_params gparams = { (params.size() + 1) * ggml_tensor_overhead(), nullptr, true };
    ggml_init_params sparams = { (2 * params.size() + 1) * ggml_tensor_overhead(), nullptr, true };
    opt->ctx_grads = ggml_init(gparams);
    opt->ctx_state = ggml_init(sparams);
    for (ggml_tensor * p : params) {
        GGML_ASSERT(p->type == GGML_TYPE_F32);
        ggml_tensor * g = ggml_dup_tensor(opt->ctx_grads, p);
        ggml_tensor * m = ggml_dup_tensor(opt->ctx_state, p);
        ggml_tensor * v = ggml_dup_tensor(opt->ctx_state, p);
        ggml_format_name(g, "%s.grad", p->name);
        ggml_format_name(m, "%s.adam_m", p->name);
        ggml_format_name(v, "%s.adam_v", p->name);
        opt->grads.push_back(g);
        opt->m.push_back(m);
        opt->v.push_back(v);
    }
    opt->loss_seed = ggml_new_tensor_1d(opt->ctx_state, GGML_TYPE_F32, 1);
    ggml_set_name(opt->loss_seed, "loss_seed");

    opt->buf_grads = ggml_backend_alloc_ctx_tensors(opt->ctx_grads, backend);
    opt->buf_state = ggml_backend_alloc_ctx_tensors(opt->ctx_state, backend);
    if ((!opt->buf_grads && !params.empty()) || !opt->buf_state) {
        tr_optim_free(opt.release());
        throw tr_error("not enough memory for the optimizer state");
    }
    if (opt->buf_grads) ggml_backend_buffer_clear(opt->buf_grads, 0);
    ggml_backend_buffer_clear(opt->buf_state, 0);
    tr_optim_set_loss_seed(*opt, 1.0f);

    int64_t n = 0;
    for (const ggml_tensor * p : params) n += ggml_nelements(p);
    TR_LOG_INFO("AdamW: beta1 %g, beta2 %g, eps %g, weight decay %g, grad clip %g; optimizer graphs on %s CPU thread%s (%lld values)",
        hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.grad_clip, n < (1 << 22) ? "1" : "all", n < (1 << 22) ? "" : "s", (long long) n);
    return opt.release();
}

void tr_optim_free(tr_optim * opt) {
    if (!opt) {
        return;
    }
    if (opt->buf_grads) ggml_backend_buffer_free(opt->buf_grads);
    if (opt->buf_state) ggml_backend_buffer_free(opt->buf_state);
    if (opt->ctx_grads) ggml_free(opt->ctx_grads);
    if (opt->ctx_state) ggml_free(opt->ctx_state);
    delete opt;
}

void tr_optim_zero_grad(tr_optim & opt) {
    if (opt.buf_grads) ggml_backend_buffer_clear(opt.buf_grads, 0);
}

void tr_optim_set_loss_seed(tr_optim & opt, float seed) {
    ggml_backend_tensor_set(opt.loss_seed, &seed, 0, sizeof(float));
}

ggml_tensor * tr_optim_grad(const tr_optim & opt, const ggml_tensor * param) {
    for (size_t i = 0; i < opt.params.size(); ++i) {
        if (opt.params[i] == param) {
            return opt.grads[i];
        }
    }
    return nullptr;
}

namespace {

// A small compute context + graph for the optimizer's own graphs.
struct small_graph {
    ggml_context * ctx = nullptr;
    ggml_cgraph * gf = nullptr;

    explicit small_graph(size_t n_nodes) {
        ggml_init_params params = { n_nodes * ggml_tensor_overhead() + ggml_graph_overhead_custom(n_nodes, false), nullptr, true };
        ctx = ggml_init(params);
        gf = ggml_new_graph_custom(ctx, n_nodes, false);
    }
    ~small_graph() { ggml_free(ctx); }
};

void compute(tr_backend & backend, ggml_cgraph * gf) {
    ggml_backend_sched_reset(backend.sched);
    if (!ggml_backend_sched_alloc_graph(backend.sched, gf)) {
        throw tr_error("cannot allocate the optimizer graph (out of memory?)");
    }
}

// The optimizer's graphs are small, memory-bound element-wise work. With a few hundred thousand
// LoRA values, a second CPU thread only adds a wake-up and a spin barrier, and on a busy 2-core
// machine every barrier can cost a scheduler time slice (measured: AdamW 0.1 ms on 1 thread,
// 20 ms on 2). Small optimizer states run on one thread; large ones (GPU-sized LoRAs on the CPU)
// on all of them.
struct optimizer_threads {
    tr_backend & backend;
    optimizer_threads(tr_backend & b, const tr_optim & opt) : backend(b) {
        int64_t n = 0;
        for (const ggml_tensor * p : opt.params) n += ggml_nelements(p);
        if (n < (1 << 22)) {
            tr_backend_set_cpu_threads(backend, 1);
        }
    }
    ~optimizer_threads() { tr_backend_set_cpu_threads(backend, backend.n_threads); }
};

} // namespace

double tr_optim_grad_norm(tr_optim & opt, tr_backend & backend) {
    small_graph g(4 * opt.grads.size() + 16);
    ggml_tensor * total = nullptr;
    for (ggml_tensor * grad : opt.grads) {
        ggml_tensor * s = ggml_sum(g.ctx, ggml_sqr(g.ctx, grad));
        total = total ? ggml_add(g.ctx, total, s) : s;
    }
    ggml_set_output(total);
    ggml_build_forward_expand(g.gf, total);
    optimizer_threads threads(backend, opt);
    compute(backend, g.gf);
    if (ggml_backend_sched_graph_compute(backend.sched, g.gf) != GGML_STATUS_SUCCESS) {
        throw tr_error("gradient norm computation failed");
    }
    float sum_sq = 0.0f;
    ggml_backend_tensor_get(total, &sum_sq, 0, sizeof(float));
    return std::sqrt((double) sum_sq);
}

void tr_optim_step(tr_optim & opt, tr_backend & backend, float lr, float grad_scale) {
    if (!(lr >= 0.0f) || !std::isfinite(lr)) {
        throw tr_error(tr_format("learning rate must be a finite number >= 0, got %g", lr));
    }
    small_graph g(3 * opt.params.size() + 16);
    ggml_tensor * hp = ggml_new_tensor_1d(g.ctx, GGML_TYPE_F32, 7);
    ggml_set_name(hp, "adamw_params");
    ggml_set_input(hp);
    for (size_t i = 0; i < opt.params.size(); ++i) {
        ggml_tensor * grad = opt.grads[i];
        if (grad_scale != 1.0f) {
            grad = ggml_scale(g.ctx, grad, grad_scale);
        }
        ggml_build_forward_expand(g.gf, ggml_opt_step_adamw(g.ctx, opt.params[i], grad, opt.m[i], opt.v[i], hp));
    }
    optimizer_threads threads(backend, opt);
    compute(backend, g.gf);

    const int64_t t = opt.iter + 1;
    const float values[7] = {
        lr, opt.hp.beta1, opt.hp.beta2, opt.hp.eps, opt.hp.weight_decay,
        1.0f / (1.0f - powf(opt.hp.beta1, (float) t)),
        1.0f / (1.0f - powf(opt.hp.beta2, (float) t)),
    };
    ggml_backend_tensor_set(hp, values, 0, sizeof(values));
    if (ggml_backend_sched_graph_compute(backend.sched, g.gf) != GGML_STATUS_SUCCESS) {
        throw tr_error("optimizer step failed");
    }
    opt.iter = t;
}
