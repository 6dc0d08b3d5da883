import Logging
import NIOCore

/// The host's UDP socket: each datagram is `session id u64 | DatagramCipher output`, the id
/// being this host's id for the session (told to the peer in our hello). A datagram of the
/// wrong size or for no session is dropped and counted here; the session drops and counts
/// one that does not open or is replayed.
final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let host: HostContext

    init(host: HostContext) { self.host = host }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        var bytes = envelope.data
        let size = bytes.readableBytes
        guard size <= TransportLimits.datagramBytesMax,
              size >= TransportLimits.datagramIDBytes + 8 + TransportLimits.recordTagBytes,
              let id = bytes.readInteger(as: UInt64.self)
        else {
            host.dropDatagram("datagram.dropped", reason: "\(size) bytes is not a datagram size")
            return
        }
        guard let session = host.registry.session(forDatagram: id) else {
            host.dropDatagram("datagram.dropped", reason: "no session has that id")
            return
        }
        session.receiveDatagram(Array(bytes.readableBytesView), from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket reports ICMP errors (port unreachable) here; they concern one send
        // and say nothing about the socket.
        host.logger.debug("datagram.error", metadata: ["error": "\(error)"])
    }
}
