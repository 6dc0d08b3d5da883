/// An expected failure of the data path, with a message saying what went wrong and what
/// to do, and the error that caused it.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case notInitialized, alreadyInitialized, wrongOwner, corrupt, unrecoverable, targetUnavailable
            case io, invalidArgument, notFound, busy, destinationNotEmpty, foreignRepository
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let notInitialized = Code(.notInitialized)
        public static let alreadyInitialized = Code(.alreadyInitialized)
        public static let wrongOwner = Code(.wrongOwner)
        public static let corrupt = Code(.corrupt)
        public static let unrecoverable = Code(.unrecoverable)
        public static let targetUnavailable = Code(.targetUnavailable)
        public static let io = Code(.io)
        public static let invalidArgument = Code(.invalidArgument)
        public static let notFound = Code(.notFound)
        /// Another cairn process is writing to the same data directory or target.
        public static let busy = Code(.busy)
        /// A restore was asked to go into a folder that already holds files, without
        /// saying what to do with them.
        public static let destinationNotEmpty = Code(.destinationNotEmpty)
        /// A target, root record or shard of another repository of the same owner (its
        /// keys are ours, its history is not): left alone.
        public static let foreignRepository = Code(.foreignRepository)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    /// The message, then each cause on a line of its own.
    public var description: String { chainDescription }
}
