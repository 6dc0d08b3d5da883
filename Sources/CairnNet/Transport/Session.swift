import CairnCore
import NIOCore
import Synchronization

/// An open, mutually authenticated session with one peer: its verified certificate, where
/// it is, and how to send to it. Thread-safe; the state lives on the session's event loop.
///
/// Order: messages sent with `send` or `post` arrive in the order they were handed over,
/// except that a message announcing a payload is delivered when its payload is complete,
/// so messages sent after it without payload may arrive first. One stream at a time: a
/// second `send` with a payload waits for the first to finish.
public final class Session: Sendable, CustomStringConvertible {
    /// The peer, as its handshake proved it.
    public let peer: NodeCertificate
    public let remoteAddress: SocketAddress
    /// Whether this side dialled.
    public let isInitiator: Bool
    /// This side's random id for the session (the peer puts it in front of its datagrams).
    public let id: UInt64
    let channel: any Channel
    let handler: NIOLoopBound<SessionHandler>
    private let circuitsOpened = Atomic<UInt32>(0)
    /// Circuit ids the accepting side of a session picks have this bit set.
    static let acceptorCircuitBit: UInt32 = 1 << 31

    init(peer: NodeCertificate, remoteAddress: SocketAddress, isInitiator: Bool, id: UInt64, channel: any Channel,
         handler: NIOLoopBound<SessionHandler>)
    {
        self.peer = peer
        self.remoteAddress = remoteAddress
        self.isInitiator = isInitiator
        self.id = id
        self.channel = channel
        self.handler = handler
    }

    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Whether the session runs through a relay (then `remoteAddress` is local and says nothing).
    public var isRelayed: Bool {
        if case .unixDomainSocket = remoteAddress { true } else { false }
    }

    /// A fresh id for a circuit this side opens on the session.
    func newCircuitID() -> UInt32 {
        let n = circuitsOpened.add(1, ordering: .relaxed).newValue & ~Self.acceptorCircuitBit
        return isInitiator ? n : n | Self.acceptorCircuitBit
    }

    public var description: String { "session \(String(id, radix: 16)) with \(remoteAddress)" }

    /// Sends `message`, stamped `sent`, and its payload (exactly `message.payloadBytes`
    /// bytes, read from `payload` one chunk at a time as the session has room: the payload
    /// is never all in memory). Returns when the last byte is handed to the socket's queue;
    /// waits while the peer is slow. `preferDatagram`: a message of at most
    /// `TransportLimits.datagramMessageBytesMax` bytes goes as a UDP datagram when both
    /// sides have a UDP socket (then it may be lost: use it for what is resent anyway).
    ///
    /// A payload source that fails or ends early drops the session (the stream cannot be
    /// resumed) and throws.
    public func send(_ message: Message, sent: Instant, payload: (any PayloadSource)? = nil,
                     preferDatagram: Bool = false) async throws(NetError)
    {
        let payloadBytes = message.payloadBytes
        precondition((payloadBytes > 0) == (payload != nil), "\(message.typeByte): \(payloadBytes) payload bytes, source \(payload != nil)")
        let bytes = message.encode(sent: sent)
        let handler = handler
        guard let payload else {
            try await run { handler.value.whenRoom().flatMapThrowing { try handler.value.sendMessage(bytes, preferDatagram: preferDatagram) } }
            return
        }
        try await run { handler.value.acquireStream() }
        do throws(NetError) {
            try await run { handler.value.whenRoom().flatMapThrowing { try handler.value.sendMessage(bytes, preferDatagram: false) } }
            var left = payloadBytes
            while left > 0 {
                let chunk = try payload.read(max: Int(min(UInt64(TransportLimits.chunkBytesSent), left)))
                guard !chunk.isEmpty else {
                    throw NetError(.io, "the payload source ended \(left) bytes before the \(payloadBytes) its message announced")
                }
                left -= UInt64(chunk.count)
                try await run { handler.value.whenRoom().flatMapThrowing { try handler.value.sendChunk(chunk) } }
            }
            eventLoop.execute { handler.value.releaseStream() }
        } catch {
            eventLoop.execute { handler.value.fail(error) }
            throw error
        }
    }

    /// Sends `message` without waiting: for callers that cannot wait (the core's
    /// `Transport`). When the peer has not taken `sessionBufferedBytesMax` bytes already
    /// queued, the session is dropped instead of holding more.
    public func post(_ message: Message, sent: Instant, preferDatagram: Bool = false) {
        precondition(message.payloadBytes == 0, "a message with a payload is sent with send(_:sent:payload:)")
        let bytes = message.encode(sent: sent)
        let handler = handler
        eventLoop.execute { handler.value.postMessage(bytes, preferDatagram: preferDatagram) }
    }

    /// Closes the session; the delegate hears `closedLocally`.
    public func close() {
        let handler = handler
        eventLoop.execute { handler.value.closeLocally() }
    }

    func receiveDatagram(_ sealed: [UInt8], from address: SocketAddress) {
        let handler = handler
        eventLoop.execute { handler.value.receiveDatagram(sealed, from: address) }
    }

    private func run(_ body: @escaping @Sendable () -> EventLoopFuture<Void>) async throws(NetError) {
        do {
            try await eventLoop.flatSubmit(body).get()
        } catch let error as NetError {
            throw error
        } catch {
            throw NetError(.io, "the session's connection failed", cause: error)
        }
    }
}
