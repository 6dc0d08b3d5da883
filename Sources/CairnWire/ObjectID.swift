/// A 32-byte identifier: chunk ids (keyed BLAKE2b of plaintext) and pack ids (random), the
/// same type for the engine that makes packs and the node core that places them. Kept
/// inline (four words, no heap storage), so hashing, comparing and copying one is as cheap
/// as for an integer pair: the node core and the simulator key their tables by it.
public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let size = 32
    // Big-endian words: word 0 holds bytes 0..<8.
    private let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count == Self.size, "object id of \(bytes.count) bytes, expected \(Self.size)")
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var i = 0
        for b in bytes {
            switch i >> 3 {
            case 0: words.0 = words.0 << 8 | UInt64(b)
            case 1: words.1 = words.1 << 8 | UInt64(b)
            case 2: words.2 = words.2 << 8 | UInt64(b)
            default: words.3 = words.3 << 8 | UInt64(b)
            }
            i += 1
        }
        (w0, w1, w2, w3) = words
    }

    /// An id made from a counter (synthetic packs in the simulator, tests): 24 zero bytes,
    /// then the counter big-endian. Ordered as the counters are.
    public init(serial: UInt64) {
        (w0, w1, w2, w3) = (0, 0, 0, serial)
    }

    public init(reading r: inout ByteReader) throws(DecodeError) {
        w0 = try r.u64()
        w1 = try r.u64()
        w2 = try r.u64()
        w3 = try r.u64()
    }

    /// The counter of an id made by `init(serial:)` (its last 8 bytes for any other id).
    public var serial: UInt64 { w3 }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.size)
        for w in [w0, w1, w2, w3] {
            withUnsafeBytes(of: w.bigEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    public func write(into w: inout ByteWriter) {
        w.u64(w0)
        w.u64(w1)
        w.u64(w2)
        w.u64(w3)
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(Self.size * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var short: String { String(hex.prefix(12)) }
    public var description: String { short }

    public static func < (a: ObjectID, b: ObjectID) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }
}

/// A chunk: keyed BLAKE2b of its plaintext.
public typealias ChunkID = ObjectID
/// A pack: the unit that is erasure-coded into n shards (random id, chosen by its owner).
public typealias PackID = ObjectID
