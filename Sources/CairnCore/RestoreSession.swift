import CairnWire
/// A restore as a person runs it after losing their disk: with nothing but the owner's
/// identity, ask the coordinator where the owner's volumes are, then fetch any k shards of
/// every volume from their holders — retrying other holders when one does not answer or
/// says it has nothing, and trying again later while holders are offline — until every
/// volume has k shards or the person's patience (`deadline`) runs out.
///
/// Pure, like the node core: time comes in, actions go out (`send`, `setTimer(.restore)`).
/// The simulator runs sampled restores through it, so restore success is measured by
/// fetches that cross the simulated network to real holder state, not by an oracle.
/// A fetched shard is checked against its root by the transport that receives the stream
/// (as `Check` does for local targets); an unverifiable stream arrives as `ok == false`.
public struct RestoreSession: Sendable {
    public enum Outcome: Hashable, Sendable {
        case running
        /// Every volume has k shards; `at` is when the last one arrived.
        case restored(at: Instant)
        /// The deadline passed (or the coordinator knows no volumes): `missing` volumes short of k.
        case failed(missing: Int)
    }

    /// How patient a restore is. Each volume's k comes with its location (its layout).
    public struct Params: Sendable {
        /// A fetch unanswered this long (plus its transfer time) is given up.
        public var fetchTimeout: Interval
        /// When every holder of a volume has been tried, try them again after this long.
        public var retryAfter: Interval
        /// Upload speed assumed for transfer time, bytes per millisecond (a slow holder
        /// is not given up while its shard is still streaming).
        public var bytesPerMillisecond: Double
        /// Messages stamped further than this from the restoring device's clock are refused.
        public var maxClockSkew: Interval
        public init(fetchTimeout: Interval = .minutes(10), retryAfter: Interval = .hours(1),
                    bytesPerMillisecond: Double = 125, maxClockSkew: Interval = .minutes(5)) {
            self.maxClockSkew = maxClockSkew
            precondition(fetchTimeout > .zero && retryAfter > .zero && bytesPerMillisecond > 0,
                         "restore params fetch timeout \(fetchTimeout), retry after \(retryAfter)")
            self.fetchTimeout = fetchTimeout
            self.retryAfter = retryAfter
            self.bytesPerMillisecond = bytesPerMillisecond
        }
    }

    struct VolumeState: Sendable {
        var location: VolumeLocation
        /// Slots whose shard arrived.
        var have: UInt64 = 0
        /// Slots asked in this round (answered or not).
        var tried: UInt64 = 0
        var inFlight = 0
    }

    struct Fetch: Sendable {
        var volume: Int
        var slot: Int
        var deadline: Instant
    }

    public let owner: NodeID
    public let params: Params
    public let started: Instant
    public let deadline: Instant
    public private(set) var outcome = Outcome.running
    /// Shard bytes received.
    public private(set) var bytesFetched: UInt64 = 0
    private var volumes: [VolumeState] = []
    private var total: UInt32? = nil
    /// Locations received so far (the next page starts here).
    private var received: UInt32 = 0
    private var queryRequest: UInt64 = 0
    private var queryDeadline = Instant.zero
    private var fetches: [UInt64: Fetch] = [:]
    private var nextRequest: UInt64 = 1
    private var retryAt: Instant? = nil
    private var timerAt: Instant? = nil

    public init(owner: NodeID, params: Params, now: Instant, patience: Interval) {
        precondition(patience > .zero, "restore patience \(patience)")
        self.owner = owner
        self.params = params
        started = now
        deadline = now + patience
    }

    /// Asks the coordinator for the first page of the owner's volume locations.
    public mutating func start(now: Instant) -> [RestoreAction] {
        var actions = [RestoreAction]()
        query(start: 0, now: now, into: &actions)
        settle(now: now, into: &actions)
        return actions
    }

    /// A message `from` the coordinator or a holder, stamped `sent` by its clock.
    public mutating func onMessage(from: NodeID, _ message: Message, sent: Instant, now: Instant) -> [RestoreAction] {
        var actions = [RestoreAction]()
        guard outcome == .running else { return actions }
        guard sent.within(params.maxClockSkew, of: now) else {
            actions.append(.note(.clockSkew(from: from, by: sent - now)))
            return actions
        }
        switch message {
        case let .recordReply(request, start, total, locations) where from == .coordinator && request == queryRequest:
            guard start == received, self.total.map({ $0 == total }) ?? true else { break }
            self.total = total
            received += UInt32(locations.count)
            for location in locations {
                volumes.append(VolumeState(location: location))
                fetchMore(volume: volumes.count - 1, now: now, into: &actions)
            }
            if received < total && !locations.isEmpty {
                query(start: received, now: now, into: &actions)
            } else {
                queryRequest = 0
            }
        case let .fetchReply(request, shard, ok, bytes):
            guard let f = fetches[request], volumes[f.volume].location.volume == shard.volume, Int(shard.index) == f.slot,
                  volumes[f.volume].location.holders[f.slot] == from
            else { break }
            if ok {
                // Counted once the stream checks against the slot's root in the location.
                let l = volumes[f.volume].location
                actions.append(.verifySlot(request: request, slot: shard, from: from,
                                           expect: SlotExtent(packs: l.layout.packs, bytes: l.slotBytes, root: l.roots[f.slot]),
                                           bytes: bytes))
                return actions
            }
            fetches[request] = nil
            volumes[f.volume].inFlight -= 1
            fetchMore(volume: f.volume, now: now, into: &actions)
        default:
            break
        }
        settle(now: now, into: &actions)
        return actions
    }

    /// The slot behind fetch reply `request` was checked against its root (`verified`):
    /// only a verified slot counts; otherwise the next holder is asked.
    public mutating func onSlotVerified(request: UInt64, slot: SlotID, from: NodeID, bytes: UInt64, verified: Bool,
                                        now: Instant) -> [RestoreAction]
    {
        var actions = [RestoreAction]()
        guard outcome == .running, let f = fetches[request], volumes[f.volume].location.volume == slot.volume,
              Int(slot.index) == f.slot, volumes[f.volume].location.holders[f.slot] == from
        else { return actions }
        fetches[request] = nil
        volumes[f.volume].inFlight -= 1
        if verified {
            volumes[f.volume].have |= 1 << UInt64(f.slot)
            bytesFetched += bytes
        }
        fetchMore(volume: f.volume, now: now, into: &actions)
        settle(now: now, into: &actions)
        return actions
    }

    /// Fetches past their deadline are given up (their holders tried again next round);
    /// rounds restart after `retryAfter`; past the deadline the restore has failed.
    public mutating func onTimer(now: Instant) -> [RestoreAction] {
        var actions = [RestoreAction]()
        guard outcome == .running else { return actions }
        timerAt = nil
        if queryRequest != 0, now >= queryDeadline {
            query(start: received, now: now, into: &actions)
        }
        for request in fetches.keys.sorted() where fetches[request]!.deadline <= now {
            let f = fetches.removeValue(forKey: request)!
            volumes[f.volume].inFlight -= 1
            fetchMore(volume: f.volume, now: now, into: &actions)
        }
        if let at = retryAt, at <= now {
            retryAt = nil
            for p in volumes.indices where !done(p) && volumes[p].inFlight == 0 {
                volumes[p].tried = volumes[p].have
                fetchMore(volume: p, now: now, into: &actions)
            }
        }
        settle(now: now, into: &actions)
        return actions
    }

    /// Internal state for the simulator's debug dump (`CAIRN_SIM_DEBUG`).
    public var debugState: String { "total=\(String(describing: total)) received=\(received) query=\(queryRequest)@\(queryDeadline) fetches=\(fetches.count) retryAt=\(String(describing: retryAt)) timerAt=\(String(describing: timerAt))" }

    /// Volumes with k shards so far, and volumes known.
    public var progress: (restored: Int, known: Int) { (volumes.indices.count { done($0) }, volumes.count) }

    // MARK: Steps

    private func done(_ p: Int) -> Bool { volumes[p].have.nonzeroBitCount >= volumes[p].location.layout.k }

    private mutating func query(start: UInt32, now: Instant, into actions: inout [RestoreAction]) {
        queryRequest = nextRequest
        nextRequest += 1
        queryDeadline = now + params.fetchTimeout
        actions.append(.send(to: .coordinator, .recordQuery(request: queryRequest, owner: owner, start: start)))
    }

    /// Asks untried holders until k shards are in hand or in flight.
    private mutating func fetchMore(volume p: Int, now: Instant, into actions: inout [RestoreAction]) {
        let location = volumes[p].location
        for slot in location.holders.indices {
            guard volumes[p].have.nonzeroBitCount + volumes[p].inFlight < volumes[p].location.layout.k else { break }
            let bit: UInt64 = 1 << UInt64(slot)
            // Only a holder with every pack of the volume can give its slot.
            guard volumes[p].tried & bit == 0, let holder = location.completeHolder(slot), holder != owner else { continue }
            volumes[p].tried |= bit
            volumes[p].inFlight += 1
            let request = nextRequest
            nextRequest += 1
            // Clamped to a year, so a hostile size cannot overflow the deadline.
            let transferMs = min((Double(location.slotBytes) / params.bytesPerMillisecond).rounded(.up), 365 * 86_400_000)
            let transfer = Interval(milliseconds: Int64(transferMs))
            fetches[request] = Fetch(volume: p, slot: slot, deadline: now + params.fetchTimeout + transfer)
            actions.append(.send(to: holder, .fetch(request: request, slot: SlotID(volume: location.volume, index: UInt8(slot)))))
        }
    }

    /// Decides the outcome, or arms the timer for the next deadline or retry.
    private mutating func settle(now: Instant, into actions: inout [RestoreAction]) {
        let complete = total.map { received >= $0 } ?? false
        if complete && volumes.indices.allSatisfy(done) {
            outcome = volumes.isEmpty ? .failed(missing: 0) : .restored(at: now)
            return
        }
        if now >= deadline {
            outcome = .failed(missing: max(volumes.indices.count { !done($0) }, complete ? 0 : 1))
            return
        }
        // Volumes whose every holder was tried without k shards wait for the next round.
        if retryAt == nil, volumes.indices.contains(where: { !done($0) && volumes[$0].inFlight == 0 }) {
            retryAt = now + params.retryAfter
        }
        var next = deadline
        if queryRequest != 0 { next = min(next, queryDeadline) }
        for f in fetches.values { next = min(next, f.deadline) }
        if let at = retryAt { next = min(next, at) }
        if timerAt.map({ next < $0 }) ?? true {
            timerAt = next
            actions.append(.setTimer(.restore, at: next))
        }
    }
}
