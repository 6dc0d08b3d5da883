import Foundation
import Testing
import CairnCrypto

/// The BIP-39 reference data copied into the test bundle, so tests run from a bare clone.
enum BIP39Vectors {
    struct File: Decodable {
        let passphrase: String
        let vectors: [Vector]
    }

    struct Vector: Decodable, CustomTestStringConvertible, Sendable {
        let entropy: String
        let mnemonic: String
        let seed: String
        var testDescription: String { entropy }
    }

    static func url(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Vectors"))
    }

    static func load() throws -> File {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: url("vectors.json")))
    }

    static let all: [Vector] = (try? load().vectors) ?? []
}

private func mnemonicError(_ phrase: String) -> MnemonicError? {
    do {
        _ = try Mnemonic(phrase: phrase)
        return nil
    } catch {
        return error
    }
}

@Suite struct MnemonicTests {
    @Test func vectorFileLoads() throws {
        let file = try BIP39Vectors.load()
        #expect(file.passphrase == "TREZOR")
        #expect(file.vectors.count == BIP39Vectors.all.count)
        #expect(BIP39Vectors.all.count >= 12)
    }

    @Test(arguments: BIP39Vectors.all)
    func referenceVector(_ vector: BIP39Vectors.Vector) throws {
        let entropy = try #require(Hex.decode(vector.entropy))
        let fromEntropy = try Mnemonic(entropy: entropy)
        #expect(fromEntropy.phrase == vector.mnemonic)

        let fromPhrase = try Mnemonic(phrase: vector.mnemonic)
        #expect(fromPhrase == fromEntropy)
        #expect(fromPhrase.entropy == entropy)
        #expect(Hex.encode(fromPhrase.seed(passphrase: "TREZOR").bytes) == vector.seed)
    }

    @Test func embeddedListEqualsReferenceFile() throws {
        let text = try String(contentsOf: BIP39Vectors.url("english.txt"), encoding: .utf8)
        let reference = text.split(whereSeparator: \.isNewline).map(String.init)
        #expect(reference.count == 2048)
        #expect(Mnemonic.wordlist == reference)
    }

    @Test func phraseIsNormalised() throws {
        let messy = "  Abandon\tabandon  abandon\nabandon abandon abandon abandon abandon abandon abandon ABANDON about \n"
        let mnemonic = try Mnemonic(phrase: messy)
        #expect(mnemonic.phrase == "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
        #expect(mnemonic.words.count == 12)
    }

    @Test func unknownWordNamesPositionAndSuggests() {
        let phrase = "abandon abandon abandon abandon abandon abandon abandn abandon abandon abandon abandon about"
        let error = mnemonicError(phrase)
        #expect(error == .unknownWord(position: 7, word: "abandn", suggestions: ["abandon"]))
        #expect(error?.description == "word 7, \"abandn\", is not in the BIP-39 English list (did you mean: abandon?). Check the phrase for typos.")
    }

    @Test func suggestionsFallBackToEditDistance() {
        // "xbout" shares no four-letter prefix with a list word; "about" is one edit away.
        guard case .unknownWord(1, "xbout", let suggestions)? = mnemonicError("xbout" + String(repeating: " abandon", count: 11)) else {
            Issue.record("expected unknownWord")
            return
        }
        #expect(suggestions.first == "about")
        #expect(suggestions.count <= 3)
        // Nothing is close to this: no suggestions, and the message has no "did you mean".
        let far = mnemonicError("qqqqqqqqq" + String(repeating: " abandon", count: 11))
        #expect(far == .unknownWord(position: 1, word: "qqqqqqqqq", suggestions: []))
        #expect(far?.description.contains("did you mean") == false)
    }

    @Test func wrongWordCount() {
        #expect(mnemonicError(String(repeating: "abandon ", count: 11)) == .wrongWordCount(11))
        #expect(mnemonicError("") == .wrongWordCount(0))
        #expect(mnemonicError(String(repeating: "abandon ", count: 25)) == .wrongWordCount(25))
        #expect(MnemonicError.wrongWordCount(11).description.contains("24"))
    }

    @Test func badChecksum() {
        let phrase = String(repeating: "abandon ", count: 11) + "abandon"
        #expect(mnemonicError(phrase) == .checksumMismatch)
        #expect(MnemonicError.checksumMismatch.description.contains("checksum"))
    }

    @Test func invalidEntropyLength() {
        for count in [0, 15, 17, 33] {
            #expect(throws: MnemonicError.invalidEntropyLength(count)) { try Mnemonic(entropy: [UInt8](repeating: 0, count: count)) }
        }
    }

    @Test func generateRoundTrips() throws {
        let a = Mnemonic.generate()
        let b = Mnemonic.generate()
        #expect(a.words.count == 24)
        #expect(a.entropy.count == 32)
        #expect(a != b)
        #expect(try Mnemonic(phrase: a.phrase) == a)
        #expect(try Mnemonic(entropy: a.entropy) == a)
        #expect(a.seed().count == 64)
        #expect(a.seed().bytes == a.seed(passphrase: "").bytes)
        #expect(a.seed().bytes != a.seed(passphrase: "x").bytes)
    }
}
