import CairnWire
import CairnCore
import CairnCrypto
import CairnTestSupport
import Testing

/// A tiny synchronous harness: one coordinator and a few nodes on the shared virtual
/// network — messages delivered in FIFO order at the current instant, timers either fired
/// by hand (`fire`) or by deadline on the virtual clock (`run(until:)`). Holders keep
/// real segments so challenges are answered with real Merkle proofs.
struct Harness {
    typealias Network = VirtualNetwork<NodeID, Message, TimerKind, Instant>
    var network = Network(now: .zero)
    /// The virtual clock.
    var now: Instant {
        get { network.now }
        set { network.now = newValue }
    }
    /// Messages in flight, oldest first.
    var inbox: [Network.Envelope] {
        get { network.inbox }
        set { network.inbox = newValue }
    }
    static let coordinatorSigner = DigestSigner(seed: [0xc0])
    var coordinator = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: Harness.coordinatorSigner,
                                      verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    var nodes: [NodeCore] = []
    /// Holder storage: node → slot → its packs' shards, each a list of segments.
    var disks: [[SlotID: [[[UInt8]]]]] = []
    var notes: [(NodeID, Note)] = []
    /// Nodes whose messages are lost, both ways, and whose timers do not fire (they are down).
    var offline: Set<NodeID> = []
    /// Holders whose storage opens a slot for a fetch and never answers (a refuser).
    var silentOnFetch: Set<NodeID> = []
    /// Messages the network loses (a test's chosen ones), besides those of offline nodes.
    var lose: (_ from: NodeID, _ to: NodeID, _ message: Message) -> Bool = { _, _, _ in false }

    static let segmentsPerShard: UInt32 = 4
    /// Four 4-byte segments a shard.
    static let geometry = PackGeometry(k: 2, n: 4, shardBytes: 16, segmentBytes: 4)

    /// The shard of pack `pack` in `slot`: what the owner's pack store would hold.
    static func segments(_ slot: SlotID, pack: UInt32 = 0) -> [[UInt8]] {
        (0..<Int(segmentsPerShard)).map { i in
            [UInt8(truncatingIfNeeded: slot.volume.number), slot.index, UInt8(truncatingIfNeeded: pack), UInt8(i)]
        }
    }

    /// The first `count` packs of `slot`, as the owner made them.
    static func packs(_ slot: SlotID, _ count: UInt32) -> [[[UInt8]]] {
        (0..<count).map { segments(slot, pack: $0) }
    }

    static func root(_ segments: [[UInt8]]) -> [UInt8] {
        MerkleTree.root(of: segments.flatMap { $0 }, segmentSize: 4)
    }

    static func proof(_ segments: [[UInt8]], index: Int) -> [[UInt8]] {
        MerkleTree.proof(of: segments.flatMap { $0 }, segment: index, segmentSize: 4).siblings
    }

    static func leaves(_ packs: ArraySlice<[[UInt8]]>) -> [[UInt8]] {
        packs.map { SlotTree.leaf(root: root($0), geometry: geometry) }
    }

    /// Opens volume `number` of node 0 and appends `packs` packs to it.
    @discardableResult
    mutating func addVolume(_ number: UInt32, packs: UInt32 = 1, capacity: UInt64? = nil) -> VolumeID {
        let volume = VolumeID(owner: NodeID(0), number: number)
        try! nodes[0].openVolume(volume, k: 2, n: 4, capacity: capacity ?? UInt64(packs) * Self.geometry.shardBytes)
        appendPacks(volume, count: packs)
        return volume
    }

    mutating func appendPacks(_ volume: VolumeID, count: UInt32) {
        for _ in 0..<count {
            let p = nodes[0].volumes.firstIndex { $0.id == volume }!
            let j = nodes[0].volumes[p].layout.packs
            let roots = (0..<4).map { Self.root(Self.segments(SlotID(volume: volume, index: UInt8($0)), pack: j)) }
            let appended = try! nodes[0].appendPack(to: volume, geometry: Self.geometry, roots: roots, now: now)
            #expect(appended.pack == j)
            perform(NodeID(0), appended.actions)
        }
        deliverAll()
    }

    init(count: Int, params: NodeParams = NodeParams(k: 2, n: 4, challengeTimeout: .minutes(10))) {
        let verifier = DigestSigner()
        let root = Xoshiro256(seed: 42)
        for i in 0..<count {
            #expect(coordinator.admit() == NodeID(UInt32(i)))
            nodes.append(NodeCore(me: NodeID(UInt32(i)), params: params, offered: 1000, speed: 1000, reciprocityRatio: 1,
                                  signer: DigestSigner(seed: [UInt8(i)]), verifier: verifier,
                                  coordinatorKey: Self.coordinatorSigner.publicKey, rng: root.split(UInt64(i))))
            disks.append([:])
        }
    }

    mutating func perform(_ node: NodeID, _ actions: [CoordinatorAction]) {
        for action in actions {
            switch action {
            case let .send(to, message): network.send(from: node, to: to, message)
            case let .setTimer(timer, at): network.setTimer(timer, of: node, at: at)
            case let .note(note): notes.append((node, note))
            }
        }
    }

    mutating func perform(_ node: NodeID, _ actions: [NodeAction]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                network.send(from: node, to: to, message)
            case let .setTimer(timer, at):
                network.setTimer(timer, of: node, at: at)
            case let .storeSlot(contract, slot, from, to, replyTo):
                // The holder takes the packs that stream in and checks the slot's tree
                // against the root it was given.
                var packs = from == 0 ? [] : disks[node.index][slot] ?? []
                let verified = packs.count == Int(from) && {
                    for j in from..<to.packs { packs.append(Self.segments(slot, pack: j)) }
                    var tree = SlotTree()
                    for leaf in Self.leaves(packs[...]) { tree.append(leaf) }
                    return tree.root == to.root
                }()
                if verified { disks[node.index][slot] = packs }
                perform(node, nodes[node.index].onSlotStored(contract: contract, slot: slot, packs: to.packs, replyTo: replyTo,
                                                             verified: verified, now: now))
            case let .deleteSlot(slot):
                disks[node.index][slot] = nil
            case let .readSegment(challenge, slot, pack, packs, selector, replyTo):
                let answer = disks[node.index][slot].flatMap { stored -> SegmentProof? in
                    guard packs <= stored.count else { return nil }
                    let segs = stored[Int(pack)]
                    let index = Int(SegmentProof.segment(selector: selector, of: Self.geometry))
                    return SegmentProof(segment: segs[index], path: Self.proof(segs, index: index), packRoot: Self.root(segs),
                                        geometry: Self.geometry,
                                        packPath: leafPath(Self.leaves(stored.prefix(Int(packs))), index: Int(pack)))
                }
                perform(node, nodes[node.index].onSegmentRead(challenge: challenge, replyTo: replyTo, answer: answer, now: now))
            case let .readSlot(request, slot, replyTo):
                let answer: FetchAnswer = silentOnFetch.contains(node) ? .silent
                    : disks[node.index][slot].map { .data(bytes: UInt64($0.count) * 16) } ?? .missing
                perform(node, nodes[node.index].onSlotRead(request: request, slot: slot, replyTo: replyTo, answer: answer,
                                                           now: now))
            case let .verifySlot(request, slot, from, expect, bytes):
                // What streamed in is what the sender keeps: check it against the root expected.
                let sent = disks[from.index][slot].map { $0.prefix(Int(expect.packs)) } ?? []
                var tree = SlotTree()
                for leaf in Self.leaves(sent) { tree.append(leaf) }
                let verified = sent.count == Int(expect.packs) && tree.root == expect.root
                perform(node, nodes[node.index].onSlotVerified(request: request, slot: slot, from: from, bytes: bytes,
                                                               verified: verified, now: now))
            case let .note(note):
                notes.append((node, note))
            }
        }
    }

    /// Hands one message to its receiver, unless the network loses it.
    mutating func deliver(from: NodeID, to: NodeID, _ message: Message) {
        if offline.contains(from) || offline.contains(to) || lose(from, to, message) { return }
        if to == .coordinator {
            perform(.coordinator, coordinator.onMessage(from: from, message, now: now))
        } else {
            perform(to, nodes[to.index].onMessage(from: from, message, now: now))
        }
    }

    /// Delivers every message in flight, and those they cause, at the current instant.
    mutating func deliverAll() {
        var steps = 0
        while let (from, to, message) = network.nextMessage() {
            steps += 1
            precondition(steps < 100_000, "message storm")
            deliver(from: from, to: to, message)
        }
    }

    mutating func start() {
        perform(.coordinator, coordinator.onStart(now: now))
        // Holders join first, then the owner's placement can find them.
        for i in nodes.indices.reversed() {
            perform(NodeID(UInt32(i)), nodes[i].onStart(now: now))
            deliverAll()
        }
    }

    /// Fires `timer` of node `node` now, by hand, and delivers what follows.
    mutating func fire(_ node: Int, _ timer: TimerKind) {
        perform(NodeID(UInt32(node)), nodes[node].onTimer(timer, now: now))
        deliverAll()
    }

    /// Runs the network on virtual time until `limit`: every message delivered, every
    /// timer (node and coordinator) fired at its deadline. Timers of offline nodes come due
    /// and are dropped (the node is down; `bringBack` restarts it).
    mutating func run(until limit: Instant) {
        var steps = 0
        while let event = network.next(until: limit) {
            steps += 1
            precondition(steps < 1_000_000, "event storm")
            switch event {
            case let .message(from, to, message):
                deliver(from: from, to: to, message)
            case let .timer(owner, timer) where owner == .coordinator:
                perform(.coordinator, coordinator.onTimer(timer, now: now))
            case let .timer(owner, timer):
                if !offline.contains(owner) { perform(owner, nodes[owner.index].onTimer(timer, now: now)) }
            }
        }
    }

    mutating func run(for interval: Interval) { run(until: now + interval) }

    /// An offline node starts again: it joins and arms its timers.
    mutating func bringBack(_ node: NodeID) {
        offline.remove(node)
        perform(node, nodes[node.index].onStart(now: now))
        deliverAll()
    }

    /// Messages taken off the wire so far (delivered or lost), oldest first.
    var history: [Network.Delivery] { network.history }
}
