import CairnWire
import CairnCore
import CairnCrypto

/// One row of the time series.
public struct Sample: Sendable, Equatable {
    public var hours: Double
    public var nodesOnline: Int
    public var healthyShards: Int
    public var repairsInFlight: Int
    public var packsLost: Int
    public var messages: UInt64
}

/// Per adversary kind: how many, how many were caught, mean hours from first misbehaviour
/// to the first report reaching the coordinator.
public struct Detection: Sendable, Equatable {
    public var total = 0
    public var misbehaved = 0
    public var detected = 0
    public var meanHours: Double? = nil
    public var maxHours: Double? = nil
}

/// A run stopped before its end because it outgrew a bound of the simulator.
public struct SimulationStopped: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var atMilliseconds: Int64
    public var reason: String
    public var description: String {
        let day = Double(atMilliseconds) / 86_400_000
        return "the simulation stopped at day \((day * 1000).rounded() / 1000) (seed \(seed)): \(reason)"
    }
}

/// Everything a run reports.
public struct SimulationResult: Sendable {
    public var seed: UInt64
    public var scenario: String
    public var nodes: Int
    public var simDays: Double
    public var events: UInt64
    public var messages: UInt64
    public var messagesDropped: UInt64
    /// Messages a receiver refused because their stamp was too far from its clock.
    public var messagesRefusedClockSkew: Int
    public var packsTotal: Int
    public var packsLost: Int
    public var packsReportedLost: Int
    /// Sampled restores that finished (by success or by running out of patience).
    public var restoreAttempts: Int
    /// nil when no sampled restore finished (none sampled, or the run is shorter than the
    /// restore patience).
    public var restoreSuccessRate: Double?
    /// Mean hours from the start of a successful restore to its last shard.
    public var restoreHoursMean: Double?
    /// Restores still running when the run ended (not counted in the rate).
    public var restoresUnfinished: Int
    public var repairBytes: UInt64
    public var repairBytesPerNodeDay: Double
    public var storageOverhead: Double
    public var detection: [String: Detection]
    public var contractsBroken: Int
    public var repairsStarted: Int
    public var repairsCompleted: Int
    /// Blind repairs ordered by the coordinator / shards re-created by them.
    public var blindRepairsOrdered: Int
    public var blindShardsRepaired: Int
    public var unconvergedPacks: Int
    /// Packs (of honest, present owners) with fewer than n healthy shards at the end, lost
    /// ones included: with `repair_trigger` = n, `unconvergedPacks` plus `packsLost`.
    public var packsBelowN: Int
    public var departed: Int
    public var diskFailures: Int
    public var warned: Int
    public var excluded: Int
    public var violations: [String]
    public var expectationFailures: [String]
    public var traceHash: String
    public var timeseries: [Sample]
}

/// The deterministic simulator: a virtual clock that jumps from event to event, an event
/// queue ordered by (deadline, insertion sequence), a simulated network and in-memory
/// storage, and checkers that watch all nodes from outside.
///
/// Execution model: the simulator is single-threaded and owns the only "executor": it pops
/// one event at a time and hands it to the node's `NodeCore` (the same state machine the
/// production `NodeActor` wraps), then carries out the returned actions itself — exactly
/// what `NodeActor.perform` does with the production transport, timers and storage. No
/// task, actor hop or thread is involved, so the order of execution is a function of the
/// seed alone.
public final class Simulation {
    /// How nodes run: their cores driven directly by the event loop, or the production
    /// `NodeActor`/`CoordinatorActor` on the simulator's own serial executor. Both give the
    /// same trace hash.
    public enum Mode: Sendable { case direct, actors }

    public let scenario: Scenario
    public let mode: Mode
    private var executor: SimulatorExecutor? = nil
    private var nodeActors: [NodeActor] = []
    private var coordinatorActor: CoordinatorActor? = nil
    private var pendingTasks = 0
    private var mirrorsStale = false
    public let seed: UInt64
    public var progress: ((Double) -> Void)? = nil

    private let ms: (hour: Int64, day: Int64) = (3_600_000, 86_400_000)
    private let faultEnd: Int64
    private let end: Int64
    private(set) var now: Int64 = 0
    private var queue: EventQueue
    public let bounds: Bounds
    private var trace: TraceHash? = TraceHash()

    private var cores: [NodeCore] = []
    private var coordinator: CoordinatorCore
    private var coordinatorDue: Int64 = -1
    private let params: NodeParams

    // Per node, indexed by node number.
    private var online: [Bool]
    private var departed: [Bool]
    private var epoch: [UInt32]
    private var churnEpoch: [UInt32]
    private var timerDue: [Int64]
    private var latency: [Int64]
    private var bytesPerMs: [Double]
    private var linkBusy: [Int64]
    private var offered: [UInt64]
    private var adversary: [FaultKind?]
    private var disks: Disks
    private var trees: ShardTrees
    private var misbehavedAt: [Int64]
    private var detectedAt: [Int64]
    private var diskLostAt: [Int64]
    private var partitionSide: [Bool]
    /// Per node: its clock's offset (ms) and drift (a fraction) from true time; empty when
    /// every clock is exact.
    private var clockOffset: [Int64] = []
    private var clockDrift: [Double] = []
    private var partitioned = false
    private var converging = false

    // Per pack, indexed by pack number.
    private var packOwner: [UInt32] = []
    private var packBytes: [UInt64] = []
    /// Position of the pack in its owner's `packs`.
    private var packSlot: [Int] = []
    private var reportedLost: [Bool] = []

    private var netRng: Xoshiro256
    private var worldRng: Xoshiro256

    // Counters.
    private var events: UInt64 = 0
    private var messages: UInt64 = 0
    private var dropped: UInt64 = 0
    private var repairBytes: UInt64 = 0
    private var repairsStarted = 0
    private var repairsCompleted = 0
    private var contractsBroken = 0
    private var blindOrdered = 0
    private var blindRepaired = 0
    /// Messages refused because their stamp was too far from the receiver's clock.
    private var skewRefused = 0
    private var departures = 0
    private var diskFailures = 0
    private var warned = 0
    private var excluded = 0
    private var restoreAttempts = 0
    private var restoreSuccesses = 0
    private var restoreHours = 0.0
    /// Restore sessions in progress, by endpoint number (`restorerBase` + a counter): each
    /// is a separate device on the network, with the owner's identity and nothing else.
    private var restorers: [UInt32: RestoreSession] = [:]
    private var restorersStarted: UInt32 = 0
    private var restorerBase: UInt32 { UInt32(scenario.nodes) }
    private var violations: [String] = []
    private var timeseries: [Sample] = []
    private static let violationsMax = 50
    public var debugLost = false
    public var debugLines: [String] = []

    public init(scenario s: Scenario, seed: UInt64, mode: Mode = .direct, bounds: Bounds = Bounds()) {
        scenario = s
        self.bounds = bounds
        queue = EventQueue(pendingMax: bounds.pendingEventsMax)
        self.seed = seed
        self.mode = mode
        faultEnd = Int64(s.durationDays * 86_400_000)
        end = faultEnd + Int64(s.convergenceDays * 86_400_000)
        let root = Xoshiro256(seed: seed)
        netRng = root.split(UInt64.max)
        worldRng = root.split(UInt64.max - 1)
        let heartbeat = Interval(milliseconds: Int64(s.heartbeatMinutes * 60_000))
        params = NodeParams(
            k: s.k, n: s.n, heartbeatInterval: heartbeat,
            challengeInterval: Interval(milliseconds: Int64(s.challengeIntervalHours * 3_600_000)),
            challengeTimeout: .minutes(10),
            repairInterval: Interval(milliseconds: Int64(s.repairIntervalHours * 3_600_000)),
            repairTimeout: Interval(milliseconds: Int64(s.repairIntervalHours * 3_600_000)),
            term: Interval(milliseconds: Int64(s.contractTermDays * 86_400_000)),
            grace: Interval(milliseconds: Int64(s.graceDays * 86_400_000)),
            uptimeThresholdPermille: UInt16((s.uptimeThreshold * 1000).rounded()), repairTrigger: s.repairTrigger,
            maxClockSkew: Interval(milliseconds: Int64(s.maxClockSkewS * 1000)))
        var coordinatorKeyRng = root.split(UInt64.max - 5)
        let coordinatorSigner = Self.signer(ed25519: s.ed25519, rng: &coordinatorKeyRng)
        coordinator = CoordinatorCore(
            params: CoordinatorParams(n: s.n, repairTrigger: s.repairTrigger ?? s.n,
                                      blindRepairAfter: Interval(milliseconds: Int64(s.blindRepairAfterHours * 3_600_000)),
                                      blindRepairTimeout: Interval(milliseconds: Int64(2 * s.repairIntervalHours * 3_600_000)),
                                      blindRepairEverySlots: max(1, Int(s.repairIntervalHours * 60 / s.heartbeatMinutes)),
                                      uptimeSlot: heartbeat, uptimeSlots: Int(s.uptimeWindowHours * 60 / s.heartbeatMinutes),
                                      uptimeThresholdPermille: UInt16((s.uptimeThreshold * 1000).rounded()),
                                      warnStrikes: s.warnStrikes, excludeStrikes: s.excludeStrikes,
                                      maxClockSkew: Interval(milliseconds: Int64(s.maxClockSkewS * 1000))),
            signer: coordinatorSigner, verifier: Self.verifier(ed25519: s.ed25519), rng: root.split(UInt64.max - 2))
        let n = s.nodes
        online = Array(repeating: false, count: n)
        departed = Array(repeating: false, count: n)
        epoch = Array(repeating: 0, count: n)
        churnEpoch = Array(repeating: 0, count: n)
        timerDue = Array(repeating: -1, count: n * TimerKind.allCases.count)
        latency = Array(repeating: 0, count: n)
        bytesPerMs = Array(repeating: 0, count: n)
        linkBusy = Array(repeating: 0, count: n)
        offered = Array(repeating: 0, count: n)
        adversary = Array(repeating: nil, count: n)
        disks = Disks(nodes: n)
        trees = ShardTrees(segments: UInt32(s.segmentsPerShard))
        misbehavedAt = Array(repeating: -1, count: n)
        detectedAt = Array(repeating: -1, count: n)
        diskLostAt = Array(repeating: -1, count: n)
        partitionSide = Array(repeating: false, count: n)
        if s.clockOffsetS != nil || s.clockDriftPpm != nil {
            // A stream of its own: scenarios without clocks draw exactly as before.
            var clockRng = root.split(UInt64.max - 6)
            for _ in 0..<n {
                let offset = min(s.clockOffsetS?.sample(&clockRng) ?? 0, 86_400) * (clockRng.chance(0.5) ? -1 : 1)
                let drift = min(s.clockDriftPpm?.sample(&clockRng) ?? 0, 1_000) * (clockRng.chance(0.5) ? -1 : 1)
                clockOffset.append(Int64((offset * 1000).rounded()))
                clockDrift.append(drift / 1_000_000)
            }
        }
        setUp(root: root)
    }

    // MARK: Clocks

    /// What `node`'s clock reads at true time `t`; the coordinator and restoring devices
    /// keep true time.
    func clock(_ node: NodeID, at t: Int64) -> Int64 {
        guard !clockOffset.isEmpty, node.raw < restorerBase else { return t }
        let i = node.index
        return t &+ clockOffset[i] &+ Int64((Double(t) * clockDrift[i]).rounded())
    }

    private func localNow(_ i: Int) -> Instant { Instant(milliseconds: clock(NodeID(UInt32(i)), at: now)) }

    /// The true time at which node `i`'s clock reads `local`.
    func trueTime(_ i: Int, local: Int64) -> Int64 {
        guard !clockOffset.isEmpty else { return local }
        let t = (Double(local) - Double(clockOffset[i])) / (1 + clockDrift[i])
        return Int64(max(min(t.rounded(), 9e18), -9e18))
    }

    // MARK: Set-up

    /// A signing identity from 32 seeded bytes: Ed25519, or the cheap stand-in.
    private static func signer(ed25519: Bool, rng: inout Xoshiro256) -> any ContractSigner {
        var seed = [UInt8]()
        for _ in 0..<4 { seed += ByteWriter.u64Bytes(rng.next()) }
        return ed25519 ? try! Ed25519Signer(seed: seed) : DigestSigner(seed: seed)
    }

    private static func verifier(ed25519: Bool) -> any SignatureVerifier {
        ed25519 ? Ed25519Verifier() : DigestSigner()
    }

    private func setUp(root: Xoshiro256) {
        let s = scenario
        var nodeRng = root.split(UInt64.max - 3)
        let gib = 1024.0 * 1024 * 1024
        let packNominal = UInt64(s.packMiB * 1024 * 1024)
        let shardBytes = (packNominal + UInt64(s.k) - 1) / UInt64(s.k)
        // Synthetic shards stand for the nominal bytes, proven in the scenario's segment count.
        let segmentBytes = UInt32(min((shardBytes + UInt64(s.segmentsPerShard) - 1) / UInt64(s.segmentsPerShard),
                                      UInt64(UInt32.max)))
        let geometry = PackGeometry(k: s.k, n: s.n, shardBytes: shardBytes, segmentBytes: segmentBytes)
        let verifier = Self.verifier(ed25519: s.ed25519)
        let coordinatorKey = coordinator.publicKey
        var keyRng = root.split(UInt64.max - 4)
        // Adversaries: a seeded shuffle of node numbers, taken in kind order.
        var order = Array(0..<s.nodes)
        worldRng.shuffle(&order)
        var next = 0
        for (_, kind) in Scenario.adversaryKeys {
            let count = Int((Double(s.nodes) * (s.adversaries[kind] ?? 0)).rounded())
            for _ in 0..<count where next < order.count {
                adversary[order[next]] = kind
                next += 1
            }
        }
        for i in 0..<s.nodes {
            let id = coordinator.admit()
            precondition(id == NodeID(UInt32(i)), "admitted \(id) as node \(i)")
            // Heavy tails can draw more than a UInt64 of bytes; no node offers or backs up
            // more than an exbibyte (and no owner has more than packsPerNodeMax packs).
            let exbibyte = gib * gib
            offered[i] = UInt64(min(s.offeredGiB.sample(&nodeRng) * gib, exbibyte))
            let backup = min(s.backupGiB.sample(&nodeRng) * gib, exbibyte)
            bytesPerMs[i] = max(s.uploadMbps.sample(&nodeRng), 0.01) * 1_000_000 / 8 / 1000
            latency[i] = Int64(max(s.latencyMs.sample(&nodeRng), 0) / 2)
            var core = NodeCore(me: id, params: params, offered: offered[i],
                                speed: UInt32(min(bytesPerMs[i] * 8, Double(UInt32.max))),
                                reciprocityRatio: s.reciprocityRatio, signer: Self.signer(ed25519: s.ed25519, rng: &keyRng),
                                verifier: verifier, coordinatorKey: coordinatorKey, rng: root.split(UInt64(i)))
            let packs = max(1, Int((backup / Double(packNominal)).rounded(.up)))
            for _ in 0..<min(packs, ProtocolLimits.packsPerNodeMax) {
                let pack = PackID(serial: UInt64(packOwner.count))
                packOwner.append(UInt32(i))
                disks.addPack(pack)
                packBytes.append(packNominal)
                packSlot.append(core.packs.count)
                reportedLost.append(false)
                let roots = trees.addPack(pack, shards: s.n)
                core.addPack(pack, geometry: geometry, roots: roots)
            }
            cores.append(core)
            // Start within the first ten minutes; then churn.
            queue.push(at: Int64(nodeRng.bounded(600_000)), .churn(node: UInt32(i), .goOnline, epoch: 0))
            if s.departuresPerDay > 0 {
                let t = Int64(Distribution.exponential(mean: 1 / s.departuresPerDay).sample(&nodeRng) * Double(ms.day))
                if t < faultEnd { queue.push(at: t, .churn(node: UInt32(i), .depart, epoch: 0)) }
            }
            if s.diskFailuresPerDay > 0 {
                let t = Int64(Distribution.exponential(mean: 1 / s.diskFailuresPerDay).sample(&nodeRng) * Double(ms.day))
                if t < faultEnd { queue.push(at: t, .churn(node: UInt32(i), .diskFail, epoch: 0)) }
            }
        }
        for (i, f) in s.correlated.enumerated() {
            queue.push(at: Int64(f.atDays * Double(ms.day)), .world(.correlated(i)))
        }
        for (i, f) in s.partitions.enumerated() {
            let at = Int64(f.atDays * Double(ms.day))
            queue.push(at: at, .world(.partitionStart(i)))
            queue.push(at: at + Int64(f.durationHours * Double(ms.hour)), .world(.partitionEnd(i)))
        }
        if s.convergenceDays > 0 { queue.push(at: faultEnd, .world(.converge)) }
        queue.push(at: Int64(s.sampleIntervalHours * Double(ms.hour)), .world(.sample))
        queue.push(at: Int64(s.checkIntervalHours * Double(ms.hour)), .world(.check))
        if mode == .actors {
            let executor = SimulatorExecutor()
            self.executor = executor
            let ref = SimulationRef(self)
            for i in 0..<s.nodes {
                let env = SimEnvironment(ref, node: NodeID(UInt32(i)))
                nodeActors.append(NodeActor(core: cores[i], environment: env.environment,
                                            executor: executor.asUnownedSerialExecutor()))
            }
            coordinatorActor = CoordinatorActor(core: coordinator, environment: SimEnvironment(ref, node: .coordinator).environment,
                                                executor: executor.asUnownedSerialExecutor())
        }
        coordinatorStart()
    }

    // MARK: Running a node: directly, or as an actor on the simulator executor

    /// Starts a task on the simulator executor and runs every job until it is done.
    private func runTask(_ body: @escaping @Sendable () async -> Void) {
        guard let executor else { preconditionFailure("runTask in direct mode") }
        let ref = SimulationRef(self)
        pendingTasks += 1
        Task(executorPreference: executor) {
            await body()
            ref.sim.pendingTasks -= 1
        }
        executor.drain()
        precondition(pendingTasks == 0, "a simulator task did not finish: it waits for work outside the simulator executor (t=\(now) seed=\(seed))")
        mirrorsStale = true
    }

    /// One action buffer for every event (its capacity kept): taken, filled by a core,
    /// carried out, put back.
    private var actionBuffer: [Action] = []

    private func takeActionBuffer() -> [Action] {
        var buffer: [Action] = []
        swap(&buffer, &actionBuffer)
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    private func nodeReceive(_ i: Int, from: NodeID, sent: Int64, _ message: Message) {
        guard mode == .actors else {
            var actions = takeActionBuffer()
            cores[i].onMessage(from: from, message, sent: Instant(milliseconds: sent), now: localNow(i), into: &actions)
            perform(i, actions)
            actionBuffer = actions
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.receive(message, from: from, sent: Instant(milliseconds: sent)) }
    }

    private func nodeFire(_ i: Int, _ kind: TimerKind) {
        guard mode == .actors else {
            var actions = takeActionBuffer()
            cores[i].onTimer(kind, now: localNow(i), into: &actions)
            perform(i, actions)
            actionBuffer = actions
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.fire(kind) }
    }

    private func nodeStart(_ i: Int) {
        guard mode == .actors else {
            perform(i, cores[i].onStart(now: localNow(i)))
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.start() }
    }

    private func nodeDiskLost(_ i: Int) {
        guard mode == .actors else {
            cores[i].onDiskLost()
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.diskLost() }
    }

    private func coordinatorStart() {
        guard mode == .actors, let actor = coordinatorActor else {
            performCoordinator(coordinator.onStart(now: Instant(milliseconds: now)))
            return
        }
        runTask { await actor.start() }
    }

    private func coordinatorReceive(from: NodeID, sent: Int64, _ message: Message) {
        guard mode == .actors, let actor = coordinatorActor else {
            var actions = takeActionBuffer()
            coordinator.onMessage(from: from, message, sent: Instant(milliseconds: sent), now: Instant(milliseconds: now),
                                  into: &actions)
            performCoordinator(actions)
            actionBuffer = actions
            return
        }
        runTask { await actor.receive(message, from: from, sent: Instant(milliseconds: sent)) }
    }

    private func coordinatorFire(_ kind: TimerKind) {
        guard mode == .actors, let actor = coordinatorActor else {
            performCoordinator(coordinator.onTimer(kind, now: Instant(milliseconds: now)))
            return
        }
        runTask { await actor.fire(kind) }
    }

    /// In actor mode the checkers read copies of the actors' state, refreshed here.
    private func refreshMirrors() {
        guard mode == .actors, mirrorsStale, let coordinatorActor else { return }
        let ref = SimulationRef(self)
        let actors = nodeActors
        runTask {
            for (i, actor) in actors.enumerated() {
                let core = await actor.snapshot
                ref.sim.cores[i] = core
            }
            let c = await coordinatorActor.snapshot
            ref.sim.coordinator = c
        }
        mirrorsStale = false
    }

    // MARK: The loop

    /// Most events one run may process.
    public static let eventsMax: UInt64 = 20_000_000_000

    /// The bounds a run stops at (see `run`); tests lower them to reach them quickly.
    public struct Bounds: Sendable {
        public var eventsMax = Simulation.eventsMax
        public var pendingEventsMax = EventQueue.pendingCapacity
        public init() {}
    }

    /// Runs the scenario to its end. Throws when the run outgrows the simulator's bounds
    /// (events pending at once, events in all), which only a scenario far outside what it
    /// models can do: the message says which bound and when, so the scenario can be fixed.
    public func run() throws(SimulationStopped) -> SimulationResult {
        var lastDay: Int64 = -1
        while let event = queue.pop() {
            if event.time > end { break }
            precondition(event.time >= now, "time went backwards: \(event.time) < \(now)")
            guard events < bounds.eventsMax else {
                throw SimulationStopped(seed: seed, atMilliseconds: now,
                                        reason: "it processed \(bounds.eventsMax) events, the most one run may; shorten duration_days or use fewer nodes")
            }
            now = event.time
            events += 1
            dispatch(event.kind)
            if queue.overflowed {
                throw SimulationStopped(seed: seed, atMilliseconds: now,
                                        reason: "more than \(bounds.pendingEventsMax) events were pending at once: the scenario schedules work faster than it completes (sessions of milliseconds, uplinks far too slow for the backups, or far more restore_samples than the nodes can serve); make those values realistic")
            }
            if let progress, now / ms.day != lastDay {
                lastDay = now / ms.day
                progress(Double(now) / Double(ms.day))
            }
        }
        now = end
        return finish()
    }

    /// Runs the event due now. `kind` is consumed, so a message moves to its handler
    /// without being retained and released again.
    private func dispatch(_ kind: consuming EventKind) {
        trace!.add(UInt64(bitPattern: now))
        switch consume kind {
        case let .deliver(from, to, sent, message):
            trace!.add(UInt64(from.raw) << 32 | UInt64(to.raw))
            trace!.add(UInt64(message.typeByte) << 56 | message.payloadBytes)
            if to == .coordinator {
                coordinatorReceive(from: from, sent: sent, message)
            } else if to.raw >= restorerBase {
                restorerReceive(to, from: from, sent: sent, message)
            } else if online[to.index] {
                nodeReceive(to.index, from: from, sent: sent, message)
            } else {
                dropped += 1
            }
        case let .timer(node, kind, ep):
            trace!.add(1 << 62 | UInt64(node.raw) << 8 | UInt64(kind.rawValue))
            if node == .coordinator {
                guard coordinatorDue == now else { return }
                coordinatorFire(kind)
            } else if node.raw >= restorerBase {
                restorerFire(node)
            } else {
                let i = node.index
                guard online[i], ep == epoch[i], timerDue[i * TimerKind.allCases.count + Int(kind.rawValue)] == now else { return }
                nodeFire(i, kind)
            }
        case let .churn(node, kind, ep):
            trace!.add(2 << 62 | UInt64(node) << 8 | UInt64(kind.rawValue))
            let i = Int(node)
            guard ep == churnEpoch[i], !departed[i] else { return }
            churn(i, kind)
        case let .world(w):
            trace!.add(3 << 62)
            world(w)
        }
    }

    // MARK: Churn and world events

    private func churn(_ i: Int, _ kind: EventKind.Churn) {
        switch kind {
        case .goOnline:
            goOnline(i)
            if let on = scenario.online, !converging {
                queue.push(at: now + hours(on.sample(&worldRng)), .churn(node: UInt32(i), .goOffline, epoch: churnEpoch[i]))
            }
        case .goOffline:
            guard !converging else { return }
            goOffline(i)
            queue.push(at: now + hours(scenario.offline.sample(&worldRng)), .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
        case .depart:
            guard !converging else { return }
            goOffline(i)
            departed[i] = true
            departures += 1
            disks.wipe(node: i)
        case .diskFail:
            guard !converging else { return }
            diskFailures += 1
            diskLostAt[i] = now
            disks.wipe(node: i)
            nodeDiskLost(i)
            // The operator reinstalls from the phrase within the hour; the node rejoins as fresh.
            if online[i] {
                churnEpoch[i] &+= 1
                goOffline(i)
                queue.push(at: now + ms.hour, .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
            }
        }
    }

    /// A drawn duration in milliseconds: at least one, and at most a century (a heavy-tailed
    /// distribution can draw beyond what an `Int64` of milliseconds holds).
    private func hours(_ h: Double) -> Int64 {
        let centuryMs = 100 * 365 * Double(ms.day)
        return max(1, Int64(min(h * Double(ms.hour), centuryMs)))
    }

    private func goOnline(_ i: Int) {
        guard !online[i], !departed[i] else { return }
        online[i] = true
        epoch[i] &+= 1
        nodeStart(i)
    }

    private func goOffline(_ i: Int) {
        guard online[i] else { return }
        online[i] = false
        epoch[i] &+= 1
    }


    private func world(_ w: EventKind.World) {
        switch w {
        case .correlated(let f):
            guard !converging else { return }
            let fault = scenario.correlated[f]
            for i in 0..<scenario.nodes where !departed[i] && worldRng.chance(fault.fraction) {
                churnEpoch[i] &+= 1
                goOffline(i)
                queue.push(at: now + hours(fault.durationHours), .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
            }
        case .partitionStart(let f):
            guard !converging else { return }
            let fraction = scenario.partitions[f].fraction
            for i in 0..<scenario.nodes { partitionSide[i] = worldRng.chance(fraction) }
            partitioned = true
        case .partitionEnd:
            partitioned = false
        case .converge:
            converging = true
            partitioned = false
            for i in 0..<scenario.nodes where !departed[i] && !online[i] {
                churnEpoch[i] &+= 1
                goOnline(i)
            }
        case .sample:
            sample()
            queue.push(at: now + Int64(scenario.sampleIntervalHours * Double(ms.hour)), .world(.sample))
        case .check:
            check()
            queue.push(at: now + Int64(scenario.checkIntervalHours * Double(ms.hour)), .world(.check))
        }
    }

    // MARK: Network

    func send(from: NodeID, to: NodeID, _ message: Message) {
        messages += 1
        if !converging, scenario.loss > 0, netRng.chance(scenario.loss) {
            dropped += 1
            return
        }
        if partitioned, side(from) != side(to) {
            dropped += 1
            return
        }
        let fromLatency = oneWayLatency(from)
        let toLatency = oneWayLatency(to)
        var departure = now
        let payload = message.payloadBytes
        if payload > 0, from != .coordinator {
            let i = from.index
            let start = max(now, linkBusy[i])
            let transfer = Int64((Double(payload) / bytesPerMs[i]).rounded(.up))
            linkBusy[i] = start + transfer
            departure = start + transfer
        }
        queue.push(at: departure + fromLatency + toLatency + 1,
                   .deliver(from: from, to: to, sent: clock(from, at: departure), message))
    }

    /// The coordinator and restoring devices (numbered above every node; so is
    /// `NodeID.coordinator`) sit on the majority side of a partition, on a fast link.
    private func side(_ node: NodeID) -> Bool {
        node.raw >= restorerBase ? false : partitionSide[node.index]
    }

    private func oneWayLatency(_ node: NodeID) -> Int64 {
        node.raw >= restorerBase ? 5 : latency[node.index]
    }

    // MARK: Sampled restores, run through the network

    private func startRestore(owner: Int) {
        let id = NodeID(restorerBase + restorersStarted)
        restorersStarted += 1
        var session = RestoreSession(owner: NodeID(UInt32(owner)), params: RestoreSession.Params(maxClockSkew: Interval(milliseconds: Int64(scenario.maxClockSkewS * 1000))),
                                     now: Instant(milliseconds: now),
                                     patience: Interval(milliseconds: Int64(scenario.restorePatienceHours * Double(ms.hour))))
        let actions = session.start(now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    private func restorerReceive(_ id: NodeID, from: NodeID, sent: Int64, _ message: Message) {
        guard var session = restorers[id.raw] else {
            dropped += 1
            return
        }
        let actions = session.onMessage(from: from, message, sent: Instant(milliseconds: sent), now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    private func restorerFire(_ id: NodeID) {
        guard var session = restorers[id.raw] else { return }
        let actions = session.onTimer(now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    private func performRestorer(_ id: NodeID, _ actions: [Action]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                send(from: id, to: to, message)
            case let .setTimer(kind, at):
                queue.push(at: at.milliseconds, .timer(node: id, kind: kind, epoch: 0))
            default:
                preconditionFailure("a restorer asked to act as a holder: \(action)")
            }
        }
        guard let session = restorers[id.raw] else { return }
        switch session.outcome {
        case .running:
            return
        case .restored(let at):
            restoreAttempts += 1
            restoreSuccesses += 1
            restoreHours += Double((at - session.started).milliseconds) / Double(ms.hour)
        case .failed:
            restoreAttempts += 1
        }
        restorers[id.raw] = nil
    }

    // MARK: Carrying out actions (what NodeActor.perform does in production)

    /// Carries out a node's actions in order: the same steps, through the same functions,
    /// as `NodeActor.perform` does with the simulator's environment (`SimEnvironment`).
    private func perform(_ i: Int, _ actions: [Action]) {
        let me = NodeID(UInt32(i))
        for action in actions {
            switch action {
            case let .send(to, message):
                send(from: me, to: to, message)
            case let .setTimer(kind, at):
                armTimer(me, kind, at: at)
            case let .storeShard(shard, geometry, _):
                store(i, shard, bytes: geometry.shardBytes, segments: geometry.segments)
            case let .deleteShard(shard):
                delete(i, shard)
            case let .answerChallenge(to, id, shard, segment):
                if let answer = prove(i, shard, segment: segment) {
                    send(from: me, to: to, .challengeReply(id: id, segment: answer.segment, proof: answer.proof))
                } else {
                    send(from: me, to: to, .challengeMissing(id: id))
                }
            case let .serveFetch(to, request, shard):
                switch serve(i, shard) {
                case .data(let bytes): send(from: me, to: to, .fetchReply(request: request, shard: shard, ok: true, bytes: bytes))
                case .missing: send(from: me, to: to, .fetchReply(request: request, shard: shard, ok: false, bytes: 0))
                case .silent: break
                }
            case let .note(note):
                observe(i, note)
            }
        }
    }

    func armTimer(_ node: NodeID, _ kind: TimerKind, at: Instant) {
        if node == .coordinator {
            coordinatorDue = at.milliseconds
            queue.push(at: at.milliseconds, .timer(node: .coordinator, kind: kind, epoch: 0))
        } else {
            let i = node.index
            // The node names an instant of its own clock: the event is due when that clock
            // reads it.
            let due = max(now, trueTime(i, local: at.milliseconds))
            timerDue[i * TimerKind.allCases.count + Int(kind.rawValue)] = due
            queue.push(at: due, .timer(node: node, kind: kind, epoch: epoch[i]))
        }
    }

    func delete(_ i: Int, _ shard: ShardID) {
        if disks.copy(on: i, of: shard.pack)?.index == shard.index {
            disks.remove(on: i, of: shard.pack)
        }
    }

    /// A segment of a stored shard with its Merkle path (synthetic contents); a liar
    /// returns garbage.
    func prove(_ i: Int, _ shard: ShardID, segment: UInt32) -> (segment: [UInt8], proof: [[UInt8]])? {
        guard let s = disks.copy(on: i, of: shard.pack), s.index == shard.index, segment < s.segments else { return nil }
        if adversary[i] == .badProof {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return (Array(repeating: 0, count: Synthetic.segmentBytes), [])
        }
        // Every shard is stored with the run's segment count; any other count gets its tree
        // computed here.
        let proof = s.segments == trees.segments ? trees.proof(shard, index: Int(segment))
            : Synthetic.proof(tree: Synthetic.tree(shard, count: s.segments), count: Int(s.segments), index: Int(segment))
        return (Synthetic.segment(shard, segment), proof)
    }

    func serve(_ i: Int, _ shard: ShardID) -> FetchAnswer {
        if adversary[i] == .refusedFetch {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return .silent
        }
        if let s = disks.copy(on: i, of: shard.pack), s.index == shard.index { return .data(bytes: s.bytes) }
        return .missing
    }

    private func performCoordinator(_ actions: [Action]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                send(from: .coordinator, to: to, message)
            case let .setTimer(kind, at):
                armTimer(.coordinator, kind, at: at)
            case let .note(note):
                observe(nil, note)
            case .storeShard, .deleteShard, .answerChallenge, .serveFetch:
                preconditionFailure("coordinator asked to act as a holder: \(action)")
            }
        }
    }

    func store(_ i: Int, _ shard: ShardID, bytes: UInt64, segments: UInt32) {
        if let existing = disks.copy(on: i, of: shard.pack) {
            if existing.index != shard.index {
                violation("node\(i) asked to store \(shard) while holding shard \(existing.index) of the same pack")
            }
            return
        }
        if adversary[i] == .missing {
            // A dropper acknowledges and keeps nothing.
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return
        }
        disks.store(Copy(node: UInt32(i), index: shard.index, segments: segments, bytes: bytes), of: shard.pack)
        if disks.storedBytes[i] > offered[i] {
            violation("node\(i) stores \(disks.storedBytes[i]) bytes, offered \(offered[i])")
        }
    }

    func observe(_ node: Int?, _ note: Note) {
        switch note {
        case .packLost(let pack):
            let p = Int(pack.serial)
            if !reportedLost[p] {
                reportedLost[p] = true
                let h = healthy(p)
                if h >= scenario.k {
                    violation("\(pack) reported lost by its owner with \(h) healthy shards (k=\(scenario.k))")
                    if debugLost {
                        let o = Int(packOwner[p])
                        let pk = cores[o].packs[packSlot[p]]
                        debugLines.append("LOST \(pack) owner\(o) now=\(now) copies=\(disks.copies[p].map { "\($0.node)/\($0.index)/\(adversary[Int($0.node)].map { "\($0)" } ?? "ok")/on=\(online[Int($0.node)])/grace=\($0.graceUntil == Int64.max ? "-" : "\($0.graceUntil)")" })")
                        debugLines.append("   audits=\(cores[o].auditedHolders(of: pack)) online=\(online[o])")
                        for (si, slot) in pk.slots.enumerated() {
                            debugLines.append("   slot\(si) holder=\(slot.holder.map { "\($0)/\(adversary[$0.index].map { "\($0)" } ?? "ok")" } ?? "-") failed=\(slot.failed) noData=\(slot.noData) unhealthy=\(slot.unhealthy) pending=\(String(describing: slot.pending)) ph=\(String(describing: slot.pendingHolder))")
                        }
                    }
                }
            }
        case let .fault(holder, _):
            // Only the coordinator's notes count: the report reached the network.
            guard node == nil, holder != .coordinator, holder.index < scenario.nodes else { return }
            if debugLost, adversary[holder.index] == nil {
                debugLines.append("honest fault \(holder) \(note) diskLostAt=\(diskLostAt[holder.index]) now=\(now)")
            }
            if adversary[holder.index] != nil, detectedAt[holder.index] < 0, misbehavedAt[holder.index] >= 0 {
                detectedAt[holder.index] = now
            }
        case .repairStarted: repairsStarted += 1
        case .repairCompleted: repairsCompleted += 1
        case .repairBytes(let b): repairBytes += b
        case let .standing(_, standing):
            if standing == .warned { warned += 1 }
            if standing == .excluded { excluded += 1 }
        case let .released(shard, until):
            if let i = node, adversary[i] == .earlyFree, disks.copy(on: i, of: shard.pack)?.index == shard.index {
                if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
                disks.remove(on: i, of: shard.pack)
            } else if let i = node {
                disks.setGrace(on: i, of: shard.pack, index: shard.index, until: trueTime(i, local: until.milliseconds))
            }
        case .contractBroken: contractsBroken += 1
        case .clockSkew: skewRefused += 1
        case .unknownNode: violation("the coordinator heard from a node it never admitted")
        case .blindRepairOrdered: blindOrdered += 1
        case .blindRepaired: blindRepaired += 1
        case .freed: break
        }
    }

    // MARK: Ground truth and checkers

    /// Distinct shard indices of pack `p` held intact by members that have not left and
    /// do not lie about them.
    /// Distinct shards of pack `p` held intact by present, non-lying holders that still owe
    /// them: under a contract that is active or within its grace period. A copy past its
    /// grace is garbage its holder has not collected yet (it was offline when the period
    /// ended, say); nobody tracks it, so it keeps no pack alive.
    private func healthy(_ p: Int) -> Int {
        var mask: UInt64 = 0
        for c in disks.copies[p] {
            let i = Int(c.node)
            if departed[i] || adversary[i] == .badProof || adversary[i] == .missing { continue }
            if c.graceUntil <= now { continue }
            mask |= 1 << UInt64(c.index)
        }
        return mask.nonzeroBitCount
    }

    /// Packs the durability figures count: owned by members that have not left and are not
    /// adversaries (whose own backups are refused once they are excluded).
    private func counted(_ p: Int) -> Bool {
        let o = Int(packOwner[p])
        return !departed[o] && adversary[o] == nil
    }

    private func violation(_ message: String) {
        if violations.count < Self.violationsMax {
            violations.append("t=\(String(format2(Double(now) / Double(ms.hour))))h seed=\(seed): \(message)")
        }
    }

    private func format2(_ x: Double) -> String {
        let scaled = (x * 100).rounded()
        return "\(Int64(scaled) / 100).\(String(Int64(abs(scaled)) % 100).leftPad(2))"
    }

    /// Periodic invariants: capacity, and both sides' contract books agree.
    private func check() {
        refreshMirrors()
        for i in 0..<scenario.nodes where disks.storedBytes[i] > offered[i] {
            violation("node\(i) stores \(disks.storedBytes[i]) bytes, offered \(offered[i])")
        }
        for o in 0..<scenario.nodes where !departed[o] {
            let owned = cores[o].book.owned
            for id in owned.keys.sorted() {
                let c = owned[id]!
                guard c.state == .active, clock(NodeID(UInt32(o)), at: now) < c.terms.end.milliseconds else { continue }
                let h = c.terms.holder.index
                if departed[h] || diskLostAt[h] >= trueTime(o, local: c.terms.start.milliseconds) { continue }
                guard let held = cores[h].book.held[id] else {
                    violation("\(id) active at its owner node\(o) but unknown to its holder node\(h)")
                    continue
                }
                if held.terms != c.terms || held.ownerSignature != c.ownerSignature || held.holderSignature != c.holderSignature {
                    violation("\(id): owner node\(o) and holder node\(h) disagree on terms or signatures")
                }
            }
        }
    }

    private func sample() {
        refreshMirrors()
        var healthyShards = 0
        var lost = 0
        for p in 0..<packOwner.count where counted(p) {
            let h = healthy(p)
            healthyShards += h
            if h < scenario.k && !cores[Int(packOwner[p])].packs[packSlot[p]].localCopy { lost += 1 }
        }
        let inFlight = cores.reduce(0) { acc, core in acc + core.packs.count { $0.repairing } }
        timeseries.append(Sample(hours: Double(now) / Double(ms.hour), nodesOnline: online.count { $0 },
                                 healthyShards: healthyShards, repairsInFlight: inFlight, packsLost: lost, messages: messages))
        // Restores, spread over the fault phase, started only while they can run their full
        // patience before the run ends (so none is cut short).
        let patience = Int64(scenario.restorePatienceHours * Double(ms.hour))
        let window = min(faultEnd, end - patience)
        guard now <= window, scenario.restoreSamples > 0 else { return }
        // restore_samples split evenly over the samples that fall in the window, exactly.
        let samplesInRun = max(1, Int(Double(window) / Double(ms.hour) / scenario.sampleIntervalHours))
        let j = min(restoreRounds, samplesInRun - 1)
        let total = scenario.restoreSamples
        let attempts = restoreRounds < samplesInRun ? (j + 1) * total / samplesInRun - j * total / samplesInRun : 0
        restoreRounds += 1
        for _ in 0..<attempts {
            // An honest owner still in the network, drawn a bounded number of times.
            for _ in 0..<64 {
                let owner = worldRng.index(scenario.nodes)
                guard !departed[owner], adversary[owner] == nil else { continue }
                startRestore(owner: owner)
                break
            }
        }
    }

    /// Samples at which restores were started so far.
    private var restoreRounds = 0

    private func finish() -> SimulationResult {
        refreshMirrors()
        check()
        sample()
        var lost = 0
        var unconverged = 0
        var belowN = 0
        var live = 0
        var stored: UInt64 = 0
        var backed: UInt64 = 0
        let trigger = scenario.repairTrigger ?? scenario.n
        for p in 0..<packOwner.count where counted(p) {
            live += 1
            backed += packBytes[p]
            let h = healthy(p)
            let local = cores[Int(packOwner[p])].packs[packSlot[p]].localCopy
            if h < scenario.k && !local { lost += 1 } else if h < trigger { unconverged += 1 }
            if h < scenario.n { belowN += 1 }
            if h < trigger, debugLost {
                let o = Int(packOwner[p])
                let pack = cores[o].packs.first { $0.id.serial == UInt64(p) }!
                debugLines.append("owner budget=\(cores[o].book.placementBudget) placed=\(cores[o].book.placedBytes) owned=\(cores[o].book.owned.count) standing=\(String(describing: coordinator.entry(NodeID(UInt32(o)))?.reputation.standing)) adv=\(String(describing: adversary[o]))")
                debugLines.append("pack\(p) owner\(o) online=\(online[o]) lost=\(pack.lost) local=\(pack.localCopy) fetched=\(pack.fetchedMask) requests=\(pack.fetchRequests) deadline=\(String(describing: pack.fetchDeadline)) repairing=\(pack.repairing) copies=\(disks.copies[p].map { "\($0.node)/\($0.index)/\(adversary[Int($0.node)].map { "\($0)" } ?? "ok")" })")
                for slot in pack.slots {
                    debugLines.append("   misses=\(slot.fetchMisses) holder=\(slot.holder.map { "\($0)/\(adversary[$0.index].map { "\($0)" } ?? "ok")" } ?? "-") failed=\(slot.failed) unhealthy=\(slot.unhealthy) pending=\(String(describing: slot.pending)) ph=\(String(describing: slot.pendingHolder))")
                }
            }
        }
        for i in 0..<scenario.nodes where !departed[i] { stored += disks.storedBytes[i] }
        if debugLost {
            for id in restorers.keys.sorted() {
                let r = restorers[id]!
                debugLines.append("restorer \(id) owner \(r.owner) started \(r.started) deadline \(r.deadline) progress \(r.progress) \(r.debugState)")
            }
        }
        var detection = [String: Detection]()
        for (_, kind) in Scenario.adversaryKeys {
            var d = Detection()
            var sum = 0.0
            for i in 0..<scenario.nodes where adversary[i] == kind {
                d.total += 1
                guard misbehavedAt[i] >= 0 else { continue }
                d.misbehaved += 1
                guard detectedAt[i] >= 0 else { continue }
                d.detected += 1
                let h = Double(detectedAt[i] - misbehavedAt[i]) / Double(ms.hour)
                sum += h
                d.maxHours = max(d.maxHours ?? 0, h)
            }
            if d.detected > 0 { d.meanHours = sum / Double(d.detected) }
            if d.total > 0 { detection[Scenario.kindName(kind)] = d }
        }
        let days = Double(end) / Double(ms.day)
        var result = SimulationResult(
            seed: seed, scenario: scenario.name, nodes: scenario.nodes, simDays: days, events: events,
            messages: messages, messagesDropped: dropped, messagesRefusedClockSkew: skewRefused, packsTotal: live, packsLost: lost,
            packsReportedLost: reportedLost.count { $0 }, restoreAttempts: restoreAttempts,
            restoreSuccessRate: restoreAttempts == 0 ? nil : Double(restoreSuccesses) / Double(restoreAttempts),
            restoreHoursMean: restoreSuccesses == 0 ? nil : restoreHours / Double(restoreSuccesses),
            restoresUnfinished: restorers.count,
            repairBytes: repairBytes, repairBytesPerNodeDay: Double(repairBytes) / Double(scenario.nodes) / max(days, 1e-9),
            storageOverhead: backed == 0 ? 0 : Double(stored) / Double(backed), detection: detection,
            contractsBroken: contractsBroken, repairsStarted: repairsStarted, repairsCompleted: repairsCompleted,
            blindRepairsOrdered: blindOrdered, blindShardsRepaired: blindRepaired,
            unconvergedPacks: unconverged, packsBelowN: belowN, departed: departures, diskFailures: diskFailures, warned: warned,
            excluded: excluded, violations: violations, expectationFailures: [], traceHash: "", timeseries: timeseries)
        trace!.add(events)
        trace!.add(messages)
        result.traceHash = Hex.encode(trace.take()!.finalize())
        result.expectationFailures = Self.expectationFailures(result, scenario.expect)
        return result
    }

    static func expectationFailures(_ r: SimulationResult, _ e: Expectations) -> [String] {
        var out = [String]()
        if let m = e.packsLostMax, r.packsLost > m { out.append("packs_lost \(r.packsLost) > \(m)") }
        if let m = e.restoreSuccessMin {
            if let rate = r.restoreSuccessRate {
                if rate < m { out.append("restore_success_rate \(rate) < \(m)") }
            } else {
                out.append("no sampled restore finished (restore_samples, or a run shorter than restore_patience_hours)")
            }
        }
        if let m = e.unconvergedMax, r.unconvergedPacks > m { out.append("unconverged packs \(r.unconvergedPacks) > \(m)") }
        if let m = e.repairsMin, r.repairsCompleted < m { out.append("repairs completed \(r.repairsCompleted) < \(m)") }
        if let m = e.blindRepairsMin, r.blindShardsRepaired < m {
            out.append("shards repaired blind \(r.blindShardsRepaired) < \(m)")
        }
        for kind in e.detectionHoursMax.keys.sorted() {
            let bound = e.detectionHoursMax[kind]!
            guard let d = r.detection[kind] else { out.append("no \(kind) adversaries to detect"); continue }
            if let h = d.maxHours, h > bound { out.append("\(kind) detection took \(h) h > \(bound) h") }
        }
        for kind in e.detectedFractionMin.keys.sorted() {
            let bound = e.detectedFractionMin[kind]!
            guard let d = r.detection[kind], d.misbehaved > 0 else { out.append("no \(kind) misbehaved"); continue }
            let f = Double(d.detected) / Double(d.misbehaved)
            if f < bound { out.append("\(kind) detected \(d.detected)/\(d.misbehaved) < \(bound)") }
        }
        return out
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension ByteWriter {
    static func u64Bytes(_ v: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.u64(v)
        return w.bytes
    }
}
