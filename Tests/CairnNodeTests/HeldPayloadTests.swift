import CairnCore
import CairnNet
import CairnNode
import CairnTestSupport
import CairnWire
import NIOCore
import Testing

/// The transport's view of the held store: an owner's packs framed by
/// `SlotStreamPacksSource` go through the sink the store picks for the `storeSlot`
/// (pieces of any size, as a session delivers them) and the store accepts them; the
/// fetch source reads back exactly that stream; the fetching side's sink for the
/// `fetchReply` feeds its `verify`.
@Test func transportPayloadsReachAndLeaveTheStore() throws {
    let folder = try TemporaryFolder("held-payload")
    let holder = try HeldSlotStore(dataDirectory: folder.sub("holder"), capacity: 1 << 30)
    let owner = try HeldSlotStore(dataDirectory: folder.sub("owner"), capacity: 0)
    let fixture = SlotFixture(packs: 4, seed: 14)
    let upload = SlotStreamPacksSource(fixture.packs)
    #expect(upload.length == UInt64(fixture.stream(0..<4).count))
    let store = Message.storeSlot(contract: ContractID(7), slot: fixture.slot, from: 0, to: fixture.extent(4), bytes: upload.length)
    let sink = try #require(holder.payloadSink(for: store, from: NodeID(4)))
    var sizes = [1, 45, 46, 4096, 65_536, 100_000].makeIterator()
    while true {
        let piece = try upload.read(max: sizes.next() ?? 65_536)
        if piece.isEmpty { break }
        try sink.write(ByteBuffer(bytes: piece))
    }
    try sink.finish()
    #expect(holder.store(fixture.slot, from: 0, to: fixture.extent(4)))

    guard case .data(let bytes) = holder.serve(fixture.slot) else {
        Issue.record("the stored slot is not served")
        return
    }
    let source = try holder.payloadSource(for: fixture.slot, bytes: bytes)
    let reply = Message.fetchReply(request: 9, slot: fixture.slot, ok: true, bytes: bytes)
    let fetched = try #require(owner.payloadSink(for: reply, from: NodeID(3)))
    var sent = [UInt8]()
    while true {
        let piece = try source.read(max: 10_000)
        if piece.isEmpty { break }
        sent += piece
        try fetched.write(ByteBuffer(bytes: piece))
    }
    #expect(sent == fixture.stream(0..<4))
    try fetched.finish()
    #expect(owner.verify(fixture.slot, request: 9, from: NodeID(3), expect: fixture.extent(4)))

    // No sink for a message without a payload, a negative reply, or a stream past the bounds.
    #expect(holder.payloadSink(for: .fetch(request: 1, slot: fixture.slot), from: NodeID(4)) == nil)
    #expect(owner.payloadSink(for: .fetchReply(request: 2, slot: fixture.slot, ok: false, bytes: 0), from: NodeID(3)) == nil)
    let huge = Message.storeSlot(contract: ContractID(7), slot: fixture.slot, from: 4, to: fixture.extent(4), bytes: 1 << 40)
    #expect(holder.payloadSink(for: huge, from: NodeID(4)) == nil)
    // A session that sends past what it announced is dropped as oversized.
    let short = try #require(holder.payloadSink(for: Message.storeSlot(contract: ContractID(7), slot: fixture.slot, from: 4,
                                                                       to: fixture.extent(4), bytes: 3), from: NodeID(4)))
    #expect(throws: NetError.self) { try short.write(ByteBuffer(bytes: [1, 2, 3, 4])) }
}
