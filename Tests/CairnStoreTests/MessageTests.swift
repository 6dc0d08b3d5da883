import Testing
@testable import CairnStore
import Glibc

/// Failures that are hard to cause for real (a full disk) still get the right code and a
/// message that says what to do.
@Suite struct MessageTests {
    @Test func diskFull() {
        let error = storeError(ENOSPC, path: "/s", operation: "committing")
        #expect(error.code == .diskFull)
        #expect(error.message.contains("no space left on the disk holding /s: free some space and run the command again; nothing was lost"))
    }

    @Test func permissions() {
        #expect(storeError(EACCES, path: "/s", operation: "opening").code == .permissionDenied)
    }

    @Test func damage() {
        #expect(storeError(-30796 /* MDB_CORRUPTED */, path: "/s", operation: "reading").code == .corrupted)
        #expect(storeError(-30797 /* MDB_PAGE_NOTFOUND */, path: "/s", operation: "reading").code == .corrupted)
        #expect(storeError(-30793 /* MDB_INVALID */, path: "/s", operation: "opening").code == .corrupted)
        #expect(storeError(-30790 /* MDB_READERS_FULL */, path: "/s", operation: "reading").code == .readersFull)
    }

    @Test func checkPassesSuccess() throws {
        try check(0, path: "/s", operation: "anything")
        let e = #expect(throws: StoreError.self) { try check(EIO, path: "/s", operation: "reading") }
        #expect(e?.code == .io, "\(String(describing: e))")
    }
}
