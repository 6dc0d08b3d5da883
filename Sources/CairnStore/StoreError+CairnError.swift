import CairnWire

extension StoreError: CairnError {
    public var codeName: String { code.description }
    public var cause: (any Error)? { nil }
    public var location: ErrorLocation { path.isEmpty ? .source(file: fileID, line: line) : .path(path) }
}
