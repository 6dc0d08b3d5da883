// Multi-lane BLAKE2b: eight independent messages advance one 128-byte block at a time,
// each 64-bit state word of the eight held in one AVX-512 register (word i of lane j is
// element j of register i). BLAKE2b's compression has no data-dependent branches, so the
// eight lanes run the same instructions; a lane whose message ends takes the next
// message. The result of every message is plain BLAKE2b (RFC 7693).

#include "blake2b_lanes.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "blake2b_lanes.c reads message words in the host's order: little-endian hosts only"
#endif

#define LANES 8
#define BLOCK 128

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

/// One round of BLAKE2b: the column steps, then the diagonal steps, with the message
/// words in round r's order. Each compression defines G for its registers around it.
#define ROUND(r)                                              \
    do {                                                      \
        const uint8_t *z = SIGMA[r];                          \
        G(0, 4, 8, 12, m[z[0]], m[z[1]]);                     \
        G(1, 5, 9, 13, m[z[2]], m[z[3]]);                     \
        G(2, 6, 10, 14, m[z[4]], m[z[5]]);                    \
        G(3, 7, 11, 15, m[z[6]], m[z[7]]);                    \
        G(0, 5, 10, 15, m[z[8]], m[z[9]]);                    \
        G(1, 6, 11, 12, m[z[10]], m[z[11]]);                  \
        G(2, 7, 8, 13, m[z[12]], m[z[13]]);                   \
        G(3, 4, 9, 14, m[z[14]], m[z[15]]);                   \
    } while (0)

/// What one compression step needs for every lane: the block, the byte counter after it
/// and the last-block flag. Idle lanes point at a zero block; their state is not read.
typedef struct {
    uint64_t h[8][LANES];
    const uint8_t *block[LANES];
    uint64_t counter[LANES];
    uint64_t last[LANES];
} lanes_state;

static inline uint64_t rotr64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

static void compress_portable(lanes_state *s, int lanes) {
    for (int j = 0; j < lanes; j++) {
        uint64_t m[16], v[16];
        for (int i = 0; i < 16; i++) m[i] = load64(s->block[j] + 8 * i);
        for (int i = 0; i < 8; i++) {
            v[i] = s->h[i][j];
            v[i + 8] = IV[i];
        }
        v[12] ^= s->counter[j];
        v[14] ^= s->last[j];
#define G(a, b, c, d, x, y)                      \
    do {                                         \
        v[a] = v[a] + v[b] + (x);                \
        v[d] = rotr64(v[d] ^ v[a], 32);          \
        v[c] = v[c] + v[d];                      \
        v[b] = rotr64(v[b] ^ v[c], 24);          \
        v[a] = v[a] + v[b] + (y);                \
        v[d] = rotr64(v[d] ^ v[a], 16);          \
        v[c] = v[c] + v[d];                      \
        v[b] = rotr64(v[b] ^ v[c], 63);          \
    } while (0)
        for (int r = 0; r < 12; r++) { ROUND(r); }
#undef G
        for (int i = 0; i < 8; i++) s->h[i][j] ^= v[i] ^ v[i + 8];
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static void compress_avx512(lanes_state *s, int lanes) {
    (void)lanes;
    // Message word i of every lane, fetched by one gather from the eight block addresses.
    const __m512i addr = _mm512_loadu_si512((const void *)s->block);
    __m512i m[16];
    for (int i = 0; i < 16; i++) {
        m[i] = _mm512_i64gather_epi64(_mm512_add_epi64(addr, _mm512_set1_epi64(8 * i)), (const void *)0, 1);
    }
    __m512i v[16];
    for (int i = 0; i < 8; i++) {
        v[i] = _mm512_loadu_si512((const void *)s->h[i]);
        v[i + 8] = _mm512_set1_epi64((long long)IV[i]);
    }
    v[12] = _mm512_xor_si512(v[12], _mm512_loadu_si512((const void *)s->counter));
    v[14] = _mm512_xor_si512(v[14], _mm512_loadu_si512((const void *)s->last));
#define G(a, b, c, d, x, y)                                                   \
    do {                                                                      \
        v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (x));           \
        v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 32);            \
        v[c] = _mm512_add_epi64(v[c], v[d]);                                  \
        v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 24);            \
        v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), (y));           \
        v[d] = _mm512_ror_epi64(_mm512_xor_si512(v[d], v[a]), 16);            \
        v[c] = _mm512_add_epi64(v[c], v[d]);                                  \
        v[b] = _mm512_ror_epi64(_mm512_xor_si512(v[b], v[c]), 63);            \
    } while (0)
    // Unrolled, so every message index is a constant and no word is looked up at run time.
#pragma clang loop unroll(full)
    for (int r = 0; r < 12; r++) { ROUND(r); }
#undef G
    for (int i = 0; i < 8; i++) {
        __m512i h = _mm512_loadu_si512((const void *)s->h[i]);
        _mm512_storeu_si512((void *)s->h[i], _mm512_xor_si512(h, _mm512_xor_si512(v[i], v[i + 8])));
    }
}

/// Four lanes in 256-bit registers, for calls with few messages (the chunks of one batch):
/// on CPUs that split 512-bit operations in two halves (AMD Zen 4) four lanes cost half
/// as much per block, so uneven messages waste less. The body is compress4.inc, compiled
/// twice: AVX2 has no 64-bit rotate (byte rotations become shuffles), AVX-512VL has.
#define COMPRESS4_NAME compress_avx2
#define COMPRESS4_TARGET "avx2"
#define ROTR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define ROTR24(x) _mm256_shuffle_epi8((x), rot24)
#define ROTR16(x) _mm256_shuffle_epi8((x), rot16)
#define ROTR63(x) _mm256_or_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))
#include "compress4.inc"

#define COMPRESS4_NAME compress_avx512vl
#define COMPRESS4_TARGET "avx2,avx512f,avx512vl"
#define ROTR32(x) _mm256_ror_epi64((x), 32)
#define ROTR24(x) _mm256_ror_epi64((x), 24)
#define ROTR16(x) _mm256_ror_epi64((x), 16)
#define ROTR63(x) _mm256_ror_epi64((x), 63)
#include "compress4.inc"
#endif

int cairn_blake2b_lanes_vectorized(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return 3;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

/// Messages in a call at or above which eight lanes pay: with fewer, lanes that finish
/// early have nothing to take and run empty.
#define EIGHT_LANE_MIN_MESSAGES 32

/// Where one lane is: which message, how far into its stream (key block ‖ head ‖ body).
typedef struct {
    size_t message;
    uint64_t position;
    uint64_t total;
    int busy;
    uint8_t staging[BLOCK];
} lane;

/// Copies the part of [from, from + len) of the stream segment [start, start + seg_len)
/// (bytes at `seg`) into `dst`, which holds stream bytes [from, from + BLOCK).
static void stage_part(uint8_t *dst, uint64_t from, const uint8_t *seg, uint64_t start, uint64_t seg_len) {
    uint64_t lo = from > start ? from : start;
    uint64_t hi_block = from + BLOCK, hi_seg = start + seg_len;
    uint64_t hi = hi_block < hi_seg ? hi_block : hi_seg;
    if (lo < hi) memcpy(dst + (lo - from), seg + (lo - start), (size_t)(hi - lo));
}

typedef struct {
    uint64_t length;
    size_t index;
} by_length;

static int longest_first(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->length != y->length) return x->length > y->length ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

int cairn_blake2b_lanes(const cairn_b2_message *messages, size_t count,
                        const uint8_t *key, size_t key_len,
                        uint8_t *out, size_t out_len, int path) {
    if (out_len < 1 || out_len > 64 || key_len > 64 || (key_len > 0 && key == NULL)) return -1;
    for (size_t i = 0; i < count; i++) {
        if (messages[i].head_len > CAIRN_B2_HEAD_MAX) return -1;
    }
    static const uint8_t zero_block[BLOCK] = {0};
    uint8_t key_block[BLOCK] = {0};
    if (key_len > 0) memcpy(key_block, key, key_len);
    const uint64_t key_part = key_len > 0 ? BLOCK : 0;
    const uint64_t param = 0x01010000ULL ^ ((uint64_t)key_len << 8) ^ (uint64_t)out_len;

    const int available = cairn_blake2b_lanes_vectorized();
    if (path > available) return -2;
    if (path < 0) path = available == 3 && count < EIGHT_LANE_MIN_MESSAGES ? 2 : available;
    void (*compress)(lanes_state *, int) = compress_portable;
    int lanes = LANES;
#if defined(__x86_64__)
    if (path == 3) {
        compress = compress_avx512;
    } else if (path == 2) {
        compress = compress_avx512vl;
        lanes = 4;
    } else if (path == 1) {
        compress = compress_avx2;
        lanes = 4;
    }
#endif

    // Longest first, so the lanes finish close together (a lane idles once the messages
    // run out); without memory for the order, the given order is still correct.
    by_length *order = count > 1 ? malloc(count * sizeof *order) : NULL;
    if (order != NULL) {
        for (size_t i = 0; i < count; i++) {
            order[i].length = (uint64_t)messages[i].head_len + messages[i].body_len;
            order[i].index = i;
        }
        qsort(order, count, sizeof *order, longest_first);
    }

    lanes_state s;
    memset(&s, 0, sizeof s);
    lane l[LANES];
    memset(l, 0, sizeof l);
    size_t next = 0;
    for (;;) {
        int busy = 0;
        for (int j = 0; j < lanes; j++) {
            if (!l[j].busy && next < count) {
                const size_t index = order != NULL ? order[next].index : next;
                next++;
                const cairn_b2_message *m = &messages[index];
                l[j].message = index;
                l[j].position = 0;
                l[j].total = key_part + m->head_len + m->body_len;
                l[j].busy = 1;
                for (int i = 0; i < 8; i++) s.h[i][j] = IV[i];
                s.h[0][j] ^= param;
            }
            if (!l[j].busy) {
                s.block[j] = zero_block;
                s.counter[j] = 0;
                s.last[j] = 0;
                continue;
            }
            busy++;
            const cairn_b2_message *m = &messages[l[j].message];
            const uint64_t p = l[j].position, total = l[j].total;
            const uint64_t body_start = key_part + m->head_len;
            if (p >= body_start && p + BLOCK <= total) {
                s.block[j] = m->body + (p - body_start);
            } else {
                // The key block, the head, or the zero-padded last block.
                memset(l[j].staging, 0, BLOCK);
                stage_part(l[j].staging, p, key_block, 0, key_part);
                if (m->head_len > 0) stage_part(l[j].staging, p, m->head, key_part, m->head_len);
                if (m->body_len > 0) stage_part(l[j].staging, p, m->body, body_start, m->body_len);
                s.block[j] = l[j].staging;
            }
            const int last = p + BLOCK >= total;
            s.counter[j] = last ? total : p + BLOCK;
            s.last[j] = last ? ~0ULL : 0;
        }
        if (busy == 0) break;
        compress(&s, lanes);
        for (int j = 0; j < lanes; j++) {
            if (!l[j].busy) continue;
            if (s.last[j]) {
                uint8_t digest[64];
                for (int i = 0; i < 8; i++) memcpy(digest + 8 * i, &s.h[i][j], 8);
                memcpy(out + l[j].message * out_len, digest, out_len);
                l[j].busy = 0;
            } else {
                l[j].position += BLOCK;
            }
        }
    }
    free(order);
    return 0;
}
