import CairnCore
import Testing

// MARK: SplitMix64 and xoshiro256** known answers (reference C implementations)

@Test func splitMixKnownAnswers() {
    var sm = SplitMix64(seed: 0)
    #expect(sm.next() == 0xE220_A839_7B1D_CDAF)
    #expect(sm.next() == 0x6E78_9E6A_A1B9_65F4)
    #expect(sm.next() == 0x06C4_5D18_8009_454F)
}

@Test func xoshiroKnownAnswers() {
    var g = Xoshiro256(seed: 42)
    #expect(g.next() == 0x1578_0B2E_0C2E_C716)
    #expect(g.next() == 0x6104_D986_6D11_3A7E)
    #expect(g.next() == 0xAE17_5332_39E4_99A1)
    #expect(g.next() == 0xECB8_AD47_03B3_60A1)
}

// MARK: Helpers

@Test func boundedStaysInRangeAndCoversIt() {
    var g = Xoshiro256(seed: 7)
    var seen = [Bool](repeating: false, count: 10)
    for _ in 0..<1000 {
        let v = g.bounded(10)
        #expect(v < 10)
        seen[Int(v)] = true
    }
    #expect(seen.allSatisfy { $0 })
    let v = g.integer(in: -3...3)
    #expect(v >= -3 && v <= 3)
}

@Test func chanceExtremesAndRate() {
    var g = Xoshiro256(seed: 9)
    let never = g.chance(numerator: 0, denominator: 5)
    let always = g.chance(numerator: 5, denominator: 5)
    #expect(!never && always)
    let hits = (0..<10_000).count { _ in g.chance(numerator: 1, denominator: 4) }
    #expect(hits > 2300 && hits < 2700)
}

@Test func shuffleIsAPermutationAndReplays() {
    var a = Array(0..<50), b = Array(0..<50)
    var g1 = Xoshiro256(seed: 3), g2 = Xoshiro256(seed: 3)
    g1.shuffle(&a)
    g2.shuffle(&b)
    #expect(a == b)
    #expect(a.sorted() == Array(0..<50))
    #expect(a != Array(0..<50))
}

@Test func splitStreamsAreStableAndDistinct() {
    let root = Xoshiro256(seed: 1)
    var a = root.split(5), b = root.split(5), c = root.split(6)
    let x = a.next()
    #expect(x == b.next())
    #expect(x != c.next())
}
