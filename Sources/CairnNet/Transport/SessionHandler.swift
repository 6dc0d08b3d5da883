import CairnCore
import Logging
import NIOCore
import Synchronization

/// The channel handler that runs a `SessionCore` on a TCP connection: it splits records,
/// carries out the core's events, keeps the timers (handshake deadline, read timeout,
/// stalled peer, keepalive) and the bounds on unsent bytes, and reports to the delegate.
/// Everything here runs on the channel's event loop.
final class SessionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let host: HostContext
    private let loop: any EventLoop
    private var core: SessionCore
    private let isInitiator: Bool
    private let datagramID: UInt64
    /// The admission key: the peer's IP address (or the name dialled).
    private let address: String
    private var opened: EventLoopPromise<Session>?

    private var context: ChannelHandlerContext?
    private var inbound = ByteBuffer()
    private var started = false
    private var ended = false
    private var session: Session?
    private var peer: NodeCertificate?
    private var datagrams: DatagramCipher?
    private var peerDatagramAddress: SocketAddress?
    private var peerDatagramID: UInt64 = 0
    private var incoming: (message: Message, sent: Instant, bytes: [UInt8], sink: any PayloadSink)?

    private var unsent = 0
    private var roomWaiters: [EventLoopPromise<Void>] = []
    private var streamBusy = false
    private var streamWaiters: [EventLoopPromise<Void>] = []
    private var lastRead = NIODeadline.now()
    private var lastWrite = NIODeadline.now()
    private var lastProgress = NIODeadline.now()
    private var handshakeTimer: Scheduled<Void>?
    private var ticker: RepeatedTask?

    /// Relayed sessions that run through this one (this side is an end, not the relay).
    private enum Circuit {
        /// The bridge is being set up; what arrives meanwhile waits here (bounded).
        case pending([ByteBuffer], bytes: Int)
        case open(any Channel)
    }

    private var circuits: [UInt32: Circuit] = [:]
    private var readsPaused = false
    /// Bytes a circuit may hold while its bridge is set up.
    private static let pendingCircuitBytesMax = 1 << 20

    init(host: HostContext, loop: any EventLoop, handshake: SessionHandshake, isInitiator: Bool, address: String,
         opened: EventLoopPromise<Session>?)
    {
        self.host = host
        self.loop = loop
        self.isInitiator = isInitiator
        self.address = address
        self.opened = opened
        datagramID = host.registry.newDatagramID()
        core = SessionCore(handshake: handshake, hello: SessionHello(datagramID: datagramID, datagramPort: host.datagramPort))
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end(.failed(NetError(.io, "the connection to \(address) closed")))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if incoming != nil {
            fail(NetError(.io, "\(address) closed the connection in the middle of a stream"))
        } else if session == nil {
            fail(NetError(.handshakeFailed, "\(address) closed the connection during the handshake"))
        } else {
            end(host.registry.isShuttingDown ? .closedLocally : .closedByPeer)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(NetError(.io, "the connection to \(address) failed", cause: error))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        lastRead = .now()
        var bytes = unwrapInboundIn(data)
        if inbound.readableBytes > 0 {
            inbound.writeBuffer(&bytes)
            bytes = inbound
        }
        do {
            while !ended, let record = try RecordReader.next(from: &bytes, max: core.recordBytesMax) {
                var events: [SessionCore.Event] = []
                try core.receive(record, events: &events)
                try carryOut(events)
            }
        } catch {
            fail(error)
            return
        }
        inbound = bytes
        if inbound.readerIndex > TransportLimits.recordBytesMax { inbound.discardReadBytes() }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started, !ended else { return }
        started = true
        let now = NIODeadline.now()
        lastRead = now
        lastWrite = now
        lastProgress = now
        let loop = context.eventLoop
        let me = NIOLoopBound(self, eventLoop: loop)
        let handshakeTimeout = host.configuration.handshakeTimeout
        handshakeTimer = loop.scheduleTask(in: TimeAmount(handshakeTimeout)) {
            me.value.fail(NetError(.timeout, "the handshake with \(me.value.address) did not finish within \(handshakeTimeout)"))
        }
        let tick = max(TimeAmount.nanoseconds(TimeAmount(host.configuration.idleTimeout).nanoseconds / 4), .milliseconds(10))
        ticker = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in me.value.tick() }
        do {
            var events: [SessionCore.Event] = []
            try core.start(events: &events)
            try carryOut(events)
        } catch {
            fail(error)
        }
    }

    // MARK: the core's events

    private func carryOut(_ events: [SessionCore.Event]) throws(NetError) {
        for event in events {
            switch event {
            case let .write(bytes):
                write(bytes)
            case let .established(peer, keys):
                self.peer = peer
                datagrams = DatagramCipher(keys: keys)
            case let .opened(hello):
                try open(hello)
            case .keepalive:
                break
            case let .message(message, sent, bytes):
                guard let session else { preconditionFailure("message before the session opened") }
                host.delegate.session(session, received: InboundMessage(message: message, sent: sent, bytes: bytes, payload: nil,
                                                                        viaDatagram: false))
            case let .streamOpened(message, sent, bytes, payload):
                guard let session else { preconditionFailure("stream before the session opened") }
                guard let sink = host.delegate.session(session, sinkFor: message, payloadBytes: payload) else {
                    throw NetError(.overloaded, "refused a stream of \(payload) bytes from \(address): no room for it")
                }
                incoming = (message, sent, bytes, sink)
            case let .relayOpen(circuit, key):
                try relayOpened(circuit, nodeKey: key)
            case let .relay(circuit, bytes):
                relayArrived(circuit, bytes)
            case let .relayClose(circuit):
                relayClosed(circuit)
            case let .chunk(piece, last):
                guard let stream = incoming, let session else { preconditionFailure("chunk outside a stream") }
                try stream.sink.write(piece)
                if last {
                    incoming = nil
                    try stream.sink.finish()
                    host.delegate.session(session, received: InboundMessage(message: stream.message, sent: stream.sent,
                                                                            bytes: stream.bytes, payload: stream.sink, viaDatagram: false))
                }
            }
        }
    }

    private func open(_ hello: SessionHello) throws(NetError) {
        guard let context, let peer else { preconditionFailure("hello before the handshake finished") }
        handshakeTimer?.cancel()
        handshakeTimer = nil
        guard let remote = context.channel.remoteAddress else {
            throw NetError(.io, "the connection to \(address) has no remote address")
        }
        peerDatagramID = hello.datagramID
        if hello.datagramPort != 0, let ip = remote.ipAddress {
            peerDatagramAddress = try? SocketAddress(ipAddress: ip, port: Int(hello.datagramPort))
        }
        let session = Session(peer: peer, remoteAddress: remote, isInitiator: isInitiator, id: datagramID, channel: context.channel,
                              handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        self.session = session
        host.registry.route(datagramID, to: session)
        host.logger.debug("session.opened", metadata: ["peer.address": "\(remote)", "session.initiator": "\(isInitiator)"])
        host.delegate.sessionOpened(session)
        opened?.succeed(session)
        opened = nil
    }

    // MARK: sending

    private var hasRoom: Bool {
        unsent < host.configuration.sessionBufferedBytesMax / 2
            && host.registry.buffered.load(ordering: .relaxed) < host.configuration.totalBufferedBytesMax
    }

    /// Succeeds when this session may queue more (fails when it has ended).
    func whenRoom() -> EventLoopFuture<Void> {
        guard !ended else { return loop.makeFailedFuture(NetError(.io, "the session with \(address) is closed")) }
        if hasRoom { return loop.makeSucceededVoidFuture() }
        let promise = loop.makePromise(of: Void.self)
        roomWaiters.append(promise)
        return promise.futureResult
    }

    func acquireStream() -> EventLoopFuture<Void> {
        guard !ended else { return loop.makeFailedFuture(NetError(.io, "the session with \(address) is closed")) }
        guard streamBusy else {
            streamBusy = true
            return loop.makeSucceededVoidFuture()
        }
        let promise = loop.makePromise(of: Void.self)
        streamWaiters.append(promise)
        return promise.futureResult
    }

    func releaseStream() {
        if streamWaiters.isEmpty {
            streamBusy = false
        } else {
            streamWaiters.removeFirst().succeed()
        }
    }

    func sendMessage(_ bytes: [UInt8], preferDatagram: Bool) throws(NetError) {
        guard !ended else { throw NetError(.io, "the session with \(address) is closed") }
        if preferDatagram, sendDatagram(bytes) { return }
        try writeFrame(.message, bytes)
    }

    func sendChunk(_ bytes: [UInt8]) throws(NetError) {
        guard !ended else { throw NetError(.io, "the session with \(address) is closed") }
        try writeFrame(.chunk, bytes)
    }

    func postMessage(_ bytes: [UInt8], preferDatagram: Bool) {
        guard !ended, session != nil else { return }
        if preferDatagram, sendDatagram(bytes) { return }
        let total = host.registry.buffered.load(ordering: .relaxed)
        guard unsent + bytes.count <= host.configuration.sessionBufferedBytesMax, total < host.configuration.totalBufferedBytesMax else {
            fail(NetError(.overloaded, "\(address) has not taken the \(unsent) bytes already queued for it (\(total) over all sessions): dropped"))
            return
        }
        do {
            try writeFrame(.message, bytes)
        } catch {
            fail(error)
        }
    }

    private func writeFrame(_ kind: FrameKind, _ body: [UInt8]) throws(NetError) {
        var plaintext = ByteBuffer()
        plaintext.reserveCapacity(TransportLimits.frameHeaderBytes + body.count)
        FrameWriter.append(kind, body: body, to: &plaintext)
        var out = ByteBuffer()
        out.reserveCapacity(plaintext.readableBytes + 2 * (TransportLimits.recordLengthBytes + TransportLimits.recordTagBytes))
        try core.seal(plaintext, into: &out)
        write(out)
    }

    private func write(_ bytes: ByteBuffer) {
        guard let context, !ended else { return }
        let n = bytes.readableBytes
        let now = NIODeadline.now()
        if unsent == 0 { lastProgress = now }
        lastWrite = now
        unsent += n
        host.registry.buffered.add(n, ordering: .relaxed)
        let promise = context.eventLoop.makePromise(of: Void.self)
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in me.value.written(n) }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    private func written(_ n: Int) {
        unsent -= n
        host.registry.buffered.subtract(n, ordering: .relaxed)
        lastProgress = .now()
        wakeRoomWaiters()
    }

    private func wakeRoomWaiters() {
        guard !roomWaiters.isEmpty, hasRoom else { return }
        let waiters = roomWaiters
        roomWaiters = []
        for w in waiters { w.succeed() }
    }

    // MARK: datagrams

    private func sendDatagram(_ bytes: [UInt8]) -> Bool {
        guard bytes.count <= TransportLimits.datagramMessageBytesMax, var cipher = datagrams, let target = peerDatagramAddress,
              let channel = host.datagramChannel
        else { return false }
        guard let sealed = try? cipher.seal(bytes) else { return false }
        datagrams = cipher
        var out = ByteBuffer()
        out.reserveCapacity(TransportLimits.datagramIDBytes + sealed.count)
        out.writeInteger(peerDatagramID)
        out.writeBytes(sealed)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: out), promise: nil)
        return true
    }

    func receiveDatagram(_ sealed: [UInt8], from source: SocketAddress) {
        guard !ended, let session, var cipher = datagrams, source.ipAddress == session.remoteAddress.ipAddress else {
            host.dropDatagram("datagram.dropped", reason: "not from the session's peer")
            return
        }
        do throws(NetError) {
            let plaintext = try cipher.open(sealed)
            datagrams = cipher
            let decoded: (message: Message, sent: Instant)
            do {
                decoded = try Message.decode(plaintext)
            } catch {
                throw NetError(.malformed, "a datagram that does not decode as a message", cause: error)
            }
            let (message, sent) = decoded
            guard message.payloadBytes == 0 else {
                host.dropDatagram("datagram.dropped", reason: "a datagram cannot announce a payload")
                return
            }
            host.registry.datagramsReceived.add(1, ordering: .relaxed)
            host.delegate.session(session, received: InboundMessage(message: message, sent: sent, bytes: plaintext, payload: nil,
                                                                    viaDatagram: true))
        } catch {
            host.dropDatagram("datagram.dropped", reason: "\(error.codeName)")
        }
    }

    // MARK: relayed circuits

    /// A relayOpen from the peer: splice it on (a relay) or start a session on it (an end).
    private func relayOpened(_ circuit: UInt32, nodeKey: [UInt8]) throws(NetError) {
        guard let session else { preconditionFailure("relay frame before the session opened") }
        // Ids the dialler of this session picks have the high bit clear, the other side's set.
        guard (circuit & Session.acceptorCircuitBit != 0) == isInitiator else {
            throw NetError(.malformed, "\(address) opened circuit \(circuit), an id only this side may pick")
        }
        guard circuits[circuit] == nil, host.relay?.route(session.id, circuit) == nil else {
            throw NetError(.malformed, "\(address) opened circuit \(circuit) twice")
        }
        if let relay = host.relay, nodeKey != host.identity.certificate.nodePublicKey {
            splice(session, circuit, to: nodeKey, relay: relay)
            return
        }
        circuits[circuit] = .pending([], bytes: 0)
        host.startRelayed(outer: NIOLoopBound(self, eventLoop: loop), loop: loop, circuit: circuit, address: "relay \(address)",
                          handshake: SessionHandshake(responder: host.identity), isInitiator: false, opened: nil)
    }

    private func splice(_ session: Session, _ circuit: UInt32, to nodeKey: [UInt8], relay: RelaySwitch) {
        guard let target = host.registry.session(withPeer: nodeKey), target !== session else {
            host.logger.debug("relay.refused", metadata: ["peer.address": "\(address)", "relay.reason": "no session with that node"])
            writeRelayClose(circuit)
            return
        }
        let other = target.newCircuitID()
        if let refusal = relay.splice(session, circuit, target, other) {
            host.logger.info("relay.refused", metadata: ["peer.address": "\(address)", "error.message": "\(refusal.message)"])
            writeRelayClose(circuit)
            return
        }
        let from = session.peer.nodePublicKey
        target.eventLoop.execute { target.handler.value.announceCircuit(other, from: from) }
    }

    private func relayArrived(_ circuit: UInt32, _ bytes: [UInt8]) {
        guard let session else { preconditionFailure("relay frame before the session opened") }
        if let relay = host.relay, let route = relay.route(session.id, circuit) {
            let pause = relay.charge(session.id, bytes: bytes.count)
            route.session.eventLoop.execute { route.session.handler.value.forwardRelayed(route.circuit, bytes) }
            if pause > .zero { pauseReads(for: pause) }
            return
        }
        switch circuits[circuit] {
        case let .pending(waiting, held)?:
            guard held + bytes.count <= Self.pendingCircuitBytesMax else {
                closeCircuit(circuit, notifyPeer: true)
                return
            }
            circuits[circuit] = .pending(waiting + [ByteBuffer(bytes: bytes)], bytes: held + bytes.count)
        case let .open(channel)?:
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        case nil:
            break  // a circuit closed a moment ago
        }
    }

    private func relayClosed(_ circuit: UInt32) {
        guard let session else { return }
        if let relay = host.relay, let other = relay.unsplice(session, circuit) {
            other.session.eventLoop.execute { other.session.handler.value.closeCircuit(other.circuit, notifyPeer: true) }
            return
        }
        closeCircuit(circuit, notifyPeer: false)
    }

    /// The dialling end: a circuit to `nodeKey` through this session's peer (a relay).
    func openCircuit(to nodeKey: [UInt8], handshake: SessionHandshake, opened: EventLoopPromise<Session>) {
        guard !ended, let session else {
            opened.fail(NetError(.io, "the session with the relay \(address) is closed"))
            return
        }
        let circuit = session.newCircuitID()
        circuits[circuit] = .pending([], bytes: 0)
        guard writeCircuitFrame(.relayOpen, circuit, nodeKey) else {
            opened.fail(NetError(.io, "the session with the relay \(address) failed"))
            return
        }
        host.startRelayed(outer: NIOLoopBound(self, eventLoop: loop), loop: loop, circuit: circuit, address: "relay \(address)",
                          handshake: handshake, isInitiator: true, opened: opened)
    }

    /// The relay tells this end that `from` opened a circuit to it.
    func announceCircuit(_ circuit: UInt32, from nodeKey: [UInt8]) {
        writeCircuitFrame(.relayOpen, circuit, nodeKey)
    }

    /// The relay forwards bytes of a spliced circuit to this session's peer.
    func forwardRelayed(_ circuit: UInt32, _ bytes: [UInt8]) {
        guard !ended, let session else { return }
        guard unsent + bytes.count <= host.configuration.sessionBufferedBytesMax else {
            // The far end is not keeping up: the circuit goes, the sessions stay.
            if let other = host.relay?.unsplice(session, circuit) {
                other.session.eventLoop.execute { other.session.handler.value.closeCircuit(other.circuit, notifyPeer: true) }
            }
            writeRelayClose(circuit)
            return
        }
        writeCircuitFrame(.relay, circuit, bytes)
    }

    var hasRoomForRelay: Bool { hasRoom }

    /// An end's bridge sends what its session wrote; false when the circuit must close.
    func sendRelay(_ circuit: UInt32, _ piece: ByteBuffer) -> Bool {
        guard !ended, circuits[circuit] != nil, unsent + piece.readableBytes <= host.configuration.sessionBufferedBytesMax else {
            return false
        }
        return writeCircuitFrame(.relay, circuit, piece.readableBytesView)
    }

    func bridgeReady(_ circuit: UInt32, _ channel: any Channel) {
        guard case let .pending(waiting, _)? = circuits[circuit], !ended else {
            channel.close(promise: nil)
            return
        }
        for buffer in waiting { channel.write(buffer, promise: nil) }
        channel.flush()
        circuits[circuit] = .open(channel)
    }

    /// The bridge's channel ended (its session closed).
    func circuitEnded(_ circuit: UInt32) {
        guard circuits.removeValue(forKey: circuit) != nil else { return }
        writeRelayClose(circuit)
    }

    func closeCircuit(_ circuit: UInt32, notifyPeer: Bool) {
        if case let .open(channel)? = circuits.removeValue(forKey: circuit) { channel.close(promise: nil) }
        if notifyPeer { writeRelayClose(circuit) }
    }

    private func writeRelayClose(_ circuit: UInt32) {
        writeCircuitFrame(.relayClose, circuit, [UInt8]())
    }

    /// Writes `kind` with body `circuit u32 | bytes`; false (the session failed or had ended) when it could not.
    @discardableResult
    private func writeCircuitFrame(_ kind: FrameKind, _ circuit: UInt32, _ bytes: some Collection<UInt8>) -> Bool {
        guard !ended else { return false }
        var body = [UInt8]()
        body.reserveCapacity(4 + bytes.count)
        body += [UInt8(circuit >> 24), UInt8(truncatingIfNeeded: circuit >> 16), UInt8(truncatingIfNeeded: circuit >> 8),
                 UInt8(truncatingIfNeeded: circuit)]
        body += bytes
        do {
            try writeFrame(kind, body)
            return true
        } catch {
            fail(error)
            return false
        }
    }

    private func pauseReads(for delay: TimeAmount) {
        guard !readsPaused, let context else { return }
        readsPaused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let me = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: delay) { me.value.resumeReads() }
    }

    private func resumeReads() {
        readsPaused = false
        lastRead = .now()
        guard !ended, let context else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    // MARK: timers and the end

    private func tick() {
        guard !ended else { return }
        let now = NIODeadline.now()
        let idle = TimeAmount(host.configuration.idleTimeout)
        if now - lastRead > idle {
            fail(NetError(.timeout, "nothing arrived from \(address) for \(host.configuration.idleTimeout)"))
            return
        }
        if unsent > 0, now - lastProgress > idle {
            fail(NetError(.timeout, "\(address) took none of the \(unsent) bytes queued for it for \(host.configuration.idleTimeout)"))
            return
        }
        if session != nil, now - lastWrite >= .nanoseconds(idle.nanoseconds / 3) {
            do {
                try writeFrame(.keepalive, [])
            } catch {
                fail(error)
                return
            }
        }
        wakeRoomWaiters()
    }

    func closeLocally() {
        guard !ended else { return }
        end(.closedLocally)
        context?.close(promise: nil)
    }

    /// Drops the session: noted, never trusted again.
    func fail(_ error: NetError) {
        guard !ended else { return }
        host.registry.sessionsDropped.add(1, ordering: .relaxed)
        host.logger.info("session.dropped", metadata: [
            "peer.address": "\(address)", "error.code": "\(error.codeName)", "error.message": "\(error.message)",
        ])
        end(.failed(error))
        context?.close(promise: nil)
    }

    private func end(_ reason: SessionCloseReason) {
        guard !ended else { return }
        ended = true
        handshakeTimer?.cancel()
        ticker?.cancel()
        let closed: NetError = if case let .failed(error) = reason { error } else { NetError(.io, "the session with \(address) is closed") }
        for w in roomWaiters + streamWaiters { w.fail(closed) }
        roomWaiters = []
        streamWaiters = []
        incoming?.sink.abandon()
        incoming = nil
        for case let .open(channel) in circuits.values { channel.close(promise: nil) }
        circuits = [:]
        if let session, let relay = host.relay {
            for other in relay.unspliceAll(session) {
                other.session.eventLoop.execute { other.session.handler.value.closeCircuit(other.circuit, notifyPeer: true) }
            }
        }
        opened?.fail(closed)
        opened = nil
        if let channel = context?.channel { host.registry.release(channel, address: address, datagramID: datagramID) }
        if let session {
            host.delegate.session(session, closed: reason)
        }
        session = nil
    }
}
