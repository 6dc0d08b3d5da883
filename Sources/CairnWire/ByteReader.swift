/// Big-endian reader for `ByteWriter`'s encoding. Every read is bounds-checked and throws
/// `DecodeError`; every length and count is checked against a bound (and against the bytes
/// left) before anything is allocated, so a decoder never traps on hostile bytes.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Names the structure being decoded, for error messages.
    public let what: String

    public init(_ bytes: [UInt8], what: String = "message", offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.what = what
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    /// An error at the current offset (or `at`), for checks made by the caller.
    public func fail(_ reason: String, code: DecodeError.Code = .badValue, at: Int? = nil) -> DecodeError {
        DecodeError(code, reason, what: what, offset: at ?? offset)
    }

    private func need(_ n: Int) throws(DecodeError) {
        guard n >= 0, n <= remaining else {
            throw fail("needs \(n) bytes, only \(remaining) left (truncated)", code: .truncated)
        }
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        var v: T = 0
        for i in offset..<offset + size { v = v << 8 | T(bytes[i]) }
        offset += size
        return v
    }

    public mutating func u8() throws(DecodeError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func u16() throws(DecodeError) -> UInt16 { try integer(UInt16.self) }
    public mutating func u32() throws(DecodeError) -> UInt32 { try integer(UInt32.self) }
    public mutating func u64() throws(DecodeError) -> UInt64 { try integer(UInt64.self) }
    public mutating func i64() throws(DecodeError) -> Int64 { Int64(bitPattern: try integer(UInt64.self)) }

    public mutating func bool() throws(DecodeError) -> Bool {
        let at = offset
        switch try u8() {
        case 0: return false
        case 1: return true
        case let v: throw fail("boolean byte \(v)", at: at)
        }
    }

    /// `n` raw bytes.
    public mutating func raw(_ n: Int) throws(DecodeError) -> [UInt8] {
        try need(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// Length-prefixed (u32) bytes, refusing lengths above `max` before allocating.
    public mutating func blob(max: Int) throws(DecodeError) -> [UInt8] {
        let at = offset
        let n = Int(try u32())
        guard n <= max else { throw fail("length \(n) exceeds the limit \(max)", code: .tooLarge, at: at) }
        return try raw(n)
    }

    /// A blob that must be exactly `length` bytes long (a hash, a key of known size).
    public mutating func blob(exactly length: Int) throws(DecodeError) -> [UInt8] {
        let at = offset
        let b = try blob(max: length)
        guard b.count == length else { throw fail("\(b.count) bytes where \(length) belong", at: at) }
        return b
    }

    public mutating func string(max: Int = 64 * 1024) throws(DecodeError) -> String {
        let at = offset
        let b = try blob(max: max)
        guard let s = String(validating: b, as: UTF8.self) else { throw fail("string is not valid UTF-8", at: at) }
        return s
    }

    /// A u32 count of following items, refused above `max` and when the bytes left cannot
    /// hold that many items of at least `minElementBytes`, so a hostile count cannot make
    /// the decoder reserve memory it will never fill.
    public mutating func count(max: Int, minElementBytes: Int = 0) throws(DecodeError) -> Int {
        let at = offset
        let n = Int(try u32())
        return try bounded(n, max: max, minElementBytes: minElementBytes, at: at)
    }

    /// `count` for a u16 count (`ByteWriter.shortCount`).
    public mutating func shortCount(max: Int, minElementBytes: Int = 0) throws(DecodeError) -> Int {
        let at = offset
        let n = Int(try u16())
        return try bounded(n, max: max, minElementBytes: minElementBytes, at: at)
    }

    private func bounded(_ n: Int, max: Int, minElementBytes: Int, at: Int) throws(DecodeError) -> Int {
        guard n <= max else { throw fail("count \(n) exceeds the limit \(max)", code: .tooLarge, at: at) }
        guard n * minElementBytes <= remaining else {
            throw fail("count \(n) needs \(n * minElementBytes) bytes, \(remaining) left", code: .truncated, at: at)
        }
        return n
    }

    public func expectEnd() throws(DecodeError) {
        guard isAtEnd else { throw fail("\(remaining) unexpected trailing bytes", code: .trailingBytes) }
    }
}
