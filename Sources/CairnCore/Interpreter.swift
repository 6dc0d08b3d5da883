import CairnWire

/// What the shell hands back to a node's core after carrying out an action that reads or
/// writes shard bytes: the core, not the shell, turns it into a reply.
public enum NodeInput: Sendable {
    /// Storage wrote packs of slot `slot` of `contract` up to `packs` and checked them
    /// against their roots (`verified`).
    case slotStored(contract: ContractID, slot: SlotID, packs: UInt32, replyTo: NodeID, verified: Bool)
    /// Storage read a segment for challenge `challenge` (nil: not, or no longer, here).
    case segmentRead(challenge: UInt64, replyTo: NodeID, answer: SegmentProof?)
    /// Storage opened a slot for fetch `request`.
    case slotRead(request: UInt64, slot: SlotID, replyTo: NodeID, answer: FetchAnswer)
    /// The slot that streamed in behind fetch reply `request` was checked (`verified`).
    case slotVerified(request: UInt64, slot: SlotID, from: NodeID, bytes: UInt64, verified: Bool)
}

extension NodeCore {
    /// Takes what the shell reports back (`NodeInput`) and returns the replies to send.
    public mutating func on(_ input: NodeInput, now: Instant) -> [NodeAction] {
        switch input {
        case let .slotStored(contract, slot, packs, replyTo, verified):
            onSlotStored(contract: contract, slot: slot, packs: packs, replyTo: replyTo, verified: verified, now: now)
        case let .segmentRead(challenge, replyTo, answer):
            onSegmentRead(challenge: challenge, replyTo: replyTo, answer: answer, now: now)
        case let .slotRead(request, slot, replyTo, answer):
            onSlotRead(request: request, slot: slot, replyTo: replyTo, answer: answer, now: now)
        case let .slotVerified(request, slot, from, bytes, verified):
            onSlotVerified(request: request, slot: slot, from: from, bytes: bytes, verified: verified, now: now)
        }
    }
}

/// What every shell can do: send a message, arm a timer, pass a note on. The coordinator
/// needs no more.
public protocol MessageShell {
    func send(_ message: Message, to: NodeID)
    func setTimer(_ kind: TimerKind, at: Instant)
    func observe(_ note: Note)
}

/// Checking a slot that streamed in behind a fetch reply (owner, repairer, restorer).
public protocol StreamChecker {
    /// Whether the stream behind fetch reply `request` from `from` is the first
    /// `expect.packs` packs of the slot, every shard matching its root and the slot's tree
    /// `expect.root`.
    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool
}

/// A restoring device's capabilities.
public typealias RestoreShell = MessageShell & StreamChecker

/// The capabilities one node's actions are carried out with: production's transport,
/// timers and LMDB storage behind `NodeActor`, or the simulator's network, event queue and
/// synthetic storage in its direct mode. Synchronous: a send is queued on the transport, a
/// timer armed, a store or read done on local storage.
public protocol NodeShell: MessageShell, StreamChecker {
    /// Writes packs `from..<to.packs` of the slot, checks every shard against its root and
    /// the slot's tree against `to.root`, makes them durable: true only if all of it held.
    func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool
    func delete(_ slot: SlotID)
    /// The proof for a challenge, or nil when the slot (or that pack) is not here.
    func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof?
    /// Whether (and how long) the slot can be streamed to a requester.
    func serve(_ slot: SlotID) -> FetchAnswer
}

/// The one interpreter of the state machines' actions — a node's, the coordinator's and a
/// restore's — shared by `NodeActor`, `CoordinatorActor` and the simulator's direct mode,
/// so both carry out exactly the same steps: `--actors` and direct runs differ only in
/// scheduling. Reads and writes of shard bytes go to the shell; what they found goes back
/// to the state machine through `feed`, whose replies are carried out in turn.
public enum Interpreter {
    /// Inlinable, so the simulator's event loop gets it specialised for its shell.
    @inlinable
    public static func perform(_ actions: [NodeAction], through shell: some NodeShell, feed: (NodeInput) -> [NodeAction]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                shell.send(message, to: to)
            case let .setTimer(kind, at):
                shell.setTimer(kind, at: at)
            case let .storeSlot(contract, slot, from, to, replyTo):
                let verified = shell.store(slot, from: from, to: to)
                perform(feed(.slotStored(contract: contract, slot: slot, packs: to.packs, replyTo: replyTo,
                                         verified: verified)),
                        through: shell, feed: feed)
            case let .deleteSlot(slot):
                shell.delete(slot)
            case let .readSegment(challenge, slot, pack, packs, selector, replyTo):
                let answer = shell.prove(slot, pack: pack, packs: packs, selector: selector)
                perform(feed(.segmentRead(challenge: challenge, replyTo: replyTo, answer: answer)), through: shell, feed: feed)
            case let .verifySlot(request, slot, from, expect, bytes):
                let verified = shell.verify(slot, request: request, from: from, expect: expect)
                perform(feed(.slotVerified(request: request, slot: slot, from: from, bytes: bytes, verified: verified)),
                        through: shell, feed: feed)
            case let .readSlot(request, slot, replyTo):
                let answer = shell.serve(slot)
                perform(feed(.slotRead(request: request, slot: slot, replyTo: replyTo, answer: answer)),
                        through: shell, feed: feed)
            case let .note(note):
                shell.observe(note)
            }
        }
    }

    @inlinable
    public static func perform(_ actions: [CoordinatorAction], through shell: some MessageShell) {
        for action in actions {
            switch action {
            case let .send(to, message): shell.send(message, to: to)
            case let .setTimer(kind, at): shell.setTimer(kind, at: at)
            case let .note(note): shell.observe(note)
            }
        }
    }

    /// `feed` gets each checked slot (`RestoreSession.onSlotVerified`).
    @inlinable
    public static func perform(_ actions: [RestoreAction], through shell: some RestoreShell,
                               feed: (_ request: UInt64, _ slot: SlotID, _ from: NodeID, _ bytes: UInt64, _ verified: Bool)
                                   -> [RestoreAction])
    {
        for action in actions {
            switch action {
            case let .send(to, message):
                shell.send(message, to: to)
            case let .setTimer(kind, at):
                shell.setTimer(kind, at: at)
            case let .verifySlot(request, slot, from, expect, bytes):
                let verified = shell.verify(slot, request: request, from: from, expect: expect)
                perform(feed(request, slot, from, bytes, verified), through: shell, feed: feed)
            case let .note(note):
                shell.observe(note)
            }
        }
    }
}
