import CairnCore
import NIOCore

/// The kinds of application frame inside a session's encrypted stream
/// (`kind u8 | length u32 | body`). Each kind bounds its length, and the bound is checked
/// on the header, before any of the body is kept.
enum FrameKind: UInt8, Sendable {
    /// Empty: sent when a session has been quiet, so the peer's read timeout measures a
    /// dead peer, not a quiet one.
    case keepalive = 0
    /// The first frame each side sends: its transport version, its id for the session's
    /// datagrams and its UDP port (`SessionHello`).
    case hello = 1
    /// One core message (`Message.encode(sent:)`).
    case message = 2
    /// Payload bytes of the stream the last announcing message opened.
    case chunk = 3
    /// `circuit u32 | bytes`: opaque bytes of another session (its records, sealed end to
    /// end) carried through a relay.
    case relay = 4
    /// `circuit u32 | node key (32)`: to a relay, "splice this circuit to that node's
    /// session"; from a relay (or any peer), "a session for you starts on this circuit".
    case relayOpen = 5
    /// `circuit u32`: the circuit is gone (either end, or the relay).
    case relayClose = 6

    /// The length range a frame of this kind may have.
    var lengthRange: ClosedRange<Int> {
        switch self {
        case .keepalive: 0...0
        case .hello: SessionHello.encodedBytes...SessionHello.encodedBytes
        case .message: Message.headerBytes...TransportLimits.messageBytesMax
        case .chunk: 1...TransportLimits.chunkBytesMax
        case .relay: 5...(4 + TransportLimits.chunkBytesMax)
        case .relayOpen: 36...36
        case .relayClose: 4...4
        }
    }
}

/// What each side tells the other first, inside the encrypted stream.
struct SessionHello: Equatable, Sendable {
    static let currentVersion: UInt8 = 1
    static let encodedBytes = 11

    /// Transport version (1: this file and `TransportLimits`).
    var version: UInt8 = currentVersion
    /// The sender's random id for this session: the other side puts it in front of every
    /// datagram it sends on the session, so the sender finds the session's keys.
    var datagramID: UInt64
    /// The sender's UDP port (on the address the session came from), 0 when it has none.
    var datagramPort: UInt16

    var encoded: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        buffer.writeInteger(datagramID)
        buffer.writeInteger(datagramPort)
        return Array(buffer.readableBytesView)
    }

    init(datagramID: UInt64, datagramPort: UInt16) {
        self.datagramID = datagramID
        self.datagramPort = datagramPort
    }

    init(decoding bytes: [UInt8]) throws(NetError) {
        var buffer = ByteBuffer(bytes: bytes)
        guard bytes.count == Self.encodedBytes, let version = buffer.readInteger(as: UInt8.self),
              let id = buffer.readInteger(as: UInt64.self), let port = buffer.readInteger(as: UInt16.self)
        else {
            throw NetError(.malformed, "the peer's hello is \(bytes.count) bytes, not \(Self.encodedBytes)")
        }
        guard version == Self.currentVersion else {
            throw NetError(.malformed,
                           "the peer speaks transport version \(version), this node version \(Self.currentVersion): update the older one")
        }
        self.version = version
        datagramID = id
        datagramPort = port
    }
}

/// Writes frames into a plaintext buffer (which the session then seals into records).
enum FrameWriter {
    static func append(_ kind: FrameKind, body: some Collection<UInt8>, to buffer: inout ByteBuffer) {
        precondition(kind.lengthRange.contains(body.count), "\(kind) frame of \(body.count) bytes")
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
    }

    static func append(_ kind: FrameKind, body: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        precondition(kind.lengthRange.contains(body.count), "\(kind) frame of \(body.count) bytes")
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
    }
}
