/// Why bytes from the wire were rejected. Decoding never traps on hostile input: every
/// length, count and tag is checked against `Limits` first, and the failure is thrown.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case truncated, tooLarge, badVersion, unknownType, badValue, trailingBytes
        }
        fileprivate let value: Value
        public static let truncated = Code(value: .truncated)
        public static let tooLarge = Code(value: .tooLarge)
        public static let badVersion = Code(value: .badVersion)
        public static let unknownType = Code(value: .unknownType)
        public static let badValue = Code(value: .badValue)
        public static let trailingBytes = Code(value: .trailingBytes)
        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    public let offset: Int

    public init(_ code: Code, _ message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String { "wire error (\(code)) at byte \(offset): \(message)" }
}

/// Big-endian writer for the wire format.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func u32(_ v: UInt32) {
        var s = 24
        while s >= 0 {
            bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s)))
            s -= 8
        }
    }
    public mutating func u64(_ v: UInt64) {
        var s = 56
        while s >= 0 {
            bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s)))
            s -= 8
        }
    }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    /// A byte string with a u16 length prefix; `max` is the bound the reader will enforce.
    public mutating func blob(_ v: [UInt8], max: Int) {
        precondition(v.count <= max && v.count <= Int(UInt16.max), "blob of \(v.count) bytes exceeds \(max)")
        u16(UInt16(v.count))
        bytes.append(contentsOf: v)
    }
    public mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }
}

/// Big-endian reader; every read is bounds-checked and throws `WireError`.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    private func need(_ n: Int) throws(WireError) {
        guard n >= 0, remaining >= n else {
            throw WireError(.truncated, "need \(n) bytes, \(remaining) left", offset: offset)
        }
    }

    public mutating func u8() throws(WireError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func u16() throws(WireError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    public mutating func u32() throws(WireError) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }
    public mutating func u64() throws(WireError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }
    public mutating func i64() throws(WireError) -> Int64 { Int64(bitPattern: try u64()) }
    public mutating func bool() throws(WireError) -> Bool {
        let at = offset
        switch try u8() {
        case 0: return false
        case 1: return true
        case let v: throw WireError(.badValue, "boolean byte \(v)", offset: at)
        }
    }
    public mutating func blob(max: Int) throws(WireError) -> [UInt8] {
        let at = offset
        let n = Int(try u16())
        guard n <= max else { throw WireError(.tooLarge, "blob of \(n) bytes, at most \(max)", offset: at) }
        try need(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    /// A u16 element count bounded by `max`, also checked against the bytes left assuming
    /// each element takes at least `minElementBytes`, so a hostile count cannot make the
    /// decoder reserve memory it will never fill.
    public mutating func count(max: Int, minElementBytes: Int) throws(WireError) -> Int {
        let at = offset
        let n = Int(try u16())
        guard n <= max else { throw WireError(.tooLarge, "count \(n), at most \(max)", offset: at) }
        guard n * minElementBytes <= remaining else {
            throw WireError(.truncated, "count \(n) needs \(n * minElementBytes) bytes, \(remaining) left", offset: at)
        }
        return n
    }
}
