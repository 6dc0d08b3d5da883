internal import CBlake2bLanes

/// BLAKE2b of many messages at once: the same digests as `Blake2b.hash`, message by
/// message, computed eight (AVX-512) or four (AVX2) at a time in the lanes of one vector
/// compression. BLAKE2b is the slowest stage of a backup (every chunk id and every Merkle leaf
/// of every shard), and libsodium hashes one message at a time.
public enum Blake2bLanes {
    /// The longest `prefix` a message may carry.
    public static let prefixMax = 64

    /// How the lanes are computed. Every path gives the same digests.
    public enum Path: Int32, Sendable, CaseIterable {
        /// One lane after another in C, about libsodium's speed.
        case portable = 0
        /// Four lanes in AVX2 registers.
        case avx2 = 1
        /// Four lanes in 256-bit registers with AVX-512's rotate: for a few messages of
        /// uneven length.
        case avx512vl = 2
        /// Eight lanes in AVX-512 registers: for many messages.
        case avx512 = 3
    }

    /// The paths this CPU can run (portable always).
    public static var availablePaths: [Path] {
        Path.allCases.filter { $0.rawValue <= cairn_blake2b_lanes_vectorized() }
    }

    /// One message: `prefix ‖ body`, hashed without copying the two together.
    public struct Message {
        public var prefix: UnsafeRawBufferPointer
        public var body: UnsafeRawBufferPointer

        public init(prefix: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                    body: UnsafeRawBufferPointer) {
            self.prefix = prefix
            self.body = body
        }
    }

    /// The digests of `messages`, `outputLength` bytes each, concatenated in order.
    /// `path` forces one way of computing them (the tests compare them all); by default
    /// the fastest for this CPU and this many messages. It must be in `availablePaths`.
    public static func hash(_ messages: [Message], outputLength: Int = 32, key: [UInt8] = [],
                            path: Path? = nil) -> [UInt8] {
        key.withUnsafeBytes { hash(messages, outputLength: outputLength, rawKey: $0, path: path) }
    }

    /// The same with a key that stays in its zeroing buffer (no array copy).
    public static func hash(_ messages: [Message], outputLength: Int = 32, key: SymmetricKey,
                            path: Path? = nil) -> [UInt8] {
        key.withUnsafeBytes { hash(messages, outputLength: outputLength, rawKey: $0, path: path) }
    }

    private static func hash(_ messages: [Message], outputLength: Int, rawKey key: UnsafeRawBufferPointer,
                             path: Path?) -> [UInt8] {
        precondition((Blake2b.outputMin...Blake2b.outputMax).contains(outputLength), "BLAKE2b output length \(outputLength)")
        precondition(key.count <= Blake2b.keyMax, "BLAKE2b key length \(key.count)")
        precondition(messages.allSatisfy { $0.prefix.count <= prefixMax }, "BLAKE2b lanes: prefix over \(prefixMax) bytes")
        let c = messages.map { m in
            cairn_b2_message(
                head: m.prefix.baseAddress?.assumingMemoryBound(to: UInt8.self), head_len: m.prefix.count,
                body: m.body.baseAddress?.assumingMemoryBound(to: UInt8.self), body_len: m.body.count)
        }
        let total = messages.count * outputLength
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let rc = cairn_blake2b_lanes(c, c.count, key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count,
                                         out.baseAddress, outputLength, path?.rawValue ?? -1)
            precondition(rc == 0, "cairn_blake2b_lanes rc=\(rc)")
            initialized = total
        }
    }
}
