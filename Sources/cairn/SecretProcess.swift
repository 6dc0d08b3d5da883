internal import CProcessGuard
import Foundation

/// What a command does before it holds keys: no core dumps, not dumpable (see
/// `cairn_protect_secrets`). A process that cannot change this goes on and says so once:
/// the settings only narrow what could leak, they are not needed to work.
enum SecretProcess {
    static func protect() {
        let rc = cairn_protect_secrets()
        if rc != 0 {
            Terminal.warn("could not disable core dumps (\(String(cString: strerror(rc)))): a crash could write keys to a core file")
        }
    }
}
