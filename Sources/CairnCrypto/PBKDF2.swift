internal import CSodium

/// PBKDF2 (RFC 8018) with HMAC-SHA-512, which BIP-39 uses to turn a phrase into a seed.
/// libsodium has HMAC-SHA-512 but no PBKDF2, so the loop lives here.
public enum PBKDF2 {
    private static let blockSize = 64 // HMAC-SHA-512 output

    /// Derives `keyLength` bytes from `password` and `salt`.
    ///
    /// HMAC is keyed once: the inner and outer SHA-512 states after absorbing the padded
    /// key are computed a single time and copied for every iteration, which halves the
    /// hashing work compared with re-keying (and matters in debug builds, where BIP-39's
    /// 2048 iterations would otherwise be slow).
    public static func hmacSHA512(password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int) -> SecureBytes {
        precondition(iterations >= 1, "PBKDF2 iterations \(iterations)")
        // The block counter is 32 bits (RFC 8018 §5.2); callers here want at most a few blocks.
        precondition(keyLength >= 1 && keyLength <= blockSize * Int(UInt32.max), "PBKDF2 key length \(keyLength)")
        _ = Sodium.ready

        var keyed = crypto_auth_hmacsha512_state()
        let rc = withNonNullBytes(password) { p, n in crypto_auth_hmacsha512_init(&keyed, p, n) }
        precondition(rc == 0, "crypto_auth_hmacsha512_init rc=\(rc)")
        defer { wipe(&keyed) }

        let output = SecureBytes(count: keyLength)
        // u = U_i (the running HMAC output), t = T_block (their XOR); both secret.
        var u = [UInt64](repeating: 0, count: blockSize / 8)
        var t = [UInt64](repeating: 0, count: blockSize / 8)
        defer {
            u.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
            t.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        }

        var written = 0
        var block: UInt32 = 1
        while written < keyLength {
            // U_1 = HMAC(password, salt || INT_32_BE(block))
            var state = keyed
            withNonNullBytes(salt) { s, n in _ = crypto_auth_hmacsha512_update(&state, s, UInt64(n)) }
            let index: [UInt8] = [UInt8(block >> 24), UInt8(truncatingIfNeeded: block >> 16),
                                  UInt8(truncatingIfNeeded: block >> 8), UInt8(truncatingIfNeeded: block)]
            withNonNullBytes(index) { i, n in _ = crypto_auth_hmacsha512_update(&state, i, UInt64(n)) }
            u.withUnsafeMutableBytes { out in
                _ = crypto_auth_hmacsha512_final(&state, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            t = u

            // U_i = HMAC(password, U_{i-1}); T ^= U_i
            for _ in 1..<iterations {
                state = keyed
                u.withUnsafeMutableBytes { buf in
                    let p = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    _ = crypto_auth_hmacsha512_update(&state, p, UInt64(blockSize))
                    _ = crypto_auth_hmacsha512_final(&state, p)
                }
                for j in 0..<t.count { t[j] ^= u[j] }
            }

            let take = min(blockSize, keyLength - written)
            output.withUnsafeMutableBytes { out in
                t.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(rebasing: out[written..<(written + take)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[..<take]))
                }
            }
            wipe(&state)
            written += take
            block += 1
        }
        return output
    }

    private static func wipe(_ state: inout crypto_auth_hmacsha512_state) {
        withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress, $0.count) }
    }
}
