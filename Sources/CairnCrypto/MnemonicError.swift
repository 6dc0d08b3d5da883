/// Why a recovery phrase (or entropy) was refused. Each description tells the person what
/// is wrong and what to do, since these errors are shown to someone typing their phrase.
/// They may quote one mistyped word of the phrase back to that person: show them, never log them.
public enum MnemonicError: Error, CustomStringConvertible, Equatable {
    /// The phrase does not have 12, 15, 18, 21 or 24 words.
    case wrongWordCount(Int)
    /// Word `position` (1-based) is not in the English list; `suggestions` holds up to three
    /// list words that it was probably meant to be.
    case unknownWord(position: Int, word: String, suggestions: [String])
    /// Every word is valid but the embedded checksum does not match.
    case checksumMismatch
    /// Entropy must be 16, 20, 24, 28 or 32 bytes.
    case invalidEntropyLength(Int)
    /// A recovery phrase must have 24 words (`Mnemonic(recoveryPhrase:)`): a shorter valid
    /// BIP-39 phrase is another program's, and would give another identity.
    case notARecoveryPhrase(wordCount: Int)

    public var description: String {
        switch self {
        case .wrongWordCount(let count):
            "the phrase has \(count) word\(count == 1 ? "" : "s"), but a BIP-39 phrase has 12, 15, 18, 21 or 24 "
                + "(Cairn writes 24). Check for missing or extra words."
        case .unknownWord(let position, let word, let suggestions):
            "word \(position), \"\(word)\", is not in the BIP-39 English list"
                + (suggestions.isEmpty ? "" : " (did you mean: \(suggestions.joined(separator: ", "))?)")
                + ". Check the phrase for typos."
        case .checksumMismatch:
            "every word is in the BIP-39 English list, but the phrase's checksum does not match: "
                + "a word is wrong or two words are swapped. Compare the phrase with your written copy."
        case .notARecoveryPhrase(let count):
            "the phrase has \(count) word\(count == 1 ? "" : "s"), but a Cairn recovery phrase has 24: "
                + "a shorter phrase is not one Cairn wrote and would give a different identity. "
                + "Type all 24 words of your phrase."
        case .invalidEntropyLength(let count):
            "BIP-39 entropy must be 16, 20, 24, 28 or 32 bytes, got \(count)."
        }
    }
}
