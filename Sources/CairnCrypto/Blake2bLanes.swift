internal import CBlake2bLanes

/// BLAKE2b of many messages at once: the same digests as `Blake2b.hash`, message by
/// message, computed eight at a time in the lanes of one AVX-512 compression when the CPU
/// has it. BLAKE2b is the slowest stage of a backup (every chunk id and every Merkle leaf
/// of every shard), and libsodium hashes one message at a time.
public enum Blake2bLanes {
    /// The longest `prefix` a message may carry.
    public static let prefixMax = 64

    /// True when this CPU runs the eight-lane code; otherwise the lanes run one after
    /// another in portable C (still BLAKE2b, at about libsodium's speed).
    public static var vectorized: Bool { cairn_blake2b_lanes_vectorized() != 0 }

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
    /// `portable` forces the portable code (the tests compare both paths).
    public static func hash(_ messages: [Message], outputLength: Int = 32, key: [UInt8] = [],
                            portable: Bool = false) -> [UInt8] {
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
            let rc = key.withUnsafeBufferPointer { k in
                cairn_blake2b_lanes(c, c.count, k.baseAddress, k.count, out.baseAddress, outputLength, portable ? 1 : 0)
            }
            precondition(rc == 0, "cairn_blake2b_lanes rc=\(rc)")
            initialized = total
        }
    }
}
