/// Why compressed bytes could not be turned back into what was compressed. Input is
/// untrusted (it comes back from peers), so every one of these is an expected failure.
public struct CompressionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; a struct over a private enum so kinds can be added
    /// later without breaking anyone's exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case corrupt, truncated, tooLarge, trailingData
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// Not a zstd frame, or a frame zstd rejects (bad header, bad block, checksum).
        public static let corrupt = Code(.corrupt)
        /// The frame ends before its last block.
        public static let truncated = Code(.truncated)
        /// The content is, or claims to be, larger than the caller's limit.
        public static let tooLarge = Code(.tooLarge)
        /// Bytes follow the single frame that was expected.
        public static let trailingData = Code(.trailingData)

        public var description: String {
            switch kind {
            case .corrupt: "corrupt zstd frame"
            case .truncated: "truncated zstd frame"
            case .tooLarge: "zstd content too large"
            case .trailingData: "data after the zstd frame"
            }
        }
    }

    public let code: Code
    /// What went wrong and what to do about it.
    public let message: String
    /// Where in Cairn the error was raised (`file:line`), for bug reports.
    public let location: String

    init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(file):\(line)"
    }

    public var description: String { "\(code): \(message)" }
}
