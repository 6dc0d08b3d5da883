/// Big-endian, explicitly sized encoding for Cairn's disk formats (tree, root record,
/// shard header). Every read is bounds-checked and throws: a decoder never traps on
/// hostile bytes.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { append(v) }
    public mutating func u32(_ v: UInt32) { append(v) }
    public mutating func u64(_ v: UInt64) { append(v) }
    public mutating func i64(_ v: Int64) { append(UInt64(bitPattern: v)) }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Raw bytes of a length the reader knows (ids, keys).
    public mutating func raw(_ v: some Collection<UInt8>) { bytes.append(contentsOf: v) }

    /// Length-prefixed (u32) bytes.
    public mutating func blob(_ v: some Collection<UInt8>) {
        precondition(v.count <= Int(UInt32.max), "blob of \(v.count) bytes exceeds the u32 length prefix")
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    /// Length-prefixed UTF-8 string.
    public mutating func string(_ s: String) { blob(Array(s.utf8)) }
}

/// Why a stored or received structure could not be decoded.
public struct DecodeError: Error, CustomStringConvertible, Equatable, Sendable {
    public let what: String
    public let offset: Int
    public let reason: String

    public var description: String { "malformed \(what) at byte \(offset): \(reason)" }
}

public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    /// Names the structure being decoded, for error messages.
    public let what: String

    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.offset = 0
        self.what = what
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public func fail(_ reason: String) -> DecodeError { DecodeError(what: what, offset: offset, reason: reason) }

    private mutating func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw fail("needs \(n) bytes, only \(remaining) left (truncated)")
        }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let s = try take(MemoryLayout<T>.size)
        var v: T = 0
        for b in s { v = v << 8 | T(b) }
        return v
    }

    public mutating func u8() throws(DecodeError) -> UInt8 { try integer(UInt8.self) }
    public mutating func u16() throws(DecodeError) -> UInt16 { try integer(UInt16.self) }
    public mutating func u32() throws(DecodeError) -> UInt32 { try integer(UInt32.self) }
    public mutating func u64() throws(DecodeError) -> UInt64 { try integer(UInt64.self) }
    public mutating func i64() throws(DecodeError) -> Int64 { Int64(bitPattern: try integer(UInt64.self)) }

    public mutating func raw(_ n: Int) throws(DecodeError) -> [UInt8] { Array(try take(n)) }

    /// Length-prefixed bytes, refusing lengths above `max` before allocating.
    public mutating func blob(max: Int) throws(DecodeError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= max else { throw fail("length \(n) exceeds the limit \(max)") }
        return Array(try take(n))
    }

    public mutating func string(max: Int = 64 * 1024) throws(DecodeError) -> String {
        let b = try blob(max: max)
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    /// A count of following items, refused above `max` so a hostile count cannot make us
    /// reserve memory.
    public mutating func count(max: Int) throws(DecodeError) -> Int {
        let n = Int(try u32())
        guard n <= max else { throw fail("count \(n) exceeds the limit \(max)") }
        return n
    }

    public func expectEnd() throws(DecodeError) {
        guard isAtEnd else { throw fail("\(remaining) unexpected trailing bytes") }
    }
}
