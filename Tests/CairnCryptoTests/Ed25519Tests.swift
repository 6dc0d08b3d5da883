import Testing
import CairnCrypto

@Suite struct Ed25519Tests {
    let message = Array("contract: O stores 1 GiB with H".utf8)

    @Test func signAndVerify() {
        let key = SigningKey.generate()
        let signature = key.sign(message)
        #expect(signature.count == 64)
        #expect(key.publicKey.count == 32)
        #expect(Ed25519.verify(signature: signature, message: message, publicKey: key.publicKey))
        #expect(Ed25519.verify(signature: key.sign([]), message: [], publicKey: key.publicKey))
    }

    @Test func tamperingFails() {
        let key = SigningKey.generate()
        let signature = key.sign(message)
        var badMessage = message
        badMessage[0] ^= 1
        var badSignature = signature
        badSignature[10] ^= 1
        #expect(!Ed25519.verify(signature: signature, message: badMessage, publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: badSignature, message: message, publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: SigningKey.generate().publicKey))
    }

    @Test func wrongLengthsAreFalseNotTraps() {
        let key = SigningKey.generate()
        let signature = key.sign(message)
        #expect(!Ed25519.verify(signature: Array(signature.dropLast()), message: message, publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: [], message: message, publicKey: key.publicKey))
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: Array(key.publicKey.dropLast())))
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: []))
    }

    @Test func seedDeterminesKey() throws {
        let key = SigningKey.generate()
        let again = try SigningKey(seed: key.seedBytes)
        #expect(again.publicKey == key.publicKey)
        #expect(key.seedBytes.count == 32)
        // RFC 8032 test 1: secret key 9d61b19d…, public key d75a9801….
        let rfc = try SigningKey(seed: Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!)
        #expect(Hex.encode(rfc.publicKey) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(Hex.encode(rfc.sign([])) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    }

    @Test func wrongSeedLengthThrows() {
        do {
            _ = try SigningKey(seed: [1, 2, 3])
            Issue.record("expected invalidSignatureKey")
        } catch {
            #expect(error.code == .invalidSignatureKey)
        }
    }
}
