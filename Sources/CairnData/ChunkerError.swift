#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Why chunking could not start or go on: parameters outside the supported ranges, or a
/// file that could not be opened or read. The message says what went wrong and what to do.
public struct ChunkerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; a struct over a private enum so kinds can be added
    /// later without breaking anyone's exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case invalidParameters, openFailed, readFailed
        }

        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// min/avg/max/normalization outside the rules of `ChunkerParameters`.
        public static let invalidParameters = Code(.invalidParameters)
        /// `open(2)` of the input file failed.
        public static let openFailed = Code(.openFailed)
        /// `read(2)` of the input file failed.
        public static let readFailed = Code(.readFailed)

        public var description: String {
            switch kind {
            case .invalidParameters: "invalid chunker parameters"
            case .openFailed: "cannot open file"
            case .readFailed: "cannot read file"
            }
        }
    }

    public let code: Code
    /// What went wrong and what to do about it.
    public let message: String
    /// The file concerned, when there is one.
    public let path: String?
    /// The `errno` value behind an I/O failure.
    public let errno: Int32?
    /// Where in Cairn the error was raised (`file:line`), for bug reports.
    public let location: String

    init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil,
         file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.location = "\(file):\(line)"
    }

    public var description: String { message }
}

extension ChunkerError {
    /// `open(2)` of `path` failed with `errno`.
    static func openFailed(path: String, errno code: Int32, file: String = #fileID, line: Int = #line) -> ChunkerError {
        ChunkerError(.openFailed, "cannot open \(path): \(errorText(code)); check that it exists and is readable",
                     path: path, errno: code, file: file, line: line)
    }

    /// `read(2)` of `path` failed with `errno` at byte `offset`.
    static func readFailed(path: String, offset: UInt64, errno code: Int32, file: String = #fileID, line: Int = #line) -> ChunkerError {
        ChunkerError(.readFailed, "cannot read \(path) at byte \(offset): "
            + "\(errorText(code)); check the disk and that the file is not a directory",
            path: path, errno: code, file: file, line: line)
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
