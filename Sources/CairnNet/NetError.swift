import CairnWire

/// An expected failure of the network layer: a peer that is unreachable, lies, or sends
/// bytes that are not our protocol, and a misconfigured address. Says what went wrong and
/// what to do; the peer it concerns, if any, is in the message.
public struct NetError: CairnError {
    public enum Code: String, Hashable, Sendable {
        /// A `HOST:PORT` (or similar setting) that cannot be used.
        case invalidAddress
        /// A handshake that failed: wrong key, bad MAC, unexpected message, or a peer
        /// whose certificate does not check.
        case handshakeFailed
        /// A frame or message larger than the protocol allows, refused before allocation.
        case oversized
        /// A transport message whose MAC does not verify, or a replayed one.
        case badCiphertext
        /// Bytes that do not decode as what the protocol expects there.
        case malformed
        /// A peer that did not answer in time.
        case timeout
        /// A socket could not be opened, bound or connected.
        case io
        /// A bound on memory, sessions or rate was reached: the peer is dropped.
        case overloaded
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
