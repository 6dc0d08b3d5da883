/// Big-endian, explicitly sized encoding shared by every format Cairn writes: the disk
/// formats (tree, root record, shard header) and the node protocol's messages. One codec,
/// so a length prefix or an integer means the same thing on a target and on the wire.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { append(v) }
    public mutating func u32(_ v: UInt32) { append(v) }
    public mutating func u64(_ v: UInt64) { append(v) }
    public mutating func i64(_ v: Int64) { append(UInt64(bitPattern: v)) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Raw bytes of a length the reader knows (ids, keys, hashes).
    public mutating func raw(_ v: some Collection<UInt8>) { bytes.append(contentsOf: v) }

    /// Length-prefixed (u32) bytes.
    public mutating func blob(_ v: some Collection<UInt8>) {
        precondition(v.count <= Int(UInt32.max), "blob of \(v.count) bytes exceeds the u32 length prefix")
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    /// Length-prefixed (u32) bytes that the reader will refuse above `max`: writing more is
    /// a programmer error, caught here rather than by the peer.
    public mutating func blob(_ v: some Collection<UInt8>, max: Int) {
        precondition(v.count <= max, "blob of \(v.count) bytes exceeds \(max)")
        blob(v)
    }

    /// Length-prefixed UTF-8 string.
    public mutating func string(_ s: String) { blob(Array(s.utf8)) }

    /// An element count in a u16, bounded by what the reader accepts.
    public mutating func shortCount(_ n: Int, max: Int) {
        precondition(n <= max && n <= Int(UInt16.max), "count \(n) exceeds \(max)")
        u16(UInt16(n))
    }
}
