import Foundation
import CairnTestSupport
import Testing

@Suite struct InitCommandTests {
    // MARK: new identity

    @Test func phraseOutWritesA0600FileAndRecoverGivesTheSameIdentity() throws {
        let s = try TemporaryFolder("cli")
        let phraseFile = s.sub("phrase.txt")
        let created = try CLI.run(["init", "--data-dir", s.sub("d1"), "--phrase-out", phraseFile])
        #expect(created.status == 0, "\(created.stderr)")
        var st = stat()
        #expect(stat(phraseFile, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        let phrase = try String(contentsOfFile: phraseFile, encoding: .utf8)
        #expect(phrase.split(separator: " ").count == 24)
        #expect(!created.stdout.contains(phrase.trimmingCharacters(in: .whitespacesAndNewlines)))
        let identity = try #require(created.stdout.split(separator: "\n").first?.split(separator: " ").last)
        #expect(identity.count == 64)

        let viaFile = try CLI.run(["init", "--recover", "--data-dir", s.sub("d2"), "--phrase-file", phraseFile])
        #expect(viaFile.status == 0, "\(viaFile.stderr)")
        #expect(viaFile.stdout.contains(String(identity)))
        let viaStdin = try CLI.run(["init", "--recover", "--data-dir", s.sub("d3")], stdin: phrase.uppercased())
        #expect(viaStdin.status == 0, "\(viaStdin.stderr)")
        #expect(viaStdin.stdout.contains(String(identity)))

        // Key files are private.
        #expect(stat(s.sub("d2") + "/keys/seed", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test func initTwiceIsRefused() throws {
        let s = try TemporaryFolder("cli")
        #expect(try CLI.run(["init", "--data-dir", s.sub("d"), "--phrase-out", s.sub("p")]).status == 0)
        let again = try CLI.run(["init", "--data-dir", s.sub("d"), "--phrase-out", s.sub("p2")])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already holds an identity"))
    }

    // MARK: mistyped phrases

    @Test func unknownWordIsNamed() throws {
        let s = try TemporaryFolder("cli")
        let phrase = Array(repeating: "abandon", count: 23) + ["zebrra"]
        let r = try CLI.run(["init", "--recover", "--data-dir", s.sub("d")], stdin: phrase.joined(separator: " "))
        #expect(r.status == 1)
        #expect(r.stderr.contains("zebrra"))
        #expect(r.stderr.contains("24"))
        #expect(!FileManager.default.fileExists(atPath: s.sub("d") + "/keys/seed"))
    }

    @Test func badChecksumIsExplained() throws {
        let s = try TemporaryFolder("cli")
        let phrase = Array(repeating: "abandon", count: 24).joined(separator: " ")
        let r = try CLI.run(["init", "--recover", "--data-dir", s.sub("d")], stdin: phrase)
        #expect(r.status == 1)
        #expect(r.stderr.lowercased().contains("checksum"))
    }

    @Test func wrongWordCountIsExplained() throws {
        let s = try TemporaryFolder("cli")
        let r = try CLI.run(["init", "--recover", "--data-dir", s.sub("d")], stdin: "abandon abandon about")
        #expect(r.status == 1)
        #expect(r.stderr.contains("3"))
    }

    @Test func phraseIsNeverTakenFromArguments() throws {
        let r = try CLI.run(["init", "--recover", "abandon"])
        // A usage error (exit status 64): there is no argument a phrase could go in.
        #expect(r.status == 64, "\(r.stderr)")
    }
}
