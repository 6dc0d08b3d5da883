import CairnWire
/// The timers a node or coordinator keeps; setting one replaces the previous deadline.
public enum TimerKind: UInt8, Sendable, CaseIterable {
    case heartbeat = 0, challenge, repair, expiry, uptimeSlot
    /// A restore session's fetch deadlines and retries.
    case restore
}

/// Facts the core reports for logs and metrics; they change nothing by themselves.
public enum Note: Hashable, Sendable {
    case volumeLost(VolumeID)
    case fault(holder: NodeID, FaultKind)
    case repairStarted(VolumeID, shards: Int)
    case repairCompleted(VolumeID)
    case repairBytes(UInt64)
    case standing(NodeID, Reputation.Standing)
    case released(SlotID, graceUntil: Instant)
    case contractBroken(ContractID)
    /// Owner: the contract's term ended before a renewal was placed; its slot is matched again.
    case contractLapsed(ContractID)
    /// Owner: the holder renewed the slot's contract in place (old, new).
    case contractRenewed(ContractID, ContractID)
    case freed(SlotID)
    /// Coordinator: a blind repair was ordered / one slot of it completed.
    case blindRepairOrdered(VolumeID)
    case blindRepaired(SlotID)
    /// A message stamped `by` away from this node's clock, beyond its bound, was refused.
    case clockSkew(from: NodeID, by: Interval)
    /// Holder: an arriving slot did not match its roots (or could not be made durable).
    case slotRefused(SlotID)
    /// Coordinator: a message from a node number it never admitted was dropped.
    case unknownNode(NodeID)
    /// Owner: every slot of the volume has its packs below `packs`; their local copies in
    /// the owner's pack store may go.
    case placed(VolumeID, packs: UInt32)
}

/// What a node's shell must do. The node core returns these; it never does I/O.
public enum NodeAction: Hashable, Sendable {
    case send(to: NodeID, Message)
    case setTimer(TimerKind, at: Instant)
    /// Holder: write packs `from..<to.packs` of the arriving slot of `contract` (each shard
    /// with its geometry), check each shard against its root and the slot's tree against
    /// `to.root`, and make them durable; then tell the core `onSlotStored`, which
    /// acknowledges to `replyTo` only if all of it held.
    case storeSlot(contract: ContractID, slot: SlotID, from: UInt32, to: SlotExtent, replyTo: NodeID)
    /// Holder: free a slot.
    case deleteSlot(SlotID)
    /// Holder: read the segment `selector` picks in pack `pack` of the slot, with its path
    /// to the pack's shard root and the pack's path in the slot's tree over its first
    /// `packs` packs, and give them to the core (`onSegmentRead`), which answers challenge
    /// `challenge` of `replyTo`.
    case readSegment(challenge: UInt64, slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32, replyTo: NodeID)
    /// Holder: open the slot for streaming and tell the core (`onSlotRead`), which answers
    /// fetch `request` of `replyTo`.
    case readSlot(request: UInt64, slot: SlotID, replyTo: NodeID)
    /// Owner, repairer or restorer: the slot that streamed in behind fetch reply `request`
    /// from `from` (`bytes` long) must be the first `expect.packs` packs of the slot, each
    /// shard matching its root and the slot's tree `expect.root`. Check it and tell the
    /// core (`onSlotVerified`): only a verified stream counts as fetched.
    case verifySlot(request: UInt64, slot: SlotID, from: NodeID, expect: SlotExtent, bytes: UInt64)
    case note(Note)
}

/// What the coordinator's shell must do: it only talks and keeps time.
public enum CoordinatorAction: Hashable, Sendable {
    case send(to: NodeID, Message)
    case setTimer(TimerKind, at: Instant)
    case note(Note)
}

/// What a restoring device's shell must do: talk, keep time, and check each slot that
/// streams in before the session counts it.
public enum RestoreAction: Hashable, Sendable {
    case send(to: NodeID, Message)
    case setTimer(TimerKind, at: Instant)
    /// As `NodeAction.verifySlot`: tell the session `onSlotVerified`.
    case verifySlot(request: UInt64, slot: SlotID, from: NodeID, expect: SlotExtent, bytes: UInt64)
    case note(Note)
}
