import CairnWire

/// An expected failure of a node or coordinator service: a data directory that cannot be
/// used, a setting that makes no sense, a peer's stream that does not check. Says what went
/// wrong and what to do.
public struct NodeError: CairnError {
    public enum Code: String, Hashable, Sendable {
        /// A setting (command line or config file) that cannot be used.
        case invalidSetting
        /// The data directory is missing, not ours, or held by another running process.
        case dataDirectory
        /// Bytes from a peer (a slot stream, a spooled fetch) that do not check.
        case badStream
        /// Local storage failed (disk full, I/O error): nothing was acknowledged.
        case storage
        /// The running node could not be reached, or refused the request.
        case notRunning
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?
    public let location: ErrorLocation

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        location = .source(file: file, line: line)
    }

    public var codeName: String { code.rawValue }
    public var description: String { oneLine }
}
