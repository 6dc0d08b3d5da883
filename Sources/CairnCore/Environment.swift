import CairnWire
/// Carries messages between nodes, stamping each with the sender's clock when it has left
/// (the receiver's core refuses stamps too far from its own clock). Production:
/// authenticated UDP/TCP sessions through SwiftNIO; simulation: the simulated network.
public protocol Transport: Sendable {
    func send(_ message: Message, from: NodeID, to: NodeID)
}

/// The node's time source: UTC milliseconds (`Instant`). Production: the system's real-time
/// clock; simulation: the virtual clock, with the node's offset and drift.
public protocol NodeClock: Sendable {
    var now: Instant { get }
}

/// Arms the node's timers: when a deadline passes, the environment calls `fire` on the
/// actor that armed it. Setting a kind again replaces its deadline.
public protocol TimerService: Sendable {
    func set(_ timer: TimerKind, at: Instant, for node: NodeID)
}

/// Where a holder keeps others' shards. Production: LMDB + files; simulation: in memory
/// with synthetic contents.
public protocol ShardStorage: Sendable {
    /// Writes packs `from..<to.packs` of the slot, checks every shard against its root and
    /// the slot's tree against `to.root`, makes them durable: true only if all of it held.
    func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool
    func delete(_ slot: SlotID)
    /// The proof for a challenge, or nil when the slot (or that pack) is not here.
    func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof?
    /// Whether (and how long) the slot can be streamed to a requester.
    func serve(_ slot: SlotID) -> FetchAnswer
    /// Whether the stream behind fetch reply `request` from `from` is the first
    /// `expect.packs` packs of the slot, every shard matching its root and the slot's tree
    /// `expect.root` (production: the spooled stream, checked as `Check` checks a target).
    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool
}

/// What storage says to a fetch.
public enum FetchAnswer: Hashable, Sendable {
    /// The shard follows, this long.
    case data(bytes: UInt64)
    /// Not here: answer `ok == false`.
    case missing
    /// Say nothing (a fault point: only the simulator's refusing adversaries use it).
    case silent
}

/// The node's environment: everything it touches outside its state machines.
public struct NodeEnvironment: Sendable {
    public var transport: any Transport
    public var clock: any NodeClock
    public var timers: any TimerService
    public var storage: any ShardStorage
    /// Notes (metrics, logs) go here.
    public var observe: @Sendable (NodeID, Note) -> Void

    public init(transport: any Transport, clock: any NodeClock, timers: any TimerService, storage: any ShardStorage,
                observe: @escaping @Sendable (NodeID, Note) -> Void)
    {
        self.transport = transport
        self.clock = clock
        self.timers = timers
        self.storage = storage
        self.observe = observe
    }
}

/// A node's environment as the interpreter's shell.
struct EnvironmentShell: NodeShell {
    let env: NodeEnvironment
    let node: NodeID
    func send(_ message: Message, to: NodeID) { env.transport.send(message, from: node, to: to) }
    func setTimer(_ kind: TimerKind, at: Instant) { env.timers.set(kind, at: at, for: node) }
    func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool { env.storage.store(slot, from: from, to: to) }
    func delete(_ slot: SlotID) { env.storage.delete(slot) }
    func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
        env.storage.prove(slot, pack: pack, packs: packs, selector: selector)
    }
    func serve(_ slot: SlotID) -> FetchAnswer { env.storage.serve(slot) }
    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        env.storage.verify(slot, request: request, from: from, expect: expect)
    }
    func observe(_ note: Note) { env.observe(node, note) }
}

/// A node: owns its `NodeCore` and carries out the core's actions through the injected
/// environment. It never reads a clock or a random source itself, never sleeps, and starts
/// no tasks: it reacts to `start`, `receive` and `fire`, which the environment calls.
///
/// It runs on the serial executor it is given (SE-0392): production passes the transport's
/// event loop; the simulator passes its own `SimulatorExecutor`, so every node, the
/// coordinator and every task run on one thread in an order fixed by the seed.
public actor NodeActor {
    public let id: NodeID
    private var core: NodeCore
    private let env: NodeEnvironment
    private let executor: UnownedSerialExecutor

    public init(core: NodeCore, environment: NodeEnvironment, executor: UnownedSerialExecutor) {
        id = core.me
        self.core = core
        env = environment
        self.executor = executor
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor }

    public var snapshot: NodeCore { core }

    /// The disk was lost: forget what was held for others (the owner side is recovered).
    public func diskLost() {
        core.onDiskLost()
    }

    public func start() async {
        perform(core.onStart(now: env.clock.now))
    }

    /// A message `from` a peer, stamped `sent` by the peer's clock.
    public func receive(_ message: Message, from: NodeID, sent: Instant) async {
        perform(core.onMessage(from: from, message, sent: sent, now: env.clock.now))
    }

    public func fire(_ timer: TimerKind) async {
        perform(core.onTimer(timer, now: env.clock.now))
    }

    private func perform(_ actions: [NodeAction]) {
        Interpreter.perform(actions, through: EnvironmentShell(env: env, node: id)) { input in
            core.on(input, now: env.clock.now)
        }
    }
}

/// The coordinator: owns its `CoordinatorCore` over the same kind of environment and
/// runs on the executor it is given, like `NodeActor`.
public actor CoordinatorActor {
    private var core: CoordinatorCore
    private let env: NodeEnvironment
    private let executor: UnownedSerialExecutor

    public init(core: CoordinatorCore, environment: NodeEnvironment, executor: UnownedSerialExecutor) {
        self.core = core
        env = environment
        self.executor = executor
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor }

    public var snapshot: CoordinatorCore { core }

    public func start() async {
        perform(core.onStart(now: env.clock.now))
    }

    /// A message `from` a node, stamped `sent` by the node's clock.
    public func receive(_ message: Message, from: NodeID, sent: Instant) async {
        perform(core.onMessage(from: from, message, sent: sent, now: env.clock.now))
    }

    public func fire(_ timer: TimerKind) async {
        perform(core.onTimer(timer, now: env.clock.now))
    }

    private func perform(_ actions: [CoordinatorAction]) {
        Interpreter.perform(actions, through: EnvironmentShell(env: env, node: .coordinator))
    }
}
