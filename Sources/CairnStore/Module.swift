// CairnStore: see docs/ARCHITECTURE.md
