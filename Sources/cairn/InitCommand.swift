import ArgumentParser
internal import CProcessGuard
import CairnCrypto
import CairnData
import Foundation

/// `cairn init`: create an identity and show its phrase once, or rebuild it from the phrase.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create your identity (shows the 24-word recovery phrase once), or recover it from the phrase.",
        discussion: """
            The phrase is the only way back to your backups if this machine is lost: write it down.
            With --recover, the phrase is read from standard input or --phrase-file, never from the command line,
            and must have 24 words. A new identity starts a new repository (a set of targets, with an id);
            a recovered data directory learns its repository from the targets the next command reads
            (the newest one they hold, or the one --repository names). The phrase is printed only on a terminal: when standard output is a file or
            a pipe, give --phrase-out FILE, or --print-phrase if printing it there is really meant.
            """)

    @OptionGroup var options: DataDirOptions

    @Flag(help: "Rebuild the identity from an existing phrase (read from stdin or --phrase-file).")
    var recover = false

    @Option(name: .customLong("phrase-file"), help: "With --recover: read the phrase from this file.")
    var phraseFile: String?

    @Option(name: .customLong("phrase-out"), help: "Write the new phrase to this file (mode 0600) instead of the terminal.")
    var phraseOut: String?

    @Flag(name: .customLong("print-phrase"),
          help: "Print the new phrase even when standard output is not a terminal (a log file or a pipe would keep it).")
    var printPhrase = false

    func validate() throws {
        if phraseFile != nil && !recover { throw ValidationError("--phrase-file is only used with --recover") }
        if phraseOut != nil && recover { throw ValidationError("--phrase-out is for a new identity; it cannot be used with --recover") }
        if let id = options.repositoryChoice {
            guard recover else { throw ValidationError("--repository is for --recover: a new identity starts a new repository") }
            guard RepositoryID(hex: id) != nil else {
                throw ValidationError("--repository with --recover takes the whole repository id (32 hex digits, as `cairn snapshots` shows it)")
            }
        }
        if printPhrase && (recover || phraseOut != nil) {
            throw ValidationError("--print-phrase is for a new identity shown on standard output; it cannot be used with --recover or --phrase-out")
        }
        if let out = phraseOut, FileManager.default.fileExists(atPath: out) {
            throw ValidationError("\(out) already exists: choose a new file for the phrase, so no earlier phrase is overwritten")
        }
    }

    func run() throws {
        SecretProcess.protect()
        let dir = options.directory
        let mnemonic: Mnemonic
        if !recover, phraseOut == nil, !printPhrase, !Terminal.stdoutIsTTY {
            Terminal.error("standard output is not a terminal, so the recovery phrase would end up in a file or a pipe: give --phrase-out FILE to write it to a 0600 file, or --print-phrase to print it anyway; no identity was created")
            throw ExitCode(1)
        }
        if recover {
            let text = try readPhrase()
            do {
                mnemonic = try Mnemonic(recoveryPhrase: text)
            } catch {
                Terminal.error(error.description)
                throw ExitCode(1)
            }
        } else {
            if dir.isInitialized {
                Terminal.error("\(dir.path) already holds an identity: use it as it is, choose another --data-dir, or `cairn init --recover` to rebuild one from a phrase")
                throw ExitCode(1)
            }
            mnemonic = Mnemonic.generate()
        }
        if let out = phraseOut {
            try cairnRun { () throws(DataError) in try SecretFile.write(Array((mnemonic.phrase + "\n").utf8), to: out) }
        }
        let (keys, repository) = try cairnRun { () throws(DataError) in
            let keys = try dir.initialize(with: mnemonic)
            return (keys, try Self.settleRepository(dir, recovering: recover, chosen: options.repositoryChoice.flatMap { RepositoryID(hex: $0) }))
        }
        if recover {
            print("Recovered identity \(keys.identity)")
            print(repository.map { "Repository \($0)" }
                ?? "Repository: learned from the targets the next command reads (restore --from, snapshots --from, backup --to)")
        } else if phraseOut != nil {
            print("Created identity \(keys.identity)")
            print("The recovery phrase was written to \(phraseOut!) (mode 0600). Keep it somewhere safe, away from this machine.")
        } else {
            print("Created identity \(keys.identity)")
            print("")
            print("Your recovery phrase (shown once; write it down and keep it away from this machine):")
            print("")
            for row in stride(from: 0, to: mnemonic.words.count, by: 4) {
                let cells = (row..<min(row + 4, mnemonic.words.count)).map {
                    String(format: "%2d. %@", $0 + 1, mnemonic.words[$0]).padding(toLength: 18, withPad: " ", startingAt: 0)
                }
                print("  " + cells.joined())
            }
            print("")
        }
        if !recover { print("Repository \(repository!)") }
        print("Data directory: \(dir.path)")
    }

    /// A new identity's data directory gets a new repository id; a recovered one keeps the
    /// id it has, or takes the one given (`--repository`), or learns it from the targets.
    private static func settleRepository(_ dir: DataDirectory, recovering: Bool, chosen: RepositoryID?) throws(DataError) -> RepositoryID? {
        var config = try dir.loadConfig()
        if let known = config.repository.flatMap({ RepositoryID(hex: $0) }) {
            if let chosen, chosen != known {
                throw DataError(.invalidArgument, "\(dir.path) already belongs to repository \(known): recover repository \(chosen) into another --data-dir")
            }
            return known
        }
        guard let id = chosen ?? (recovering ? nil : RepositoryID.random()) else { return nil }
        config.repository = id.hex
        try dir.saveConfig(config)
        return id
    }

    private func readPhrase() throws -> String { try PhraseInput.read(file: phraseFile) }
}
