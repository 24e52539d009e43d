// A thin layer over the plain C N-API (node_api.h): argument reading, value creation, and
// promise-returning async work with progress callbacks. node-addon-api is not a dependency of
// this project; N-API itself is ABI-stable across Node and Electron versions.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

// Thrown inside binding code; turned into a JS exception (or a rejected promise) at the boundary.
struct napi_error : std::runtime_error {
    explicit napi_error(const std::string & msg) : std::runtime_error(msg) {}
};

void napi_check(napi_env env, napi_status status, const char * what);
#define NAPI_CHECK(env, call) napi_check((env), (call), #call)

// Runs fn and converts any C++ exception into a pending JS Error; returns fn's value or undefined.
napi_value napi_guard(napi_env env, const std::function<napi_value()> & fn);

struct napi_args {
    napi_value self = nullptr;
    std::vector<napi_value> argv;
    napi_value operator[](size_t i) const { return i < argv.size() ? argv[i] : nullptr; }
};
napi_args napi_get_args(napi_env env, napi_callback_info info, size_t max_args);

bool        napi_is_undefined(napi_env env, napi_value v);  // also true for null and a missing value
std::string napi_to_string(napi_env env, napi_value v, const char * what);
double      napi_to_double(napi_env env, napi_value v, const char * what);
int64_t     napi_to_int64(napi_env env, napi_value v, const char * what);
bool        napi_to_bool(napi_env env, napi_value v, const char * what);
std::vector<int32_t> napi_to_int32_vector(napi_env env, napi_value v, const char * what);   // Int32Array
std::vector<float>   napi_to_float_vector(napi_env env, napi_value v, const char * what);   // Float32Array
std::vector<napi_value> napi_to_array(napi_env env, napi_value v, const char * what);

napi_value napi_prop(napi_env env, napi_value obj, const char * name);  // undefined when absent
double      napi_prop_double(napi_env env, napi_value obj, const char * name, double fallback);
std::string napi_prop_string(napi_env env, napi_value obj, const char * name, const std::string & fallback);
bool        napi_prop_bool(napi_env env, napi_value obj, const char * name, bool fallback);

napi_value napi_make_object(napi_env env);
napi_value napi_make_string(napi_env env, const std::string & s);
napi_value napi_make_double(napi_env env, double d);
napi_value napi_make_bool(napi_env env, bool b);
napi_value napi_make_undefined(napi_env env);
napi_value napi_make_float32_array(napi_env env, const float * data, size_t n);
void       napi_set(napi_env env, napi_value obj, const char * name, napi_value value);

// Promise-returning work on the libuv thread pool. execute() runs off the JS thread and may
// throw; resolve() runs on the JS thread afterwards. report() may be called from execute() to
// send progress to the JS callback given to napi_queue_task (if any).
struct napi_task {
    virtual ~napi_task() = default;
    virtual void execute() = 0;
    virtual napi_value resolve(napi_env env) = 0;
    virtual void finally(napi_env env) {}  // always runs on the JS thread, after resolve/reject
    void report(int done, int total);

    napi_threadsafe_function progress = nullptr;
};

napi_value napi_queue_task(napi_env env, const char * name, napi_task * task, napi_value progress_fn);
