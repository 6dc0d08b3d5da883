extension DataError: CairnError {
    public var codeName: String { code.description }
    public var location: ErrorLocation { .source(file: file, line: line) }
}
