import CairnWire
/// Carries messages between nodes, stamping each with the sender's clock when it has left
/// (the receiver's core refuses stamps too far from its own clock). Production:
/// authenticated UDP/TCP sessions through SwiftNIO; simulation: the simulated network.
public protocol Transport: Sendable {
    func send(_ message: Message, from: NodeID, to: NodeID) async
}

/// The node's time source: UTC milliseconds (`Instant`). Production: the system's real-time
/// clock; simulation: the virtual clock, with the node's offset and drift.
public protocol NodeClock: Sendable {
    var now: Instant { get }
}

/// Arms the node's timers: when a deadline passes, the environment calls `fire` on the
/// actor that armed it. Setting a kind again replaces its deadline.
public protocol TimerService: Sendable {
    func set(_ timer: TimerKind, at: Instant, for node: NodeID) async
}

/// Where a holder keeps others' shards. Production: LMDB + files; simulation: in memory
/// with synthetic contents.
public protocol ShardStorage: Sendable {
    /// Writes the shard, checks it against `root`, makes it durable: true only if all three held.
    func store(_ shard: ShardID, geometry: PackGeometry, root: [UInt8]) async -> Bool
    func delete(_ shard: ShardID) async
    /// A segment and its Merkle path, or nil when the shard is not (or no longer) here.
    func prove(_ shard: ShardID, segment: UInt32) async -> (segment: [UInt8], proof: [[UInt8]])?
    /// Whether (and how long) the shard can be streamed to a requester.
    func serve(_ shard: ShardID) async -> FetchAnswer
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
        await perform(core.onStart(now: env.clock.now))
    }

    /// A message `from` a peer, stamped `sent` by the peer's clock.
    public func receive(_ message: Message, from: NodeID, sent: Instant) async {
        await perform(core.onMessage(from: from, message, sent: sent, now: env.clock.now))
    }

    public func fire(_ timer: TimerKind) async {
        await perform(core.onTimer(timer, now: env.clock.now))
    }

    private func perform(_ actions: [Action]) async {
        for action in actions {
            switch action {
            case let .send(to, message):
                await env.transport.send(message, from: id, to: to)
            case let .setTimer(kind, at):
                await env.timers.set(kind, at: at, for: id)
            case let .storeShard(contract, shard, geometry, root, replyTo):
                let verified = await env.storage.store(shard, geometry: geometry, root: root)
                await perform(core.onShardStored(contract: contract, shard: shard, replyTo: replyTo, verified: verified,
                                                 now: env.clock.now))
            case let .deleteShard(shard):
                await env.storage.delete(shard)
            case let .readSegment(challenge, shard, segment, replyTo):
                let answer = await env.storage.prove(shard, segment: segment)
                await perform(core.onSegmentRead(challenge: challenge, replyTo: replyTo, answer: answer, now: env.clock.now))
            case let .readShard(request, shard, replyTo):
                let answer = await env.storage.serve(shard)
                await perform(core.onShardRead(request: request, shard: shard, replyTo: replyTo, answer: answer,
                                               now: env.clock.now))
            case let .note(note):
                env.observe(id, note)
            }
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
        await perform(core.onStart(now: env.clock.now))
    }

    /// A message `from` a node, stamped `sent` by the node's clock.
    public func receive(_ message: Message, from: NodeID, sent: Instant) async {
        await perform(core.onMessage(from: from, message, sent: sent, now: env.clock.now))
    }

    public func fire(_ timer: TimerKind) async {
        await perform(core.onTimer(timer, now: env.clock.now))
    }

    private func perform(_ actions: [Action]) async {
        for action in actions {
            switch action {
            case let .send(to, message):
                await env.transport.send(message, from: .coordinator, to: to)
            case let .setTimer(kind, at):
                await env.timers.set(kind, at: at, for: .coordinator)
            case let .note(note):
                env.observe(.coordinator, note)
            case .storeShard, .deleteShard, .readSegment, .readShard:
                preconditionFailure("coordinator asked to act as a holder: \(action)")
            }
        }
    }
}
