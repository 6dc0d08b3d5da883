/// Coordinator protocol parameters.
public struct CoordinatorParams: Sendable {
    public var uptimeSlot: Interval
    public var uptimeSlots: Int
    public var uptimeThresholdPermille: UInt16
    public var warnStrikes: Int
    public var excludeStrikes: Int
    /// After a node announces a lost disk, `missing` reports about contracts older than
    /// the announcement are expected and not counted; a node gets this at most once per
    /// `amnestyEvery`, so announcing losses cannot hide cheating for long.
    public var amnestyEvery: Interval

    public init(uptimeSlot: Interval = .hours(1), uptimeSlots: Int = 168, uptimeThresholdPermille: UInt16 = 850,
                warnStrikes: Int = 2, excludeStrikes: Int = 4, amnestyEvery: Interval = .days(30)) {
        self.amnestyEvery = amnestyEvery
        self.uptimeSlot = uptimeSlot
        self.uptimeSlots = uptimeSlots
        self.uptimeThresholdPermille = uptimeThresholdPermille
        self.warnStrikes = warnStrikes
        self.excludeStrikes = excludeStrikes
    }
}

/// The coordinator's state machine: directory, uptime from heartbeats, reputation,
/// matchmaking, root records. Pure; the coordinator actor carries out its actions.
public struct CoordinatorCore: Sendable {
    public let params: CoordinatorParams
    public private(set) var entries: [DirectoryEntry] = []
    /// Joined members in join order (the sampling frame for placement).
    public private(set) var members: [NodeID] = []
    /// Pack → holders, from owners' root records (for restores and blind repair).
    public private(set) var rootRecords: [PackID: [NodeID]] = [:]
    private var rng: Xoshiro256

    public init(params: CoordinatorParams, rng: Xoshiro256) {
        self.params = params
        self.rng = rng
    }

    public func entry(_ node: NodeID) -> DirectoryEntry? {
        node.index < entries.count ? entries[node.index] : nil
    }

    public mutating func onStart(now: Instant) -> [Action] {
        [.setTimer(.uptimeSlot, at: now + params.uptimeSlot)]
    }

    private mutating func ensure(_ node: NodeID) {
        precondition(node != .coordinator, "coordinator addressed as a member")
        while entries.count <= node.index { entries.append(DirectoryEntry(slots: params.uptimeSlots)) }
    }

    public mutating func onMessage(from: NodeID, _ message: Message, now: Instant) -> [Action] {
        var actions = [Action]()
        guard from != .coordinator else { return actions }
        ensure(from)
        entries[from.index].lastSeen = now
        entries[from.index].seenThisSlot = true
        switch message {
        case let .join(offered, speed, publicKey, fresh):
            if fresh, entries[from.index].joined,
               entries[from.index].amnestyFrom.map({ now - $0 >= params.amnestyEvery }) ?? true
            {
                entries[from.index].amnestyFrom = now
            }
            if !entries[from.index].joined {
                entries[from.index].joined = true
                members.append(from)
            }
            entries[from.index].offered = offered
            entries[from.index].speed = speed
            entries[from.index].publicKey = publicKey
        case let .heartbeat(used):
            entries[from.index].used = used
        case let .matchRequest(request, pack, shardBytes, count, speed, exclude):
            let chosen: [NodeID]
            if entries[from.index].reputation.standing == .excluded {
                chosen = []
            } else {
                chosen = Placement.choose(
                    .init(owner: from, count: Int(count), shardBytes: shardBytes, speed: speed, exclude: exclude),
                    members: members, entries: entries, now: now, thresholdPermille: params.uptimeThresholdPermille,
                    recentWithin: params.uptimeSlot * 2, rng: &rng)
            }
            var candidates = [Candidate]()
            for node in chosen {
                entries[node.index].used += shardBytes
                candidates.append(Candidate(node: node, publicKey: entries[node.index].publicKey))
            }
            actions.append(.send(to: from, .matchReply(request: request, pack: pack, candidates: candidates)))
        case let .uptimeQuery(request, nodes):
            var out = [UptimeEntry]()
            out.reserveCapacity(nodes.count)
            for node in nodes where node != .coordinator {
                ensure(node)
                let e = entries[node.index]
                out.append(UptimeEntry(node: node, permille: e.uptime.permille, excluded: e.reputation.standing == .excluded))
            }
            actions.append(.send(to: from, .uptimeReply(request: request, entries: out)))
        case let .report(holder, fault, since):
            guard holder != .coordinator, holder != from else { break }
            ensure(holder)
            // Shards of contracts older than an announced disk loss are gone honestly.
            if fault == .missing || fault == .earlyFree, let lost = entries[holder.index].amnestyFrom, since <= lost {
                break
            }
            actions.append(.note(.fault(holder: holder, fault)))
            if let standing = entries[holder.index].reputation.onFault(
                fault, now: now, warnAt: params.warnStrikes, excludeAt: params.excludeStrikes)
            {
                actions.append(.note(.standing(holder, standing)))
                actions.append(.send(to: holder, .warning(level: standing.rawValue)))
            }
        case let .rootRecord(pack, holders):
            rootRecords[pack] = holders
        default:
            break
        }
        return actions
    }

    /// Closes one uptime slot for every member: answered if the node was heard from.
    public mutating func onTimer(_ timer: TimerKind, now: Instant) -> [Action] {
        var actions = [Action]()
        if timer == .uptimeSlot {
            for node in members {
                entries[node.index].uptime.record(answered: entries[node.index].seenThisSlot)
                entries[node.index].seenThisSlot = false
            }
            actions.append(.setTimer(.uptimeSlot, at: now + params.uptimeSlot))
        }
        return actions
    }
}
