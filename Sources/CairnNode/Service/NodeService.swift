import CairnCore
import CairnCrypto
internal import CairnData
import CairnNet
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
internal import Glibc
#endif

/// `cairn node run`: one machine's node on the network — its `NodeCore` on real sessions,
/// a real clock and the LMDB held store. It dials the coordinator (XX the first time, then
/// IK with the key it pinned), learns its owner's node number, joins, and from then on
/// answers and issues everything the core decides. Peers are reached by asking the
/// coordinator where they are and dialling them with their node key (IK); a session a peer
/// opens is believed to be the node it says only once the coordinator's key for that node
/// matches the session's.
///
/// The core is checkpointed (with the node number and the coordinator's key) in one LMDB
/// transaction after every step and before any message it decided leaves, so a `kill -9`
/// loses nothing a peer was told. All state lives on one event loop.
public final class NodeService: SessionDelegate, @unchecked Sendable {
    public struct Settings: Sendable {
        /// The cairn data directory (`cairn init`): the owner's keys; the node keeps its
        /// own files in `node/` inside it.
        public var dataDirectory: String
        public var coordinator: Endpoint
        /// Bytes offered to others.
        public var offer: UInt64
        /// Where peers reach this node; nil: only through the coordinator's relay.
        public var listen: Endpoint?
        /// 4-of-8, repaired below 5 healthy shards, 70% uptime (`NodeParams.homeNetwork`,
        /// docs/research/shard-count.md).
        public var params = NodeParams.homeNetwork
        /// A node may place on others at most what it offers divided by this. 1 (place as
        /// much as you offer), from docs/research/shard-count.md: higher ratios left owners
        /// unable to place or repair what they back up (at 5, the seeds' figure, 38% of
        /// packs were not available), and free riding, which a ratio would bound, is bounded
        /// by the offer a node must make to join anyway.
        public var reciprocityRatio: Double = 1
        public var transport = TransportConfiguration()
        /// Between attempts to reach the coordinator.
        public var redialAfter: TimeAmount = .seconds(2)
        /// Bytes of random data to place as a test volume when the node first joins (tests
        /// and demonstrations; see `TestVolume`).
        public var testVolumeBytes: Int? = nil
        /// Backups the node runs by itself (`--config`'s `backup` section).
        public var schedule: BackupSchedule? = nil
        /// How this node's operator wants to hear that it is offline while an owner needs
        /// what it holds (a URL or an address, checked by the command line), given to the
        /// coordinator, whose notification command uses it.
        public var notify: String? = nil
        /// How long the holders of volumes restored here (`RestoredVolumes`) have to show
        /// their contracts before their slots are placed anew.
        public var adoptionPatience: Interval = .minutes(10)
        public init(dataDirectory: String, coordinator: Endpoint, offer: UInt64, listen: Endpoint?) {
            self.dataDirectory = dataDirectory
            self.coordinator = coordinator
            self.offer = offer
            self.listen = listen
        }
    }

    let settings: Settings
    private let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    private let host: SessionHost
    let state: ServiceState
    let held: HeldSlotStore
    let logger: Logger
    let clock = SystemClock()
    private let signer: Ed25519Signer
    private let nodeKey: SigningKey
    let owner: OwnerKeys
    /// Held for the node's life: a second node (or a restore) on the same folder would
    /// share its spools and state.
    private let folderLock: DirectoryLock
    let staging: StagingTargets
    private var control: ControlServer?
    // Everything below is touched only on `loop`.
    var core: NodeCore?
    private var coordinatorKey: [UInt8]?
    /// A `reclaim` is on its way on this coordinator session (sent once per session).
    private var reclaiming = false
    private var timers: EventLoopTimers!
    var coordinatorSession: Session?
    var listening: Endpoint?
    private var stopping = false
    /// Another machine took this owner's node over (`retire`).
    var retired = false
    var peers: [NodeID: Session] = [:]
    private var peerOfSession: [UInt64: NodeID] = [:]
    /// Sessions a peer opened that have not yet been confirmed as the node they said.
    private var unconfirmed: [UInt64: (session: Session, claims: NodeID?, held: [InboundMessage])] = [:]
    /// Messages for peers not yet connected, oldest first.
    private var waiting: [NodeID: [Message]] = [:]
    private var locating: [UInt64: Locate] = [:]
    private var nextLocate: UInt64 = 1
    private var outbox: [(NodeID, Message)] = []
    private var testVolume: TestVolume?
    /// Whether the backup schedule has started (once per run, at the first welcome).
    private var scheduled = false
    /// Volumes placed from the staging targets (`OwnerPacks`), by number, in order.
    var placedVolumes: [PlacedVolume] = []
    var placedPacks: Set<String> = []
    /// The shard roots `placeStaged` computed for the newest volume it placed this run, so
    /// its uploads frame each shard without hashing it again (after a restart, or for an
    /// older volume, the upload hashes what it reads). The holder checks every frame
    /// against the slot's root either way.
    var placedRoots: PlacedRoots?
    /// The next volume number is at least this (a restore keeps the numbers of every
    /// volume it saw taken, adopted or not).
    var nextVolume: UInt32 = 1
    /// Volumes restored here being taken over (`NodeService+Adoption`).
    let adoption = AdoptionState()
    /// The slots of each volume whose verified fetch streams a blind repair this node
    /// carries out keeps (`HeldSlotStore.keepFetched`), to rebuild its targets' slots from
    /// (`NodeService+BlindRepair`); read back from the held store at start.
    var keptRepairSlots: [VolumeID: Set<Int>] = [:]
    /// Whether this run told the core what its blind repairs lost with the last process.
    var blindRepairsResumed = false

    private enum Locate {
        case dial(NodeID)
        case confirm(session: UInt64, node: NodeID)
    }

    public init(settings: Settings, logger: Logger) throws(NodeError) {
        self.settings = settings
        self.logger = logger
        let data = DataDirectory(path: settings.dataDirectory)
        do { owner = try data.loadKeys() } catch {
            throw NodeError(.dataDirectory, "\(settings.dataDirectory) has no owner keys: run `cairn init --data-dir \(settings.dataDirectory)` first",
                            cause: error)
        }
        do { signer = try Ed25519Signer(seed: owner.signing.seedBytes) } catch {
            throw NodeError(.dataDirectory, "the owner key in \(settings.dataDirectory) is unusable", cause: error)
        }
        let folder = settings.dataDirectory + "/node"
        nodeKey = try NodeKeyFile.loadOrCreate(folder: folder)
        chmod(folder, 0o700)
        folderLock = try Self.lockNodeFolder(folder, dataDirectory: settings.dataDirectory)
        state = try ServiceState(path: folder + "/state")
        staging = StagingTargets(dataDirectory: settings.dataDirectory)
        placedVolumes = try Self.loadPlacedVolumes(state)
        for v in placedVolumes { placedPacks.formUnion(v.packs) }
        nextVolume = try Self.loadNextVolume(state)
        do {
            held = try HeldSlotStore(dataDirectory: folder, capacity: settings.offer, logger: logger)
        } catch {
            throw NodeError(.storage, "cannot open the held store in \(folder)", cause: error)
        }
        coordinatorKey = try state.get("coordinatorKey")
        if let bytes = try state.get("checkpoint") {
            do {
                core = try CheckpointCodec.decode(NodeCore.self, from: bytes,
                                                  keys: CheckpointKeys(signer: signer, verifier: Ed25519Verifier()))
            } catch {
                throw NodeError(.dataDirectory, "the node's checkpoint in \(folder) cannot be read", cause: error)
            }
        }
        let sessions = try ServiceSessions(owner: owner.signing, nodeKey: nodeKey, transport: settings.transport, logger: logger)
        group = sessions.group
        loop = sessions.loop
        host = sessions.host
        sessions.relay.target = self
        // What blind repairs kept before a restart (those that ended meanwhile are
        // removed at the first step).
        do {
            for slot in try held.keptSlots() { keptRepairSlots[slot.volume, default: []].insert(Int(slot.index)) }
        } catch {
            logger.notice("the streams kept for blind repairs cannot be listed", metadata: ["error": "\(error.oneLine)"])
        }
    }

    static func lockNodeFolder(_ folder: String, dataDirectory: String) throws(NodeError) -> DirectoryLock {
        do { return try DirectoryLock(folder: folder) } catch {
            throw NodeError(.dataDirectory, error.code == .busy
                ? "a node (or a restore from the network) is already running on \(dataDirectory): stop it first, or use another --data-dir"
                : "cannot lock \(folder)", cause: error)
        }
    }

    /// Opens the control socket, listens (when asked to) and starts dialling the coordinator.
    public func start() async throws {
        control = try await ControlServer(path: ControlClient.socketPath(dataDirectory: settings.dataDirectory), loop: loop,
                                          logger: logger) { [weak self] request in
            self?.answer(request) ?? ControlReply(error: "the node is stopping")
        }
        if let listen = settings.listen { listening = try await host.listen(on: listen) }
        let started: EventLoopFuture<Void> = loop.submit { [self] in
            timers = EventLoopTimers(loop: loop, clock: clock) { [weak self] kind in self?.fire(kind) }
            dialCoordinator()
        }
        try? await started.get()
        logger.info("node started", metadata: ["listen": "\(listening.map { "\($0)" } ?? "relay only")",
                                               "node": "\(core.map { "\($0.me.raw)" } ?? "new")"])
    }

    public func stop() async {
        try? await loop.submit { [self] in
            stopping = true
            timers?.cancelAll()
        }.get()
        await control?.close()
        await host.shutdown()
        try? await group.shutdownGracefully()
    }

    private func dialCoordinator() {
        loop.preconditionInEventLoop()
        guard !stopping, coordinatorSession == nil else { return }
        let endpoint = settings.coordinator
        let pinned = coordinatorKey
        let host = host
        Task { [weak self] in
            do {
                _ = try await host.connect(to: endpoint, expecting: pinned)
            } catch {
                guard let self else { return }
                self.logger.notice("coordinator unreachable; trying again", metadata: ["at": "\(endpoint)", "error": "\(error)"])
                self.loop.scheduleTask(in: self.settings.redialAfter) { self.dialCoordinator() }
            }
        }
    }

    // MARK: Sessions

    public func sessionOpened(_ session: Session) {
        loop.preconditionInEventLoop()
        if session.isInitiator, coordinatorSession == nil, coordinatorKey == nil || coordinatorKey == session.peer.nodePublicKey,
           !isDialledPeer(session)
        {
            coordinatorSession = session
            if coordinatorKey == nil {
                coordinatorKey = session.peer.nodePublicKey
                try? state.put([("coordinatorKey", session.peer.nodePublicKey)])
            }
            let (host, port) = advertised()
            session.post(.hello(host: host, port: port, contact: settings.notify ?? ""), sent: clock.now)
            return
        }
        if session.isInitiator, let peer = dialled.removeValue(forKey: session.peer.nodePublicKey) {
            bind(session, to: peer)
            session.post(.peerHello(node: core!.me), sent: clock.now)
            let queued = waiting.removeValue(forKey: peer) ?? []
            for message in queued { transmit(message, to: peer) }
            return
        }
        unconfirmed[session.id] = (session, nil, [])
    }

    /// Peers dialled, by the node key they must prove.
    private var dialled: [[UInt8]: NodeID] = [:]

    private func isDialledPeer(_ session: Session) -> Bool { dialled[session.peer.nodePublicKey] != nil }

    private func advertised() -> (String, UInt16) {
        guard let listening else { return ("", 0) }
        return (listening.host, UInt16(listening.port))
    }

    private func bind(_ session: Session, to peer: NodeID) {
        if let old = peers[peer], old.id != session.id { peerOfSession[old.id] = nil }
        peers[peer] = session
        peerOfSession[session.id] = peer
    }

    public func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)? {
        loop.preconditionInEventLoop()
        // Streams only from a peer this node knows as a node number (never an unconfirmed one).
        guard let peer = peerOfSession[session.id] else { return nil }
        return held.payloadSink(for: message, from: peer)
    }

    public func session(_ session: Session, received inbound: InboundMessage) {
        loop.preconditionInEventLoop()
        if session.id == coordinatorSession?.id {
            fromCoordinator(inbound)
            return
        }
        if let peer = peerOfSession[session.id] {
            deliver(inbound, from: peer)
            return
        }
        guard var pending = unconfirmed[session.id] else { return }
        if case let .peerHello(claimed) = inbound.message, pending.claims == nil, core != nil {
            pending.claims = claimed
            unconfirmed[session.id] = pending
            let request = nextLocate
            nextLocate += 1
            locating[request] = .confirm(session: session.id, node: claimed)
            transmit(.locate(request: request, node: claimed), to: .coordinator)
            return
        }
        guard pending.held.count < 64 else {
            logger.warning("a peer that never said who it is sent too much: dropped", metadata: ["session": "\(session)"])
            unconfirmed[session.id] = nil
            session.close()
            return
        }
        pending.held.append(inbound)
        unconfirmed[session.id] = pending
    }

    public func session(_ session: Session, closed reason: SessionCloseReason) {
        loop.preconditionInEventLoop()
        unconfirmed[session.id] = nil
        if session.id == coordinatorSession?.id {
            coordinatorSession = nil
            reclaiming = false
            // Questions to the old session will never be answered: forget them, or a peer
            // whose locate was in flight would stay "being found" for good (its messages
            // queued, no new locate sent). What was queued for it is dropped, as a lost
            // message is; the core's deadlines deal with it.
            for purpose in locating.values {
                if case let .confirm(sessionID, _) = purpose, let pending = unconfirmed.removeValue(forKey: sessionID) {
                    pending.session.close()
                }
            }
            if !waiting.isEmpty {
                logger.notice("messages to peers still being located dropped with the coordinator session",
                              metadata: ["peers": "\(waiting.count)", "messages": "\(waiting.values.reduce(0) { $0 + $1.count })"])
            }
            locating.removeAll()
            waiting.removeAll()
            logger.notice("coordinator session closed; dialling again", metadata: ["reason": "\(reason)"])
            loop.scheduleTask(in: settings.redialAfter) { [weak self] in self?.dialCoordinator() }
            return
        }
        if let peer = peerOfSession.removeValue(forKey: session.id), peers[peer]?.id == session.id { peers[peer] = nil }
    }

    private func fromCoordinator(_ inbound: InboundMessage) {
        switch inbound.message {
        case let .welcome(node, membership):
            if let core {
                guard core.me == node else {
                    // A coordinator that lost its directory: show it the number it once gave.
                    if let proof = try? state.get("membership"), !reclaiming {
                        reclaiming = true
                        logger.notice("the coordinator does not know this node's number (it lost its directory?): reclaiming it",
                                      metadata: ["node": "\(core.me.raw)", "offered": "\(node == .coordinator ? "none" : "\(node.raw)")"])
                        coordinatorSession?.post(.reclaim(node: core.me, membership: proof), sent: clock.now)
                        return
                    }
                    logger.critical("the coordinator gives this owner another node number than the checkpoint holds: stopping",
                                    metadata: ["checkpoint": "\(core.me.raw)", "coordinator": "\(node.raw)"])
                    coordinatorSession?.close()
                    stopping = true
                    return
                }
            } else if node == .coordinator {
                logger.notice("the coordinator gave no node number (it is rebuilding its directory, or admits no more members for now); trying again")
                coordinatorSession?.close()
                return
            }
            keep(membership: membership, of: node)
            let reclaimed = reclaiming
            reclaiming = false
            if core == nil {
                core = NodeCore(me: node, params: settings.params, offered: settings.offer, speed: 100_000,
                                reciprocityRatio: settings.reciprocityRatio,
                                signer: signer, verifier: Ed25519Verifier(), coordinatorKey: coordinatorKey ?? [],
                                rng: Xoshiro256(seed: UInt64.random(in: 0...UInt64.max)))
                logger.info("joined the network", metadata: ["node": "\(node.raw)"])
                if (try? Self.loadAdoption(state))?.isEmpty == false {
                    // A machine restored from the network: what the owner's old node held
                    // for others went with it. The coordinator drops its holding reports
                    // and gives its owners' faults an amnesty, as for any lost disk.
                    core!.onDiskLost()
                }
                if let bytes = settings.testVolumeBytes {
                    do {
                        let volume = try TestVolume(owner: node, bytes: bytes, k: settings.params.k, n: settings.params.n)
                        try volume.place(in: &core!, now: clock.now)
                        testVolume = volume
                        logger.info("test volume opened", metadata: ["volume": "\(volume.id)", "packs": "\(volume.packs)",
                                                                   "slotBytes": "\(volume.slotBytes)"])
                    } catch {
                        logger.error("no test volume", metadata: ["error": "\(error)"])
                    }
                }
            }
            step(core!.onStart(now: clock.now))
            resumeBlindRepairs()
            startAdoption()
            repeatTakeOver()
            // The rebuilt directory learns this owner's volumes from the owner itself, and
            // where others' volumes are from this node as their holder (for owners that do
            // not come back: a restore anywhere finds their slots through these reports).
            if reclaimed {
                step(core!.announceVolumes())
                reportHeld()
            }
            if !scheduled {
                scheduled = true
                scheduleBackup(in: .seconds(1))
            }
        case let .located(request, node, key, host, port):
            guard let purpose = locating.removeValue(forKey: request) else { return }
            switch purpose {
            case let .dial(peer):
                guard peer == node, !key.isEmpty else {
                    logger.notice("no such peer; its messages are dropped", metadata: ["peer": "\(node.raw)"])
                    waiting[peer] = nil
                    adoptionHolderUnreachable(peer)
                    return
                }
                // Directly when the peer listens, else (or when its address does not
                // answer) through the coordinator's relay: `dialPeer`.
                let endpoint = Endpoint(advertisedHost: host, port: port)
                guard endpoint != nil || coordinatorSession != nil else {
                    waiting[peer] = nil
                    adoptionHolderUnreachable(peer)
                    return
                }
                dialled[key] = peer
                let sessions = self.host
                let relay = coordinatorSession
                let loop = loop
                let logger = logger
                Task { [weak self] in
                    do {
                        _ = try await sessions.dialPeer(key: key, at: endpoint, relay: relay, logger: logger)
                    } catch {
                        guard let service = self else { return }
                        loop.execute { service.peerUnreachable(peer, key: key, error) }
                    }
                }
            case let .confirm(sessionID, claimed):
                guard let pending = unconfirmed.removeValue(forKey: sessionID) else { return }
                guard node == claimed, !key.isEmpty, key == pending.session.peer.nodePublicKey else {
                    logger.warning("a peer claimed a node number whose key is not its own: dropped",
                                   metadata: ["claimed": "\(claimed.raw)"])
                    pending.session.close()
                    return
                }
                bind(pending.session, to: claimed)
                for message in pending.held { deliver(message, from: claimed) }
            }
        case .retired:
            retire()
        case let .keysRetired(keys):
            keepRetiredKeys(keys)
        case .hello, .locate, .peerHello:
            break
        default:
            deliver(inbound, from: .coordinator)
        }
    }

    /// Tells the coordinator every slot held here for others, as the held store records
    /// it (`NodeCore.reportHeld`).
    private func reportHeld() {
        let slots: [HeldSlot]
        do { slots = try held.heldSlots() } catch {
            logger.warning("the held slots cannot be listed for the coordinator", metadata: ["error": "\(error)"])
            return
        }
        var bySlot: [SlotID: HeldSlot] = [:]
        for h in slots { bySlot[h.slot] = h }
        let actions = core!.reportHeld { slot in bySlot[slot].map { ($0.k, $0.n, $0.extent) } }
        logger.info("told the coordinator what this node holds", metadata: ["slots": "\(actions.count)"])
        step(actions)
    }

    /// Keeps the coordinator's signature on this owner's number (checked first: a
    /// coordinator could only hand a node a proof it cannot use, but a damaged one would
    /// cost the reclaim).
    private func keep(membership: [UInt8], of node: NodeID) {
        guard let key = coordinatorKey, Membership.verify(membership, node: node, owner: owner.signing.publicKey, coordinatorKey: key)
        else {
            if !membership.isEmpty { logger.warning("the coordinator's membership signature does not verify: not kept") }
            return
        }
        guard (try? state.get("membership")) != membership else { return }
        do { try state.put([("membership", membership)]) } catch {
            logger.error("cannot keep the coordinator's membership signature", metadata: ["error": "\(error)"])
        }
    }

    /// Another machine took this owner's node over (a restore there adopted the volumes):
    /// this node stops acting — no timers, no peers, no redial — and leaves its state as it
    /// is, so it can neither undo what the new node does nor place volumes under numbers
    /// the new node uses.
    private func retire() {
        logger.critical("another machine has taken this identity's node over (a restore there adopted its volumes): this node stops acting; stop it (to carry the node on this machine again, restore into a new data directory here and run the node there)")
        retired = true
        stopping = true
        timers?.cancelAll()
        coordinatorSession?.close()
        for session in peers.values { session.close() }
        for pending in unconfirmed.values { pending.session.close() }
    }

    private func peerUnreachable(_ peer: NodeID, key: [UInt8], _ error: any Error) {
        dialled[key] = nil
        let dropped = waiting.removeValue(forKey: peer) ?? []
        logger.notice("peer unreachable", metadata: ["peer": "\(peer.raw)", "error": "\(error)", "dropped": "\(dropped.count)"])
        for message in dropped { logger.debug("message to an unreachable peer dropped", metadata: ["peer": "\(peer.raw)", "message": "\(message)"]) }
        adoptionHolderUnreachable(peer)
    }

    private func deliver(_ inbound: InboundMessage, from: NodeID) {
        guard core != nil, !retired else { return }
        switch inbound.message {
        case .hello, .welcome, .locate, .located, .peerHello:
            return
        case let .contractQuery(request, slot):
            answerContractQuery(request: request, slot: slot, from: from)
        case let .contractHeld(request, slot, report, holderSignature):
            onContractHeld(request: request, slot: slot, report: report, holderSignature: holderSignature, from: from)
        case let .adopt(terms, ownerSignature, holderSignature) where from == .coordinator:
            // For a volume still to adopt it waits for the adoption; else the core takes it.
            guard !keepAdoptionOffer(terms, ownerSignature: ownerSignature, holderSignature: holderSignature) else { return }
            step(core!.onMessage(from: from, inbound.message, sent: inbound.sent, now: clock.now))
        default:
            if Self.tracesPlacement(inbound.message) {
                logger.debug("received", metadata: ["from": "\(from.raw)", "message": "\(inbound.message)"])
            }
            step(core!.onMessage(from: from, inbound.message, sent: inbound.sent, now: clock.now))
            // Taken (a blind repair moved what it keeps out of the spools).
            if case let .fetchReply(request, _, true, bytes) = inbound.message, bytes > 0 {
                held.discardFetched(request: request, from: from)
            }
        }
    }

    // MARK: The core

    /// The few messages of placement and repair worth a debug line each (`--verbose`):
    /// an operator reading why a repair waits needs the matches, proposals and their answers.
    private static func tracesPlacement(_ message: Message) -> Bool {
        switch message {
        case .matchRequest, .matchReply, .propose, .accept, .reject, .storeSlot, .storeAck: true
        default: false
        }
    }

    private func fire(_ kind: TimerKind) {
        guard core != nil, !retired else { return }
        step(core!.onTimer(kind, now: clock.now))
    }

    private struct Shell: NodeShell {
        let service: NodeService
        func send(_ message: Message, to: NodeID) { service.outbox.append((to, message)) }
        func setTimer(_ kind: TimerKind, at: Instant) { service.timers.set(kind, at: at) }
        func observe(_ note: Note) { service.observe(note) }
        func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool { service.held.store(slot, from: from, to: to) }
        func delete(_ slot: SlotID) { service.held.delete(slot) }
        func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
            service.held.prove(slot, pack: pack, packs: packs, selector: selector)
        }
        func serve(_ slot: SlotID) -> FetchAnswer { service.held.serve(slot) }
        func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
            let verified = service.held.verify(slot, request: request, from: from, expect: expect)
            if verified { service.keepIfBlindRepairFetch(request, of: slot, from: from) }
            return verified
        }
    }

    private func observe(_ note: Note) {
        switch note {
        case let .placed(volume, packs):
            logger.info("volume placed", metadata: ["volume": "\(volume)", "packs": "\(packs)"])
        case .fault, .volumeLost, .repairStarted, .repairCompleted, .slotRefused, .clockSkew, .contractBroken, .contractLapsed, .contractRenewed:
            logger.notice("\(note)")
        default:
            logger.debug("note", metadata: ["note": "\(note)"])
        }
    }

    func step(_ actions: [NodeAction]) {
        Interpreter.perform(actions, through: Shell(service: self)) { input in core!.on(input, now: clock.now) }
        do {
            try state.put([("checkpoint", try CheckpointCodec.encode(core!)), ("node", Array(String(core!.me.raw).utf8))])
        } catch {
            logger.error("cannot checkpoint: messages held back", metadata: ["error": "\(error)"])
            outbox.removeAll()
            return
        }
        let messages = outbox
        outbox.removeAll()
        for (to, message) in messages { transmit(message, to: to) }
        if !keptRepairSlots.isEmpty { dropEndedRepairStreams() }
    }

    /// Sends now if a session is there, else queues it and finds the peer.
    func transmit(_ message: Message, to: NodeID) {
        if Self.tracesPlacement(message) { logger.debug("sent", metadata: ["to": "\(to.raw)", "message": "\(message)"]) }
        if to == .coordinator {
            coordinatorSession?.post(message, sent: clock.now, preferDatagram: CoordinatorService.datagramWorthy(message))
            return
        }
        guard let session = peers[to] else {
            if waiting[to] == nil {
                let request = nextLocate
                nextLocate += 1
                locating[request] = .dial(to)
                coordinatorSession?.post(.locate(request: request, node: to), sent: clock.now)
            }
            if waiting[to, default: []].count < 256 { waiting[to, default: []].append(message) }
            return
        }
        switch message {
        case let .fetchReply(_, slot, true, _):
            do {
                let source = try held.payloadSource(for: slot, bytes: message.payloadBytes)
                let now = clock.now
                Task { [logger] in
                    do { try await session.send(message, sent: now, payload: source) } catch {
                        logger.notice("a fetch reply could not be sent", metadata: ["error": "\(error)"])
                    }
                }
            } catch {
                logger.error("a held slot could not be opened to send it", metadata: ["slot": "\(slot)", "error": "\(error)"])
            }
        case let .storeSlot(_, slot, from, extent, bytes) where bytes > 0:
            // The owner's upload (or a repair's): packs read from the staging targets as
            // the transport takes them (or from the test volume); a blind repair's, rebuilt
            // from the slots it kept. (A store of no bytes, a blind repair asking whether a
            // target has its slot, is a plain message.)
            let source: (any PayloadSource)?
            if let volume = testVolume, volume.id == slot.volume,
               let packs = volume.stream(slot: Int(slot.index), from: from, to: extent.packs), packs.length == message.payloadBytes {
                source = packs
            } else if slot.volume.owner == core?.me, let volume = placedVolumes.first(where: { $0.number == slot.volume.number }),
                      let staged = StagedSlotSource(volume: volume, staging: staging, index: Int(slot.index), from: from, to: extent.packs,
                                                     roots: placedRoots?.number == volume.number ? placedRoots : nil),
                      staged.length == message.payloadBytes {
                source = staged
            } else {
                source = rebuiltSlotSource(slot: slot, from: from, extent: extent, bytes: bytes)
            }
            guard let source else {
                logger.error("an upload was asked for packs this node does not have at hand: not sent", metadata: ["slot": "\(slot)"])
                return
            }
            let now = clock.now
            Task { [logger] in
                do { try await session.send(message, sent: now, payload: source) } catch {
                    logger.notice("an upload could not be sent", metadata: ["slot": "\(slot)", "error": "\(error)"])
                }
            }
        default:
            session.post(message, sent: clock.now, preferDatagram: CoordinatorService.datagramWorthy(message))
        }
    }
}
