import Testing
import CairnCrypto

@Suite struct AEADTests {
    let key = SymmetricKey.random()
    let plaintext = Array("the quick brown fox jumps over the lazy dog".utf8)

    private func openError(_ sealed: [UInt8], key: SymmetricKey, associatedData: [UInt8] = []) -> CryptoError.Code? {
        do {
            _ = try AEAD.open(sealed, key: key, associatedData: associatedData)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func roundTrip() throws {
        let sealed = AEAD.seal(plaintext, key: key, associatedData: [1, 2, 3])
        #expect(sealed.count == plaintext.count + AEAD.overhead)
        #expect(try AEAD.open(sealed, key: key, associatedData: [1, 2, 3]) == plaintext)
        let viaBuffer = try sealed.withUnsafeBytes { try AEAD.open($0, key: key, associatedData: [1, 2, 3]) }
        #expect(viaBuffer == plaintext)
    }

    @Test func emptyPlaintextRoundTrips() throws {
        let sealed = AEAD.seal([UInt8](), key: key)
        #expect(sealed.count == AEAD.overhead)
        #expect(try AEAD.open(sealed, key: key).isEmpty)
    }

    @Test func everyTamperedByteFailsAuthentication() {
        let sealed = AEAD.seal(plaintext, key: key)
        for i in sealed.indices {
            var tampered = sealed
            tampered[i] ^= 0x01
            #expect(openError(tampered, key: key) == .authenticationFailed, "byte \(i)")
        }
    }

    @Test func truncatedInputIsDistinct() {
        let sealed = AEAD.seal(plaintext, key: key)
        #expect(openError(Array(sealed.prefix(AEAD.overhead - 1)), key: key) == .truncatedCiphertext)
        #expect(openError([], key: key) == .truncatedCiphertext)
        // Exactly the overhead is a well-formed (empty) box whose tag is wrong.
        #expect(openError(Array(sealed.prefix(AEAD.overhead)), key: key) == .authenticationFailed)
    }

    @Test func wrongKeyOrAssociatedDataFails() {
        let sealed = AEAD.seal(plaintext, key: key, associatedData: [7])
        #expect(openError(sealed, key: SymmetricKey.random(), associatedData: [7]) == .authenticationFailed)
        #expect(openError(sealed, key: key, associatedData: [8]) == .authenticationFailed)
        #expect(openError(sealed, key: key) == .authenticationFailed)
    }

    @Test func noncesDifferBetweenSeals() {
        let a = AEAD.seal(plaintext, key: key)
        let b = AEAD.seal(plaintext, key: key)
        #expect(a.prefix(AEAD.nonceSize) != b.prefix(AEAD.nonceSize))
        #expect(a != b)
    }

    @Test func errorSaysWhatToDo() {
        do {
            _ = try AEAD.open([1, 2, 3], key: key)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("cut short"))
            #expect(String(describing: error).contains("truncatedCiphertext"))
        }
    }
}
