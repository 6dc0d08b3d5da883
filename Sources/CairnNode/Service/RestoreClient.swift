import CairnCore
import CairnCrypto
internal import CairnData
import CairnNet
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Restore anywhere: on a machine with nothing but the owner's keys (from the phrase),
/// join the coordinator as the owner, run the core's `RestoreSession` over real sessions —
/// it asks where the owner's volumes are and fetches k slots of each from their holders —
/// and write every verified slot's packs into fresh staging targets of the data directory
/// (shard i of a pack into `shard-i`, as `OwnerPacks` lays them out), the newest root
/// record on every one. The engine then restores from those targets as from any local
/// ones, checking every shard and chunk again.
///
/// A fetched stream is checked and written as it arrives, on its session's thread
/// (`FetchedSlotSink`): each shard against the root in front of it before it is written,
/// the slot's tree against the root the session expects at the stream's end. A slot that
/// fails removes what it wrote and counts for nothing (the session asks another holder);
/// shards still unchecked when the restore ends are removed before it returns.
///
/// Holders are dialled with the node key the coordinator gives (IK), directly or through
/// its relay; the client never listens. Sessions run on an event-loop thread per core, so
/// their decryption, checking and writing of fetched streams use every core; everything a
/// session reports hops to `loop`, where all the client's state lives (in each session's
/// order: one thread's `execute`s run in the order given). What a session's own thread
/// must read synchronously — which holder a new session is, which holder an open
/// session's stream comes from, and what each fetch sent must bring — sits behind locks.
public final class RestoreClient: SessionDelegate, @unchecked Sendable {
    public struct Settings: Sendable {
        public var dataDirectory: String
        public var coordinator: Endpoint
        /// How long the whole fetch may take before it gives up.
        public var patience: Interval = .minutes(30)
        public var params = RestoreSession.Params(fetchTimeout: .seconds(30), retryAfter: .seconds(5))
        public var transport = TransportConfiguration()
        public init(dataDirectory: String, coordinator: Endpoint) {
            self.dataDirectory = dataDirectory
            self.coordinator = coordinator
        }
    }

    /// What was fetched.
    public struct Summary: Sendable {
        public var volumes: Int
        public var bytes: UInt64
        public var shardsWritten: Int
        /// The staging targets that received shards (the engine's `--from`).
        public var targets: [String]
        public var rootSequence: UInt64
        /// Volumes recorded for the node that runs here next to take over (`RestoredVolumes`).
        public var adoptable = 0
        /// Why a fetched volume was not recorded for adoption.
        public var notAdoptable: [String] = []
        /// The widest code of those volumes: how many staging targets the node needs
        /// complete (`cairn restore` rebuilds the shards the fetch did not bring).
        public var shardsPerPack = 0
    }

    private let settings: Settings
    private let owner: OwnerKeys
    private let logger: Logger
    private let clock = SystemClock()
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let host: SessionHost
    private let staging: StagingShards
    private let folderLock: DirectoryLock
    // Touched only on `loop`.
    private var session: RestoreSession?
    private var timers: EventLoopTimers!
    private var coordinatorSession: Session?
    private var coordinatorKey: [UInt8]?
    private var peers: [NodeID: Session] = [:]
    private var peerOfSession: [UInt64: NodeID] = [:]
    /// Holders dialled and not yet open, by node key; and open sessions' holders, by
    /// session id. Read on the sessions' own threads, hence the lock.
    private let dialling = Mutex<(byKey: [[UInt8]: NodeID], bySession: [UInt64: NodeID])>(([:], [:]))
    /// Fetches sent and not yet answered: what each one's stream must be (read, and
    /// taken, by the session the answer comes on).
    private let expected = Mutex<[UInt64: FetchedSlotSink.Expectation]>([:])
    /// Streams that arrived, by fetch request, until the session asks to verify them.
    private var fetched: [UInt64: FetchedSlotSink] = [:]
    private var waiting: [NodeID: [Message]] = [:]
    private var locating: [UInt64: NodeID] = [:]
    private var nextLocate: UInt64 = 1
    private var envelopes: [(sequence: UInt64, bytes: [UInt8])] = []
    /// Where the coordinator said the owner's volumes are, and the first slot of each that
    /// checked (its packs in order, its root records): what the node adopts (`RestoredVolumes`).
    private var locations: [VolumeID: VolumeLocation] = [:]
    private var streams: [VolumeID: (packs: [StreamedPack], envelopes: [[UInt8]])] = [:]
    /// The newest root record, once every volume is in (read by `run` after `finished`).
    private var newestRoot: [UInt8] = []
    private var shardsWritten = 0
    private var finished: EventLoopPromise<Summary>
    private var progress: (@Sendable (_ restored: Int, _ known: Int) -> Void)?

    public init(settings: Settings, logger: Logger) throws(NodeError) {
        self.settings = settings
        self.logger = logger
        do { owner = try DataDirectory(path: settings.dataDirectory).loadKeys() } catch {
            throw NodeError(.dataDirectory, "\(settings.dataDirectory) has no owner keys: recover them from the phrase first", cause: error)
        }
        let folder = settings.dataDirectory + "/node"
        let nodeKey = try NodeKeyFile.loadOrCreate(folder: folder)
        folderLock = try NodeService.lockNodeFolder(folder, dataDirectory: settings.dataDirectory)
        staging = StagingShards(dataDirectory: settings.dataDirectory)
        let sessions = try ServiceSessions(owner: owner.signing, nodeKey: nodeKey, transport: settings.transport,
                                           threads: System.coreCount, logger: logger)
        group = sessions.group
        loop = sessions.loop
        host = sessions.host
        finished = loop.makePromise()
        sessions.relay.target = self
    }

    /// Fetches everything and returns what was written; throws when the patience ran out
    /// with volumes short of k shards, or the coordinator could not be reached.
    public func run(progress: (@Sendable (_ restored: Int, _ known: Int) -> Void)? = nil) async throws(NodeError) -> Summary {
        let patience = settings.patience
        loop.execute { [self] in
            self.progress = progress
            timers = EventLoopTimers(loop: loop, clock: clock) { [weak self] _ in self?.fire() }
            dialCoordinator()
            // Giving up on the coordinator too, not only on holders.
            loop.scheduleTask(in: .milliseconds(patience.milliseconds)) { [weak self] in
                guard let self, self.session == nil else { return }
                self.finished.fail(NodeError(.notRunning, "the coordinator at \(self.settings.coordinator) could not be reached"))
            }
        }
        let result: Result<Summary, NodeError>
        do { result = .success(try await finished.futureResult.get()) } catch let error as NodeError {
            result = .failure(error)
        } catch {
            result = .failure(NodeError(.notRunning, "the restore stopped", cause: error))
        }
        // Every session thread stopped before the targets are handed on: none writes into
        // them any more, and what no slot check kept is removed.
        await host.shutdown()
        try? await group.shutdownGracefully()
        switch result {
        case let .failure(error):
            try? staging.dropPending()
            throw error
        case var .success(summary):
            try staging.dropPending()
            summary.targets = try staging.finish(root: newestRoot)
            recordAdoption(into: &summary)
            return summary
        }
    }

    private func dialCoordinator() {
        guard coordinatorSession == nil, session == nil else { return }
        let endpoint = settings.coordinator
        Task { [weak self, host] in
            do { _ = try await host.connect(to: endpoint, expecting: nil) } catch {
                guard let self else { return }
                self.logger.notice("coordinator unreachable; trying again", metadata: ["at": "\(endpoint)", "error": "\(error)"])
                self.loop.scheduleTask(in: .seconds(1)) { self.dialCoordinator() }
            }
        }
    }

    // MARK: Sessions

    public func sessionOpened(_ session: Session) {
        let key = session.peer.nodePublicKey
        let holder: NodeID? = dialling.withLock { d in
            guard let peer = d.byKey.removeValue(forKey: key) else { return nil }
            d.bySession[session.id] = peer
            return peer
        }
        loop.execute { [self] in opened(session, holder: holder) }
    }

    private func opened(_ session: Session, holder: NodeID?) {
        loop.preconditionInEventLoop()
        if let peer = holder {
            peers[peer] = session
            peerOfSession[session.id] = peer
            if let me = self.session?.owner { session.post(.peerHello(node: me), sent: clock.now) }
            for message in waiting.removeValue(forKey: peer) ?? [] { session.post(message, sent: clock.now) }
            return
        }
        guard session.isInitiator, coordinatorSession == nil else {
            session.close()
            return
        }
        coordinatorSession = session
        coordinatorKey = session.peer.nodePublicKey
        session.post(.hello(host: "", port: 0, contact: ""), sent: clock.now)
    }

    /// On the session's thread: where a holder's fetch reply streams — checked and written
    /// into the staging targets if the session asked this holder for that slot, else read
    /// and dropped.
    public func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)? {
        guard case let .fetchReply(request, slot, true, _) = message, let peer = dialling.withLock({ $0.bySession[session.id] })
        else { return nil }
        let expectation: FetchedSlotSink.Expectation? = expected.withLock { e in
            guard let x = e[request], x.holder == peer, x.slot == slot else { return nil }
            e[request] = nil
            return x
        }
        return FetchedSlotSink(request: request, expectation: expectation, announced: payloadBytes, staging: staging)
    }

    public func session(_ session: Session, received inbound: InboundMessage) {
        loop.execute { [self] in
            if let sink = inbound.payload as? FetchedSlotSink, sink.expectation != nil { fetched[sink.request] = sink }
            if session.id == coordinatorSession?.id {
                fromCoordinator(inbound)
            } else if let peer = peerOfSession[session.id] {
                deliver(inbound, from: peer)
            }
        }
    }

    public func session(_ session: Session, closed reason: SessionCloseReason) {
        _ = dialling.withLock { $0.bySession.removeValue(forKey: session.id) }
        loop.execute { [self] in
            if session.id == coordinatorSession?.id {
                coordinatorSession = nil
                if self.session == nil { loop.scheduleTask(in: .seconds(1)) { [weak self] in self?.dialCoordinator() } }
                return
            }
            if let peer = peerOfSession.removeValue(forKey: session.id), peers[peer]?.id == session.id { peers[peer] = nil }
        }
    }

    private func fromCoordinator(_ inbound: InboundMessage) {
        switch inbound.message {
        case let .welcome(node, _):
            guard session == nil else { return }
            guard node != .coordinator else {
                finished.fail(NodeError(.notRunning, "the coordinator gives this identity no node number: it is rebuilding a lost directory (and this identity's node has not come back to it yet) or admits no more members; try again later"))
                return
            }
            logger.info("restoring as the owner's node", metadata: ["node": "\(node.raw)"])
            var s = RestoreSession(owner: node, params: settings.params, now: clock.now, patience: settings.patience)
            let actions = s.start(now: clock.now)
            session = s
            perform(actions)
        case let .located(request, node, key, host, port):
            guard let peer = locating.removeValue(forKey: request) else { return }
            guard peer == node, !key.isEmpty else {
                logger.notice("the coordinator does not know holder \(node.raw)")
                unreachable(peer, key: nil, NodeError(.notRunning, "unknown to the coordinator"))
                return
            }
            let endpoint = Endpoint(advertisedHost: host, port: port)
            dialling.withLock { $0.byKey[key] = peer }
            let relay = coordinatorSession
            let client = self
            Task { [host = self.host, loop, logger] in
                do {
                    _ = try await host.dialPeer(key: key, at: endpoint, relay: relay, logger: logger)
                } catch {
                    loop.execute { client.unreachable(peer, key: key, error) }
                }
            }
        case .hello, .locate, .peerHello:
            break
        default:
            if case let .recordReply(_, _, _, volumes) = inbound.message, let me = session?.owner {
                for location in volumes where location.volume.owner == me { locations[location.volume] = location }
            }
            deliver(inbound, from: .coordinator)
        }
    }

    /// Records the fetched volumes for the node that runs here next (`RestoredVolumes`); a
    /// failure only costs the adoption, never the restore.
    private func recordAdoption(into summary: inout Summary) {
        guard let me = session?.owner else { return }
        let derived = RestoredVolumes.derive(owner: me, keys: owner, locations: Array(locations.values), streams: streams)
        summary.notAdoptable = derived.problems
        for problem in derived.problems { logger.warning("not adopted: \(problem)") }
        do throws(NodeError) {
            guard try RestoredVolumes.record(derived, dataDirectory: settings.dataDirectory) else {
                summary.notAdoptable.append("a node already ran on \(settings.dataDirectory): its own records are kept")
                return
            }
            summary.adoptable = derived.volumes.count
            summary.shardsPerPack = derived.volumes.map(\.n).max() ?? 0
        } catch {
            summary.notAdoptable.append(error.oneLine)
            logger.error("the restored volumes could not be recorded for the node", metadata: ["error": "\(error.oneLine)"])
        }
    }

    /// A holder that cannot be reached answers none of the fetches queued for it: the
    /// session hears "nothing here" for each at once and asks another holder, instead of
    /// waiting out its fetch timeout.
    private func unreachable(_ peer: NodeID, key: [UInt8]?, _ error: any Error) {
        if let key { _ = dialling.withLock { $0.byKey.removeValue(forKey: key) } }
        let queued = waiting.removeValue(forKey: peer) ?? []
        logger.notice("holder unreachable", metadata: ["holder": "\(peer.raw)", "error": "\(error)"])
        for message in queued {
            guard case let .fetch(request, slot) = message else { continue }
            guard session != nil else { return }
            perform(session!.onMessage(from: peer, .fetchReply(request: request, slot: slot, ok: false, bytes: 0), sent: clock.now,
                                       now: clock.now))
        }
    }

    private func deliver(_ inbound: InboundMessage, from: NodeID) {
        guard session != nil else { return }
        perform(session!.onMessage(from: from, inbound.message, sent: inbound.sent, now: clock.now))
    }

    private func fire() {
        guard session != nil else { return }
        perform(session!.onTimer(now: clock.now))
    }

    // MARK: The session's actions

    private struct Shell: RestoreShell {
        let client: RestoreClient
        func send(_ message: Message, to: NodeID) { client.transmit(message, to: to) }
        func setTimer(_ kind: TimerKind, at: Instant) { client.timers.set(kind, at: at) }
        func observe(_ note: Note) { client.logger.debug("note", metadata: ["note": "\(note)"]) }
        func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
            client.takeFetched(slot, request: request, from: from, expect: expect)
        }
    }

    private func perform(_ actions: [RestoreAction]) {
        Interpreter.perform(actions, through: Shell(client: self)) { request, slot, from, bytes, verified in
            session!.onSlotVerified(request: request, slot: slot, from: from, bytes: bytes, verified: verified, now: clock.now)
        }
        guard let s = session else { return }
        progress?(s.progress.restored, s.progress.known)
        switch s.outcome {
        case .running:
            break
        case .restored:
            finish()
        case let .failed(missing):
            fetched.removeAll()
            finished.fail(NodeError(.notRunning, missing == 0
                ? "the coordinator knows no backup of this identity: check the phrase and the coordinator"
                : "\(missing) volumes could not be fetched from k holders within the patience given: too many holders are offline; try again later"))
        }
    }

    private func transmit(_ message: Message, to: NodeID) {
        if case let .fetch(request, _) = message, let x = session?.expectation(of: request) {
            expected.withLock { $0[request] = x }
        }
        if to == .coordinator {
            coordinatorSession?.post(message, sent: clock.now)
            return
        }
        if let session = peers[to] {
            session.post(message, sent: clock.now)
            return
        }
        if waiting[to] == nil {
            let request = nextLocate
            nextLocate += 1
            locating[request] = to
            coordinatorSession?.post(.locate(request: request, node: to), sent: clock.now)
        }
        if waiting[to, default: []].count < 256 { waiting[to, default: []].append(message) }
    }

    /// The stream of fetch `request` checked against the root `expect` as it arrived, and
    /// its packs are in the staging targets: only then does the slot count.
    private func takeFetched(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        guard let sink = fetched.removeValue(forKey: request), let x = sink.expectation, x.slot == slot, x.holder == from,
              x.expect == expect
        else { return false }
        guard sink.verified else {
            logger.warning("a fetched slot does not check: asking another holder",
                          metadata: ["slot": "\(slot)", "holder": "\(from.raw)", "reason": "\(sink.failure ?? "unknown")"])
            return false
        }
        for bytes in sink.envelopes {
            do {
                let record = try RootEnvelope.open(bytes, keys: owner)
                envelopes.append((record.sequence, bytes))
            } catch {
                logger.warning("a root record in slot \(slot) does not open with this identity: ignored", metadata: ["error": "\(error)"])
            }
        }
        shardsWritten += sink.shardsWritten
        if streams[slot.volume] == nil { streams[slot.volume] = (sink.streamed, sink.envelopes) }
        return true
    }

    private func finish() {
        fetched.removeAll()
        guard let newest = envelopes.max(by: { $0.sequence < $1.sequence }) else {
            finished.fail(NodeError(.badStream, "no holder gave a root record this identity can open: nothing to restore from"))
            return
        }
        newestRoot = newest.bytes
        // The targets are named, and the root written on them, once no session writes any more (`run`).
        finished.succeed(Summary(volumes: session?.progress.known ?? 0, bytes: session?.bytesFetched ?? 0,
                                 shardsWritten: shardsWritten, targets: [], rootSequence: newest.sequence))
    }
}
