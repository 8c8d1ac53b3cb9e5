// safetensors.c: the safetensors header parser, file mapping and sharded directories.
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"

static const struct {
    const char* name;
    size_t size;
} DTYPES[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8},   [ST_F32] = {"F32", 4},         [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8},         [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},           [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_U16] = {"U16", 2},         [ST_U32] = {"U32", 4},
    [ST_U64] = {"U64", 8},   [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char* safetensors_dtype_name(enum SafetensorsDtype t) {
    return (unsigned)t < ST_DTYPE_COUNT ? DTYPES[t].name : "?";
}

size_t safetensors_dtype_size(enum SafetensorsDtype t) {
    return (unsigned)t < ST_DTYPE_COUNT ? DTYPES[t].size : 0;
}

void safetensors_free(struct Safetensors* s) {
    if (!s) return;
    free(s->tensors);
    free(s->names);
    for (int i = 0; i < s->n_maps; i++)
        if (s->maps && s->maps[i]) munmap(s->maps[i], s->map_sizes[i]);
    free(s->maps);
    free(s->map_sizes);
    memset(s, 0, sizeof(*s));
}

static int cmp_name(const void* a, const void* b) {
    return strcmp(((const struct SafetensorsTensor*)a)->name,
                  ((const struct SafetensorsTensor*)b)->name);
}

const struct SafetensorsTensor* safetensors_find(const struct Safetensors* s, const char* name) {
    if (!s || !s->n_tensors) return NULL;
    struct SafetensorsTensor key = {.name = name};
    return bsearch(&key, s->tensors, (size_t)s->n_tensors, sizeof(key), cmp_name);
}

// ---------------------------------------------------------------------------------------
// parsing

// A JSON number that is a whole value in [0, 2^53].
static int json_u53(const cJSON* j, uint64_t* out) {
    if (!cJSON_IsNumber(j)) return -1;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(uint64_t)v) return -1;
    *out = (uint64_t)v;
    return 0;
}

struct Range {
    uint64_t begin, end;
    int64_t i;
};

static int cmp_range(const void* a, const void* b) {
    const struct Range *x = a, *y = b;
    return x->begin < y->begin   ? -1
           : x->begin > y->begin ? 1
                                 : (x->end > y->end) - (x->end < y->end);
}

// Prints a name into a message safely: at most 80 bytes, non-printables as '?'.
static const char* clean(const char* s, char* buf) {
    size_t i = 0;
    for (; s && s[i] && i < 80; i++)
        buf[i] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    buf[i] = 0;
    return buf;
}

static int parse_entry(const cJSON* it, struct SafetensorsTensor* t, struct Range* r,
                       uint64_t data_size, struct Err* e) {
    char nb[96];
    const char* name = clean(it->string, nb);
    if (!cJSON_IsObject(it))
        return err_set(e, ERR_FORMAT, "safetensors: tensor '%s' is not a JSON object", name);
    const cJSON* dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON* sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON* off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return err_set(e, ERR_FORMAT,
                       "safetensors: tensor '%s' lacks dtype, shape or "
                       "data_offsets",
                       name);
    int ti = -1;
    for (int k = 0; k < ST_DTYPE_COUNT; k++)
        if (!strcmp(dt->valuestring, DTYPES[k].name)) ti = k;
    if (ti < 0) {
        char db[96];
        return err_set(e, ERR_TYPE, "safetensors: tensor '%s' has unknown dtype '%s'", name,
                       clean(dt->valuestring, db));
    }
    t->dtype = (enum SafetensorsDtype)ti;
    int nd = cJSON_GetArraySize(sh);
    if (nd > SAFETENSORS_MAX_DIMS)
        return err_set(e, ERR_SHAPE, "safetensors: tensor '%s' has %d dims (max %d)", name, nd,
                       SAFETENSORS_MAX_DIMS);
    t->n_dims = nd;
    int64_t n = 1;
    int d = 0;
    for (const cJSON* x = sh->child; x; x = x->next, d++) {
        uint64_t v;
        if (json_u53(x, &v))
            return err_set(e, ERR_SHAPE, "safetensors: tensor '%s' has a bad shape entry", name);
        t->shape[d] = (int64_t)v;
        if (__builtin_mul_overflow(n, (int64_t)v, &n))
            return err_set(e, ERR_OVERFLOW,
                           "safetensors: tensor '%s': shape product "
                           "overflows",
                           name);
    }
    for (; d < SAFETENSORS_MAX_DIMS; d++)
        t->shape[d] = 1;
    t->n_elements = n;
    uint64_t nbytes;
    if (__builtin_mul_overflow((uint64_t)n, (uint64_t)DTYPES[ti].size, &nbytes) ||
        nbytes > SIZE_MAX)
        return err_set(e, ERR_OVERFLOW, "safetensors: tensor '%s': byte size overflows", name);
    uint64_t b, en;
    if (cJSON_GetArraySize(off) != 2 || json_u53(off->child, &b) || json_u53(off->child->next, &en))
        return err_set(e, ERR_FORMAT,
                       "safetensors: tensor '%s': data_offsets is not two "
                       "whole numbers",
                       name);
    if (b > en || en > data_size)
        return err_set(e, ERR_RANGE,
                       "safetensors: tensor '%s': data_offsets [%llu, %llu] "
                       "outside the data section (%llu bytes)",
                       name, (unsigned long long)b, (unsigned long long)en,
                       (unsigned long long)data_size);
    if (en - b != nbytes)
        return err_set(e, ERR_SHAPE,
                       "safetensors: tensor '%s': %llu bytes for %lld %s "
                       "elements (%llu expected)",
                       name, (unsigned long long)(en - b), (long long)n, DTYPES[ti].name,
                       (unsigned long long)nbytes);
    t->nbytes = (size_t)nbytes;
    r->begin = b;
    r->end = en;
    return 0;
}

int safetensors_parse(struct Safetensors* s, const uint8_t* bytes, size_t size, struct Err* e) {
    memset(s, 0, sizeof(*s));
    if (size < 8) return err_set(e, ERR_TRUNCATED, "safetensors: %zu bytes, no header", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | bytes[i];
    if (hlen > size - 8)
        return err_set(e, ERR_TRUNCATED,
                       "safetensors: header of %llu bytes but the file has "
                       "%zu",
                       (unsigned long long)hlen, size);
    if (hlen > SAFETENSORS_MAX_HEADER)
        return err_set(e, ERR_NOMEM, "safetensors: header of %llu bytes is over the cap",
                       (unsigned long long)hlen);
    if (hlen < 2 || bytes[8] != '{')
        return err_set(e, ERR_MAGIC, "safetensors: the header is not a JSON object");
    const char* end = NULL;
    cJSON* root = cJSON_ParseWithLengthOpts((const char*)bytes + 8, (size_t)hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(e, ERR_FORMAT, "safetensors: the header is malformed JSON");
    }
    for (const char* p = end; p < (const char*)bytes + 8 + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return err_set(e, ERR_FORMAT, "safetensors: bytes after the header's JSON");
        }
    }
    const uint8_t* data = bytes + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int64_t n = 0;
    size_t names_len = 0;
    for (const cJSON* it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        n++;
        names_len += strlen(it->string) + 1;
    }
    int rc = 0;
    struct Range* ranges = calloc((size_t)n + 1, sizeof(*ranges));
    s->tensors = calloc((size_t)n + 1, sizeof(*s->tensors));
    s->names = malloc(names_len + 1);
    if (!ranges || !s->tensors || !s->names) {
        rc = err_set(e, ERR_NOMEM, "safetensors: out of memory for %lld tensors", (long long)n);
        goto done;
    }
    size_t np = 0;
    for (const cJSON* it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) {
                rc = err_set(e, ERR_FORMAT, "safetensors: __metadata__ is not an object");
                goto done;
            }
            continue;
        }
        struct SafetensorsTensor* t = &s->tensors[s->n_tensors];
        struct Range* r = &ranges[s->n_tensors];
        if (!it->string[0]) {
            rc = err_set(e, ERR_FORMAT, "safetensors: a tensor has an empty name");
            goto done;
        }
        if ((rc = parse_entry(it, t, r, data_size, e))) goto done;
        size_t l = strlen(it->string) + 1;
        memcpy(s->names + np, it->string, l);
        t->name = s->names + np;
        np += l;
        t->data = data + r->begin;
        r->i = s->n_tensors++;
    }
    // overlap: sort by start; zero-size tensors overlap nothing
    qsort(ranges, (size_t)n, sizeof(*ranges), cmp_range);
    uint64_t last_end = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ranges[i].begin == ranges[i].end) continue;
        if (ranges[i].begin < last_end) {
            char nb[96];
            rc = err_set(e, ERR_RANGE, "safetensors: tensor '%s' overlaps another tensor's data",
                         clean(s->tensors[ranges[i].i].name, nb));
            goto done;
        }
        last_end = ranges[i].end;
    }
    qsort(s->tensors, (size_t)n, sizeof(*s->tensors), cmp_name);
    for (int64_t i = 1; i < n; i++) {
        if (!strcmp(s->tensors[i].name, s->tensors[i - 1].name)) {
            char nb[96];
            rc = err_set(e, ERR_DUPLICATE, "safetensors: tensor '%s' appears twice",
                         clean(s->tensors[i].name, nb));
            goto done;
        }
    }
done:
    free(ranges);
    cJSON_Delete(root);
    if (rc) safetensors_free(s);
    return rc;
}

// ---------------------------------------------------------------------------------------
// files and directories

static int map_file(const char* path, void** map, size_t* size, struct Err* e) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(e, ERR_IO, "safetensors: cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, ERR_IO, "safetensors: %s is not a regular file", path);
    }
    *size = (size_t)st.st_size;
    *map = NULL;
    if (*size) {
        void* m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return err_set(e, ERR_IO, "safetensors: cannot map %s: %s", path, strerror(errno));
        }
        *map = m;
    }
    close(fd);
    return 0;
}

static int add_map(struct Safetensors* s, void* map, size_t size) {
    void** m = realloc(s->maps, (size_t)(s->n_maps + 1) * sizeof(*m));
    if (!m) return -1;
    s->maps = m;
    size_t* z = realloc(s->map_sizes, (size_t)(s->n_maps + 1) * sizeof(*z));
    if (!z) return -1;
    s->map_sizes = z;
    s->maps[s->n_maps] = map;
    s->map_sizes[s->n_maps++] = size;
    return 0;
}

int safetensors_open(struct Safetensors* s, const char* path, struct Err* e) {
    memset(s, 0, sizeof(*s));
    void* map = NULL;
    size_t size = 0;
    int rc = map_file(path, &map, &size, e);
    if (rc) return rc;
    static const uint8_t empty[1];
    if ((rc = safetensors_parse(s, map ? map : empty, size, e))) {
        char msg[sizeof(e->msg)];
        snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
        if (map) munmap(map, size);
        return err_set(e, rc, "%s: %s", path, msg);
    }
    if (add_map(s, map, size)) {
        if (map) munmap(map, size);
        safetensors_free(s);
        return err_set(e, ERR_NOMEM, "safetensors: out of memory");
    }
    return 0;
}

static char* read_text(const char* path, struct Err* e) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char* buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char* nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                err_set(e, ERR_NOMEM, "out of memory reading %s", path);
                return NULL;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, 4096, f);
        len += k;
        if (k < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        err_set(e, ERR_IO, "cannot read %s", path);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

// Adds every tensor of part to s (names copied); duplicates are refused later.
static int merge(struct Safetensors* s, struct Safetensors* part, size_t* names_cap,
                 size_t* names_len, struct Err* e) {
    size_t need = 0;
    for (int64_t i = 0; i < part->n_tensors; i++)
        need += strlen(part->tensors[i].name) + 1;
    struct SafetensorsTensor* t =
        realloc(s->tensors, (size_t)(s->n_tensors + part->n_tensors + 1) * sizeof(*t));
    if (!t) return err_set(e, ERR_NOMEM, "safetensors: out of memory");
    s->tensors = t;
    // names are re-pointed after all merges: store offsets in the name field meanwhile
    if (*names_len + need > *names_cap) {
        size_t cap = (*names_len + need) * 2 + 64;
        char* nb = realloc(s->names, cap);
        if (!nb) return err_set(e, ERR_NOMEM, "safetensors: out of memory");
        s->names = nb;
        *names_cap = cap;
    }
    for (int64_t i = 0; i < part->n_tensors; i++) {
        struct SafetensorsTensor* d = &s->tensors[s->n_tensors++];
        *d = part->tensors[i];
        size_t l = strlen(d->name) + 1;
        memcpy(s->names + *names_len, d->name, l);
        d->name = (const char*)(uintptr_t)*names_len;
        *names_len += l;
    }
    for (int k = 0; k < part->n_maps; k++) {
        if (add_map(s, part->maps[k], part->map_sizes[k]))
            return err_set(e, ERR_NOMEM, "safetensors: out of memory");
        part->maps[k] = NULL;
    }
    return 0;
}

static int shard_name_ok(const char* f) {
    return f[0] && !strchr(f, '/') && strcmp(f, ".") && strcmp(f, "..") && strlen(f) < 256;
}

int safetensors_dir_open(struct Safetensors* s, const char* dir, struct Err* e) {
    memset(s, 0, sizeof(*s));
    char path[4096];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "safetensors: %s is not a directory", dir);
    snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
    if (stat(path, &st) != 0) {
        snprintf(path, sizeof(path), "%s/model.safetensors", dir);
        if (stat(path, &st) != 0)
            return err_set(e, ERR_NOT_FOUND,
                           "safetensors: %s has neither model.safetensors nor "
                           "model.safetensors.index.json",
                           dir);
        return safetensors_open(s, path, e);
    }
    char* text = read_text(path, e);
    if (!text) return e ? e->code : ERR_IO;
    cJSON* root = cJSON_Parse(text);
    free(text);
    const cJSON* wm = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return err_set(e, ERR_FORMAT, "safetensors: %s is malformed (no weight_map object)", path);
    }
    int rc = 0;
    size_t names_cap = 0, names_len = 0;
    // distinct shard files in first-seen order
    const char** files = calloc((size_t)cJSON_GetArraySize(wm) + 1, sizeof(*files));
    int n_files = 0;
    if (!files) rc = err_set(e, ERR_NOMEM, "safetensors: out of memory");
    for (const cJSON* it = wm->child; it && !rc; it = it->next) {
        if (!cJSON_IsString(it) || !shard_name_ok(it->valuestring)) {
            char nb[96];
            rc = err_set(e, ERR_FORMAT, "safetensors: weight_map entry '%s' names no valid file",
                         clean(it->string, nb));
            break;
        }
        int seen = 0;
        for (int k = 0; k < n_files; k++)
            seen |= !strcmp(files[k], it->valuestring);
        if (!seen) files[n_files++] = it->valuestring;
    }
    if (!rc && n_files == 0)
        rc = err_set(e, ERR_FORMAT, "safetensors: %s has an empty weight_map", path);
    struct Safetensors* parts = calloc((size_t)n_files + 1, sizeof(*parts));
    if (!rc && !parts) rc = err_set(e, ERR_NOMEM, "safetensors: out of memory");
    for (int k = 0; k < n_files && !rc; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
        rc = safetensors_open(&parts[k], path, e);
    }
    // every weight_map entry must be in the shard it names
    for (const cJSON* it = wm->child; it && !rc; it = it->next) {
        for (int k = 0; k < n_files; k++) {
            if (strcmp(files[k], it->valuestring)) continue;
            if (!safetensors_find(&parts[k], it->string)) {
                char nb[96];
                rc = err_set(e, ERR_NOT_FOUND, "safetensors: tensor '%s' is not in shard %s",
                             clean(it->string, nb), files[k]);
            }
        }
    }
    for (int k = 0; k < n_files && !rc; k++)
        rc = merge(s, &parts[k], &names_cap, &names_len, e);
    for (int k = 0; k < n_files && parts; k++)
        safetensors_free(&parts[k]);
    free(parts);
    free(files);
    cJSON_Delete(root);
    if (!rc) {
        for (int64_t i = 0; i < s->n_tensors; i++)
            s->tensors[i].name = s->names + (uintptr_t)s->tensors[i].name;
        qsort(s->tensors, (size_t)s->n_tensors, sizeof(*s->tensors), cmp_name);
        for (int64_t i = 1; i < s->n_tensors && !rc; i++) {
            if (!strcmp(s->tensors[i].name, s->tensors[i - 1].name)) {
                char nb[96];
                rc = err_set(e, ERR_DUPLICATE, "safetensors: tensor '%s' is in two shards",
                             clean(s->tensors[i].name, nb));
            }
        }
    }
    if (rc) safetensors_free(s);
    return rc;
}

// ---------------------------------------------------------------------------------------
// conversion

static double load_f64(const uint8_t* p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float load_f32(const uint8_t* p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int safetensors_to_f32(const struct SafetensorsTensor* t, float* dst, struct Err* e) {
    const uint8_t* p = t->data;
    int64_t n = t->n_elements;
    switch (t->dtype) {
    case ST_F32:
        for (int64_t i = 0; i < n; i++)
            dst[i] = load_f32(p + 4 * i);
        return 0;
    case ST_F64:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)load_f64(p + 8 * i);
        return 0;
    case ST_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = quant_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    case ST_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = quant_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 0;
    default:
        return err_set(e, ERR_TYPE, "safetensors: tensor '%s' has dtype %s, not a float type",
                       t->name, DTYPES[t->dtype].name);
    }
}

int safetensors_to_f64(const struct SafetensorsTensor* t, double* dst, struct Err* e) {
    if (t->dtype == ST_F64) {
        for (int64_t i = 0; i < t->n_elements; i++)
            dst[i] = load_f64(t->data + 8 * i);
        return 0;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return err_set(e, ERR_TYPE, "safetensors: tensor '%s' has dtype %s, not a float type",
                       t->name, DTYPES[t->dtype].name);
    for (int64_t i = 0; i < t->n_elements; i++) {
        float f;
        const uint8_t* p = t->data;
        if (t->dtype == ST_F32)
            f = load_f32(p + 4 * i);
        else if (t->dtype == ST_F16)
            f = quant_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        else
            f = quant_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        dst[i] = (double)f;
    }
    return 0;
}
