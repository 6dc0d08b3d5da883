import CairnCore
import CairnWire
import NIOCore

/// One session's protocol without I/O: Noise handshake records first, then sealed records
/// carrying frames. It takes whole records in and gives bytes to send and events out, so
/// it runs over any ordered byte pipe: a TCP connection here, a relayed session later
/// (the relay carries the records as they are and sees only ciphertext).
///
/// Order on the pipe: the initiator writes the first handshake message; whoever finishes
/// the handshake sends its `SessionHello` as the first frame; the session is open when
/// the peer's hello arrives. A record that arrives while the handshake expects to write,
/// a first frame that is not a hello, a second hello, a message that opens a stream while
/// one is open, or any record that does not open is an error: the caller drops the pipe.
struct SessionCore {
    enum Event {
        /// Bytes for the pipe (length-prefixed records).
        case write(ByteBuffer)
        /// The handshake is done; the peer is this certificate (verified by the handshake).
        case established(NodeCertificate, NoiseTransportKeys)
        /// The peer's hello arrived: the session is open.
        case opened(SessionHello)
        case keepalive
        /// A core message without payload.
        case message(Message, sent: Instant, bytes: [UInt8])
        /// A message announcing `payload` bytes, which follow as chunks; deliver it when the
        /// last chunk has arrived.
        case streamOpened(Message, sent: Instant, bytes: [UInt8], payload: UInt64)
        case chunk(ByteBuffer, last: Bool)
        case relay(circuit: UInt32, [UInt8])
        case relayOpen(circuit: UInt32, nodeKey: [UInt8])
        case relayClose(circuit: UInt32)
    }

    private enum Phase {
        case handshaking(SessionHandshake)
        case established(RecordCiphers)
        case failed
    }

    private var phase: Phase
    private var frames = FrameReader()
    private let hello: SessionHello
    private(set) var peerHello: SessionHello?

    init(handshake: SessionHandshake, hello: SessionHello) {
        phase = .handshaking(handshake)
        self.hello = hello
    }

    /// The longest record the peer may send next.
    var recordBytesMax: Int { isEstablished ? TransportLimits.recordBytesMax : SessionHandshake.messageLengthMax }

    var isEstablished: Bool {
        if case .established = phase { true } else { false }
    }

    /// What to write first (the initiator's first handshake message), if anything.
    mutating func start(events: inout [Event]) throws(NetError) {
        guard case var .handshaking(handshake) = phase else { preconditionFailure("session started twice") }
        do {
            try writeTurns(&handshake, events: &events)
        } catch {
            phase = .failed
            throw error
        }
    }

    /// One whole record from the peer.
    mutating func receive(_ record: ByteBuffer, events: inout [Event]) throws(NetError) {
        do throws(NetError) {
            switch phase {
            case var .handshaking(handshake):
                guard !handshake.isComplete, !handshake.isMyTurnToWrite else {
                    throw NetError(.malformed, "the peer sent a handshake record out of turn")
                }
                phase = .failed
                try handshake.readMessage(Array(record.readableBytesView))
                try writeTurns(&handshake, events: &events)
            case var .established(ciphers):
                phase = .failed
                let plaintext = try ciphers.open(record)
                phase = .established(ciphers)
                var buffer = ByteBuffer(bytes: plaintext)
                while let frame = try frames.next(from: &buffer) { try handle(frame, events: &events) }
            case .failed:
                throw NetError(.malformed, "a record arrived on a session that already failed")
            }
        } catch {
            phase = .failed
            throw error
        }
    }

    /// Seals frames written into `plaintext` as records into `out`.
    mutating func seal(_ plaintext: ByteBuffer, into out: inout ByteBuffer) throws(NetError) {
        guard case var .established(ciphers) = phase else {
            throw NetError(.io, "the session is not established (or has failed): nothing can be sent on it")
        }
        phase = .failed
        try ciphers.seal(plaintext, into: &out)
        phase = .established(ciphers)
    }

    private mutating func writeTurns(_ handshake: inout SessionHandshake, events: inout [Event]) throws(NetError) {
        var out = ByteBuffer()
        while handshake.isMyTurnToWrite {
            let message = try handshake.writeMessage()
            guard !message.isEmpty, message.count <= TransportLimits.recordBytesMax else {
                preconditionFailure("handshake message of \(message.count) bytes")
            }
            RecordReader.write(message, to: &out)
        }
        guard handshake.isComplete else {
            phase = .handshaking(handshake)
            if out.readableBytes > 0 { events.append(.write(out)) }
            return
        }
        let established = try handshake.established()
        let (peer, keys) = (established.peerCertificate, established.keys)
        var ciphers = RecordCiphers(keys: keys)
        var plaintext = ByteBuffer()
        FrameWriter.append(.hello, body: hello.encoded, to: &plaintext)
        try ciphers.seal(plaintext, into: &out)
        phase = .established(ciphers)
        events.append(.established(peer, keys))
        events.append(.write(out))
    }

    private mutating func handle(_ frame: FrameReader.Frame, events: inout [Event]) throws(NetError) {
        if case let .hello(hello) = frame {
            guard peerHello == nil else { throw NetError(.malformed, "the peer sent a second hello") }
            peerHello = hello
            events.append(.opened(hello))
            return
        }
        guard peerHello != nil else { throw NetError(.malformed, "the peer's first frame was not a hello") }
        switch frame {
        case .hello: preconditionFailure("handled above")
        case .keepalive:
            events.append(.keepalive)
        case let .chunk(piece, last):
            events.append(.chunk(piece, last: last))
        case let .relay(circuit, bytes):
            events.append(.relay(circuit: circuit, bytes))
        case let .relayOpen(circuit, key):
            events.append(.relayOpen(circuit: circuit, nodeKey: key))
        case let .relayClose(circuit):
            events.append(.relayClose(circuit: circuit))
        case let .message(bytes):
            let decoded: (message: Message, sent: Instant)
            do {
                decoded = try Message.decode(bytes)
            } catch {
                throw NetError(.malformed, "the peer sent a message that does not decode", cause: error)
            }
            let payload = decoded.message.payloadBytes
            guard payload > 0 else {
                events.append(.message(decoded.message, sent: decoded.sent, bytes: bytes))
                return
            }
            guard frames.payloadRemaining == 0 else {
                throw NetError(.malformed, "the peer opened a stream while \(frames.payloadRemaining) bytes of the last were owed")
            }
            frames.expectPayload(payload)
            events.append(.streamOpened(decoded.message, sent: decoded.sent, bytes: bytes, payload: payload))
        }
    }
}
