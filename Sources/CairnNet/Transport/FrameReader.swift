import NIOCore

/// Reads frames out of a session's decrypted stream, which arrives in record-sized
/// pieces that need not line up with frames: a message may span records, a record may
/// hold several frames. Keeps at most one frame header and one message body
/// (`TransportLimits.messageBytesMax`); chunk bodies are handed on piece by piece as they
/// arrive, never gathered, so a stream of any length costs no memory here.
///
/// Streams: after a message that announces payload bytes, the session calls
/// `expectPayload`; chunk frames are then accepted up to exactly that many bytes, and a
/// chunk at any other time is a protocol error.
struct FrameReader {
    enum Frame: Equatable {
        case keepalive
        case hello(SessionHello)
        case message([UInt8])
        /// Payload bytes; `last` when the announced payload is complete.
        case chunk(ByteBuffer, last: Bool)
        case relay(circuit: UInt32, [UInt8])
        case relayOpen(circuit: UInt32, nodeKey: [UInt8])
        case relayClose(circuit: UInt32)
    }

    private var header: [UInt8] = []
    private var body: (kind: FrameKind, remaining: Int)?
    private var gathered: [UInt8] = []
    /// Payload bytes still owed to the open stream (0: none open).
    private(set) var payloadRemaining: UInt64 = 0

    init() { header.reserveCapacity(TransportLimits.frameHeaderBytes) }

    mutating func expectPayload(_ bytes: UInt64) {
        precondition(payloadRemaining == 0 && bytes > 0, "stream of \(bytes) opened with \(payloadRemaining) still owed")
        payloadRemaining = bytes
    }

    /// The next frame from `buffer`, or nil when `buffer` is used up without completing one
    /// (what was read is kept for the next call).
    mutating func next(from buffer: inout ByteBuffer) throws(NetError) -> Frame? {
        while true {
            if let (kind, remaining) = body {
                let n = min(remaining, buffer.readableBytes)
                if kind == .chunk {
                    guard n > 0, let piece = buffer.readSlice(length: n) else { return nil }
                    body = remaining == n ? nil : (kind, remaining - n)
                    payloadRemaining -= UInt64(n)
                    return .chunk(piece, last: payloadRemaining == 0)
                }
                if n > 0 {
                    gathered.append(contentsOf: buffer.readableBytesView.prefix(n))
                    buffer.moveReaderIndex(forwardBy: n)
                }
                guard remaining == n else {
                    body = (kind, remaining - n)
                    return nil
                }
                body = nil
                let bytes = gathered
                gathered = []
                return try complete(kind, bytes)
            }
            while header.count < TransportLimits.frameHeaderBytes, let byte = buffer.readInteger(as: UInt8.self) {
                header.append(byte)
            }
            guard header.count == TransportLimits.frameHeaderBytes else { return nil }
            let kindByte = header[0]
            let length = header[1...].reduce(0) { $0 << 8 | Int($1) }
            header.removeAll(keepingCapacity: true)
            guard let kind = FrameKind(rawValue: kindByte) else {
                throw NetError(.malformed, "the peer sent a frame of unknown kind \(kindByte)")
            }
            guard kind.lengthRange.contains(length) else {
                throw NetError(.oversized, "the peer sent a \(kind) frame of \(length) bytes; such frames are \(kind.lengthRange) bytes")
            }
            if kind == .chunk {
                guard UInt64(length) <= payloadRemaining else {
                    throw NetError(.malformed, payloadRemaining == 0
                        ? "the peer sent payload bytes no message announced"
                        : "the peer sent a \(length)-byte chunk with only \(payloadRemaining) payload bytes owed")
                }
            } else {
                gathered.reserveCapacity(length)
            }
            guard length > 0 else { return try complete(kind, []) }
            body = (kind, length)
        }
    }

    private func complete(_ kind: FrameKind, _ bytes: [UInt8]) throws(NetError) -> Frame {
        switch kind {
        case .keepalive: .keepalive
        case .hello: .hello(try SessionHello(decoding: bytes))
        case .message: .message(bytes)
        case .chunk: preconditionFailure("chunks are handed on as they arrive")
        case .relay: .relay(circuit: Self.circuit(bytes), Array(bytes[4...]))
        case .relayOpen: .relayOpen(circuit: Self.circuit(bytes), nodeKey: Array(bytes[4...]))
        case .relayClose: .relayClose(circuit: Self.circuit(bytes))
        }
    }

    private static func circuit(_ bytes: [UInt8]) -> UInt32 {
        bytes[..<4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
