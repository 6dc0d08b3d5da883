import Testing
import CairnCrypto

@Suite struct Blake2bTests {
    // MARK: known answers
    @Test func emptyInputMatchesReference() {
        // BLAKE2b-256("") from RFC 7693's reference implementation.
        #expect(Hex.encode(Blake2b.hash([UInt8]())) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
    }

    @Test func streamingEqualsOneShot() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = Blake2b(key: Array(0..<32))
        h.update(Array(data[..<777]))
        h.update(Array(data[777...]))
        #expect(h.finalize() == Blake2b.hash(data, key: Array(0..<32)))
        #expect(Blake2b.hash(data) != Blake2b.hash(data, key: Array(0..<32)))
    }

    @Test func hexRoundTripAndRejects() {
        #expect(Hex.decode("00ffA1") == [0, 255, 161])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}
