import CairnCore
import CairnCrypto
import CairnNet
import CairnStore
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
internal import Glibc
#endif

/// `cairn coordinator run`: the directory, matchmaking and volume records of the network
/// (`CoordinatorCore`) on real sessions. Every node dials it; it never dials. It gives each
/// owner its node number (the same every time, keyed by the owner's identity), tells
/// nodes how to reach each other (`locate`), and checkpoints its core and member table in
/// one LMDB transaction before anything it decided leaves.
///
/// All state lives on one event loop, the one every session and timer uses.
public final class CoordinatorService: SessionDelegate, @unchecked Sendable {
    public struct Settings: Sendable {
        public var listen: Endpoint
        public var dataDirectory: String
        /// The nodes' defaults (`NodeParams.homeNetwork`, docs/research/shard-count.md):
        /// blind repairs start as far below a volume's n as a 4-of-8 owner's own repairs,
        /// and placement offers holders with at least its 70% uptime over 256 hourly slots
        /// (the longest window the protocol keeps: as safe as a week in both churn models,
        /// for a quarter to a third less repair traffic).
        public var params = CoordinatorParams(n: NodeParams.homeNetwork.n, repairTrigger: NodeParams.homeNetwork.repairTrigger,
                                              uptimeSlots: ProtocolLimits.uptimeSlotsMax,
                                              uptimeThresholdPermille: NodeParams.homeNetwork.uptimeThresholdPermille)
        /// The coordinator relays (nodes without `--listen` are reached through it).
        public var transport: TransportConfiguration = {
            var t = TransportConfiguration()
            t.relay = RelayLimits()
            return t
        }()
        /// The coordinator's key, kept apart from its data directory (nil: `DATA-DIR/node.key`).
        /// Nodes pin it; with it kept safe, a coordinator that lost its data directory
        /// rebuilds the directory from what the nodes tell it.
        public var keyFile: String?
        /// After starting with an empty data directory but a key it had before (a lost
        /// directory), new owners wait this long, so the old members take their numbers back
        /// first and no newcomer is given one of them.
        public var rebuildWindow: Interval = .hours(1)
        /// The operator's command run (`/bin/sh -c`) when an offline node that registered a
        /// contact holds shards an owner needs (`OperatorNotifier`); nil: nobody is told.
        public var notifyCommand: String?
        /// At most one notification per node this often.
        public var notifyEvery: Interval = .hours(1)
        /// Admission limits: identities cost nothing to make, and each new one costs the
        /// coordinator a directory entry and a member row for good. At most `maxMembers`
        /// members, and at most `admissionsPerHour` new ones from one IP address an hour.
        public var maxMembers = 100_000
        public var admissionsPerHour = 20
        public init(listen: Endpoint, dataDirectory: String) {
            self.listen = listen
            self.dataDirectory = dataDirectory
        }

        var keyPath: String { keyFile ?? dataDirectory + "/node.key" }
    }

    private let settings: Settings
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let host: SessionHost
    private let state: ServiceState
    private let logger: Logger
    private let clock = SystemClock()
    private let key: SigningKey
    // Everything below is touched only on `loop`.
    private var core: CoordinatorCore
    private var members: MemberTable
    private var timers: EventLoopTimers!
    private var sessions: [NodeID: Session] = [:]
    private var nodeOfSession: [UInt64: NodeID] = [:]
    private var outbox: [(NodeID, Message)] = []
    /// Sessions of owners not given a number yet (while rebuilding): they may reclaim one.
    private var unadmitted: [UInt64: Session] = [:]
    /// Until when new owners wait (a lost directory being rebuilt); nil: admitted at once.
    private var rebuildingUntil: Instant?
    private let notifier: OperatorNotifier?
    /// New members admitted per source address in the current hour (reset hourly).
    private var admissions: [String: Int] = [:]
    private var admissionsHour: Int64 = 0

    /// Where it listens (known after `start`).
    public private(set) var endpoint: Endpoint?

    public init(settings: Settings, logger: Logger) throws(NodeError) {
        self.settings = settings
        self.logger = logger
        mkdir(settings.dataDirectory, 0o700)
        let (key, keyIsNew) = try NodeKeyFile.loadOrCreate(path: settings.keyPath)
        self.key = key
        state = try ServiceState(path: settings.dataDirectory + "/state")
        members = try MemberTable.decode(try state.get("members"))
        if !keyIsNew, try state.get("checkpoint") == nil {
            rebuildingUntil = clock.now + settings.rebuildWindow
            logger.notice("this coordinator's key is older than its data directory: rebuilding the directory from the nodes",
                          metadata: ["new members from": "\(settings.rebuildWindow) after start"])
        }
        let signer: Ed25519Signer
        do { signer = try Ed25519Signer(seed: key.seedBytes) } catch {
            throw NodeError(.dataDirectory, "the coordinator key is unusable", cause: error)
        }
        if let bytes = try state.get("checkpoint") {
            do {
                core = try CheckpointCodec.decode(CoordinatorCore.self, from: bytes,
                                                  keys: CheckpointKeys(signer: signer, verifier: Ed25519Verifier()))
                core.setBlindRepairAfter(settings.params.blindRepairAfter)
            } catch {
                throw NodeError(.dataDirectory, "the coordinator's checkpoint in \(settings.dataDirectory) cannot be read", cause: error)
            }
        } else {
            core = CoordinatorCore(params: settings.params, signer: signer, verifier: Ed25519Verifier(),
                                   rng: Xoshiro256(seed: UInt64.random(in: 0...UInt64.max)))
        }
        notifier = settings.notifyCommand.map { OperatorNotifier(command: $0, every: settings.notifyEvery, logger: logger) }
        let sessions = try ServiceSessions(owner: key, nodeKey: key, transport: settings.transport, logger: logger)
        group = sessions.group
        loop = sessions.loop
        host = sessions.host
        sessions.relay.target = self
    }

    /// The coordinator's key, which nodes pin and check repair mandates against.
    public var publicKey: [UInt8] { key.publicKey }

    /// Listens and starts the core's timers.
    public func start() async throws(NetError) {
        endpoint = try await host.listen(on: settings.listen)
        let started: EventLoopFuture<Void> = loop.submit { [self] in
            timers = EventLoopTimers(loop: loop, clock: clock) { [weak self] kind in self?.fire(kind) }
            step(core.onStart(now: clock.now))
        }
        try? await started.get()
        logger.info("coordinator listening", metadata: ["on": "\(endpoint!)", "members": "\(members.members.count)"])
    }

    public func stop() async {
        try? await loop.submit { [self] in timers?.cancelAll() }.get()
        await host.shutdown()
        try? await group.shutdownGracefully()
    }

    // MARK: Sessions

    public func sessionOpened(_ session: Session) {
        loop.preconditionInEventLoop()
        let owner = Hex.encode(session.peer.ownerPublicKey)
        if let known = members.member(owner: owner) {
            guard !known.isRetired(Hex.encode(session.peer.nodePublicKey)) else {
                refuseRetired(session, node: NodeID(known.node))
                return
            }
            seat(known, on: session)
        } else if let node = core.reportedOwner(key: session.peer.ownerPublicKey), members.member(node: node) == nil {
            // An owner this directory lost and whose node has not come back (a restore on a
            // new machine, from the phrase): its holders' contracts, signed with this very
            // key, name its number.
            core.admit(exactly: node)
            logger.info("an owner known from its holders' reports took its number back",
                        metadata: ["node": "\(node.raw)", "owner": "\(owner.prefix(16))"])
            seat(Member(node: node.raw, owner: owner, nodeKey: ""), on: session)
        } else if let until = rebuildingUntil, clock.now < until {
            // An old member reclaims its number (`reclaim`); a new one is told to come back.
            withoutNumber(session)
        } else if admitsNewMember(from: session, owner: owner) {
            let node = core.admit()
            logger.info("new member", metadata: ["node": "\(node.raw)", "owner": "\(owner.prefix(16))"])
            seat(Member(node: node.raw, owner: owner, nodeKey: ""), on: session)
        } else {
            withoutNumber(session)
        }
    }

    /// Whether a new identity may have a number: within the directory's bounds and the
    /// address's admissions this hour (counted when it may).
    private func admitsNewMember(from session: Session, owner: String) -> Bool {
        guard core.entries.count < Int(NodeID.coordinator.raw) - 1, members.members.count < settings.maxMembers else {
            logger.warning("directory full: no number given", metadata: ["owner": "\(owner.prefix(16))", "members": "\(members.members.count)"])
            return false
        }
        let source = session.remoteAddress.ipAddress ?? "?"
        let hour = clock.now.milliseconds / 3_600_000
        if hour != admissionsHour {
            admissionsHour = hour
            admissions.removeAll()
        }
        guard admissions[source, default: 0] < settings.admissionsPerHour else {
            logger.warning("too many new identities from one address this hour: no number given",
                           metadata: ["from": "\(source)", "owner": "\(owner.prefix(16))"])
            return false
        }
        admissions[source, default: 0] += 1
        return true
    }

    /// `member` is reached on `session` from now on (its newest node key; an older session
    /// of the same number is closed), and is told its number with this coordinator's
    /// signature on it.
    private func seat(_ member: Member, on session: Session) {
        let member = member.seated(with: Hex.encode(session.peer.nodePublicKey))
        let node = NodeID(member.node)
        members.upsert(member)
        logger.info("member connected", metadata: ["node": "\(node.raw)", "from": "\(session.remoteAddress)"])
        if let old = sessions[node], old.id != session.id {
            nodeOfSession[old.id] = nil
            old.close()
        }
        sessions[node] = session
        nodeOfSession[session.id] = node
        outbox.append((node, .welcome(node: node, membership: Membership.sign(node: node, owner: session.peer.ownerPublicKey, with: key))))
        commit()
    }

    public func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)? {
        logger.warning("a node sent the coordinator a stream: dropped", metadata: ["session": "\(session)"])
        return nil
    }

    public func session(_ session: Session, received inbound: InboundMessage) {
        loop.preconditionInEventLoop()
        if case let .reclaim(claimed, membership) = inbound.message {
            reclaim(claimed, membership: membership, on: session)
            return
        }
        guard let node = nodeOfSession[session.id] else { return }
        switch inbound.message {
        case let .hello(host, port, contact):
            guard var member = members.member(node: node) else { return }
            member.contact = contact.isEmpty ? nil : contact
            if host.isEmpty {
                member.host = ""
            } else if host == "0.0.0.0" || host == "::" {
                member.host = session.remoteAddress.ipAddress ?? ""
            } else {
                member.host = host
            }
            member.port = port
            members.upsert(member)
            commit()
        case let .locate(request, wanted):
            let m = wanted == node ? nil : members.member(node: wanted)
            let key = m.flatMap { Hex.decode($0.nodeKey) } ?? []
            outbox.append((node, .located(request: request, node: wanted, nodeKey: key, host: m?.host ?? "", port: m?.port ?? 0)))
            flush()
        case let .takeOver(named):
            guard let member = members.member(node: node), sessions[node]?.id == session.id else { return }
            let took = member.tookOver(named: named.map { Hex.encode($0) })
            members.upsert(took)
            if took.retiredKeys != member.retiredKeys {
                logger.notice("a member's node moved to another machine: its former node keys are refused from now on",
                              metadata: ["node": "\(node.raw)", "refused": "\(took.retiredKeys?.count ?? 0)"])
            }
            // The node keeps the list and names it in its next takeOver.
            outbox.append((node, .keysRetired(Member.retiredKeyList(took.retiredKeys ?? []))))
            commit()
        case .welcome, .located, .peerHello, .reclaim, .retired, .keysRetired:
            logger.notice("a node sent a coordinator's message: ignored", metadata: ["node": "\(node.raw)"])
        default:
            noticeWaiting(on: inbound.message, from: node)
            step(core.onMessage(from: node, inbound.message, sent: inbound.sent, now: clock.now))
        }
    }

    /// An owner is waiting for holders that are offline: a restore asking where its
    /// volumes are (its first page), or a repair reporting fetches nobody answered. Their
    /// operators are told, if they registered a contact and the coordinator has a command.
    private func noticeWaiting(on message: Message, from node: NodeID) {
        guard let notifier else { return }
        let now = clock.now
        let waitingOn: [NodeID]
        let why: String
        switch message {
        case let .recordQuery(_, owner, 0) where owner == node:
            waitingOn = core.offlineHolders(of: owner, now: now)
            why = "restore"
        case let .report(holder, .refusedFetch, _) where !core.recentlySeen(holder, now: now):
            waitingOn = [holder]
            why = "repair"
        default:
            return
        }
        for holder in waitingOn {
            guard let contact = members.member(node: holder)?.contact else { continue }
            notifier.notify(.init(node: holder, contact: contact, ownerWaiting: node, why: why), now: now)
        }
    }

    /// A welcome with no number: a member this coordinator once numbered may still `reclaim`
    /// its number on this session (not limited: it costs no new entry); a new owner closes
    /// and tries again later.
    /// A node key of a machine another one took over (`takeOver`): told so, and closed
    /// once the message had time to leave. It is never seated, so it can locate nobody and
    /// no peer confirms a session it opens.
    private func refuseRetired(_ session: Session, node: NodeID) {
        logger.warning("a node key this member's node replaced came back: refused",
                       metadata: ["node": "\(node.raw)", "from": "\(session.remoteAddress)"])
        session.post(.retired, sent: clock.now)
        loop.scheduleTask(in: .seconds(2)) { session.close() }
    }

    private func withoutNumber(_ session: Session) {
        unadmitted[session.id] = session
        session.post(.welcome(node: .coordinator, membership: []), sent: clock.now)
        // Long enough for a reclaim to arrive; a session that sends none is not kept.
        loop.scheduleTask(in: .seconds(30)) { [weak self] in
            guard let self, self.unadmitted.removeValue(forKey: session.id) != nil else { return }
            session.close()
        }
    }

    /// An owner shows the number this coordinator once gave it (its own signature on number
    /// and owner key): after a lost directory the number is its again, unless another owner
    /// holds it already. The number the session was given meanwhile, if any, is let go.
    private func reclaim(_ claimed: NodeID, membership: [UInt8], on session: Session) {
        let owner = session.peer.ownerPublicKey
        let ownerHex = Hex.encode(owner)
        guard claimed != .coordinator, Int(claimed.raw) < Int(NodeID.coordinator.raw) - 1,
              Membership.verify(membership, node: claimed, owner: owner, coordinatorKey: key.publicKey)
        else {
            logger.warning("a node reclaimed a number without this coordinator's signature on it: dropped",
                           metadata: ["claimed": "\(claimed.raw)", "owner": "\(ownerHex.prefix(16))"])
            session.close()
            return
        }
        if let holder = members.member(node: claimed), holder.owner != ownerHex {
            logger.error("a node reclaims a number another owner holds now: refused",
                         metadata: ["node": "\(claimed.raw)", "owner": "\(ownerHex.prefix(16))", "holder": "\(holder.owner.prefix(16))"])
            session.close()
            return
        }
        if let member = members.member(node: claimed), member.isRetired(Hex.encode(session.peer.nodePublicKey)) {
            refuseRetired(session, node: claimed)
            return
        }
        unadmitted[session.id] = nil
        if let given = nodeOfSession.removeValue(forKey: session.id), given != claimed {
            sessions[given] = nil
            members.remove(node: given)
        }
        core.admit(exactly: claimed)
        logger.info("member took its number back", metadata: ["node": "\(claimed.raw)", "owner": "\(ownerHex.prefix(16))"])
        seat(members.member(node: claimed) ?? Member(node: claimed.raw, owner: ownerHex, nodeKey: ""), on: session)
    }

    public func session(_ session: Session, closed reason: SessionCloseReason) {
        loop.preconditionInEventLoop()
        unadmitted[session.id] = nil
        if let node = nodeOfSession.removeValue(forKey: session.id), sessions[node]?.id == session.id {
            sessions[node] = nil
        }
    }

    // MARK: The core

    private func fire(_ kind: TimerKind) {
        step(core.onTimer(kind, now: clock.now))
    }

    private struct Shell: MessageShell {
        let service: CoordinatorService
        func send(_ message: Message, to: NodeID) { service.outbox.append((to, message)) }
        func setTimer(_ kind: TimerKind, at: Instant) { service.timers.set(kind, at: at) }
        func observe(_ note: Note) {
            switch note {
            case let .blindRepairOrdered(volume):
                service.logger.info("blind repair ordered: the owner is away and its volume is below its repair trigger",
                                    metadata: ["volume": "\(volume)"])
            case let .blindRepaired(slot):
                service.logger.info("blind repair placed a slot", metadata: ["slot": "\(slot)"])
            default:
                service.logger.debug("note", metadata: ["note": "\(note)"])
            }
        }
    }

    private func step(_ actions: [CoordinatorAction]) {
        Interpreter.perform(actions, through: Shell(service: self))
        commit()
    }

    /// Checkpoints the core and the member table, then lets the messages go.
    private func commit() {
        do {
            try state.put([("checkpoint", try CheckpointCodec.encode(core)), ("members", members.encoded())])
        } catch {
            // Nothing leaves that the checkpoint does not cover.
            logger.error("cannot checkpoint: messages held back", metadata: ["error": "\(error)"])
            outbox.removeAll()
            return
        }
        flush()
    }

    private func flush() {
        let now = clock.now
        for (node, message) in outbox {
            guard let session = sessions[node] else { continue }
            session.post(message, sent: now, preferDatagram: Self.datagramWorthy(message))
        }
        outbox.removeAll()
    }

    /// Small messages that are resent anyway may go as datagrams.
    static func datagramWorthy(_ message: Message) -> Bool {
        switch message {
        case .heartbeat, .uptimeQuery, .uptimeReply, .challenge, .challengeMissing: true
        default: false
        }
    }
}

extension CoordinatorService {
    /// The members of the coordinator whose data directory is `dataDirectory`, read from
    /// its last checkpoint (a running coordinator's too: LMDB readers never block it).
    public static func members(dataDirectory: String, keyFile: String? = nil) throws(NodeError) -> [MemberSummary] {
        let state = try ServiceState(path: dataDirectory + "/state", access: .readOnly)
        let table = try MemberTable.decode(try state.get("members"))
        var entries: [DirectoryEntry] = []
        if let bytes = try state.get("checkpoint") {
            let key = try NodeKeyFile.loadOrCreate(path: keyFile ?? dataDirectory + "/node.key").key
            do {
                let signer = try Ed25519Signer(seed: key.seedBytes)
                entries = try CheckpointCodec.decode(CoordinatorCore.self, from: bytes,
                                                     keys: CheckpointKeys(signer: signer, verifier: Ed25519Verifier())).entries
            } catch {
                throw NodeError(.dataDirectory, "the coordinator's checkpoint in \(dataDirectory) cannot be read", cause: error)
            }
        }
        return table.members.map { m in
            let entry = Int(m.node) < entries.count ? entries[Int(m.node)] : nil
            return MemberSummary(node: m.node, owner: m.owner, nodeKey: m.nodeKey,
                                 address: m.host.isEmpty ? "relay" : Endpoint(host: m.host, port: Int(m.port)).description,
                                 joined: entry?.joined ?? false, offered: entry?.offered ?? 0,
                                 lastSeen: entry?.lastSeen?.milliseconds)
        }
    }
}
