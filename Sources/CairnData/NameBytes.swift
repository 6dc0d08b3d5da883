#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// File names and paths as the kernel sees them: bytes, not text. A name need not be
/// UTF-8, so nothing that names a file goes through `String` on its way to a syscall.
enum NameBytes {
    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    /// The components of a '/'-separated relative path.
    static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: slash, omittingEmptySubsequences: false).map(Array.init)
    }

    /// A component that can be opened relative to its parent without leaving it: not
    /// empty, not "." or "..", no '/' and no NUL.
    static func isSafeComponent(_ name: some Collection<UInt8>) -> Bool {
        guard !name.isEmpty, !name.contains(slash), !name.contains(0) else { return false }
        return !(name.count <= 2 && name.allSatisfy { $0 == dot })
    }

    /// A stored path must not escape the restore folder: no empty, "." or ".."
    /// components, no leading '/' and no NUL.
    static func isSafeRelativePath(_ path: [UInt8]) -> Bool {
        !path.isEmpty && path.split(separator: slash, omittingEmptySubsequences: false).allSatisfy(isSafeComponent)
    }

    /// Shows a name to a person: UTF-8 as it is; otherwise each byte that is not part
    /// of valid UTF-8 as `\xNN` (and a backslash as `\\`, so the two cannot be confused).
    static func display(_ bytes: some Collection<UInt8>) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        var out = ""
        var rest = Array(bytes)[...]
        while let lead = rest.first {
            // One scalar at a time: its length from the lead byte, then validated.
            let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0
            if length > 0, length <= rest.count, let s = String(validating: rest.prefix(length), as: UTF8.self) {
                out += s == "\\" ? "\\\\" : s
                rest = rest.dropFirst(length)
            } else {
                out += "\\x" + String(lead >> 4, radix: 16) + String(lead & 0xf, radix: 16)
                rest = rest.dropFirst()
            }
        }
        return out
    }

    /// Calls `body` with `name` as a NUL-terminated C string, without a heap allocation
    /// for short names.
    static func withCString<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: name.count + 1) { buf in
            name.withUnsafeBytes { src in
                if let from = src.baseAddress {
                    UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: from, byteCount: name.count)
                }
            }
            buf[name.count] = 0
            return body(buf.baseAddress!)
        }
    }

    /// `strerror` as text.
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
