// gguf.c: GGUF v2/v3 reader and v3 writer (see gguf.h for the contracts).
// The reader walks the header once with a bounds-checked cursor; every count is checked
// against the bytes that remain before anything is allocated, so a hostile file costs at
// most a small multiple of its own size in memory. Allocations come from one bump pool
// that gguf_free releases in one go.
#include "gguf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_DEPTH 8             // nested arrays deeper than this are refused
#define GGUF_MAX_STRING (1ull << 30) // a single key or string value

static const size_t TYPE_SIZE[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char* const TYPE_NAME[] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};
_Static_assert(sizeof(TYPE_SIZE) / sizeof(TYPE_SIZE[0]) == GGUF_TYPE_COUNT, "TYPE_SIZE");
_Static_assert(sizeof(TYPE_NAME) / sizeof(TYPE_NAME[0]) == GGUF_TYPE_COUNT, "TYPE_NAME");

size_t gguf_type_size(enum GgufValueType t) {
    return (unsigned)t < GGUF_TYPE_COUNT ? TYPE_SIZE[t] : 0;
}

const char* gguf_type_name(enum GgufValueType t) {
    return (unsigned)t < GGUF_TYPE_COUNT ? TYPE_NAME[t] : "?";
}

// Keys and tensor names are file bytes: a message quoting one could carry a newline or a
// terminal escape. Control bytes become '?' so that the message stays one printable line.
static int one_line(struct Err* e, int rc) {
    if (e)
        for (char* c = e->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return rc;
}

static int is_scalar(uint32_t t) {
    return t < GGUF_TYPE_COUNT && t != GGUF_TYPE_STRING && t != GGUF_TYPE_ARRAY;
}

// --------------------------------------------------------------------------------------
// bump pool: blocks chained through their first word, freed together

struct PoolBlock {
    struct PoolBlock* next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

static void* pool_alloc(void** head, size_t n) {
    n = (n + 15) & ~(size_t)15;
    struct PoolBlock* b = *head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        struct PoolBlock* nb = malloc(sizeof(*nb) + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && n > (1u << 20)) { // keep filling the current small block
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            *head = nb;
        }
        b = nb;
    }
    void* p = b->data + b->used;
    b->used += n;
    return p;
}

static void pool_free(void* head) {
    struct PoolBlock* b = head;
    while (b) {
        struct PoolBlock* next = b->next;
        free(b);
        b = next;
    }
}

// --------------------------------------------------------------------------------------
// reader

struct Reader {
    const uint8_t* p;
    size_t size, pos;
    struct Gguf* g;
    struct Err* e;
    const char* what; // the key or tensor being read, for messages
};

static size_t left(const struct Reader* r) {
    return r->size - r->pos;
}

static int rd(struct Reader* r, void* out, size_t n, const char* field) {
    if (left(r) < n)
        return err_set(r->e, ERR_TRUNCATED, "gguf_parse: file ends inside %s of '%s' (offset %zu)",
                       field, r->what, r->pos);
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static int rd_u32(struct Reader* r, uint32_t* v, const char* f) {
    return rd(r, v, 4, f);
}
static int rd_u64(struct Reader* r, uint64_t* v, const char* f) {
    return rd(r, v, 8, f);
}

// A GGUF string (u64 length + bytes), copied NUL-terminated into the pool.
static int rd_str(struct Reader* r, struct GgufStr* s, const char* field) {
    uint64_t len;
    int rc = rd_u64(r, &len, field);
    if (rc) return rc;
    // A length larger than what remains is a truncation or a lie: stop before allocating.
    if (len > left(r))
        return err_set(r->e, ERR_TRUNCATED,
                       "gguf_parse: %s of '%s' claims %llu bytes, only %zu left", field, r->what,
                       (unsigned long long)len, left(r));
    if (len > GGUF_MAX_STRING)
        return err_set(r->e, ERR_FORMAT, "gguf_parse: %s of '%s' is too long (%llu bytes)", field,
                       r->what, (unsigned long long)len);
    char* c = pool_alloc(&r->g->arena, (size_t)len + 1);
    if (!c) return err_set(r->e, ERR_NOMEM, "gguf_parse: out of memory reading '%s'", r->what);
    memcpy(c, r->p + r->pos, (size_t)len);
    c[len] = 0;
    r->pos += (size_t)len;
    s->s = c;
    s->len = len;
    return 0;
}

static int rd_value(struct Reader* r, uint32_t type, struct GgufValue* v, int depth);

static int rd_array(struct Reader* r, struct GgufArr* a, int depth) {
    uint32_t et;
    uint64_t n;
    int rc = rd_u32(r, &et, "array type");
    if (!rc) rc = rd_u64(r, &n, "array length");
    if (rc) return rc;
    if (et >= GGUF_TYPE_COUNT)
        return err_set(r->e, ERR_TYPE, "gguf_parse: key '%s' has an array of unknown type %u",
                       r->what, et);
    if (depth >= GGUF_MAX_DEPTH)
        return err_set(r->e, ERR_FORMAT, "gguf_parse: key '%s' nests arrays deeper than %d",
                       r->what, GGUF_MAX_DEPTH);
    a->type = (enum GgufValueType)et;
    a->n = n;
    a->raw = NULL;
    a->items = NULL;
    // The smallest encoding of one element bounds the count before any allocation:
    // a scalar takes its size, a string 8 bytes, a nested array 12.
    size_t min_elem = is_scalar(et) ? TYPE_SIZE[et] : et == GGUF_TYPE_STRING ? 8 : 12;
    if (n > left(r) / min_elem)
        return err_set(r->e, ERR_TRUNCATED,
                       "gguf_parse: array '%s' claims %llu elements, more than the file holds",
                       r->what, (unsigned long long)n);
    if (is_scalar(et)) {
        a->raw = r->p + r->pos;
        r->pos += (size_t)n * min_elem;
        return 0;
    }
    struct GgufValue* items = pool_alloc(&r->g->arena, (size_t)n * sizeof(*items) + 1);
    if (!items) return err_set(r->e, ERR_NOMEM, "gguf_parse: out of memory for '%s'", r->what);
    for (uint64_t i = 0; i < n; i++) {
        rc = rd_value(r, et, &items[i], depth + 1);
        if (rc) return rc;
    }
    a->items = items;
    return 0;
}

static int rd_value(struct Reader* r, uint32_t type, struct GgufValue* v, int depth) {
    memset(v, 0, sizeof(*v));
    if (type >= GGUF_TYPE_COUNT)
        return err_set(r->e, ERR_TYPE, "gguf_parse: key '%s' has unknown value type %u", r->what,
                       type);
    v->type = (enum GgufValueType)type;
    uint8_t b[8] = {0};
    switch (v->type) {
    case GGUF_TYPE_STRING: return rd_str(r, &v->str, "string value");
    case GGUF_TYPE_ARRAY: return rd_array(r, &v->arr, depth);
    default: break;
    }
    int rc = rd(r, b, TYPE_SIZE[type], "value");
    if (rc) return rc;
    switch (v->type) {
    case GGUF_TYPE_UINT8: v->u = b[0]; break;
    case GGUF_TYPE_BOOL: v->u = b[0] != 0; break;
    case GGUF_TYPE_INT8: v->i = (int8_t)b[0]; break;
    case GGUF_TYPE_UINT16: {
        uint16_t x;
        memcpy(&x, b, 2);
        v->u = x;
        break;
    }
    case GGUF_TYPE_INT16: {
        int16_t x;
        memcpy(&x, b, 2);
        v->i = x;
        break;
    }
    case GGUF_TYPE_UINT32: {
        uint32_t x;
        memcpy(&x, b, 4);
        v->u = x;
        break;
    }
    case GGUF_TYPE_INT32: {
        int32_t x;
        memcpy(&x, b, 4);
        v->i = x;
        break;
    }
    case GGUF_TYPE_FLOAT32: {
        float x;
        memcpy(&x, b, 4);
        v->f = (double)x;
        break;
    }
    case GGUF_TYPE_UINT64: memcpy(&v->u, b, 8); break;
    case GGUF_TYPE_INT64: memcpy(&v->i, b, 8); break;
    case GGUF_TYPE_FLOAT64: memcpy(&v->f, b, 8); break;
    case GGUF_TYPE_STRING:
    case GGUF_TYPE_ARRAY:
    case GGUF_TYPE_COUNT: assert(0); break;
    }
    return 0;
}

static int cmp_str_ptr(const void* a, const void* b) {
    return strcmp(*(const char* const*)a, *(const char* const*)b);
}

// Finds a repeated name among n NUL-terminated strings (sorted copy of the pointers).
static const char* find_duplicate(const char** names, int64_t n) {
    qsort(names, (size_t)n, sizeof(*names), cmp_str_ptr);
    for (int64_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static int cmp_tensor_offset(const void* a, const void* b) {
    const struct GgufTensor* x = *(const struct GgufTensor* const*)a;
    const struct GgufTensor* y = *(const struct GgufTensor* const*)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int rd_tensor_info(struct Reader* r, struct GgufTensor* t) {
    struct GgufStr name;
    r->what = "(tensor name)";
    int rc = rd_str(r, &name, "tensor name");
    if (rc) return rc;
    if (name.len == 0 || strlen(name.s) != name.len)
        return err_set(r->e, ERR_FORMAT,
                       "gguf_parse: a tensor has an empty or NUL-containing name");
    t->name = name.s;
    r->what = t->name;
    uint32_t n_dims, type;
    if ((rc = rd_u32(r, &n_dims, "n_dims"))) return rc;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return err_set(r->e, ERR_FORMAT, "gguf_parse: tensor '%s' has %u dims (1..4 allowed)",
                       t->name, n_dims);
    t->n_dims = (int)n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if ((rc = rd_u64(r, &ne, "dimension"))) return rc;
        if (ne > (uint64_t)INT64_MAX)
            return err_set(r->e, ERR_FORMAT, "gguf_parse: tensor '%s' has negative dim %u", t->name,
                           d);
        t->ne[d] = (int64_t)ne;
    }
    if ((rc = rd_u32(r, &type, "type"))) return rc;
    if ((rc = rd_u64(r, &t->offset, "offset"))) return rc;
    const struct QuantTraits* tr = quant_traits(type);
    if (!tr)
        return err_set(r->e, ERR_TYPE, "gguf_parse: tensor '%s' has unknown type %u", t->name,
                       type);
    t->type = (enum GgmlType)type;
    // Element count and byte size, refusing any product that overflows.
    int64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        if (t->ne[d] != 0 && n > INT64_MAX / t->ne[d])
            return err_set(r->e, ERR_OVERFLOW, "gguf_parse: tensor '%s' shape overflows", t->name);
        n *= t->ne[d];
    }
    t->n_elements = n;
    if (t->ne[0] % tr->block_size != 0)
        return err_set(r->e, ERR_FORMAT,
                       "gguf_parse: tensor '%s' row of %lld is not a multiple of %s's block of %d",
                       t->name, (long long)t->ne[0], tr->name, tr->block_size);
    uint64_t blocks = (uint64_t)(n / tr->block_size);
    if (blocks > SIZE_MAX / (uint64_t)tr->type_size)
        return err_set(r->e, ERR_OVERFLOW, "gguf_parse: tensor '%s' byte size overflows", t->name);
    t->nbytes = (size_t)blocks * (size_t)tr->type_size;
    return 0;
}

static int parse(struct Gguf* g, struct Reader* r) {
    char magic[4];
    uint64_t n_tensors, n_kv;
    r->what = "(header)";
    int rc = rd(r, magic, 4, "magic");
    if (rc) return err_set(r->e, ERR_MAGIC, "gguf_parse: not a GGUF file (%zu bytes)", r->size);
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return err_set(r->e, ERR_MAGIC, "gguf_parse: not a GGUF file (bad magic)");
    if ((rc = rd_u32(r, &g->version, "version"))) return rc;
    // A big-endian file stores the version byte-swapped: its low half reads as zero here.
    if ((g->version & 0xFFFF) == 0)
        return err_set(r->e, ERR_VERSION, "gguf_parse: big-endian GGUF files are not supported");
    if (g->version != 2 && g->version != 3)
        return err_set(r->e, ERR_VERSION, "gguf_parse: GGUF version %u is not supported (2, 3)",
                       g->version);
    if ((rc = rd_u64(r, &n_tensors, "tensor count"))) return rc;
    if ((rc = rd_u64(r, &n_kv, "key count"))) return rc;
    // Smallest possible entries: a kv is 8+1+4+1 bytes, a tensor info 8+1+4+8+4+8.
    if (n_kv > left(r) / 14)
        return err_set(r->e, ERR_TRUNCATED, "gguf_parse: %llu keys cannot fit in %zu bytes",
                       (unsigned long long)n_kv, left(r));
    if (n_tensors > left(r) / 33)
        return err_set(r->e, ERR_TRUNCATED, "gguf_parse: %llu tensors cannot fit in %zu bytes",
                       (unsigned long long)n_tensors, left(r));
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->kv = pool_alloc(&g->arena, (size_t)n_kv * sizeof(*g->kv) + 1);
    g->tensors = pool_alloc(&g->arena, (size_t)n_tensors * sizeof(*g->tensors) + 1);
    const char** names =
        malloc(((size_t)(n_kv > n_tensors ? n_kv : n_tensors) + 1) * sizeof(char*));
    if (!g->kv || !g->tensors || !names) {
        free(names);
        return err_set(r->e, ERR_NOMEM, "gguf_parse: out of memory");
    }

    for (int64_t i = 0; i < g->n_kv && !rc; i++) {
        struct GgufKv* kv = &g->kv[i];
        struct GgufStr key;
        uint32_t type;
        r->what = "(key)";
        if ((rc = rd_str(r, &key, "key"))) break;
        if (key.len == 0 || strlen(key.s) != key.len) {
            rc = err_set(r->e, ERR_FORMAT, "gguf_parse: key %lld is empty or contains NUL",
                         (long long)i);
            break;
        }
        kv->key = key.s;
        r->what = kv->key;
        if ((rc = rd_u32(r, &type, "value type"))) break;
        rc = rd_value(r, type, &kv->val, 0);
        names[i] = kv->key;
    }
    if (!rc && g->n_kv > 1) {
        const char* dup = find_duplicate(names, g->n_kv);
        if (dup) rc = err_set(r->e, ERR_DUPLICATE, "gguf_parse: duplicate key '%s'", dup);
    }

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const struct GgufKv* al = rc ? NULL : gguf_find_key(g, "general.alignment");
    if (al) {
        if (al->val.type != GGUF_TYPE_UINT32)
            rc = err_set(r->e, ERR_ALIGN, "gguf_parse: general.alignment must be u32, not %s",
                         gguf_type_name(al->val.type));
        else if (al->val.u == 0 || (al->val.u & (al->val.u - 1)) != 0)
            rc =
                err_set(r->e, ERR_ALIGN, "gguf_parse: general.alignment %llu is not a power of two",
                        (unsigned long long)al->val.u);
        else
            g->alignment = (uint32_t)al->val.u;
    }

    for (int64_t i = 0; i < g->n_tensors && !rc; i++) {
        struct GgufTensor* t = &g->tensors[i];
        if ((rc = rd_tensor_info(r, t))) break;
        if (t->offset % g->alignment != 0)
            rc =
                err_set(r->e, ERR_ALIGN, "gguf_parse: tensor '%s' offset %llu is not aligned to %u",
                        t->name, (unsigned long long)t->offset, g->alignment);
        names[i] = t->name;
    }
    if (!rc && g->n_tensors > 1) {
        const char* dup = find_duplicate(names, g->n_tensors);
        if (dup) rc = err_set(r->e, ERR_DUPLICATE, "gguf_parse: duplicate tensor '%s'", dup);
    }
    free(names);
    if (rc) return rc;

    // The data section starts at the next multiple of the alignment. A file without
    // tensors may end before it (vocabulary-only GGUFs do).
    size_t pad = (g->alignment - r->pos % g->alignment) % g->alignment;
    g->data_offset = r->pos + pad;
    if (g->n_tensors == 0) return 0;
    if (g->data_offset > r->size)
        return err_set(r->e, ERR_TRUNCATED, "gguf_parse: file ends before its tensor data");
    size_t data_size = r->size - g->data_offset;
    const struct GgufTensor** order = malloc((size_t)g->n_tensors * sizeof(*order));
    if (!order) return err_set(r->e, ERR_NOMEM, "gguf_parse: out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        struct GgufTensor* t = &g->tensors[i];
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            free(order);
            return err_set(r->e, ERR_RANGE,
                           "gguf_parse: tensor '%s' (%zu bytes at %llu) lies past the end of the "
                           "file (truncated download?)",
                           t->name, t->nbytes, (unsigned long long)t->offset);
        }
        t->data = r->p + g->data_offset + t->offset;
        order[i] = t;
    }
    // Tensors may come in any order but must not overlap (the spec's rule). Sorted by
    // offset, checking each non-empty range against the previous non-empty one suffices.
    // A zero-size tensor's empty range overlaps nothing, even where it shares its offset
    // with a tensor sorted before it (a writer gives it the next tensor's offset).
    qsort(order, (size_t)g->n_tensors, sizeof(*order), cmp_tensor_offset);
    const struct GgufTensor* prev = NULL;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = order[i];
        if (t->nbytes == 0) continue;
        if (prev && prev->offset + prev->nbytes > t->offset) {
            rc = err_set(r->e, ERR_RANGE, "gguf_parse: tensors '%s' and '%s' overlap", prev->name,
                         t->name);
            break;
        }
        prev = t;
    }
    free(order);
    return rc;
}

int gguf_parse(struct Gguf* g, const uint8_t* bytes, size_t size, struct Err* e) {
    memset(g, 0, sizeof(*g));
    g->bytes = bytes;
    g->size = size;
    struct Reader r = {.p = bytes, .size = size, .g = g, .e = e, .what = ""};
    int rc = parse(g, &r);
    if (rc) gguf_free(g);
    return rc ? one_line(e, rc) : 0;
}

int gguf_open(struct Gguf* g, const char* path, struct Err* e) {
    memset(g, 0, sizeof(*g));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, ERR_IO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void* map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int err = errno;
            close(fd);
            return err_set(e, ERR_IO, "cannot map '%s': %s", path, strerror(err));
        }
    }
    close(fd); // the mapping keeps the file alive
    int rc = gguf_parse(g, map ? map : (const uint8_t*)"", size, e);
    if (rc) {
        if (map) munmap(map, size);
        // Prefix the path so the user knows which file is wrong.
        if (e) {
            char tmp[sizeof(e->msg)];
            memcpy(tmp, e->msg, sizeof(tmp));
            size_t n = strlen(path);
            if (n > 120) n = 120; // keep room for the message itself
            snprintf(e->msg, sizeof(e->msg), "%.*s: %.*s", (int)n, path,
                     (int)(sizeof(e->msg) - n - 3), tmp);
        }
        return rc;
    }
    g->map = map;
    g->map_size = size;
    return 0;
}

void gguf_free(struct Gguf* g) {
    if (!g) return;
    pool_free(g->arena);
    if (g->map) munmap(g->map, g->map_size);
    memset(g, 0, sizeof(*g));
}

// --------------------------------------------------------------------------------------
// lookups

const struct GgufKv* gguf_find_key(const struct Gguf* g, const char* key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const struct GgufTensor* gguf_find_tensor(const struct Gguf* g, const char* name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

static int is_int_type(enum GgufValueType t) {
    return t <= GGUF_TYPE_INT32 ? t != GGUF_TYPE_FLOAT32 && t != GGUF_TYPE_BOOL
                                : t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64;
}

static int is_signed(enum GgufValueType t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

static const struct GgufKv* find_typed(const struct Gguf* g, const char* key, int* rc,
                                       struct Err* e) {
    const struct GgufKv* kv = gguf_find_key(g, key);
    *rc = kv ? 0 : err_set(e, ERR_NOT_FOUND, "key '%s' is missing", key);
    return kv;
}

static int type_error(struct Err* e, const struct GgufKv* kv, const char* want) {
    return one_line(e, err_set(e, ERR_TYPE, "key '%s' is %s, expected %s", kv->key,
                               gguf_type_name(kv->val.type), want));
}

int gguf_get_int(const struct Gguf* g, const char* key, int64_t* out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    enum GgufValueType t = kv->val.type;
    if (t == GGUF_TYPE_BOOL) {
        *out = (int64_t)kv->val.u;
    } else if (is_int_type(t)) {
        if (!is_signed(t) && kv->val.u > (uint64_t)INT64_MAX) return type_error(e, kv, "an int64");
        *out = is_signed(t) ? kv->val.i : (int64_t)kv->val.u;
    } else {
        return type_error(e, kv, "an integer");
    }
    return 0;
}

int gguf_get_uint(const struct Gguf* g, const char* key, uint64_t* out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    enum GgufValueType t = kv->val.type;
    if (!is_int_type(t) && t != GGUF_TYPE_BOOL) return type_error(e, kv, "an unsigned integer");
    if (is_signed(t)) {
        if (kv->val.i < 0) return type_error(e, kv, "a non-negative integer");
        *out = (uint64_t)kv->val.i;
    } else {
        *out = kv->val.u;
    }
    return 0;
}

int gguf_get_float(const struct Gguf* g, const char* key, double* out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    enum GgufValueType t = kv->val.type;
    if (t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64)
        *out = kv->val.f;
    else if (is_int_type(t))
        *out = is_signed(t) ? (double)kv->val.i : (double)kv->val.u;
    else
        return type_error(e, kv, "a number");
    return 0;
}

int gguf_get_bool(const struct Gguf* g, const char* key, bool* out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    if (kv->val.type != GGUF_TYPE_BOOL) return type_error(e, kv, "a bool");
    *out = kv->val.u != 0;
    return 0;
}

int gguf_get_str(const struct Gguf* g, const char* key, struct GgufStr* out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    if (kv->val.type != GGUF_TYPE_STRING) return type_error(e, kv, "a string");
    *out = kv->val.str;
    return 0;
}

int gguf_get_arr(const struct Gguf* g, const char* key, const struct GgufArr** out, struct Err* e) {
    int rc;
    const struct GgufKv* kv = find_typed(g, key, &rc, e);
    if (!kv) return rc;
    if (kv->val.type != GGUF_TYPE_ARRAY) return type_error(e, kv, "an array");
    *out = &kv->val.arr;
    return 0;
}

int64_t gguf_arr_int(const struct GgufArr* a, uint64_t i) {
    assert(i < a->n && (is_int_type(a->type) || a->type == GGUF_TYPE_BOOL));
    const uint8_t* p = a->raw + i * TYPE_SIZE[a->type];
    switch (a->type) {
    case GGUF_TYPE_UINT8: return p[0];
    case GGUF_TYPE_BOOL: return p[0] != 0;
    case GGUF_TYPE_INT8: return (int8_t)p[0];
    case GGUF_TYPE_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case GGUF_TYPE_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case GGUF_TYPE_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    case GGUF_TYPE_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    case GGUF_TYPE_UINT64: {
        uint64_t x;
        memcpy(&x, p, 8);
        return (int64_t)x;
    }
    case GGUF_TYPE_INT64: {
        int64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    default: assert(0); return 0;
    }
}

double gguf_arr_float(const struct GgufArr* a, uint64_t i) {
    assert(i < a->n && is_scalar(a->type));
    const uint8_t* p = a->raw + i * TYPE_SIZE[a->type];
    if (a->type == GGUF_TYPE_FLOAT32) {
        float x;
        memcpy(&x, p, 4);
        return (double)x;
    }
    if (a->type == GGUF_TYPE_FLOAT64) {
        double x;
        memcpy(&x, p, 8);
        return x;
    }
    if (a->type == GGUF_TYPE_UINT64) {
        uint64_t x;
        memcpy(&x, p, 8);
        return (double)x;
    }
    return (double)gguf_arr_int(a, i);
}

struct GgufStr gguf_arr_str(const struct GgufArr* a, uint64_t i) {
    assert(i < a->n && a->type == GGUF_TYPE_STRING);
    return a->items[i].str;
}

// --------------------------------------------------------------------------------------
// writer: key/values are encoded as they are set; tensors are laid out at write time

int gguf_writer_init(struct GgufWriter* w) {
    memset(w, 0, sizeof(*w));
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return 0;
}

void gguf_writer_free(struct GgufWriter* w) {
    if (!w) return;
    free(w->kv_bytes);
    for (int64_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    free(w->keys);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        if (w->tensors[i].owned) free((void*)w->tensors[i].data);
    }
    free(w->tensors);
    memset(w, 0, sizeof(*w));
}

static void w_fail(struct GgufWriter* w, int code, const char* what, const char* name) {
    if (!w->failed) one_line(&w->err, err_set(&w->err, code, "gguf_writer: %s '%s'", what, name));
    w->failed = 1;
}

static void w_bytes(struct GgufWriter* w, const void* p, size_t n) {
    if (w->failed || n == 0) return; // an empty array may come with p == NULL
    if (w->kv_cap - w->kv_len < n) {
        size_t cap = w->kv_cap ? w->kv_cap : 256;
        while (cap - w->kv_len < n)
            cap *= 2;
        uint8_t* nb = realloc(w->kv_bytes, cap);
        if (!nb) {
            w_fail(w, ERR_NOMEM, "out of memory at", "kv");
            return;
        }
        w->kv_bytes = nb;
        w->kv_cap = cap;
    }
    memcpy(w->kv_bytes + w->kv_len, p, n);
    w->kv_len += n;
}

static void w_u32(struct GgufWriter* w, uint32_t v) {
    w_bytes(w, &v, 4);
}
static void w_u64(struct GgufWriter* w, uint64_t v) {
    w_bytes(w, &v, 8);
}
static void w_str(struct GgufWriter* w, const char* s, uint64_t len) {
    w_u64(w, len);
    w_bytes(w, s, (size_t)len);
}

// Starts a key/value entry: checks the key and writes it with the value's type.
static int w_key(struct GgufWriter* w, const char* key, enum GgufValueType t) {
    if (w->failed) return 0;
    if (!key || !*key) {
        w_fail(w, ERR_FORMAT, "empty key", "");
        return 0;
    }
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            w_fail(w, ERR_DUPLICATE, "duplicate key", key);
            return 0;
        }
    char** nk = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof(*nk));
    char* copy = strdup(key);
    if (nk) w->keys = nk;
    if (!nk || !copy) {
        free(copy);
        w_fail(w, ERR_NOMEM, "out of memory at", key);
        return 0;
    }
    w->keys[w->n_kv++] = copy;
    w_str(w, key, strlen(key));
    w_u32(w, (uint32_t)t);
    return !w->failed;
}

#define SCALAR_SETTER(fn, ctype, gtype)                                                            \
    void fn(struct GgufWriter* w, const char* key, ctype v) {                                      \
        if (w_key(w, key, gtype)) w_bytes(w, &v, sizeof(v));                                       \
    }
SCALAR_SETTER(gguf_writer_set_u8, uint8_t, GGUF_TYPE_UINT8)
SCALAR_SETTER(gguf_writer_set_i8, int8_t, GGUF_TYPE_INT8)
SCALAR_SETTER(gguf_writer_set_u16, uint16_t, GGUF_TYPE_UINT16)
SCALAR_SETTER(gguf_writer_set_i16, int16_t, GGUF_TYPE_INT16)
SCALAR_SETTER(gguf_writer_set_i32, int32_t, GGUF_TYPE_INT32)
SCALAR_SETTER(gguf_writer_set_u64, uint64_t, GGUF_TYPE_UINT64)
SCALAR_SETTER(gguf_writer_set_i64, int64_t, GGUF_TYPE_INT64)
SCALAR_SETTER(gguf_writer_set_f32, float, GGUF_TYPE_FLOAT32)
SCALAR_SETTER(gguf_writer_set_f64, double, GGUF_TYPE_FLOAT64)
#undef SCALAR_SETTER

void gguf_writer_set_u32(struct GgufWriter* w, const char* key, uint32_t v) {
    if (strcmp(key, "general.alignment") == 0) {
        if (v == 0 || (v & (v - 1)) != 0) {
            w_fail(w, ERR_ALIGN, "alignment is not a power of two:", key);
            return;
        }
        w->alignment = v;
    }
    if (w_key(w, key, GGUF_TYPE_UINT32)) w_bytes(w, &v, 4);
}

void gguf_writer_set_bool(struct GgufWriter* w, const char* key, bool v) {
    uint8_t b = v ? 1 : 0;
    if (w_key(w, key, GGUF_TYPE_BOOL)) w_bytes(w, &b, 1);
}

void gguf_writer_set_strn(struct GgufWriter* w, const char* key, const char* v, uint64_t len) {
    if (w_key(w, key, GGUF_TYPE_STRING)) w_str(w, v, len);
}

void gguf_writer_set_str(struct GgufWriter* w, const char* key, const char* v) {
    gguf_writer_set_strn(w, key, v, strlen(v));
}

void gguf_writer_set_arr(struct GgufWriter* w, const char* key, enum GgufValueType t,
                         const void* data, uint64_t n) {
    assert(is_scalar(t));
    if (!w_key(w, key, GGUF_TYPE_ARRAY)) return;
    w_u32(w, (uint32_t)t);
    w_u64(w, n);
    w_bytes(w, data, (size_t)n * TYPE_SIZE[t]);
}

void gguf_writer_set_arr_str(struct GgufWriter* w, const char* key, const char* const* strs,
                             const uint64_t* lens, uint64_t n) {
    if (!w_key(w, key, GGUF_TYPE_ARRAY)) return;
    w_u32(w, GGUF_TYPE_STRING);
    w_u64(w, n);
    for (uint64_t i = 0; i < n; i++)
        w_str(w, strs[i], lens ? lens[i] : strlen(strs[i]));
}

// Encodes a parsed value (not its type tag) as the file stores it.
static void w_value(struct GgufWriter* w, const struct GgufValue* v) {
    switch (v->type) {
    case GGUF_TYPE_STRING: w_str(w, v->str.s, v->str.len); return;
    case GGUF_TYPE_ARRAY:
        w_u32(w, (uint32_t)v->arr.type);
        w_u64(w, v->arr.n);
        if (is_scalar(v->arr.type)) {
            w_bytes(w, v->arr.raw, (size_t)v->arr.n * TYPE_SIZE[v->arr.type]);
        } else {
            for (uint64_t i = 0; i < v->arr.n; i++)
                w_value(w, &v->arr.items[i]);
        }
        return;
    case GGUF_TYPE_FLOAT32: {
        float f = (float)v->f;
        w_bytes(w, &f, 4);
        return;
    }
    case GGUF_TYPE_FLOAT64: w_bytes(w, &v->f, 8); return;
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64: w_bytes(w, &v->i, TYPE_SIZE[v->type]); return; // little-endian
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_BOOL: w_bytes(w, &v->u, TYPE_SIZE[v->type]); return;
    case GGUF_TYPE_COUNT: break;
    }
    assert(0);
}

void gguf_writer_set_kv(struct GgufWriter* w, const struct GgufKv* kv) {
    if (kv->val.type == GGUF_TYPE_UINT32) {
        gguf_writer_set_u32(w, kv->key, (uint32_t)kv->val.u); // keeps the alignment rule
        return;
    }
    if (w_key(w, kv->key, kv->val.type)) w_value(w, &kv->val);
}

void gguf_writer_add_tensor(struct GgufWriter* w, const char* name, enum GgmlType type, int n_dims,
                            const int64_t* ne, const void* data, int copy) {
    if (w->failed) return;
    const struct QuantTraits* tr = quant_traits((uint32_t)type);
    if (!name || !*name) {
        w_fail(w, ERR_FORMAT, "empty tensor name", "");
        return;
    }
    if (!tr) {
        w_fail(w, ERR_TYPE, "unknown type for tensor", name);
        return;
    }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        w_fail(w, ERR_FORMAT, "bad n_dims for", name);
        return;
    }
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) {
            w_fail(w, ERR_DUPLICATE, "duplicate tensor", name);
            return;
        }
    int64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] != 0 && n > INT64_MAX / ne[d])) {
            w_fail(w, ERR_OVERFLOW, "bad shape for", name);
            return;
        }
        n *= ne[d];
    }
    if (ne[0] % tr->block_size != 0) {
        w_fail(w, ERR_FORMAT, "row not whole blocks:", name);
        return;
    }
    if (w->n_tensors == w->tensors_cap) {
        int64_t cap = w->tensors_cap ? w->tensors_cap * 2 : 16;
        struct GgufWriterTensor* nt = realloc(w->tensors, (size_t)cap * sizeof(*nt));
        if (!nt) {
            w_fail(w, ERR_NOMEM, "out of memory at", name);
            return;
        }
        w->tensors = nt;
        w->tensors_cap = cap;
    }
    struct GgufWriterTensor* t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof(*t));
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = (size_t)(n / tr->block_size) * (size_t)tr->type_size;
    t->name = strdup(name);
    t->data = data;
    if (copy && t->nbytes) {
        void* c = malloc(t->nbytes);
        if (c) memcpy(c, data, t->nbytes);
        t->data = c;
        t->owned = 1;
    }
    if (!t->name || (!t->data && t->nbytes)) { // a zero-size tensor may have no data
        free(t->name);
        if (t->owned) free((void*)t->data);
        {
            w_fail(w, ERR_NOMEM, "out of memory at", name);
            return;
        }
    }
    w->n_tensors++;
}

// Output sink: a FILE or a growing memory buffer.
struct Sink {
    FILE* f;
    uint8_t* buf;
    size_t len, cap;
    int failed;
};

static void sink_put(struct Sink* s, const void* p, size_t n) {
    if (s->failed || n == 0) return;
    if (s->f) {
        if (fwrite(p, 1, n, s->f) != n) s->failed = 1;
        return;
    }
    if (s->cap - s->len < n) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap - s->len < n)
            cap *= 2;
        uint8_t* nb = realloc(s->buf, cap);
        if (!nb) {
            s->failed = 1;
            return;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void sink_pad(struct Sink* s, size_t pos, uint32_t align) {
    static const uint8_t zeros[64];
    size_t pad = (align - pos % align) % align;
    while (pad > 0) {
        size_t k = pad < sizeof(zeros) ? pad : sizeof(zeros);
        sink_put(s, zeros, k);
        pad -= k;
    }
}

static size_t align_up(size_t x, uint32_t a) {
    return (x + a - 1) / a * a;
}

static int write_all(struct GgufWriter* w, struct Sink* s, struct Err* e) {
    if (w->failed) return err_set(e, w->err.code, "%s", w->err.msg);
    size_t pos = 0;
    uint32_t version = 3;
    uint64_t nt = (uint64_t)w->n_tensors, nkv = (uint64_t)w->n_kv;
    sink_put(s, GGUF_MAGIC, 4);
    sink_put(s, &version, 4);
    sink_put(s, &nt, 8);
    sink_put(s, &nkv, 8);
    sink_put(s, w->kv_bytes, w->kv_len);
    pos = 24 + w->kv_len;
    uint64_t offset = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const struct GgufWriterTensor* t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims, type = (uint32_t)t->type;
        sink_put(s, &len, 8);
        sink_put(s, t->name, (size_t)len);
        sink_put(s, &nd, 4);
        for (int d = 0; d < t->n_dims; d++)
            sink_put(s, &t->ne[d], 8);
        sink_put(s, &type, 4);
        sink_put(s, &offset, 8);
        pos += 8 + (size_t)len + 4 + 8 * (size_t)t->n_dims + 4 + 8;
        offset = align_up((size_t)offset + t->nbytes, w->alignment);
    }
    sink_pad(s, pos, w->alignment);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const struct GgufWriterTensor* t = &w->tensors[i];
        sink_put(s, t->data, t->nbytes);
        if (i + 1 < w->n_tensors) sink_pad(s, t->nbytes, w->alignment);
    }
    if (s->failed) return err_set(e, ERR_IO, "gguf_writer: write failed: %s", strerror(errno));
    return 0;
}

int gguf_writer_write_mem(struct GgufWriter* w, uint8_t** out, size_t* out_size, struct Err* e) {
    struct Sink s = {0};
    int rc = write_all(w, &s, e);
    if (rc) {
        free(s.buf);
        return rc;
    }
    *out = s.buf ? s.buf : malloc(1);
    *out_size = s.len;
    return *out ? 0 : err_set(e, ERR_NOMEM, "gguf_writer: out of memory");
}

int gguf_writer_write_file(struct GgufWriter* w, const char* path, struct Err* e) {
    if (w->failed) return err_set(e, w->err.code, "%s", w->err.msg);
    size_t n = strlen(path);
    char* tmp = malloc(n + 5);
    if (!tmp) return err_set(e, ERR_NOMEM, "gguf_writer: out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    struct Sink s = {.f = fopen(tmp, "wb")};
    if (!s.f) {
        int rc = err_set(e, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = write_all(w, &s, e);
    if (fclose(s.f) != 0 && !rc)
        rc = err_set(e, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = err_set(e, ERR_IO, "cannot rename to '%s': %s", path, strerror(errno));
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}
