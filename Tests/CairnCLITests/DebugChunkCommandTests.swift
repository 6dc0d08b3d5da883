import Foundation
import CairnTestSupport
import Testing

@Suite struct DebugChunkCommandTests {
    @Test func printsOffsetLengthLinesCoveringTheFile() throws {
        let s = try TemporaryFolder("cli")
        var state: UInt64 = 7
        let bytes = (0..<(3 << 20)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        #expect(FileManager.default.createFile(atPath: s.sub("f"), contents: Data(bytes)))
        let r = try CLI.run(["debug", "chunk", s.sub("f"), "--min-size", "16K", "--avg-size", "64K", "--max-size", "256K"])
        #expect(r.status == 0, "\(r.stderr)")
        var expected = 0
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count > 10)
        for line in lines {
            let parts = line.split(separator: " ").compactMap { Int($0) }
            #expect(parts.count == 2)
            #expect(parts[0] == expected)
            #expect(parts[1] <= 256 * 1024)
            expected += parts[1]
        }
        #expect(expected == bytes.count)
    }

    @Test func invalidParametersAreRejected() throws {
        let s = try TemporaryFolder("cli")
        #expect(FileManager.default.createFile(atPath: s.sub("f"), contents: Data([1, 2, 3])))
        let r = try CLI.run(["debug", "chunk", s.sub("f"), "--min-size", "1M", "--avg-size", "64K"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("sizes must satisfy min ≤ avg ≤ max"), "\(r.stderr)")
    }
}
