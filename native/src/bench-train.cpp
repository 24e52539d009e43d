// zhongjing-train-bench: the trainer's LoRA SFT steps without Node, for the GPU kit
// (bench/gpu/run.sh) and the CPU run that keeps it from rotting in CI. It writes a random-weight
// model of a real shape (Qwen2-0.5B/1.5B/7B, LLaMA-2-7B, or a small one) in the chosen base type,
// trains `--steps` steps on random tokens and prints one JSON line: tokens/s (first step excluded:
// it builds and allocates), peak memory (device memory on a GPU, peak RSS on the CPU), the loss.
// `--checkpointing` trains with gradient checkpointing; `--backward-slice-values N` sets how large
// a frozen weight's transposed copy may be before it is sliced (0 = the trainer's default). `--explain` adds which backend ran each op kind; `--check` compares the GPU's logits with the
// CPU backend's on the same weights (a small shape).
#include "tr-backend.h"
#include "tr-common.h"
#include "tr-make-model.h"
#include "tr-session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

struct shape {
    const char * name;
    const char * arch;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
};

// Layer shapes of the public configs (config.json of each model); weights are random.
const shape k_shapes[] = {
    {"tiny-ci",    "llama",  128,  2,  4,  2,   352,   2048},
    {"small",      "llama",  512,  4,  8,  4,  1376,   8192},
    {"qwen2-0.5b", "qwen2",  896, 24, 14,  2,  4864, 151936},
    {"qwen2-1.5b", "qwen2", 1536, 28, 12,  2,  8960, 151936},
    {"qwen2-7b",   "qwen2", 3584, 28, 28,  4, 18944, 152064},
    {"llama2-7b",  "llama", 4096, 32, 32, 32, 11008,  32000},
};

struct options {
    std::string shape = "tiny-ci";
    std::string type = "f16";
    std::string model_dir = "bench-models";
    int seq = 256, batch = 2, steps = 4, threads = 0, rank = 16;
    float alpha = 32.0f, lr = 1e-4f;
    std::string targets = "q,k,v,o,gate,up,down";
    bool gpu = false, explain = false, check = false, profile = false, checkpointing = false;
    std::string backward_type;  // empty: by backend
    long long backward_slice_values = 0;
};

[[noreturn]] void usage(const char * why) {
    std::fprintf(stderr,
        "%s\nusage: zhongjing-train-bench [--shape tiny-ci|small|qwen2-0.5b|qwen2-1.5b|qwen2-7b|llama2-7b] [--type f32|f16|q8_0|q4_0|q4_K]\n"
        "       [--seq N] [--batch ROWS] [--steps N] [--rank R] [--alpha A] [--targets q,k,v,o,gate,up,down]\n"
        "       [--gpu] [--threads N] [--explain] [--profile] [--backward-type f32|bf16] [--checkpointing] [--backward-slice-values N] [--check] [--model-dir DIR] | --list-shapes\n", why);
    std::exit(2);
}

options parse(int argc, char ** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--shape") o.shape = value();
        else if (a == "--type") o.type = value();
        else if (a == "--model-dir") o.model_dir = value();
        else if (a == "--seq") o.seq = std::atoi(value().c_str());
        else if (a == "--batch") o.batch = std::atoi(value().c_str());
        else if (a == "--steps") o.steps = std::atoi(value().c_str());
        else if (a == "--threads") o.threads = std::atoi(value().c_str());
        else if (a == "--rank") o.rank = std::atoi(value().c_str());
        else if (a == "--alpha") o.alpha = (float) std::atof(value().c_str());
        else if (a == "--lr") o.lr = (float) std::atof(value().c_str());
        else if (a == "--targets") o.targets = value();
        else if (a == "--gpu") o.gpu = true;
        else if (a == "--explain") o.explain = true;
        else if (a == "--checkpointing") o.checkpointing = true;
        else if (a == "--backward-slice-values") o.backward_slice_values = std::atoll(value().c_str());
        else if (a == "--profile") o.profile = true;
        else if (a == "--backward-type") {
            o.backward_type = value();
            if (o.backward_type != "f32" && o.backward_type != "bf16") usage("--backward-type is f32 or bf16");
        }
        else if (a == "--check") o.check = true;
        else if (a == "--list-shapes") {
            // the table, for the check that bench/gpu/peft_reference.py uses the same shapes
            std::printf("{");
            bool first = true;
            for (const shape & s : k_shapes) {
                std::printf("%s\"%s\":[\"%s\",%lld,%lld,%lld,%lld,%lld,%lld]", first ? "" : ",", s.name, s.arch, (long long) s.n_embd,
                    (long long) s.n_layer, (long long) s.n_head, (long long) s.n_head_kv, (long long) s.n_ff, (long long) s.n_vocab);
                first = false;
            }
            std::printf("}\n");
            std::exit(0);
        }
        else usage(("unknown option " + a).c_str());
    }
    if (o.seq < 2 || o.batch < 1 || o.steps < 2 || o.rank < 1) usage("--seq >= 2, --batch >= 1, --steps >= 2, --rank >= 1");
    return o;
}

const shape & find_shape(const std::string & name) {
    for (const shape & s : k_shapes) {
        if (name == s.name) return s;
    }
    usage(("unknown shape " + name).c_str());
}

uint32_t target_bits(const std::string & list) {
    uint32_t bits = 0;
    size_t start = 0;
    while (start <= list.size()) {
        const size_t comma = list.find(',', start);
        const std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        bool found = false;
        for (int t = 0; t < TR_LORA_N_TARGETS; ++t) {
            if (name == tr_lora_target_short_name((tr_lora_target) t)) {
                bits |= 1u << t;
                found = true;
            }
        }
        if (!found) usage(("unknown LoRA target " + name).c_str());
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return bits;
}

// Peak resident memory of this process (the CPU run's figure), in bytes.
size_t peak_rss() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return (size_t) std::atoll(line.c_str() + 6) * 1024;
    }
    return 0;
}

// Memory in use on the first GPU device (total - free), in bytes; 0 without one.
size_t gpu_used() {
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_GPU) {
            size_t free = 0, total = 0;
            ggml_backend_dev_memory(dev, &free, &total);
            return total - free;
        }
    }
    return 0;
}

tr_batch random_batch(int rows, int ctx, int64_t n_vocab, uint64_t seed) {
    tr_batch b;
    b.n_rows = rows;
    b.n_ctx = ctx;
    tr_rng rng(seed, 0, 0);
    for (int r = 0; r < rows; ++r) {
        for (int p = 0; p < ctx; ++p) {
            b.tokens.push_back((int32_t) (rng.next_u64() % (uint64_t) n_vocab));
            b.pos.push_back(p);
            b.seg.push_back(0);
        }
    }
    // every position predicts the next one, as SFT on a full packed row does
    for (int r = 0; r < rows; ++r) {
        for (int p = 0; p < ctx; ++p) b.targets.push_back(p + 1 < ctx ? b.tokens[r * ctx + p + 1] : -1);
    }
    return b;
}

std::string model_file(const options & o, const shape & s) {
    mkdir(o.model_dir.c_str(), 0755);
    const std::string path = o.model_dir + "/" + s.name + "-" + o.type + ".gguf";
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) return path;  // deterministic: made once, reused
    tr_make_model_params mp;
    mp.out = path + ".part";
    mp.type = o.type;
    mp.arch = s.arch;
    mp.n_embd = s.n_embd;
    mp.n_layer = s.n_layer;
    mp.n_head = s.n_head;
    mp.n_head_kv = s.n_head_kv;
    mp.n_ff = s.n_ff;
    mp.n_vocab = s.n_vocab;
    mp.n_ctx = std::max(4096, o.seq);
    tr_make_model(mp);
    std::rename(mp.out.c_str(), path.c_str());
    return path;
}

tr_session_params session_params(const options & o, const std::string & path, bool gpu) {
    tr_session_params sp;
    sp.model_path = path;
    sp.loss = "lm";
    tr_adapter_params ap;
    ap.name = "train";
    ap.lora.rank = o.rank;
    ap.lora.alpha = o.alpha;
    ap.lora.targets = target_bits(o.targets);
    ap.lora.seed = 7;
    sp.adapters.push_back(ap);
    sp.backend.use_gpu = gpu;
    sp.backend.n_threads = o.threads > 0 ? o.threads : 1;
    if (o.backward_type == "f32") sp.backward_type = GGML_TYPE_F32;
    if (o.backward_type == "bf16") sp.backward_type = GGML_TYPE_BF16;
    sp.gradient_checkpointing = o.checkpointing;
    sp.backward_slice_values = o.backward_slice_values;
    return sp;
}

std::string json_escape(const std::string & s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

} // namespace

int main(int argc, char ** argv) {
    const options o = parse(argc, argv);
    tr_log_set_level(TR_LOG_LEVEL_WARN);
    try {
        const shape & s = find_shape(o.shape);
        tr_backend_ensure_loaded();
        const auto made = std::chrono::steady_clock::now();
        const std::string path = model_file(o, s);
        const double make_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - made).count();
        const size_t gpu_before = gpu_used();

        tr_session * session = tr_session_init(session_params(o, path, o.gpu));
        session->explain = o.explain;
        const tr_batch batch = random_batch(o.batch, o.seq, s.n_vocab, 11);
        std::vector<double> seconds;
        double loss = 0, first_loss = 0;
        size_t gpu_peak = 0;
        for (int step = 0; step < o.steps; ++step) {
            const auto t0 = std::chrono::steady_clock::now();
            const tr_step_result r = tr_session_train_step(*session, {batch}, o.lr);
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (step == 0) first_loss = r.loss;
            loss = r.loss;
            gpu_peak = std::max(gpu_peak, gpu_used());
        }
        const auto explained = tr_session_explain_take(*session);
        // one more step, untimed, with every node timed alone
        std::vector<std::pair<double, std::pair<std::string, int64_t>>> profiled;
        if (o.profile) {
            session->explain = false;
            session->profile = true;
            tr_session_train_step(*session, {batch}, o.lr);
            for (const auto & [key, value] : tr_session_profile_take(*session)) profiled.push_back({value.first, {key, value.second}});
            std::sort(profiled.rbegin(), profiled.rend());  // slowest first
        }
        // the first step builds and allocates everything: timed apart
        double steady = 0;
        for (size_t i = 1; i < seconds.size(); ++i) steady += seconds[i];
        const double tokens_per_s = (double) batch.n_tokens() * (double) (seconds.size() - 1) / steady;

        double check_max_abs = -1, check_max_ref = 0;
        if (o.check && session->backend.gpu) {
            // the same weights and the trained adapter, computed by the CPU backend
            const tr_batch small = random_batch(1, std::min(o.seq, 64), s.n_vocab, 13);
            const tr_lora_set apply = tr_session_adapter_set(*session, {"train"});
            std::vector<float> gpu_logits = tr_session_logits(*session, small, apply);
            tr_session * cpu = tr_session_init(session_params(o, path, false));
            // copy the trained adapter so both compute the same function
            tr_lora * src = tr_session_adapter(*session, "train");
            tr_lora * dst = tr_session_adapter(*cpu, "train");
            for (size_t i = 0; i < src->tensors.size(); ++i) {
                std::vector<uint8_t> data(ggml_nbytes(src->tensors[i]));
                ggml_backend_tensor_get(src->tensors[i], data.data(), 0, data.size());
                ggml_backend_tensor_set(dst->tensors[i], data.data(), 0, data.size());
            }
            std::vector<float> cpu_logits = tr_session_logits(*cpu, small, tr_session_adapter_set(*cpu, {"train"}));
            check_max_abs = 0;
            for (size_t i = 0; i < cpu_logits.size(); ++i) {
                check_max_abs = std::max(check_max_abs, (double) std::fabs(cpu_logits[i] - gpu_logits[i]));
                check_max_ref = std::max(check_max_ref, (double) std::fabs(cpu_logits[i]));
            }
            tr_session_free(cpu);
        }

        std::printf("{\"shape\":\"%s\",\"type\":\"%s\",\"device\":\"%s\",\"seq\":%d,\"batch\":%d,\"rank\":%d,\"steps\":%d,"
                    "\"tokens_per_s\":%.1f,\"first_step_s\":%.3f,\"make_model_s\":%.1f,\"loss_first\":%.4f,\"loss_last\":%.4f,"
                    "\"peak_rss_bytes\":%zu,\"peak_device_bytes\":%zu,\"trainable_params\":%lld,\"checkpointing\":%s",
            s.name, o.type.c_str(), json_escape(session->backend.device).c_str(), o.seq, o.batch, o.rank, o.steps,
            tokens_per_s, seconds[0], make_s, first_loss, loss, peak_rss(), gpu_peak > gpu_before ? gpu_peak - gpu_before : 0,
            (long long) tr_session_n_trainable(*session), o.checkpointing ? "true" : "false");
        if (check_max_abs >= 0) std::printf(",\"check\":{\"max_abs_diff\":%.6g,\"max_abs_logit\":%.6g}", check_max_abs, check_max_ref);
        if (o.explain) {
            std::printf(",\"explain\":{");
            bool first_op = true;
            for (const auto & [op, backends] : explained) {
                std::printf("%s\"%s\":{", first_op ? "" : ",", json_escape(op).c_str());
                bool first_b = true;
                for (const auto & [backend, count] : backends) {
                    std::printf("%s\"%s\":%lld", first_b ? "" : ",", json_escape(backend).c_str(), (long long) count);
                    first_b = false;
                }
                std::printf("}");
                first_op = false;
            }
            std::printf("}");
        }
        if (o.profile) {
            std::printf(",\"profile\":[");
            for (size_t i = 0; i < profiled.size(); ++i) {
                std::printf("%s{\"op\":\"%s\",\"ms\":%.3f,\"calls\":%lld}", i ? "," : "", json_escape(profiled[i].second.first).c_str(),
                    profiled[i].first, (long long) profiled[i].second.second);
            }
            std::printf("]");
        }
        std::printf("}\n");
        tr_session_free(session);
        return 0;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "zhongjing-train-bench: %s\n", e.what());
        return 1;
    }
}
