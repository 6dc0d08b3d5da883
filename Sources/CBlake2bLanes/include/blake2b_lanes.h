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
/// The result is exactly BLAKE2b's, message by message; the messages go through eight
/// lanes of one AVX-512 compression at a time when the CPU has AVX-512, so many messages
/// hash several times faster than one after another.
/// Returns 0, or -1 (and writes nothing) when a length is out of range:
/// out_len in 1...64, key_len in 0...64, head_len <= CAIRN_B2_HEAD_MAX.
/// `portable_only` != 0 forces the portable code (tests compare both paths).
int cairn_blake2b_lanes(const cairn_b2_message *messages, size_t count,
                        const uint8_t *key, size_t key_len,
                        uint8_t *out, size_t out_len, int portable_only);

/// 1 when cairn_blake2b_lanes uses AVX-512 on this CPU.
int cairn_blake2b_lanes_vectorized(void);

#endif
