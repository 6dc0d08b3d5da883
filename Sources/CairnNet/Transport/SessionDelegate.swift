import CairnCore
import NIOCore

/// A core message that arrived on a session, with its payload if it announced one.
public struct InboundMessage: Sendable {
    public let message: Message
    /// The sender's clock when it sent the message (the header's stamp).
    public let sent: Instant
    /// The message as it was on the wire (`Message.encode(sent:)`).
    public let bytes: [UInt8]
    /// Where the payload went, complete (nil when the message announced none).
    public let payload: (any PayloadSink)?
    /// Whether it came as a UDP datagram.
    public let viaDatagram: Bool
}

/// Why a session ended.
public enum SessionCloseReason: Sendable {
    /// `Session.close()` or `SessionHost.shutdown()` on this side.
    case closedLocally
    /// The peer closed the connection.
    case closedByPeer
    /// The session was dropped: a protocol error, a bad MAC, a timeout, a bound.
    case failed(NetError)
}

/// What a `SessionHost` tells its owner. Every call comes on the session's event loop, in
/// the order things happened on that session; none may block.
public protocol SessionDelegate: AnyObject, Sendable {
    /// A session finished its handshake and hello: `session.peer` is verified.
    func sessionOpened(_ session: Session)
    /// A message announcing `payloadBytes` bytes arrived: where should they go? Nil refuses
    /// the stream, and the session is dropped (its framing cannot go on without them).
    func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)?
    func session(_ session: Session, received message: InboundMessage)
    /// The last call for a session that was opened.
    func session(_ session: Session, closed reason: SessionCloseReason)
}
