#include "tr-state.h"

#include "tr-common.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

tr_gguf_out::tr_gguf_out() : gguf(gguf_init_empty()) {}

tr_gguf_out::~tr_gguf_out() {
    gguf_free(gguf);
    for (ggml_context * c : ctxs) {
        ggml_free(c);
    }
}

void tr_gguf_out::add_raw(const char * name, ggml_type type, const int64_t * ne, int n_dims, const void * data) {
    int64_t ne4[4] = {1, 1, 1, 1};
    for (int i = 0; i < n_dims; ++i) ne4[i] = ne[i];
    const size_t nbytes = ggml_row_size(type, ne4[0]) * ne4[1] * ne4[2] * ne4[3];
    ggml_init_params params = { ggml_tensor_overhead() + nbytes + 64, nullptr, /*no_alloc =*/ false };
    ggml_context * ctx = ggml_init(params);
    if (!ctx) {
        throw tr_error("out of memory while preparing a GGUF file");
    }
    ctxs.push_back(ctx);
    ggml_tensor * copy = ggml_new_tensor(ctx, type, n_dims, ne4);
    ggml_set_name(copy, name);
    memcpy(copy->data, data, nbytes);
    gguf_add_tensor(gguf, copy);
}

void tr_gguf_out::add(const ggml_tensor * t, const char * name) {
    ggml_init_params params = { ggml_tensor_overhead() + ggml_nbytes(t) + 64, nullptr, /*no_alloc =*/ false };
    ggml_context * ctx = ggml_init(params);
    if (!ctx) {
        throw tr_error("out of memory while preparing a GGUF file");
    }
    ctxs.push_back(ctx);
    ggml_tensor * copy = ggml_dup_tensor(ctx, t);
    ggml_set_name(copy, name ? name : t->name);
    ggml_backend_tensor_get(t, copy->data, 0, ggml_nbytes(t));
    gguf_add_tensor(gguf, copy);
}

void tr_gguf_out::write(const char * path) const {
    const std::string tmp = tr_format("%s.tmp-%d", path, (int) getpid());
    FILE * f = fopen(tmp.c_str(), "wb");
    if (!f) {
        throw tr_error(tr_format("cannot create %s: %s", tmp.c_str(), strerror(errno)));
    }
    bool ok = gguf_write_to_file_ptr(gguf, f, /*only_meta =*/ false);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.c_str(), path) != 0) {
        const int err = errno;
        unlink(tmp.c_str());
        throw tr_error(tr_format("cannot write %s: %s", path, strerror(err)));
    }
}

tr_gguf_in::tr_gguf_in(const char * p) : path(p) {
    gguf_init_params params = { /*.no_alloc =*/ true, /*.ctx =*/ &meta };
    gguf = gguf_init_from_file(p, params);
    if (!gguf) {
        throw tr_error(tr_format("cannot read %s as GGUF", p));
    }
}

tr_gguf_in::~tr_gguf_in() {
    gguf_free(gguf);
    ggml_free(meta);
}

bool tr_gguf_in::has_tensor(const char * name) const {
    return gguf_find_tensor(gguf, name) >= 0;
}

std::string tr_gguf_in::get_str(const char * key, const char * fallback) const {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_STRING) {
        return fallback;
    }
    return gguf_get_val_str(gguf, id);
}

void tr_gguf_in::read(const char * name, ggml_tensor * dst) const {
    const int64_t id = gguf_find_tensor(gguf, name);
    if (id < 0) {
        throw tr_error(tr_format("%s: tensor %s is missing", path.c_str(), name));
    }
    const ggml_tensor * src = ggml_get_tensor(meta, name);
    if (src->type != dst->type || !ggml_are_same_shape(src, dst)) {
        throw tr_error(tr_format("%s: tensor %s has type %s shape [%lld, %lld], expected %s [%lld, %lld]",
            path.c_str(), name, ggml_type_name(src->type), (long long) src->ne[0], (long long) src->ne[1],
            ggml_type_name(dst->type), (long long) dst->ne[0], (long long) dst->ne[1]));
    }
    FILE * f = fopen(path.c_str(), "rb");
    if (!f) {
        throw tr_error(tr_format("cannot open %s", path.c_str()));
    }
    std::vector<uint8_t> data(ggml_nbytes(dst));
    const size_t offset = gguf_get_data_offset(gguf) + gguf_get_tensor_offset(gguf, id);
    const bool ok = fseeko(f, (off_t) offset, SEEK_SET) == 0 && fread(data.data(), 1, data.size(), f) == data.size();
    fclose(f);
    if (!ok) {
        throw tr_error(tr_format("%s: tensor data of %s is truncated", path.c_str(), name));
    }
    if (dst->buffer) {
        ggml_backend_tensor_set(dst, data.data(), 0, data.size());
    } else {
        memcpy(dst->data, data.data(), data.size());  // a plain host tensor of a ggml context
    }
}
