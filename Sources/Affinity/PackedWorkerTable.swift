/// One half of the kernel's `maglev` map: a Maglev table of worker indices packed eight
/// slots to a 64-bit word, as BPF/es_consts.h describes. Slot `s` is byte `s % 8` (bits
/// `8 * (s % 8)` and up) of word `s / 8`; a byte of `empty` (or any value ≥ 64) means no
/// worker, and the program then lets the kernel choose.
///
/// Packing keeps the live half at 6.3 KiB (803 words) instead of 50 KiB for one 8-byte map
/// element per slot, so the random read per connection stays in the CPU's caches.
public struct PackedWorkerTable: Sendable, Equatable {
    /// Slots per word (ES_MAGLEV_PER_WORD).
    public static let slotsPerWord = 8
    /// Slots per half: ES_MAGLEV_M.
    public static let slotCount = MaglevTable.workerTableSize
    /// Words per half: ceil(6421 / 8) = 803 (ES_MAGLEV_WORDS).
    public static let wordCount = (slotCount + slotsPerWord - 1) / slotsPerWord
    /// The byte of a slot without a worker (ES_MAGLEV_EMPTY).
    public static let empty: UInt8 = 0xFF

    /// `wordCount` words, as written to (and read from) the map.
    public let words: [UInt64]

    /// Packs a table of worker ids (`slotCount` slots). Ids that do not fit a byte below
    /// `empty` (and the table's `noMember`) become `empty`.
    public init(_ table: MaglevTable) {
        precondition(table.size == Self.slotCount, "a worker table has \(Self.slotCount) slots")
        var words = [UInt64](repeating: ~0, count: Self.wordCount)
        table.entries.withUnsafeBufferPointer { entries in
            for slot in 0..<entries.count {
                let id = entries[slot]
                let byte = id < UInt32(Self.empty) ? UInt64(id) : UInt64(Self.empty)
                let shift = UInt64((slot % Self.slotsPerWord) * 8)
                words[slot / Self.slotsPerWord] = words[slot / Self.slotsPerWord] & ~(0xFF << shift) | byte << shift
            }
        }
        self.words = words
    }

    /// Words read back from the map: `words.count` must be `wordCount`.
    public init(words: [UInt64]) {
        precondition(words.count == Self.wordCount, "a packed table has \(Self.wordCount) words")
        self.words = words
    }

    /// The byte of `slot` (0..<slotCount): a worker index, or ≥ 64 for none.
    @inlinable
    public func byte(atSlot slot: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: words[slot / Self.slotsPerWord] >> UInt64((slot % Self.slotsPerWord) * 8))
    }

    /// The table unpacked; `empty` bytes become `MaglevTable.noMember`.
    public var table: MaglevTable {
        var entries = [UInt32](repeating: MaglevTable.noMember, count: Self.slotCount)
        for slot in 0..<Self.slotCount {
            let b = byte(atSlot: slot)
            if b != Self.empty { entries[slot] = UInt32(b) }
        }
        return MaglevTable(entries: entries)
    }
}
