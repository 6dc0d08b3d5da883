/// Carries messages between nodes. Production: authenticated UDP/TCP sessions through
/// SwiftNIO; simulation: the simulated network.
public protocol Transport: Sendable {
    func send(_ message: Message, from: NodeID, to: NodeID) async
}

/// The node's time source. Production: the continuous clock mapped to `Instant`;
/// simulation: the virtual clock.
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
    func store(_ shard: ShardID, bytes: UInt64, root: [UInt8], segments: UInt32) async
    func delete(_ shard: ShardID) async
    /// A segment and its Merkle path, or nil when the shard is not (or no longer) here.
    func prove(_ shard: ShardID, segment: UInt32) async -> (segment: [UInt8], proof: [[UInt8]])?
    /// The shard's length if it can be streamed.
    func length(of shard: ShardID) async -> UInt64?
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
public actor NodeActor {
    public let id: NodeID
    private var core: NodeCore
    private let env: NodeEnvironment

    public init(core: NodeCore, environment: NodeEnvironment) {
        id = core.me
        self.core = core
        env = environment
    }

    public var snapshot: NodeCore { core }

    public func start() async {
        await perform(core.onStart(now: env.clock.now))
    }

    public func receive(_ message: Message, from: NodeID) async {
        await perform(core.onMessage(from: from, message, now: env.clock.now))
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
            case let .storeShard(shard, bytes, root, segments):
                await env.storage.store(shard, bytes: bytes, root: root, segments: segments)
            case let .deleteShard(shard):
                await env.storage.delete(shard)
            case let .answerChallenge(to, challenge, shard, segment):
                if let answer = await env.storage.prove(shard, segment: segment) {
                    await env.transport.send(.challengeReply(id: challenge, segment: answer.segment, proof: answer.proof),
                                             from: id, to: to)
                } else {
                    await env.transport.send(.challengeMissing(id: challenge), from: id, to: to)
                }
            case let .serveFetch(to, request, shard):
                let length = await env.storage.length(of: shard)
                await env.transport.send(.fetchReply(request: request, shard: shard, ok: length != nil, bytes: length ?? 0),
                                         from: id, to: to)
            case let .note(note):
                env.observe(id, note)
            }
        }
    }
}

/// The coordinator: owns its `CoordinatorCore` over the same kind of environment.
public actor CoordinatorActor {
    private var core: CoordinatorCore
    private let env: NodeEnvironment

    public init(core: CoordinatorCore, environment: NodeEnvironment) {
        self.core = core
        env = environment
    }

    public var snapshot: CoordinatorCore { core }

    public func start() async {
        await perform(core.onStart(now: env.clock.now))
    }

    public func receive(_ message: Message, from: NodeID) async {
        await perform(core.onMessage(from: from, message, now: env.clock.now))
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
            case .storeShard, .deleteShard, .answerChallenge, .serveFetch:
                preconditionFailure("coordinator asked to act as a holder: \(action)")
            }
        }
    }
}
