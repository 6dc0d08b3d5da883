import Testing
import CairnCrypto

@Suite struct SecureBytesTests {
    @Test func copiesAndExposesBytes() {
        let secret = SecureBytes(copying: [1, 2, 3] as [UInt8])
        #expect(secret.count == 3)
        #expect(secret.bytes == [1, 2, 3])
        secret.withUnsafeMutableBytes { $0[1] = 9 }
        #expect(secret.withUnsafeBytes { Array($0) } == [1, 9, 3])
    }

    @Test func startsZeroedAndAllowsEmpty() {
        #expect(SecureBytes(count: 4).bytes == [0, 0, 0, 0])
        #expect(SecureBytes(count: 0).bytes.isEmpty)
        #expect(SecureBytes(copying: [UInt8]()).count == 0)
    }

    @Test func symmetricKeyChecksLength() throws {
        let e = #expect(throws: CryptoError.self) { try SymmetricKey(bytes: [UInt8](repeating: 1, count: 31)) }
        #expect(e?.code == .wrongKeyLength, "\(String(describing: e))")
        do {
            _ = try SymmetricKey(bytes: [1, 2, 3])
            Issue.record("expected wrongKeyLength")
        } catch {
            #expect(error.code == .wrongKeyLength)
        }
        let key = try SymmetricKey(bytes: Array(0..<32))
        #expect(key.withUnsafeBytes { Array($0) } == Array(0..<32))
        #expect(SymmetricKey.random().withUnsafeBytes { Array($0) } != SymmetricKey.random().withUnsafeBytes { Array($0) })
    }
}
