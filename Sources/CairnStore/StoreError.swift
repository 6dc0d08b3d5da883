/// Every failure of the store surfaces as one `StoreError`, so callers can match on `code`
/// for the few cases they handle (a full map, a full disk) and show `message` for the rest.
/// The message is written for the person running the command: what went wrong, where,
/// and what to do about it.
public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of failure this is. A struct around a private enum, so new kinds can be
    /// added later without breaking callers that `switch` with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case mapFull, diskFull, notFound, corrupted, versionMismatch, readersFull,
                 keyTooLong, permissionDenied, io, other
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The store reached its configured map size; reopen with a larger `mapSize`.
        public static let mapFull = Code(.mapFull)
        /// The file system holding the store has no space left (ENOSPC, EDQUOT).
        public static let diskFull = Code(.diskFull)
        /// Something that had to exist does not (a missing file or directory).
        public static let notFound = Code(.notFound)
        /// The store file is damaged, or is not an LMDB store at all.
        public static let corrupted = Code(.corrupted)
        /// The store was written by an incompatible LMDB version.
        public static let versionMismatch = Code(.versionMismatch)
        /// Too many read transactions are open at once (`maxReaders`).
        public static let readersFull = Code(.readersFull)
        /// A key is longer than LMDB allows (`mdb_env_get_maxkeysize`, 511 bytes by default).
        public static let keyTooLong = Code(.keyTooLong)
        /// The process may not read or write the store's directory or files.
        public static let permissionDenied = Code(.permissionDenied)
        /// The operating system reported an I/O error.
        public static let io = Code(.io)
        /// Anything else; `lmdbCode` and `message` carry the details.
        public static let other = Code(.other)

        public var description: String { kind.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// The store directory the failure concerns.
    public let path: String
    /// The raw LMDB return code (an LMDB error or an `errno` value); 0 for failures
    /// detected before calling LMDB.
    public let lmdbCode: Int32
    /// What went wrong and what to do, in one or two sentences.
    public let message: String
    /// Where in Cairn the error was raised, for bug reports; not part of equality.
    public let fileID: String
    /// See `fileID`.
    public let line: Int

    /// Builds an error; normally only `check(_:path:operation:)` does this.
    init(code: Code, path: String, lmdbCode: Int32, message: String,
         fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.path = path
        self.lmdbCode = lmdbCode
        self.message = message
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "\(message) [\(code), code \(lmdbCode), \(fileID):\(line)]" }

    /// Two errors are equal when they describe the same failure, wherever they were raised.
    public static func == (lhs: StoreError, rhs: StoreError) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path && lhs.lmdbCode == rhs.lmdbCode
            && lhs.message == rhs.message
    }
}
