#include "tr-common.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static std::atomic<int> g_log_level{-1};

static int tr_log_level_get() {
    int level = g_log_level.load();
    if (level >= 0) {
        return level;
    }
    level = TR_LOG_LEVEL_INFO;
    if (const char * env = getenv("ZHONGJING_TRAINER_LOG")) {
        if      (!strcmp(env, "debug")) level = TR_LOG_LEVEL_DEBUG;
        else if (!strcmp(env, "warn"))  level = TR_LOG_LEVEL_WARN;
        else if (!strcmp(env, "error")) level = TR_LOG_LEVEL_ERROR;
    }
    g_log_level.store(level);
    return level;
}

void tr_log_set_level(tr_log_level level) {
    g_log_level.store(level);
}

void tr_log(tr_log_level level, const char * fmt, ...) {
    if ((int) level < tr_log_level_get()) {
        return;
    }
    static const char * names[] = {"debug", "info", "warn", "error"};
    va_list args;
    va_start(args, fmt);
    std::string msg = "zhongjing-trainer ";
    msg += names[level];
    msg += ": ";
    char buf[1024];
    va_list copy;
    va_copy(copy, args);
    const int n = vsnprintf(buf, sizeof(buf), fmt, args);
    if (n >= (int) sizeof(buf)) {
        std::vector<char> big(n + 1);
        vsnprintf(big.data(), big.size(), fmt, copy);
        msg += big.data();
    } else if (n > 0) {
        msg += buf;
    }
    va_end(copy);
    va_end(args);
    if (msg.empty() || msg.back() != '\n') {
        msg += '\n';
    }
    fputs(msg.c_str(), stderr);
}

std::string tr_format(const char * fmt, ...) {
    va_list args;
    va_start(args, fmt);
    va_list copy;
    va_copy(copy, args);
    const int n = vsnprintf(nullptr, 0, fmt, args);
    std::string out(n > 0 ? n : 0, '\0');
    if (n > 0) {
        vsnprintf(out.data(), n + 1, fmt, copy);
    }
    va_end(copy);
    va_end(args);
    return out;
}
