import CairnWire
/// The timers a node or coordinator keeps; setting one replaces the previous deadline.
public enum TimerKind: UInt8, Sendable, CaseIterable {
    case heartbeat = 0, challenge, repair, expiry, uptimeSlot
    /// A restore session's fetch deadlines and retries.
    case restore
}

/// Facts the core reports for logs and metrics; they change nothing by themselves.
public enum Note: Hashable, Sendable {
    case packLost(PackID)
    case fault(holder: NodeID, FaultKind)
    case repairStarted(PackID, shards: Int)
    case repairCompleted(PackID)
    case repairBytes(UInt64)
    case standing(NodeID, Reputation.Standing)
    case released(ShardID, graceUntil: Instant)
    case contractBroken(ContractID)
    case freed(ShardID)
    /// Coordinator: a blind repair was ordered / one slot of it completed.
    case blindRepairOrdered(PackID)
    case blindRepaired(ShardID)
    /// A message stamped `by` away from this node's clock, beyond its bound, was refused.
    case clockSkew(from: NodeID, by: Interval)
    /// Holder: an arriving shard did not match its root (or could not be made durable).
    case shardRefused(ShardID)
    /// Coordinator: a message from a node number it never admitted was dropped.
    case unknownNode(NodeID)
}

/// What the surrounding actor must do. The state machines return these; they never do I/O.
public enum Action: Hashable, Sendable {
    case send(to: NodeID, Message)
    case setTimer(TimerKind, at: Instant)
    /// Holder: write the arriving shard of `contract` (its pack's geometry and its root come
    /// with it), check it against the root and make it durable; then tell the core
    /// `onShardStored`, which acknowledges to `replyTo` only if it was.
    case storeShard(contract: ContractID, shard: ShardID, geometry: PackGeometry, root: [UInt8], replyTo: NodeID)
    /// Holder: free a shard.
    case deleteShard(ShardID)
    /// Holder: read a segment and its Merkle path from storage and give them to the core
    /// (`onSegmentRead`), which answers challenge `challenge` of `replyTo`.
    case readSegment(challenge: UInt64, shard: ShardID, segment: UInt32, replyTo: NodeID)
    /// Holder: open the shard for streaming and tell the core (`onShardRead`), which
    /// answers fetch `request` of `replyTo`.
    case readShard(request: UInt64, shard: ShardID, replyTo: NodeID)
    case note(Note)
}
