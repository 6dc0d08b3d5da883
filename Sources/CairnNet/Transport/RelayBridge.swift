import NIOCore

/// One end of a local socket pair whose other end runs an ordinary session: what the
/// session writes is read here and sent, as relay frames, on the outer session (the one
/// with the relay); relay frames arriving on the outer session are written here. So a
/// relayed session is a session like any other (same handler, bounds and timeouts), and
/// the outer session carries only its sealed records. Runs on the outer session's loop.
final class RelayBridgeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let outer: NIOLoopBound<SessionHandler>
    private let circuit: UInt32

    init(outer: NIOLoopBound<SessionHandler>, circuit: UInt32) {
        self.outer = outer
        self.circuit = circuit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        while bytes.readableBytes > 0 {
            let piece = bytes.readSlice(length: min(bytes.readableBytes, TransportLimits.chunkBytesMax))!
            guard outer.value.sendRelay(circuit, piece) else {
                context.close(promise: nil)
                return
            }
        }
        // Read on only when the outer session has room: the relay's pace, not ours.
        if !outer.value.hasRoomForRelay {
            let channel = context.channel
            channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            outer.value.whenRoom().whenComplete { _ in channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        outer.value.circuitEnded(circuit)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
