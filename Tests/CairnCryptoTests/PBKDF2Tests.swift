import Testing
import CairnCrypto

@Suite struct PBKDF2Tests {
    // Known answers for PBKDF2-HMAC-SHA512 ("password", "salt"), as published alongside RFC 6070's SHA-1 set.
    @Test func oneIteration() {
        let key = PBKDF2.hmacSHA512(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1, keyLength: 64)
        #expect(Hex.encode(key.bytes) == "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce")
    }

    @Test func twoIterations() {
        let key = PBKDF2.hmacSHA512(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 2, keyLength: 64)
        #expect(Hex.encode(key.bytes) == "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53cf76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e")
    }

    @Test func shortOutputIsPrefixAndLongOutputSpansBlocks() {
        let full = PBKDF2.hmacSHA512(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 3, keyLength: 100).bytes
        let short = PBKDF2.hmacSHA512(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 3, keyLength: 20).bytes
        #expect(full.count == 100)
        #expect(Array(full.prefix(20)) == short)
    }

    @Test func emptyPasswordAndSaltWork() {
        let key = PBKDF2.hmacSHA512(password: [], salt: [], iterations: 2, keyLength: 64)
        #expect(key.count == 64)
        #expect(key.bytes != [UInt8](repeating: 0, count: 64))
    }

    @Test func bip39IterationCountIsFast() {
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            _ = PBKDF2.hmacSHA512(password: Array("password".utf8), salt: Array("mnemonic".utf8), iterations: 2048, keyLength: 64)
        }
        // Generous bound so a loaded CI machine does not flake; typically a few milliseconds.
        #expect(elapsed < .milliseconds(500))
    }
}
