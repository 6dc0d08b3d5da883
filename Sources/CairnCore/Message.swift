import CairnWire
internal import CairnCrypto

/// Every message of the node protocol. Typed, versioned (`ProtocolLimits.wireVersion`), bounded in
/// size; `encode(sent:)` and `Message.decode(_:)` are the bytes the real transport carries.
/// Slot payloads (`storeSlot`, `fetchReply`) travel as a stream after the message; only
/// their length is in it.
///
/// The three cases that carry contract terms are `indirect` (boxed): they are rare, and
/// inline they made every message — and every action and simulator event around one —
/// 80 bytes instead of 48.
public enum Message: Hashable, Sendable {
    /// node → coordinator: join the directory. `fresh`: the node lost its disk and starts
    /// empty (what it held is gone; owners will find out by challenge).
    case join(offered: UInt64, speed: UInt32, publicKey: [UInt8], fresh: Bool)
    /// node → coordinator, periodically: I am up, using this many bytes for others.
    case heartbeat(used: UInt64)
    /// coordinator → node: an operator warning (1) or exclusion notice (2).
    case warning(level: UInt8)
    /// owner → coordinator: find `count` holders for a shard of `volume`, none of `exclude`.
    case matchRequest(request: UInt64, volume: VolumeID, slotBytes: UInt64, count: UInt8, speed: UInt32, exclude: [NodeID])
    /// coordinator → owner.
    case matchReply(request: UInt64, volume: VolumeID, candidates: [Candidate])
    /// owner → holder: proposed contract, signed by the owner; or repairer → holder, signed
    /// by the repairer in the owner's name under the coordinator's `mandate`.
    indirect case propose(terms: ContractTerms, ownerKey: [UInt8], ownerSignature: [UInt8], mandate: BlindRepairMandate?)
    /// holder → owner: accepted, signed by the holder.
    case accept(contract: ContractID, holderSignature: [UInt8])
    /// holder → owner: refused (`ContractBook.Refusal`: 1 no space, 2 already holds that volume,
    /// 3 bad signature, 4 not for me, 5 no valid repair mandate, 6 start off the holder's clock).
    case reject(contract: ContractID, reason: UInt8)
    /// owner (or repairer) → holder: packs `from..<to.packs` of the slot follow, `bytes`
    /// long (each shard with its geometry); after them the slot's tree must have root
    /// `to.root`, which the holder checks before it acknowledges. `from` is 0 for a whole
    /// slot (placement, repair) and the holder's count for an append.
    indirect case storeSlot(contract: ContractID, slot: SlotID, from: UInt32, to: SlotExtent, bytes: UInt64)
    /// holder → owner: the first `packs` packs of the contract's slot are stored, verified
    /// and durable.
    case storeAck(contract: ContractID, packs: UInt32)
    /// owner → holder: prove the segment `selector` picks in pack `pack` of `slot`, against
    /// the slot's tree over its first `packs` packs.
    case challenge(id: UInt64, slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32)
    /// holder → owner: the segment and both its paths.
    indirect case challengeReply(id: UInt64, proof: SegmentProof)
    /// holder → owner: I do not have it.
    case challengeMissing(id: UInt64)
    /// owner → holder: send me the slot: every pack it holds, each shard with its geometry and root (repair or restore).
    case fetch(request: UInt64, slot: SlotID)
    /// holder → owner: the slot follows (`bytes` long) or `ok == false`.
    case fetchReply(request: UInt64, slot: SlotID, ok: Bool, bytes: UInt64)
    /// owner → holder: the contract ended at `at`; keep the shard for the grace period
    /// from then (resent with the same instant until acknowledged).
    case release(contract: ContractID, at: Instant)
    /// holder → owner.
    case releaseAck(contract: ContractID)
    /// owner → coordinator.
    case uptimeQuery(request: UInt64, nodes: [NodeID])
    /// coordinator → owner.
    case uptimeReply(request: UInt64, entries: [UptimeEntry])
    /// owner → coordinator: a holder failed a check. `since`: when the contract began, or
    /// for `refusedFetch` when the fetch left unanswered was sent (the coordinator counts it
    /// only against a holder whose session spans it).
    case report(holder: NodeID, fault: FaultKind, since: Instant)
    /// owner → coordinator: who holds the shards of a volume and their roots (the replicated
    /// root record; `NodeID.coordinator` marks an empty slot).
    case rootRecord(VolumeLocation)
    /// coordinator → a holder of the volume, while its owner is away: rebuild these slots
    /// from any k of `sources` (one per slot, `NodeID.coordinator` = none) and place them.
    /// `roots`: every slot's root over the volume's packs, to check the fetched slots against.
    indirect case blindRepairOrder(volume: VolumeID, owner: NodeID, layout: VolumeLayout, sources: [NodeID], roots: [[UInt8]],
                                   targets: [BlindRepairTarget])
    /// repairer → coordinator: one slot re-created under a contract signed on the owner's behalf;
    /// also target → coordinator, from the holder that stored it (the terms signed by the repairer).
    indirect case blindRepairDone(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8])
    /// coordinator → owner, when it is back: adopt a contract made on its behalf.
    indirect case adopt(terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8])
    /// restorer → coordinator: where are `owner`'s volumes? (the page starting at `start`).
    case recordQuery(request: UInt64, owner: NodeID, start: UInt32)
    /// coordinator → restorer: volumes `start..<start + volumes.count` of `total`, in the order
    /// their records first arrived (at most `ProtocolLimits.locationsPerReplyMax`).
    indirect case recordReply(request: UInt64, start: UInt32, total: UInt32, volumes: [VolumeLocation])

    /// holder → coordinator, after it reclaimed its number from a coordinator that lost its
    /// directory: a slot it holds under a contract its owner signed, and how much of it is
    /// stored. The rebuilt coordinator serves these to a restore while the owner is away
    /// (its own root record, once it sends one, replaces them).
    indirect case holding(HeldSlotReport)

    /// owner → holder, from a node that restored the owner's volumes on a new machine
    /// (its node state was lost with the old one): which contract of mine do you hold for
    /// `slot`, and how much of it? The answer is checked against the owner's own signature
    /// and the roots the restored packs give, never believed as it stands.
    case contractQuery(request: UInt64, slot: SlotID)
    /// holder → owner: the active contract it holds for the slot, as in `holding`, and its
    /// own signature on the terms; `report` nil: none here.
    indirect case contractHeld(request: UInt64, slot: SlotID, report: HeldSlotReport?, holderSignature: [UInt8])
    /// node → coordinator, from a node that adopted its owner's volumes on a new machine,
    /// on every session from then on: this session's node key is the owner's node from now
    /// on; refuse the node keys the owner's number had before (the old machine, should it
    /// come back), and `retired`, the keys the coordinator named in its last `keysRetired`
    /// (so a coordinator that lost its directory refuses the old machine again). Each key
    /// is 32 bytes, at most `ProtocolLimits.retiredKeysMax`.
    case takeOver(retired: [[UInt8]])
    /// coordinator → node, the answer to `takeOver`: every node key refused for this
    /// owner's number, which the node keeps for its next `takeOver`.
    case keysRetired([[UInt8]])
    /// coordinator → node: another machine took this owner's node over (`takeOver`); this
    /// node key is refused from now on. The node stops acting on its state.
    case retired

    // Addressing: what the network's services say to each other so that a node number means
    // a session. The state machines never see these (the node and coordinator services
    // answer them); a node's number is its owner's, given by the coordinator.

    /// node → coordinator, first on its session: where others can reach me (`host` empty:
    /// nowhere, only through the coordinator's relay; a host of `0.0.0.0`/`::` means the
    /// address this session comes from), and how its operator wants to hear when it is
    /// offline while someone needs what it holds (`contact`: a URL or an address, printable
    /// ASCII, empty for nobody; the coordinator hands it to its own notification command).
    case hello(host: String, port: UInt16, contact: String)
    /// coordinator → node: your node number (the same for the same owner key, always), and
    /// the coordinator's signature on it (`membership`: Ed25519 over the number and the
    /// owner key), which the node keeps to `reclaim` the number from a coordinator that lost
    /// its directory. `node` is `.coordinator` when no number is given yet (a coordinator
    /// rebuilding its directory admits no new member until the old ones had time to come back).
    case welcome(node: NodeID, membership: [UInt8])
    /// node → coordinator, after a welcome with another number (or none): the number the
    /// coordinator once gave this owner, with its signature, so contracts and volumes that
    /// name it keep meaning this node.
    case reclaim(node: NodeID, membership: [UInt8])
    /// node → coordinator: how do I reach `node`?
    case locate(request: UInt64, node: NodeID)
    /// coordinator → node: `node`'s node key (empty: no such member) and address (`host`
    /// empty: only through the relay).
    case located(request: UInt64, node: NodeID, nodeKey: [UInt8], host: String, port: UInt16)
    /// node → node, first on a session it opened: I am `node` (the receiver checks the
    /// session's key against the coordinator's before it believes it).
    case peerHello(node: NodeID)

    /// The wire type byte.
    public var typeByte: UInt8 {
        switch self {
        case .join: 1
        case .heartbeat: 2
        case .warning: 3
        case .matchRequest: 4
        case .matchReply: 5
        case .propose: 6
        case .accept: 7
        case .reject: 8
        case .storeSlot: 9
        case .storeAck: 10
        case .challenge: 11
        case .challengeReply: 12
        case .challengeMissing: 13
        case .fetch: 14
        case .fetchReply: 15
        case .release: 16
        case .releaseAck: 17
        case .uptimeQuery: 18
        case .uptimeReply: 19
        case .report: 20
        case .rootRecord: 21
        case .blindRepairOrder: 22
        case .blindRepairDone: 23
        case .adopt: 24
        case .recordQuery: 25
        case .recordReply: 26
        case .hello: 27
        case .welcome: 28
        case .locate: 29
        case .located: 30
        case .peerHello: 31
        case .reclaim: 32
        case .holding: 33
        case .contractQuery: 34
        case .contractHeld: 35
        case .takeOver: 36
        case .retired: 37
        case .keysRetired: 38
        }
    }

    /// Shard payload bytes that follow the message on the stream (charged on the link).
    public var payloadBytes: UInt64 {
        switch self {
        case .storeSlot(_, _, _, _, let bytes): bytes
        case .fetchReply(_, _, let ok, let bytes): ok ? bytes : 0
        default: 0
        }
    }
}
