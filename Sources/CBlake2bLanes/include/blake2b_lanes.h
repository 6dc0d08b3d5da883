#ifndef CAIRN_BLAKE2B_LANES_H
#define CAIRN_BLAKE2B_LANES_H

#include <stddef.h>
#include <stdint.h>

/// One message for cairn_blake2b_lanes: the bytes `head` (at most 64) followed by `body`.
/// The head lets a caller hash a prefix byte and a large buffer without copying them
/// together (a Merkle leaf is 0x00 ‖ segment).
typedef struct {
    const uint8_t *head;
    size_t head_len;
    const uint8_t *body;
    size_t body_len;
} cairn_b2_message;

/// Largest head a message may carry.
#define CAIRN_B2_HEAD_MAX 64

/// Hashes `count` messages with BLAKE2b (RFC 7693), keyed with `key` when `key_len` > 0,
/// writing `out_len` bytes per message to `out` (message i at `out + i * out_len`).
/// The result is exactly BLAKE2b's, message by message; the messages go through the lanes
/// of one vector compression at a time (eight with AVX-512, four with AVX2), so many
/// messages hash several times faster than one after another.
/// `path`: -1 picks the fastest for this CPU and call; 0 is portable C, 1 four AVX2
/// lanes, 2 four AVX-512VL lanes, 3 eight AVX-512 lanes (the tests run every path the
/// CPU has).
/// Returns 0; -1 (writing nothing) when a length is out of range: out_len in 1...64,
/// key_len in 0...64, head_len <= CAIRN_B2_HEAD_MAX; -2 when the CPU lacks `path`.
int cairn_blake2b_lanes(const cairn_b2_message *messages, size_t count,
                        const uint8_t *key, size_t key_len,
                        uint8_t *out, size_t out_len, int path);

/// The best path this CPU runs: 3 (AVX-512 with VL, which also runs 2), 1 (AVX2) or 0.
int cairn_blake2b_lanes_vectorized(void);

#endif
