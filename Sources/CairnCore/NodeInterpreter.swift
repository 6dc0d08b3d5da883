import CairnWire

/// What the shell hands back to a node's core after carrying out an action that reads or
/// writes shard bytes: the core, not the shell, turns it into a reply.
public enum NodeInput: Sendable {
    /// Storage wrote shard `shard` of `contract` and checked it against its root (`verified`).
    case shardStored(contract: ContractID, shard: ShardID, replyTo: NodeID, verified: Bool)
    /// Storage read a segment for challenge `challenge` (nil: not, or no longer, here).
    case segmentRead(challenge: UInt64, replyTo: NodeID, answer: (segment: [UInt8], proof: [[UInt8]])?)
    /// Storage opened a shard for fetch `request`.
    case shardRead(request: UInt64, shard: ShardID, replyTo: NodeID, answer: FetchAnswer)
}

extension NodeCore {
    /// Takes what the shell reports back (`NodeInput`) and returns the replies to send.
    public mutating func on(_ input: NodeInput, now: Instant) -> [Action] {
        switch input {
        case let .shardStored(contract, shard, replyTo, verified):
            onShardStored(contract: contract, shard: shard, replyTo: replyTo, verified: verified, now: now)
        case let .segmentRead(challenge, replyTo, answer):
            onSegmentRead(challenge: challenge, replyTo: replyTo, answer: answer, now: now)
        case let .shardRead(request, shard, replyTo, answer):
            onShardRead(request: request, shard: shard, replyTo: replyTo, answer: answer, now: now)
        }
    }
}

/// The capabilities one node's actions are carried out with: production's transport,
/// timers and LMDB storage behind `NodeActor`, or the simulator's network, event queue and
/// synthetic storage in its direct mode. Synchronous: a send is queued on the transport, a
/// timer armed, a store or read done on local storage.
public protocol NodeShell {
    func send(_ message: Message, to: NodeID)
    func setTimer(_ kind: TimerKind, at: Instant)
    /// Writes the shard, checks it against `root`, makes it durable: true only if all three held.
    func store(_ shard: ShardID, geometry: PackGeometry, root: [UInt8]) -> Bool
    func delete(_ shard: ShardID)
    /// A segment and its Merkle path, or nil when the shard is not (or no longer) here.
    func prove(_ shard: ShardID, segment: UInt32) -> (segment: [UInt8], proof: [[UInt8]])?
    /// Whether (and how long) the shard can be streamed to a requester.
    func serve(_ shard: ShardID) -> FetchAnswer
    func observe(_ note: Note)
}

/// The one interpreter of a node's actions, shared by `NodeActor` and the simulator's
/// direct mode, so both carry out exactly the same steps: `--actors` and direct runs differ
/// only in scheduling. Reads and writes of shard bytes go to the shell; what they found
/// goes back to the core through `feed`, whose replies are carried out in turn.
public enum NodeInterpreter {
    /// Inlinable, so the simulator's event loop gets it specialised for its shell.
    @inlinable
    public static func perform(_ actions: [Action], through shell: some NodeShell, feed: (NodeInput) -> [Action]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                shell.send(message, to: to)
            case let .setTimer(kind, at):
                shell.setTimer(kind, at: at)
            case let .storeShard(contract, shard, geometry, root, replyTo):
                let verified = shell.store(shard, geometry: geometry, root: root)
                perform(feed(.shardStored(contract: contract, shard: shard, replyTo: replyTo, verified: verified)),
                        through: shell, feed: feed)
            case let .deleteShard(shard):
                shell.delete(shard)
            case let .readSegment(challenge, shard, segment, replyTo):
                let answer = shell.prove(shard, segment: segment)
                perform(feed(.segmentRead(challenge: challenge, replyTo: replyTo, answer: answer)), through: shell, feed: feed)
            case let .readShard(request, shard, replyTo):
                let answer = shell.serve(shard)
                perform(feed(.shardRead(request: request, shard: shard, replyTo: replyTo, answer: answer)),
                        through: shell, feed: feed)
            case let .note(note):
                shell.observe(note)
            }
        }
    }
}
