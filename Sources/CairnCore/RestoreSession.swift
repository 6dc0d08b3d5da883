import CairnWire
/// A restore as a person runs it after losing their disk: with nothing but the owner's
/// identity, ask the coordinator where the owner's volumes are, then fetch any k shards of
/// every volume from their holders, until every volume has k shards or the person's
/// patience (`deadline`) runs out.
///
/// Fast whether or not holders are up: each volume's holders are asked in parallel, k plus
/// `spares` at once, those the coordinator saw online first. A holder that says it has
/// nothing is replaced at once; one silent past `firstByteTimeout` is replaced too (its
/// answer still counts if it comes before the others'), so a restore never waits on a
/// silent holder while another could serve. Once a volume has k shards its other fetches
/// are abandoned: their late answers are ignored (the shell discards a stream the session
/// does not ask to verify) and counted in `bytesWasted`. Only when every holder of a volume
/// was tried is it retried, after `retryAfter`.
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
        /// A fetch not given up for silence, unanswered this long past its first byte
        /// timeout (plus its transfer time), is given up altogether.
        public var fetchTimeout: Interval
        /// When every holder of a volume has been tried, try them again after this long.
        public var retryAfter: Interval
        /// Upload speed assumed for transfer time, bytes per millisecond (a slow holder
        /// is not given up while its shard is still streaming).
        public var bytesPerMillisecond: Double
        /// Messages stamped further than this from the restoring device's clock are refused.
        public var maxClockSkew: Interval
        /// A holder (or the coordinator) that has not answered this long is taken for
        /// silent: another holder is asked in its place. Short, since an answer header
        /// comes before the stream; a slow stream is bounded by `fetchTimeout` instead.
        public var firstByteTimeout: Interval
        /// Holders asked beyond the k shards still needed, at once: the fastest k answers
        /// win, so one slow or stale holder costs no time (at most `spares` slots of
        /// wasted upload per volume).
        public var spares: Int
        public init(fetchTimeout: Interval = .minutes(10), retryAfter: Interval = .hours(1),
                    bytesPerMillisecond: Double = 125, maxClockSkew: Interval = .minutes(5),
                    firstByteTimeout: Interval = .seconds(30), spares: Int = 1) {
            precondition(fetchTimeout > .zero && retryAfter > .zero && bytesPerMillisecond > 0 && firstByteTimeout > .zero
                         && spares >= 0,
                         "restore params fetch timeout \(fetchTimeout), retry after \(retryAfter), first byte \(firstByteTimeout), spares \(spares)")
            self.maxClockSkew = maxClockSkew
            self.fetchTimeout = fetchTimeout
            self.retryAfter = retryAfter
            self.bytesPerMillisecond = bytesPerMillisecond
            self.firstByteTimeout = firstByteTimeout
            self.spares = spares
        }
    }

    struct VolumeState: Sendable {
        var location: VolumeLocation
        /// Slots whose shard arrived.
        var have: UInt64 = 0
        /// Slots asked in this round (answered or not).
        var tried: UInt64 = 0
        /// Fetches outstanding, silent ones included.
        var inFlight = 0
        /// Fetches outstanding that are not yet taken for silent: answered, or within
        /// their first byte timeout. Spares are asked while these fall short.
        var live = 0
    }

    struct Fetch: Sendable {
        var volume: Int
        var slot: Int
        /// Past this without an answer, the holder is taken for silent.
        var firstByte: Instant
        var deadline: Instant
        /// The answer header came: the stream is being checked.
        var answered = false
        /// Taken for silent (no longer `live`).
        var silent = false
    }

    public let owner: NodeID
    public let params: Params
    public let started: Instant
    public let deadline: Instant
    public private(set) var outcome = Outcome.running
    /// Shard bytes received and counted.
    public private(set) var bytesFetched: UInt64 = 0
    /// Shard bytes that arrived for a volume already restored (the price of asking spares).
    public private(set) var bytesWasted: UInt64 = 0
    /// Fetches sent.
    public private(set) var fetchesSent = 0
    private var volumes: [VolumeState] = []
    private var total: UInt32? = nil
    /// Locations received so far (the next page starts here).
    private var received: UInt32 = 0
    private var queryRequest: UInt64 = 0
    private var queryDeadline = Instant.zero
    private var fetches: [UInt64: Fetch] = [:]
    /// Fetches abandoned when their volume was restored, until their deadline: a late
    /// answer to one is wasted bytes, not a shard.
    private var abandoned: [UInt64: Instant] = [:]
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
            if abandoned[request] != nil {
                abandoned[request] = nil
                if ok { bytesWasted &+= bytes }
                break
            }
            guard var f = fetches[request], !f.answered, volumes[f.volume].location.volume == shard.volume,
                  Int(shard.index) == f.slot, volumes[f.volume].location.holders[f.slot] == from
            else { break }
            if ok {
                // Counted once the stream checks against the slot's root in the location;
                // until then it is live, with a deadline for its transfer from now.
                f.answered = true
                f.deadline = max(f.deadline, now + params.fetchTimeout + transferTime(volumes[f.volume].location))
                if f.silent {
                    f.silent = false
                    volumes[f.volume].live += 1
                }
                fetches[request] = f
                let l = volumes[f.volume].location
                actions.append(.verifySlot(request: request, slot: shard, from: from,
                                           expect: SlotExtent(packs: l.layout.packs, bytes: l.slotBytes, root: l.roots[f.slot]),
                                           bytes: bytes))
                settle(now: now, into: &actions)
                return actions
            }
            // "Nothing here": the next holder is asked at once.
            finish(request)
            fetchMore(volume: f.volume, now: now, into: &actions)
        default:
            break
        }
        settle(now: now, into: &actions)
        return actions
    }

    /// What fetch `request` asks for while it is outstanding: the slot, the holder asked
    /// and the extent its stream must check against (the one `verifySlot` will name). For a
    /// shell that checks a stream as it arrives; nil for any other request.
    public func expectation(of request: UInt64) -> FetchExpectation? {
        guard let f = fetches[request] else { return nil }
        let l = volumes[f.volume].location
        return FetchExpectation(slot: SlotID(volume: l.volume, index: UInt8(f.slot)), holder: l.holders[f.slot],
                                expect: SlotExtent(packs: l.layout.packs, bytes: l.slotBytes, root: l.roots[f.slot]))
    }

    /// The slot behind fetch reply `request` was checked against its root (`verified`):
    /// only a verified slot counts; otherwise the next holder is asked.
    public mutating func onSlotVerified(request: UInt64, slot: SlotID, from: NodeID, bytes: UInt64, verified: Bool,
                                        now: Instant) -> [RestoreAction]
    {
        var actions = [RestoreAction]()
        guard outcome == .running else { return actions }
        if abandoned.removeValue(forKey: request) != nil {
            if verified { bytesWasted &+= bytes }
            return actions
        }
        guard let f = fetches[request], f.answered, volumes[f.volume].location.volume == slot.volume,
              Int(slot.index) == f.slot, volumes[f.volume].location.holders[f.slot] == from
        else { return actions }
        finish(request)
        let p = f.volume
        if verified {
            let bit: UInt64 = 1 << UInt64(f.slot)
            if done(p) || volumes[p].have & bit != 0 {
                bytesWasted &+= bytes
            } else {
                volumes[p].have |= bit
                bytesFetched &+= bytes
            }
        }
        if done(p) {
            abandonFetches(of: p)
        } else {
            fetchMore(volume: p, now: now, into: &actions)
        }
        settle(now: now, into: &actions)
        return actions
    }

    /// Holders silent past their first byte timeout are replaced by others; fetches past
    /// their deadline are given up (their holders tried again next round); rounds restart
    /// after `retryAfter`; past the deadline the restore has failed.
    public mutating func onTimer(now: Instant) -> [RestoreAction] {
        var actions = [RestoreAction]()
        guard outcome == .running else { return actions }
        timerAt = nil
        if queryRequest != 0, now >= queryDeadline {
            query(start: received, now: now, into: &actions)
        }
        var touched = [Int]()
        for request in fetches.keys.sorted() {
            var f = fetches[request]!
            if f.deadline <= now {
                finish(request)
                touched.append(f.volume)
            } else if !f.answered, !f.silent, f.firstByte <= now {
                f.silent = true
                fetches[request] = f
                volumes[f.volume].live -= 1
                touched.append(f.volume)
            }
        }
        for request in abandoned.keys.sorted() where abandoned[request]! <= now {
            abandoned[request] = nil
        }
        var last = -1
        for p in touched.sorted() where p != last {
            last = p
            fetchMore(volume: p, now: now, into: &actions)
        }
        if let at = retryAt, at <= now {
            retryAt = nil
            for p in volumes.indices where !done(p) && volumes[p].live == 0 {
                volumes[p].tried = volumes[p].have | outstanding(p)
                fetchMore(volume: p, now: now, into: &actions)
            }
        }
        settle(now: now, into: &actions)
        return actions
    }

    /// Internal state for the simulator's debug dump (`CAIRN_SIM_DEBUG`).
    public var debugState: String { "total=\(String(describing: total)) received=\(received) query=\(queryRequest)@\(queryDeadline) fetches=\(fetches.count) abandoned=\(abandoned.count) retryAt=\(String(describing: retryAt)) timerAt=\(String(describing: timerAt))" }

    /// Volumes with k shards so far, and volumes known.
    public var progress: (restored: Int, known: Int) { (volumes.indices.count { done($0) }, volumes.count) }

    // MARK: Steps

    private func done(_ p: Int) -> Bool { volumes[p].have.nonzeroBitCount >= volumes[p].location.layout.k }

    /// Slots of volume `p` with a fetch outstanding.
    private func outstanding(_ p: Int) -> UInt64 {
        var mask: UInt64 = 0
        for f in fetches.values where f.volume == p { mask |= 1 << UInt64(f.slot) }
        return mask
    }

    private func transferTime(_ location: VolumeLocation) -> Interval {
        // Clamped to a year, so a hostile size cannot overflow the deadline.
        let ms = min((Double(location.slotBytes) / params.bytesPerMillisecond).rounded(.up), 365 * 86_400_000)
        return Interval(milliseconds: Int64(ms))
    }

    /// Forgets fetch `request`, answered or given up.
    private mutating func finish(_ request: UInt64) {
        guard let f = fetches.removeValue(forKey: request) else { return }
        volumes[f.volume].inFlight -= 1
        if !f.silent { volumes[f.volume].live -= 1 }
    }

    /// Volume `p` is restored: its other fetches are abandoned (late answers are waste).
    private mutating func abandonFetches(of p: Int) {
        for request in fetches.keys.sorted() where fetches[request]!.volume == p {
            abandoned[request] = fetches[request]!.deadline
            finish(request)
        }
    }

    private mutating func query(start: UInt32, now: Instant, into actions: inout [RestoreAction]) {
        queryRequest = nextRequest
        nextRequest += 1
        // A lost query or a silent coordinator is asked again soon: the reply is small.
        queryDeadline = now + params.firstByteTimeout
        actions.append(.send(to: .coordinator, .recordQuery(request: queryRequest, owner: owner, start: start)))
    }

    /// Asks untried holders, those seen online first (then in slot order), until the
    /// shards in hand and the live fetches reach k plus `spares`.
    private mutating func fetchMore(volume p: Int, now: Instant, into actions: inout [RestoreAction]) {
        guard !done(p) else { return }
        let location = volumes[p].location
        let want = location.layout.k + params.spares
        for online in [true, false] {
            for slot in location.holders.indices where location.seenOnline(slot) == online {
                guard volumes[p].have.nonzeroBitCount + volumes[p].live < want else { return }
                let bit: UInt64 = 1 << UInt64(slot)
                // Only a holder with every pack of the volume can give its slot.
                guard volumes[p].tried & bit == 0, volumes[p].have & bit == 0, let holder = location.completeHolder(slot),
                      holder != owner
                else { continue }
                volumes[p].tried |= bit
                volumes[p].inFlight += 1
                volumes[p].live += 1
                let request = nextRequest
                nextRequest += 1
                fetchesSent += 1
                fetches[request] = Fetch(volume: p, slot: slot, firstByte: now + params.firstByteTimeout,
                                         deadline: now + params.firstByteTimeout + params.fetchTimeout + transferTime(location))
                actions.append(.send(to: holder, .fetch(request: request, slot: SlotID(volume: location.volume, index: UInt8(slot)))))
            }
        }
    }

    /// Decides the outcome, or arms the timer for the next first byte timeout, deadline or retry.
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
        // Volumes whose every holder was tried without k shards (nothing live left) wait
        // for the next round.
        if retryAt == nil, volumes.indices.contains(where: { !done($0) && volumes[$0].live == 0 }) {
            retryAt = now + params.retryAfter
        }
        var next = deadline
        if queryRequest != 0 { next = min(next, queryDeadline) }
        for f in fetches.values {
            next = min(next, !f.answered && !f.silent ? f.firstByte : f.deadline)
        }
        if let at = retryAt { next = min(next, at) }
        if timerAt.map({ next < $0 }) ?? true {
            timerAt = next
            actions.append(.setTimer(.restore, at: next))
        }
    }
}

/// What an outstanding fetch asks for (`RestoreSession.expectation(of:)`): the slot, the
/// holder asked and the extent its stream must check against.
public struct FetchExpectation: Hashable, Sendable {
    public let slot: SlotID
    public let holder: NodeID
    public let expect: SlotExtent
    public init(slot: SlotID, holder: NodeID, expect: SlotExtent) {
        self.slot = slot
        self.holder = holder
        self.expect = expect
    }
}
