import CSpawnShim
import Foundation

/// File actions for posix_spawn that give the child only what it is handed (0, 1, 2).
///
/// Descriptors this process holds are inherited by an exec'd child unless marked
/// close-on-exec, and SwiftNIO's accepted sockets are not. A node or coordinator spawned
/// by one test while another test's listener holds an accepted connection kept a copy of
/// it for its whole life, so the listener's close sent no FIN and the peer never saw the
/// drop (HostilePeerTests' stalled handshake, failed in CI). Every spawner of the tests
/// closes everything from 3 up in the child.
public enum SpawnActions {
    /// Adds "close every descriptor from 3 up" to `actions`, after the caller's own
    /// dup2/open actions for 0, 1 and 2 have been added (actions run in order).
    public static func closeInherited(_ actions: inout posix_spawn_file_actions_t) throws(ChildProcessError) {
        let rc = withUnsafeMutablePointer(to: &actions) { cairn_spawn_add_close_from(UnsafeMutableRawPointer($0), 3) }
        guard rc == 0 else {
            throw ChildProcessError(description: "posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(rc)))")
        }
    }
}
