#include "napi-util.h"

#include <cstring>
#include <memory>

void napi_check(napi_env env, napi_status status, const char * what) {
    if (status == napi_ok) {
        return;
    }
    const napi_extended_error_info * info = nullptr;
    napi_get_last_error_info(env, &info);
    std::string msg = std::string("N-API call failed: ") + what;
    if (info && info->error_message) {
        msg += std::string(" (") + info->error_message + ")";
    }
    throw napi_error(msg);
}

napi_value napi_guard(napi_env env, const std::function<napi_value()> & fn) {
    try {
        napi_value v = fn();
        return v ? v : napi_make_undefined(env);
    } catch (const std::exception & e) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (!pending) {
            napi_throw_error(env, nullptr, e.what());
        }
    } catch (...) {
        napi_throw_error(env, nullptr, "unknown native error");
    }
    return nullptr;
}

napi_args napi_get_args(napi_env env, napi_callback_info info, size_t max_args) {
    napi_args a;
    size_t argc = max_args;
    a.argv.resize(max_args);
    NAPI_CHECK(env, napi_get_cb_info(env, info, &argc, a.argv.data(), &a.self, nullptr));
    a.argv.resize(argc < max_args ? argc : max_args);
    return a;
}

bool napi_is_undefined(napi_env env, napi_value v) {
    if (!v) {
        return true;
    }
    napi_valuetype t;
    NAPI_CHECK(env, napi_typeof(env, v, &t));
    return t == napi_undefined || t == napi_null;
}

static void expect_type(napi_env env, napi_value v, napi_valuetype want, const char * what, const char * type_name) {
    napi_valuetype t = napi_undefined;
    if (v) NAPI_CHECK(env, napi_typeof(env, v, &t));
    if (t != want) {
        throw napi_error(std::string(what) + " must be " + type_name);
    }
}

std::string napi_to_string(napi_env env, napi_value v, const char * what) {
    expect_type(env, v, napi_string, what, "a string");
    size_t len = 0;
    NAPI_CHECK(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
    std::string s(len, '\0');
    NAPI_CHECK(env, napi_get_value_string_utf8(env, v, s.data(), len + 1, &len));
    return s;
}

double napi_to_double(napi_env env, napi_value v, const char * what) {
    expect_type(env, v, napi_number, what, "a number");
    double d = 0;
    NAPI_CHECK(env, napi_get_value_double(env, v, &d));
    return d;
}

int64_t napi_to_int64(napi_env env, napi_value v, const char * what) {
    const double d = napi_to_double(env, v, what);
    if (d != (double) (int64_t) d) {
        throw napi_error(std::string(what) + " must be an integer");
    }
    return (int64_t) d;
}

bool napi_to_bool(napi_env env, napi_value v, const char * what) {
    expect_type(env, v, napi_boolean, what, "a boolean");
    bool b = false;
    NAPI_CHECK(env, napi_get_value_bool(env, v, &b));
    return b;
}

template <typename T>
static std::vector<T> typed_array_copy(napi_env env, napi_value v, napi_typedarray_type want, const char * what, const char * type_name) {
    bool is_ta = false;
    if (v) NAPI_CHECK(env, napi_is_typedarray(env, v, &is_ta));
    napi_typedarray_type type;
    size_t length = 0;
    void * data = nullptr;
    if (is_ta) NAPI_CHECK(env, napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr));
    if (!is_ta || type != want) {
        throw napi_error(std::string(what) + " must be an " + type_name);
    }
    const T * p = static_cast<const T *>(data);
    return std::vector<T>(p, p + length);
}

std::vector<int32_t> napi_to_int32_vector(napi_env env, napi_value v, const char * what) {
    return typed_array_copy<int32_t>(env, v, napi_int32_array, what, "Int32Array");
}

std::vector<float> napi_to_float_vector(napi_env env, napi_value v, const char * what) {
    return typed_array_copy<float>(env, v, napi_float32_array, what, "Float32Array");
}

std::vector<napi_value> napi_to_array(napi_env env, napi_value v, const char * what) {
    bool is_array = false;
    if (v) NAPI_CHECK(env, napi_is_array(env, v, &is_array));
    if (!is_array) {
        throw napi_error(std::string(what) + " must be an array");
    }
    uint32_t n = 0;
    NAPI_CHECK(env, napi_get_array_length(env, v, &n));
    std::vector<napi_value> out(n);
    for (uint32_t i = 0; i < n; ++i) {
        NAPI_CHECK(env, napi_get_element(env, v, i, &out[i]));
    }
    return out;
}

napi_value napi_prop(napi_env env, napi_value obj, const char * name) {
    expect_type(env, obj, napi_object, "options", "an object");
    napi_value v;
    NAPI_CHECK(env, napi_get_named_property(env, obj, name, &v));
    return v;
}

double napi_prop_double(napi_env env, napi_value obj, const char * name, double fallback) {
    napi_value v = napi_prop(env, obj, name);
    return napi_is_undefined(env, v) ? fallback : napi_to_double(env, v, name);
}

std::string napi_prop_string(napi_env env, napi_value obj, const char * name, const std::string & fallback) {
    napi_value v = napi_prop(env, obj, name);
    return napi_is_undefined(env, v) ? fallback : napi_to_string(env, v, name);
}

bool napi_prop_bool(napi_env env, napi_value obj, const char * name, bool fallback) {
    napi_value v = napi_prop(env, obj, name);
    return napi_is_undefined(env, v) ? fallback : napi_to_bool(env, v, name);
}

napi_value napi_make_object(napi_env env) {
    napi_value v;
    NAPI_CHECK(env, napi_create_object(env, &v));
    return v;
}

napi_value napi_make_string(napi_env env, const std::string & s) {
    napi_value v;
    NAPI_CHECK(env, napi_create_string_utf8(env, s.data(), s.size(), &v));
    return v;
}

napi_value napi_make_double(napi_env env, double d) {
    napi_value v;
    NAPI_CHECK(env, napi_create_double(env, d, &v));
    return v;
}

napi_value napi_make_bool(napi_env env, bool b) {
    napi_value v;
    NAPI_CHECK(env, napi_get_boolean(env, b, &v));
    return v;
}

napi_value napi_make_undefined(napi_env env) {
    napi_value v;
    NAPI_CHECK(env, napi_get_undefined(env, &v));
    return v;
}

napi_value napi_make_float32_array(napi_env env, const float * data, size_t n) {
    void * buf = nullptr;
    napi_value ab, ta;
    NAPI_CHECK(env, napi_create_arraybuffer(env, n * sizeof(float), &buf, &ab));
    if (n) memcpy(buf, data, n * sizeof(float));
    NAPI_CHECK(env, napi_create_typedarray(env, napi_float32_array, n, ab, 0, &ta));
    return ta;
}

void napi_set(napi_env env, napi_value obj, const char * name, napi_value value) {
    NAPI_CHECK(env, napi_set_named_property(env, obj, name, value));
}

// ---- async tasks ----

namespace {

struct progress_msg {
    int done;
    int total;
};

struct task_state {
    std::unique_ptr<napi_task> task;
    napi_deferred deferred = nullptr;
    napi_async_work work = nullptr;
    std::string error;
};

void task_execute(napi_env, void * data) {
    auto * st = static_cast<task_state *>(data);
    try {
        st->task->execute();
    } catch (const std::exception & e) {
        st->error = e.what();
        if (st->error.empty()) st->error = "native error";
    } catch (...) {
        st->error = "unknown native error";
    }
}

void task_complete(napi_env env, napi_status status, void * data) {
    std::unique_ptr<task_state> st(static_cast<task_state *>(data));
    napi_value result = nullptr;
    std::string error = status == napi_cancelled ? "cancelled" : st->error;
    if (error.empty()) {
        try {
            result = st->task->resolve(env);
        } catch (const std::exception & e) {
            error = e.what();
        }
    }
    try {
        st->task->finally(env);
    } catch (...) {
    }
    if (st->task->progress) {
        napi_release_threadsafe_function(st->task->progress, napi_tsfn_release);
    }
    if (error.empty()) {
        napi_resolve_deferred(env, st->deferred, result ? result : napi_make_undefined(env));
    } else {
        napi_value msg, err;
        napi_create_string_utf8(env, error.c_str(), error.size(), &msg);
        napi_create_error(env, nullptr, msg, &err);
        napi_reject_deferred(env, st->deferred, err);
    }
    napi_delete_async_work(env, st->work);
}

void progress_call_js(napi_env env, napi_value js_fn, void *, void * data) {
    std::unique_ptr<progress_msg> msg(static_cast<progress_msg *>(data));
    if (!env || !js_fn) {
        return;
    }
    napi_value argv[2], undefined;
    napi_create_double(env, msg->done, &argv[0]);
    napi_create_double(env, msg->total, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, js_fn, 2, argv, nullptr);
    // an exception thrown by the callback is reported by Node as uncaught; nothing to do here
}

} // namespace

void napi_task::report(int done, int total) {
    if (progress) {
        napi_call_threadsafe_function(progress, new progress_msg{done, total}, napi_tsfn_nonblocking);
    }
}

napi_value napi_queue_task(napi_env env, const char * name, napi_task * task, napi_value progress_fn) {
    auto st = std::make_unique<task_state>();
    st->task.reset(task);
    napi_value promise, resource_name;
    NAPI_CHECK(env, napi_create_promise(env, &st->deferred, &promise));
    NAPI_CHECK(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name));
    if (!napi_is_undefined(env, progress_fn)) {
        napi_valuetype t;
        NAPI_CHECK(env, napi_typeof(env, progress_fn, &t));
        if (t != napi_function) {
            throw napi_error("the progress callback must be a function");
        }
        NAPI_CHECK(env, napi_create_threadsafe_function(env, progress_fn, nullptr, resource_name, 0, 1, nullptr, nullptr,
                                                        nullptr, progress_call_js, &st->task->progress));
    }
    NAPI_CHECK(env, napi_create_async_work(env, nullptr, resource_name, task_execute, task_complete, st.get(), &st->work));
    NAPI_CHECK(env, napi_queue_async_work(env, st->work));
    st.release();
    return promise;
}
