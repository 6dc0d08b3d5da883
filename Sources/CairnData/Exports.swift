// The engine's public API speaks the shared codec, ids and error base (`ObjectID`,
// `ByteReader`, `DecodeError`, `CairnError`): whoever imports CairnData gets them too.
@_exported import CairnWire
