#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Creates `path` and any missing parents with mode 0700: a store holds backup metadata
/// that other users of the machine have no business reading.
func makeDirectory(_ path: String) throws(StoreError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if mkdir(prefix, 0o700) != 0 {
            let err = errno
            if err != EEXIST {
                try check(err, path: path, operation: "creating the store directory \(prefix)")
            }
        }
        prefix += "/"
    }
}
