import CairnWire
import CairnCore
import CairnCrypto
/// The deterministic simulator: a virtual clock that jumps from event to event, an event
/// queue ordered by (deadline, insertion sequence), a simulated network and in-memory
/// storage, and checkers that watch all nodes from outside.
///
/// Execution model: the simulator is single-threaded and owns the only "executor": it pops
/// one event at a time and hands it to the node's `NodeCore` (the same state machine the
/// production `NodeActor` wraps), then carries out the returned actions through the same
/// interpreter as `NodeActor` (`Interpreter`), with the simulation as its shell. No
/// task, actor hop or thread is involved, so the order of execution is a function of the
/// seed alone.
public final class Simulation {
    /// How nodes run: their cores driven directly by the event loop, or the production
    /// `NodeActor`/`CoordinatorActor` on the simulator's own serial executor. Both give the
    /// same trace hash.
    public enum Mode: Sendable { case direct, actors }

    public let scenario: Scenario
    public let mode: Mode
    var executor: SimulatorExecutor? = nil
    var nodeActors: [NodeActor] = []
    var coordinatorActor: CoordinatorActor? = nil
    var pendingTasks = 0
    var mirrorsStale = false
    public let seed: UInt64
    public var progress: ((Double) -> Void)? = nil

    let ms: (hour: Int64, day: Int64) = (3_600_000, 86_400_000)
    let faultEnd: Int64
    let end: Int64
    var now: Int64 = 0
    /// Samples at which restores were started so far.
    var restoreRounds = 0
    var queue: EventQueue
    /// Heartbeats on their way to the coordinator (`HeartbeatLane`).
    var heartbeatLane = HeartbeatLane()
    public let bounds: Bounds
    var trace: TraceHash? = TraceHash()

    var cores: [NodeCore] = []
    var coordinator: CoordinatorCore
    var coordinatorDue: Int64 = -1
    let params: NodeParams

    // Per node, indexed by node number.
    var online: [Bool]
    var departed: [Bool]
    var epoch: [UInt32]
    var churnEpoch: [UInt32]
    var timerDue: [Int64]
    var latency: [Int64]
    var bytesPerMs: [Double]
    var linkBusy: [Int64]
    var offered: [UInt64]
    var adversary: [FaultKind?]
    var disks: Disks
    var trees: ShardTrees
    /// Every synthetic pack's geometry (the scenario's code, pack size and segment count).
    let geometry: PackGeometry
    var misbehavedAt: [Int64]
    var detectedAt: [Int64]
    var diskLostAt: [Int64]
    var partitionSide: [Bool]
    /// Per node: its clock's offset (ms) and drift (a fraction) from true time; empty when
    /// every clock is exact.
    var clockOffset: [Int64] = []
    var clockDrift: [Double] = []
    var partitioned = false
    var converging = false

    // Per pack, indexed by pack number.
    var volumeOwner: [UInt32] = []
    var volumeBacked: [UInt64] = []
    /// Packs in each volume.
    var volumePacks: [Int] = []
    /// Position of the pack in its owner's `packs`.
    var volumeSlot: [Int] = []
    var reportedLost: [Bool] = []
    /// Volumes whose first placement finished (with `repair` off, never stored again).
    var placedVolume: [Bool] = []
    /// `pack_availability` at each sample from the warm-up on.
    var availabilitySamples: [Double] = []
    /// Shards on partial droppers (`adversaries.drop_fraction` below 1) and their challenges.
    var droppers = DropperLedger()
    /// When each adversary first became detectable (`DetectionLedger`).
    var detectability: DetectionLedger
    /// Repair taking a drawn time (`Scenario.repairDelay`), and the volumes it lost.
    var repairModel: RepairModel

    var netRng: Xoshiro256
    var worldRng: Xoshiro256
    /// Keys the loss draw of each challenge and its reply (`Simulation+Shortcuts`).
    let challengeLossKey: UInt64
    /// Direct mode: challenges to honest holders that hold the slot are settled without
    /// their two messages when nothing can change on the way (`shortcutChallenge`). Every
    /// metric is the same either way (`ShortcutTests`); tests turn it off to compare.
    public var shortcuts = true
    /// Per node: the last scheduled instant it goes offline, departs or loses its disk
    /// (`Int64.max`: none); a challenge round trip across one is simulated in full.
    var offlineAt: [Int64]
    var departAt: [Int64]
    var diskFailAt: [Int64]
    /// Instants of world events that change who is reachable (outages, partitions, convergence).
    var worldChanges: [Int64] = []
    /// Node heartbeat, challenge and repair timers (indexed by `TimerKind.rawValue`), beside
    /// the queue (`TimerLane`).
    var timerLanes = [TimerLane](repeating: TimerLane(), count: 3)

    // Counters.
    var events: UInt64 = 0
    var messages: UInt64 = 0
    var dropped: UInt64 = 0
    var repairBytes: UInt64 = 0
    var repairsStarted = 0
    var repairsCompleted = 0
    var contractsBroken = 0
    var contractsLapsed = 0
    var contractsRenewed = 0
    var blindOrdered = 0
    var blindRepaired = 0
    /// Messages refused because their stamp was too far from the receiver's clock.
    var skewRefused = 0
    var departures = 0
    var diskFailures = 0
    var warned = 0
    var excluded = 0
    var restoreAttempts = 0
    var restoreSuccesses = 0
    var restoreHours = 0.0
    var restoresWithin6Min = 0
    /// When each slot stream to a restorer ends, and what its check found once the header
    /// came (looked up by key only, never iterated).
    var restoreStreamEnds: [RestoreStream: Int64] = [:]
    var restoreStreamsChecked: [RestoreStream: CheckedStream] = [:]
    var restoreBytesWasted: UInt64 = 0
    /// Restore sessions in progress, by endpoint number (`restorerBase` + a counter): each
    /// is a separate device on the network, with the owner's identity and nothing else.
    var restorers: [UInt32: RestoreSession] = [:]
    var restorersStarted: UInt32 = 0
    var restorerBase: UInt32 { UInt32(scenario.nodes) }
    var violations: [String] = []
    var timeseries: [Sample] = []
    static let violationsMax = 50
    public var debugLost = false
    /// Direct mode: at `at` (ms of simulated time) every node's core and the coordinator's
    /// are replaced by what `restart` makes of them — written to a checkpoint and read back,
    /// as if every process had been killed and restarted from its last checkpoint. The
    /// trace must not change (`CheckpointReplayTests`). The simulator knows no encoding.
    public var restartFromCheckpoints: CheckpointRestart? = nil {
        didSet { restartAt = restartFromCheckpoints?.at ?? .max }
    }
    /// `restartFromCheckpoints?.at`, read on every event without copying the closures.
    private var restartAt = Int64.max
    public struct CheckpointRestart {
        public var at: Int64
        public var node: (NodeCore) throws -> NodeCore
        public var coordinator: (CoordinatorCore) throws -> CoordinatorCore
        public init(at: Int64, node: @escaping (NodeCore) throws -> NodeCore,
                    coordinator: @escaping (CoordinatorCore) throws -> CoordinatorCore)
        {
            self.at = at
            self.node = node
            self.coordinator = coordinator
        }
    }
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
        // A stream of its own: scenarios without a repair delay draw exactly as before.
        repairModel = RepairModel(delay: s.repairDelay, rng: root.split(UInt64.max - 7))
        var lossKeyRng = root.split(UInt64.max - 7)
        challengeLossKey = lossKeyRng.next()
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
        offlineAt = Array(repeating: .max, count: n)
        departAt = Array(repeating: .max, count: n)
        diskFailAt = Array(repeating: .max, count: n)
        offered = Array(repeating: 0, count: n)
        adversary = Array(repeating: nil, count: n)
        disks = Disks(nodes: n)
        trees = ShardTrees(segments: UInt32(s.segmentsPerShard))
        geometry = Self.geometry(s)
        misbehavedAt = Array(repeating: -1, count: n)
        detectedAt = Array(repeating: -1, count: n)
        detectability = DetectionLedger(nodes: n)
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

    func localNow(_ i: Int) -> Instant { Instant(milliseconds: clock(NodeID(UInt32(i)), at: now)) }

    /// The first true instant at which node `i`'s clock reads `local` (or later). The
    /// inverse alone, rounded, can land a millisecond before the clock gets there: a timer
    /// armed for that instant then fired while the node's clock still read less, was armed
    /// again for the same instant, and fired again, for ever (random scenario 10064: a
    /// clock running fast by 7–33 ppm never got past three days).
    func trueTime(_ i: Int, local: Int64) -> Int64 {
        guard !clockOffset.isEmpty else { return local }
        let t = (Double(local) - Double(clockOffset[i])) / (1 + clockDrift[i])
        var first = Int64(max(min(t.rounded(), 9e18), -9e18))
        // The clock never goes back and gains at most a millisecond a millisecond (drift is
        // bounded to 0.1%), so the estimate is a step or two off either way: back while
        // the millisecond before still reads `local` (a slow clock reads some values twice),
        // then on until it reads `local`.
        let node = NodeID(UInt32(i))
        for _ in 0..<4 where clock(node, at: first - 1) >= local { first -= 1 }
        for _ in 0..<4 where clock(node, at: first) < local { first += 1 }
        return first
    }

    // MARK: Set-up

    /// A signing identity from 32 seeded bytes: Ed25519, or the cheap stand-in.
    static func signer(ed25519: Bool, rng: inout Xoshiro256) -> any ContractSigner {
        var seed = [UInt8]()
        for _ in 0..<4 { seed += ByteWriter.u64Bytes(rng.next()) }
        return ed25519 ? try! Ed25519Signer(seed: seed) : DigestSigner(seed: seed)
    }

    static func verifier(ed25519: Bool) -> any SignatureVerifier {
        ed25519 ? Ed25519Verifier() : DigestSigner()
    }

    /// Synthetic shards stand for the nominal bytes, proven in the scenario's segment count.
    static func geometry(_ s: Scenario) -> PackGeometry {
        let shardBytes = (UInt64(s.packMiB * 1024 * 1024) + UInt64(s.k) - 1) / UInt64(s.k)
        let segmentBytes = UInt32(min((shardBytes + UInt64(s.segmentsPerShard) - 1) / UInt64(s.segmentsPerShard),
                                      UInt64(UInt32.max)))
        return PackGeometry(k: s.k, n: s.n, shardBytes: shardBytes, segmentBytes: segmentBytes)
    }

    func setUp(root: Xoshiro256) {
        let s = scenario
        var nodeRng = root.split(UInt64.max - 3)
        let gib = 1024.0 * 1024 * 1024
        let packNominal = UInt64(s.packMiB * 1024 * 1024)
        let geometry = self.geometry
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
            // more than an exbibyte (and no owner has more than volumesPerNodeMax packs).
            let exbibyte = gib * gib
            offered[i] = UInt64(min(s.offeredGiB.sample(&nodeRng) * gib, exbibyte))
            let backup = min(s.backupGiB.sample(&nodeRng) * gib, exbibyte)
            bytesPerMs[i] = max(s.uploadMbps.sample(&nodeRng), 0.01) * 1_000_000 / 8 / 1000
            latency[i] = Int64(max(s.latencyMs.sample(&nodeRng), 0) / 2)
            var core = NodeCore(me: id, params: params, offered: offered[i],
                                speed: UInt32(min(bytesPerMs[i] * 8, Double(UInt32.max))),
                                reciprocityRatio: s.reciprocityRatio, signer: Self.signer(ed25519: s.ed25519, rng: &keyRng),
                                verifier: verifier, coordinatorKey: coordinatorKey, rng: root.split(UInt64(i)))
            // The backup in packs, appended to volumes of up to `volume_gib` per slot (at least
            // one pack each), every volume closed: the scenario's data is backed up at the start.
            let packs = max(1, (backup / Double(packNominal)).rounded(.up))
            let perVolume = max(1, UInt64(s.volumeGiB * gib) / geometry.shardBytes)
            var left = UInt64(min(packs, Double(UInt64(ProtocolLimits.volumesPerNodeMax) * perVolume)))
            while left > 0 {
                let count = min(left, perVolume)
                left -= count
                let volume = VolumeID(owner: id, number: UInt32(volumeOwner.count))
                volumeOwner.append(UInt32(i))
                disks.addPack(volume)
                volumeBacked.append(packNominal * count)
                volumePacks.append(Int(count))
                volumeSlot.append(core.volumes.count)
                reportedLost.append(false)
                placedVolume.append(false)
                let roots = trees.addVolume(volume, shards: s.n)
                try! core.openVolume(volume, k: s.k, n: s.n, capacity: count * geometry.shardBytes)
                let appended = try! core.appendPacks(to: volume, count: UInt32(count), geometry: geometry, roots: roots, now: .zero)
                precondition(appended.actions.isEmpty, "appending to an unplaced volume sent something")
                try! core.closeVolume(volume)
            }
            cores.append(core)
            // Start within the first ten minutes; then churn.
            queue.push(at: Int64(nodeRng.bounded(600_000)), .churn(node: UInt32(i), .goOnline, epoch: 0))
            let warmup = Int64(s.warmupDays * Double(ms.day))
            if s.departuresPerDay > 0 {
                let t = warmup + Int64(Distribution.exponential(mean: 1 / s.departuresPerDay).sample(&nodeRng) * Double(ms.day))
                if t < faultEnd {
                    departAt[i] = t
                    queue.push(at: t, .churn(node: UInt32(i), .depart, epoch: 0))
                }
            }
            if s.diskFailuresPerDay > 0 {
                let t = warmup + Int64(Distribution.exponential(mean: 1 / s.diskFailuresPerDay).sample(&nodeRng) * Double(ms.day))
                if t < faultEnd {
                    diskFailAt[i] = t
                    queue.push(at: t, .churn(node: UInt32(i), .diskFail, epoch: 0))
                }
            }
        }
        for (i, f) in s.correlated.enumerated() {
            queue.push(at: Int64(f.atDays * Double(ms.day)), .world(.correlated(i)))
            worldChanges.append(Int64(f.atDays * Double(ms.day)))
        }
        for (i, f) in s.partitions.enumerated() {
            let at = Int64(f.atDays * Double(ms.day))
            queue.push(at: at, .world(.partitionStart(i)))
            queue.push(at: at + Int64(f.durationHours * Double(ms.hour)), .world(.partitionEnd(i)))
            worldChanges += [at, at + Int64(f.durationHours * Double(ms.hour))]
        }
        if s.convergenceDays > 0 {
            queue.push(at: faultEnd, .world(.converge))
            worldChanges.append(faultEnd)
        }
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
    func runTask(_ body: @escaping @Sendable () async -> Void) {
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
    var actionBuffer: [NodeAction] = []

    func takeActionBuffer() -> [NodeAction] {
        var buffer: [NodeAction] = []
        swap(&buffer, &actionBuffer)
        buffer.removeAll(keepingCapacity: true)
        return buffer
    }

    /// The same for the coordinator's actions.
    var coordinatorActionBuffer: [CoordinatorAction] = []

    func nodeReceive(_ i: Int, from: NodeID, sent: Int64, _ message: Message) {
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

    func nodeFire(_ i: Int, _ kind: TimerKind) {
        guard mode == .actors else {
            let local = localNow(i)
            if kind == .heartbeat, shortcuts,
               let beat = cores.withUnsafeBufferPointer({ $0[i].quietHeartbeat(now: local) })
            {
                // What the tick's actions would say, in their order (`quietHeartbeat`).
                send(from: NodeID(UInt32(i)), to: .coordinator, .heartbeat(used: beat.used))
                armTimer(NodeID(UInt32(i)), .heartbeat, at: beat.next)
                return
            }
            var actions = takeActionBuffer()
            if kind == .challenge, shortcuts {
                // Challenges whose answers are known are settled inside the tick (`settlesInTick`).
                cores.withUnsafeMutableBufferPointer { buffer in
                    let base = buffer.baseAddress!
                    base[i].onChallengeTimer(now: local, into: &actions) { settlesInTick($0, owner: i, cores: base) }
                }
            } else {
                cores[i].onTimer(kind, now: local, into: &actions)
            }
            perform(i, actions)
            actionBuffer = actions
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.fire(kind) }
    }

    func nodeStart(_ i: Int) {
        guard mode == .actors else {
            perform(i, cores[i].onStart(now: localNow(i)))
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.start() }
    }

    func nodeDiskLost(_ i: Int) {
        guard mode == .actors else {
            cores[i].onDiskLost()
            return
        }
        let actor = nodeActors[i]
        runTask { await actor.diskLost() }
    }

    func coordinatorStart() {
        guard mode == .actors, let actor = coordinatorActor else {
            performCoordinator(coordinator.onStart(now: Instant(milliseconds: now)))
            return
        }
        runTask { await actor.start() }
    }

    func coordinatorReceive(from: NodeID, sent: Int64, _ message: Message) {
        guard mode == .actors, let actor = coordinatorActor else {
            if shortcuts, case let .heartbeat(used) = message,
               coordinator.onQuietHeartbeat(from: from, used: used, sent: Instant(milliseconds: sent),
                                            now: Instant(milliseconds: now))
            {
                return
            }
            var actions: [CoordinatorAction] = []
            swap(&actions, &coordinatorActionBuffer)
            actions.removeAll(keepingCapacity: true)
            coordinator.onMessage(from: from, message, sent: Instant(milliseconds: sent), now: Instant(milliseconds: now),
                                  into: &actions)
            performCoordinator(actions)
            coordinatorActionBuffer = actions
            return
        }
        runTask { await actor.receive(message, from: from, sent: Instant(milliseconds: sent)) }
    }

    func coordinatorFire(_ kind: TimerKind) {
        guard mode == .actors, let actor = coordinatorActor else {
            performCoordinator(coordinator.onTimer(kind, now: Instant(milliseconds: now)))
            return
        }
        runTask { await actor.fire(kind) }
    }

    /// In actor mode the checkers read copies of the actors' state, refreshed here.
    func refreshMirrors() {
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
        while let event = nextEvent() {
            if event.time > end { break }
            precondition(event.time >= now, "time went backwards: \(event.time) < \(now)")
            guard events < bounds.eventsMax else {
                throw SimulationStopped(seed: seed, atMilliseconds: now,
                                        reason: "it processed \(bounds.eventsMax) events, the most one run may; shorten duration_days or use fewer nodes")
            }
            now = event.time
            events += 1
            if now >= restartAt, let restart = restartFromCheckpoints {
                restartFromCheckpoints = nil
                try restartFromCheckpoints(restart)
            }
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

    /// The next event: the queue's, or a heartbeat in the lane due before it.
    func nextEvent() -> Event? {
        // The earliest of the lanes' first entries (-1: the heartbeat lane), then the queue's.
        var lane = -2
        var time = Int64.max, seq = UInt64.max
        if let h = heartbeatLane.first { (lane, time, seq) = (-1, h.time, h.seq) }
        for k in timerLanes.indices {
            if let t = timerLanes[k].first, t.time < time || (t.time == time && t.seq < seq) { (lane, time, seq) = (k, t.time, t.seq) }
        }
        guard lane > -2, queue.precedesAll(time: time, seq: seq) else { return queue.pop() }
        if lane == -1 {
            let h = heartbeatLane.first!
            heartbeatLane.removeFirst()
            return Event(time: h.time, seq: h.seq, kind: .deliver(from: h.from, to: .coordinator, sent: h.sent, .heartbeat(used: h.used)))
        }
        let t = timerLanes[lane].first!
        timerLanes[lane].removeFirst()
        return Event(time: t.time, seq: t.seq, kind: .timer(node: NodeID(t.node), kind: TimerKind(rawValue: UInt8(lane))!, epoch: t.epoch))
    }

    func restartFromCheckpoints(_ restart: CheckpointRestart) throws(SimulationStopped) {
        precondition(mode == .direct, "checkpoint restarts are a direct-mode check")
        do {
            for i in cores.indices { cores[i] = try restart.node(cores[i]) }
            coordinator = try restart.coordinator(coordinator)
        } catch {
            throw SimulationStopped(seed: seed, atMilliseconds: now, reason: "a checkpoint did not read back: \(error)")
        }
    }

    /// Runs the event due now. `kind` is consumed, so a message moves to its handler
    /// without being retained and released again.
    func dispatch(_ kind: consuming EventKind) {
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
        case let .streamEnd(restorer, request):
            trace!.add(1 << 61 | UInt64(restorer.raw) << 32 | request & 0xffff_ffff)
            restorerStreamEnded(restorer, request: request)
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
