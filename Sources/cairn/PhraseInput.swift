import ArgumentParser
internal import CProcessGuard
import Foundation

/// Reads a recovery phrase from a file, the terminal (echo off) or standard input: never
/// from the command line, where other users' `ps` would see it.
enum PhraseInput {
    static func read(file phraseFile: String?) throws -> String {
        if let file = phraseFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read the phrase file \(file)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        if Terminal.stdinIsTTY {
            FileHandle.standardError.write(Data("Type your 24-word recovery phrase, then Enter: ".utf8))
            let line = withEchoOff { readLine(strippingNewline: true) }
            FileHandle.standardError.write(Data("\n".utf8))
            return line ?? ""
        }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `body` with the terminal's echo off; a signal that ends the process meanwhile
    /// (Ctrl-C, a closed terminal) turns echo back on first.
    private static func withEchoOff<R>(_ body: () -> R) -> R {
        guard cairn_echo_off_begin(0) == 0 else { return body() }
        defer { cairn_echo_off_end() }
        return body()
    }
}
