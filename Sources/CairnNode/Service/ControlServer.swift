import Foundation
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
internal import Glibc
#endif

/// The node's control socket (`ControlProtocol`): a Unix socket in the node's 0700 folder,
/// made 0600 before it is announced, served on the node's own event loop so a request
/// sees the core between two steps, never inside one.
final class ControlServer: Sendable {
    private let channel: any Channel
    let path: String

    /// Binds `path` (replacing a stale socket file a killed node left, never a live one
    /// or anything that is not a socket) and answers each request with `answer`.
    init(path: String, loop: any EventLoop, logger: Logger,
         answer: @escaping @Sendable (ControlRequest) -> ControlReply) async throws(NodeError) {
        self.path = path
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw NodeError(.dataDirectory, "\(path) exists and is not a socket: remove it, then start the node again")
            }
            if (try? ControlClient.ask(ControlRequest(.settings), dataDirectory: String(path.dropLast("/node/control.sock".count)),
                                       timeoutSeconds: 2)) != nil {
                throw NodeError(.dataDirectory, "another node is already running on this data directory (it answers at \(path))")
            }
            unlink(path)
        }
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlConnection(answer: answer, logger: logger))
                }
            }
        do {
            let old = umask(0o177)
            defer { umask(old) }
            channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
        } catch {
            throw NodeError(.dataDirectory, "cannot open the control socket \(path)", cause: error)
        }
        chmod(path, 0o600)
    }

    func close() async {
        try? await channel.close()
        unlink(path)
    }
}

/// One client: reads one request line (bounded), writes the reply, closes.
private final class ControlConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let answer: @Sendable (ControlRequest) -> ControlReply
    private let logger: Logger
    private var line: [UInt8] = []
    private var answered = false

    init(answer: @escaping @Sendable (ControlRequest) -> ControlReply, logger: Logger) {
        self.answer = answer
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var buffer = unwrapInboundIn(data)
        line += buffer.readBytes(length: buffer.readableBytes) ?? []
        if let end = line.firstIndex(of: 0x0A) {
            answered = true
            let reply: ControlReply
            if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line[..<end])) {
                reply = answer(request)
            } else {
                reply = ControlReply(error: "not a control request: the socket takes one JSON line such as {\"command\":\"status\"}")
            }
            respond(reply, context: context)
        } else if line.count > ControlRequest.lineBytesMax {
            answered = true
            respond(ControlReply(error: "a control request is at most \(ControlRequest.lineBytesMax) bytes"), context: context)
        }
    }

    private func respond(_ reply: ControlReply, context: ChannelHandlerContext) {
        let bytes = (try? JSONEncoder().encode(reply)).map { Array($0) } ?? Array(#"{"error":"the reply could not be encoded"}"#.utf8)
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("control connection failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
