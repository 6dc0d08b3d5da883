import CairnWire
import Testing

@Test func integersAndBlobsRoundTrip() throws {
    var w = ByteWriter()
    w.u8(0xab)
    w.u16(0x1234)
    w.u32(0xdead_beef)
    w.u64(0x0102_0304_0506_0708)
    w.i64(-5)
    w.bool(true)
    w.blob([1, 2, 3], max: 3)
    w.string("héllo")
    w.shortCount(7, max: 10)
    #expect(Array(w.bytes.prefix(3)) == [0xab, 0x12, 0x34])
    var r = ByteReader(w.bytes, what: "test")
    #expect(try r.u8() == 0xab)
    #expect(try r.u16() == 0x1234)
    #expect(try r.u32() == 0xdead_beef)
    #expect(try r.u64() == 0x0102_0304_0506_0708)
    #expect(try r.i64() == -5)
    #expect(try r.bool())
    #expect(try r.blob(max: 3) == [1, 2, 3])
    #expect(try r.string() == "héllo")
    #expect(try r.shortCount(max: 10) == 7)
    try r.expectEnd()
}

/// Each guard is named by the code it throws and the byte it points at.
@Test func hostileLengthsAndCountsAreRefusedBeforeAllocating() throws {
    // A blob claiming 4 GiB.
    var r = ByteReader([0xff, 0xff, 0xff, 0xff, 0], what: "blob test")
    #expect(throws: DecodeError(.tooLarge, "length 4294967295 exceeds the limit 100", what: "blob test", offset: 0)) {
        try r.blob(max: 100)
    }
    // A blob within its bound but longer than the bytes present.
    var t = ByteReader([0, 0, 0, 9, 1, 2], what: "t")
    let e = #expect(throws: DecodeError.self) { try t.blob(max: 100) }
    #expect(e?.code == .truncated && e?.offset == 4)
    // A count within its bound whose elements cannot fit in what is left.
    var c = ByteReader([0, 0, 0, 50, 1, 2, 3], what: "c")
    let ce = #expect(throws: DecodeError.self) { try c.count(max: 1000, minElementBytes: 4) }
    #expect(ce?.code == .truncated && ce?.offset == 0)
    var s = ByteReader([0x03, 0xe9], what: "s")
    let se = #expect(throws: DecodeError.self) { try s.shortCount(max: 1000) }
    #expect(se?.code == .tooLarge)
    // A boolean that is neither 0 nor 1; trailing bytes.
    var b = ByteReader([2])
    #expect((#expect(throws: DecodeError.self) { try b.bool() })?.code == .badValue)
    let end = ByteReader([1])
    #expect((#expect(throws: DecodeError.self) { try end.expectEnd() })?.code == .trailingBytes)
    // A hash blob of the wrong length.
    var h = ByteReader([0, 0, 0, 2, 9, 9])
    #expect((#expect(throws: DecodeError.self) { try h.blob(exactly: 32) })?.code == .badValue)
}

@Test func randomBytesNeverTrapTheReader() {
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    for _ in 0..<2_000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let n = Int(state >> 58)
        var bytes = [UInt8]()
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: state >> UInt64(i % 56))) }
        var r = ByteReader(bytes)
        _ = try? r.blob(max: 16)
        _ = try? r.count(max: 8, minElementBytes: 2)
        _ = try? PackGeometry(reading: &r)
        _ = try? ObjectID(reading: &r)
        #expect(r.offset <= bytes.count)
    }
}

@Test func objectIDsKeepTheirBytesAndOrder() throws {
    let a = ObjectID((0..<32).map { UInt8($0) })
    #expect(a.bytes == (0..<32).map { UInt8($0) })
    #expect(a.hex.hasPrefix("000102030405"))
    var w = ByteWriter()
    a.write(into: &w)
    #expect(w.bytes == a.bytes)
    var r = ByteReader(w.bytes)
    #expect(try ObjectID(reading: &r) == a)
    // Byte order is the order of ids; serials order like their counters.
    let b = ObjectID([0] + [UInt8](repeating: 0xff, count: 31))
    let c = ObjectID([1] + [UInt8](repeating: 0, count: 31))
    #expect(b < c && !(c < b))
    #expect(ObjectID(serial: 2) < ObjectID(serial: 10))
    #expect(ObjectID(serial: 300).serial == 300)
    #expect(Array(ObjectID(serial: 258).bytes.suffix(2)) == [1, 2])
}

@Test func geometryCountsSegmentsAndRefusesImpossibleShapes() throws {
    let g = PackGeometry(k: 3, n: 5, shardBytes: 5 * 1024 * 1024 + 1)
    #expect(g.segments == 81)
    #expect(g.segmentLength(0) == 65536 && g.segmentLength(80) == 1)
    #expect(g.proofDepth == 7)
    #expect(PackGeometry(k: 1, n: 1, shardBytes: 1).proofDepth == 0)
    var w = ByteWriter()
    g.write(into: &w)
    #expect(w.count == PackGeometry.encodedBytes)
    var r = ByteReader(w.bytes)
    #expect(try PackGeometry(reading: &r) == g)

    #expect(PackGeometry.problem(k: 0, n: 5, shardBytes: 1, segmentBytes: 1) != nil)
    #expect(PackGeometry.problem(k: 6, n: 5, shardBytes: 1, segmentBytes: 1) != nil)
    #expect(PackGeometry.problem(k: 3, n: 65, shardBytes: 1, segmentBytes: 1) != nil)
    #expect(PackGeometry.problem(k: 3, n: 5, shardBytes: 0, segmentBytes: 1) != nil)
    #expect(PackGeometry.problem(k: 3, n: 5, shardBytes: 1, segmentBytes: 0) != nil)
    #expect(PackGeometry.problem(k: 3, n: 5, shardBytes: (1 << 20) * 65536 + 1, segmentBytes: 65536) != nil)
    #expect(PackGeometry.problem(k: 3, n: 5, shardBytes: (1 << 20) * 65536, segmentBytes: 65536) == nil)
    var bad = ByteWriter()
    bad.u8(4)
    bad.u8(3)
    bad.u64(100)
    bad.u32(64)
    var br = ByteReader(bad.bytes, what: "geometry")
    let e = #expect(throws: DecodeError.self) { try PackGeometry(reading: &br) }
    #expect(e?.code == .badValue && e?.offset == 0)
    // In memory a synthetic shard may be proven in a few huge segments; from bytes, no
    // segment is larger than a challenge reply carries.
    let big = PackGeometry(k: 3, n: 5, shardBytes: 1 << 30, segmentBytes: 1 << 27)
    #expect(big.segments == 8)
    var bw = ByteWriter()
    big.write(into: &bw)
    var bigReader = ByteReader(bw.bytes)
    #expect((#expect(throws: DecodeError.self) { try PackGeometry(reading: &bigReader) })?.code == .badValue)
}

struct Wrapped: CairnError {
    var codeName: String
    var message: String
    var cause: (any Error)?
    var location: ErrorLocation { .path("$.x") }
    var description: String { message }
}

@Test func errorChainsPrintAndMatchThroughCauses() {
    let inner = DecodeError(.truncated, "needs 4 bytes", what: "shard header", offset: 12)
    let outer = Wrapped(codeName: "corrupt", message: "target T1 is damaged", cause: inner)
    #expect(outer.oneLine == "target T1 is damaged: malformed shard header at byte 12: needs 4 bytes")
    #expect(outer.hasCode("truncated") && outer.hasCode("corrupt") && !outer.hasCode("io"))
    #expect(inner.location == .bytes(what: "shard header", offset: 12))
}
