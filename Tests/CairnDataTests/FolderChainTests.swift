@testable import CairnData
import Foundation
import CairnTestSupport
import Testing

/// The folder chain keeps only its deepest `window` levels open and reopens shallower
/// ones on the way back up: every level must still be the folder it was.
@Suite struct FolderChainTests {
    @Test(arguments: [1, 2, 3, 128])
    func levelsClosedToStayInTheWindowAreReopenedAsTheSameFolders(window: Int) throws {
        let folder = try TemporaryFolder("chain")
        let base = folder.path
        defer { withExtendedLifetime(folder) {} }
        var path = base
        var inodes: [UInt64] = []
        for level in 0..<10 {
            path += "/l\(level)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            var st = stat()
            #expect(lstat(path, &st) == 0)
            inodes.append(UInt64(st.st_ino))
        }
        let chain = FolderChain(base: open(base, O_RDONLY | O_DIRECTORY), window: window)
        func inode(_ fd: Int32) -> UInt64 {
            var st = stat()
            #expect(fstat(fd, &st) == 0)
            return UInt64(st.st_ino)
        }
        for level in 0..<10 {
            try chain.enter(Array("l\(level)".utf8))
            #expect(inode(try chain.top()) == inodes[level])
        }
        // Down to level 4 by popping (handing descriptors back), the rest by closing.
        for level in stride(from: 9, through: 5, by: -1) {
            let fd = try chain.pop()
            #expect(inode(fd) == inodes[level], "level \(level), window \(window)")
            close(fd)
        }
        #expect(inode(try chain.top()) == inodes[4])
        chain.truncate(to: 2)
        #expect(inode(try chain.top()) == inodes[1])
        // And down again from there.
        try chain.enter(Array("l2".utf8))
        #expect(chain.commonDepth(["l0", "l1", "l2", "x"].map { Array($0.utf8) }[...]) == 3)
        #expect(inode(try chain.top()) == inodes[2])
        // A symlink where a folder was is not followed.
        try FileManager.default.createSymbolicLink(atPath: base + "/l0/l1/l2/link", withDestinationPath: base + "/l0")
        let refused = #expect(throws: SystemCallError.self) { try chain.enter(Array("link".utf8)) }
        // O_NOFOLLOW | O_DIRECTORY on a symlink: the kernel refuses it, naming no target.
        #expect(refused?.errno == ELOOP || refused?.errno == ENOTDIR, "\(String(describing: refused))")
        #expect(refused?.what == "cannot open folder link")
        #expect(FolderChain.openFolder(try chain.top(), Array("..".utf8)) == -1 && errno == EINVAL)
    }
}
