/// The one error type of CairnCrypto for expected failures: a wrong key length from a file
/// or peer, a ciphertext that was cut short or altered. Programmer errors (misuse of an API
/// inside Cairn) are `precondition`s instead.
public struct CryptoError: Error, CustomStringConvertible, Equatable {
    /// What kind of failure this is. A struct wrapping a private enum, so codes can be added
    /// later without breaking callers that `switch` on them.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case wrongKeyLength
            case truncatedCiphertext
            case authenticationFailed
            case invalidSignatureKey
        }

        private let value: Value

        private init(_ value: Value) { self.value = value }

        /// A symmetric key of the wrong size was given.
        public static let wrongKeyLength = Code(.wrongKeyLength)
        /// A sealed box is shorter than a nonce plus a tag, so it cannot be one.
        public static let truncatedCiphertext = Code(.truncatedCiphertext)
        /// The tag did not verify: wrong key, wrong associated data, or altered bytes.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// Ed25519 key material of the wrong size was given.
        public static let invalidSignatureKey = Code(.invalidSignatureKey)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// What went wrong and what to do about it, for a person to read.
    public let message: String
    /// Where the error was raised (`file:line`), to find the throw site from a log.
    /// Not part of equality: two errors with the same code and message are the same error.
    public let sourceLocation: String

    init(_ code: Code, _ message: String, fileID: StaticString = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.sourceLocation = "\(fileID):\(line)"
    }

    public var description: String { "\(code): \(message) (at \(sourceLocation))" }

    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
}
