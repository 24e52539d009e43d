// Shared pieces of the trainer: logging, error formatting, the deterministic RNG.
// Style follows llama.cpp: <noun>_<verb> names, init/free pairs, every forced setting logged.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <stdexcept>
#include <string>

enum tr_log_level {
    TR_LOG_LEVEL_DEBUG = 0,
    TR_LOG_LEVEL_INFO  = 1,
    TR_LOG_LEVEL_WARN  = 2,
    TR_LOG_LEVEL_ERROR = 3,
};

// Messages go to stderr with a "zhongjing-trainer" prefix: the trainer runs in its own job
// process whose stderr is the run log. The level comes from ZHONGJING_TRAINER_LOG
// (debug|info|warn|error, default info) and can be changed at run time.
void tr_log(tr_log_level level, const char * fmt, ...) __attribute__((format(printf, 2, 3)));
void tr_log_set_level(tr_log_level level);

#define TR_LOG_DEBUG(...) tr_log(TR_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define TR_LOG_INFO(...)  tr_log(TR_LOG_LEVEL_INFO,  __VA_ARGS__)
#define TR_LOG_WARN(...)  tr_log(TR_LOG_LEVEL_WARN,  __VA_ARGS__)
#define TR_LOG_ERROR(...) tr_log(TR_LOG_LEVEL_ERROR, __VA_ARGS__)

std::string tr_format(const char * fmt, ...) __attribute__((format(printf, 1, 2)));

// Errors the caller can act on (bad file, wrong shapes, bad option) are thrown as tr_error and
// become rejected promises in JS. Programming errors inside ggml still abort (GGML_ASSERT): that
// is why training runs in its own process.
struct tr_error : std::runtime_error {
    explicit tr_error(const std::string & msg) : std::runtime_error(msg) {}
};

// Counter-based randomness: every random stream is a pure function of (seed, stream id, counter),
// so a checkpoint only has to store counters to resume bit-exactly. splitmix64 is the mixer.
static inline uint64_t tr_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

struct tr_rng {
    uint64_t state;

    tr_rng(uint64_t seed, uint64_t stream, uint64_t counter = 0)
        : state(tr_mix64(tr_mix64(seed) ^ tr_mix64(stream * 0x632be59bd9b4e019ull + counter))) {}

    uint64_t next_u64() {
        state += 0x9e3779b97f4a7c15ull;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // uniform in [0, 1) with 24 random bits: exact in float
    float next_f32() { return (float) (next_u64() >> 40) * (1.0f / 16777216.0f); }
};

// Stream ids, so that different uses of one seed never share numbers.
enum tr_rng_stream : uint64_t {
    TR_RNG_STREAM_LORA_INIT = 1,
    TR_RNG_STREAM_DROPOUT   = 2,
    TR_RNG_STREAM_MAKE_MODEL = 3,
    TR_RNG_STREAM_HEAD_INIT = 4,
};
