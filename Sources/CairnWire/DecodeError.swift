/// Why bytes from a disk or the wire could not be decoded: which structure, at which byte,
/// and why. Decoders throw it; they never trap on hostile input.
public struct DecodeError: CairnError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case truncated, tooLarge, badVersion, unknownType, badValue, trailingBytes
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// Fewer bytes than the structure needs.
        public static let truncated = Code(.truncated)
        /// A length or count above its bound.
        public static let tooLarge = Code(.tooLarge)
        public static let badVersion = Code(.badVersion)
        public static let unknownType = Code(.unknownType)
        /// A value outside its range (a flag, a geometry, a hash of the wrong size).
        public static let badValue = Code(.badValue)
        public static let trailingBytes = Code(.trailingBytes)
        public var description: String { value.rawValue }
    }

    public let code: Code
    /// What was wrong, without the location.
    public let reason: String
    /// The structure being decoded ("shard header", "message", …).
    public let what: String
    public let offset: Int

    public init(_ code: Code, _ reason: String, what: String = "message", offset: Int) {
        self.code = code
        self.reason = reason
        self.what = what
        self.offset = offset
    }

    public var codeName: String { code.description }
    public var message: String { "malformed \(what) at byte \(offset): \(reason)" }
    public var cause: (any Error)? { nil }
    public var location: ErrorLocation { .bytes(what: what, offset: offset) }
    public var description: String { message }
}
