internal import CSodium

/// The operating system's CSPRNG, through libsodium. Production code draws keys, nonces
/// and phrases from here; the node core takes its randomness from an injected generator.
public enum SecureRandom {
    /// `count` bytes from the OS CSPRNG.
    public static func bytes(_ count: Int) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buf in
            if let base = buf.baseAddress { randombytes_buf(base, buf.count) }
        }
        return out
    }

    /// Fills `buffer` with CSPRNG output without allocating.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        _ = Sodium.ready
        if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
    }
}
