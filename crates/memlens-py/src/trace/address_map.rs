//! A hash map from block address to [`TracedBlock`], built for allocator
//! churn: open addressing with linear probing and backward-shift deletion.
//!
//! A general-purpose table (hashbrown) leaves a tombstone per removal, and a
//! trace table sees one removal per allocation: probes lengthen until the
//! next rehash. Backward shifting keeps every probe sequence as short as if
//! the removed entries had never been there. The load factor stays at most
//! ¾: 32 bytes or less per live block, below tracemalloc's.

use super::table::TracedBlock;

#[derive(Clone, Copy)]
struct Slot {
    /// 0 marks an empty slot (no allocator returns address 0).
    address: u64,
    block: TracedBlock,
}

const EMPTY: Slot = Slot {
    address: 0,
    block: TracedBlock {
        size: 0,
        stack: 0,
        domain: 0,
    },
};
const MIN_SLOTS: usize = 1024;

/// Address → block, for nonzero addresses.
pub(crate) struct AddressMap {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for AddressMap {
    fn default() -> Self {
        AddressMap {
            slots: vec![EMPTY; MIN_SLOTS],
            len: 0,
        }
    }
}

impl AddressMap {
    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    #[inline(always)]
    fn home(&self, address: u64) -> usize {
        ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask()
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of slots (for memory accounting).
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Inserts or replaces; returns the block replaced.
    #[inline]
    pub(crate) fn insert(&mut self, address: u64, block: TracedBlock) -> Option<TracedBlock> {
        debug_assert!(address != 0);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(address);
        loop {
            let slot = &mut self.slots[i];
            if slot.address == 0 {
                *slot = Slot { address, block };
                self.len += 1;
                return None;
            }
            if slot.address == address {
                return Some(std::mem::replace(&mut slot.block, block));
            }
            i = (i + 1) & mask;
        }
    }

    /// The block at `address`.
    #[inline]
    pub(crate) fn get(&self, address: u64) -> Option<TracedBlock> {
        let mask = self.mask();
        let mut i = self.home(address);
        loop {
            let slot = &self.slots[i];
            if slot.address == address && address != 0 {
                return Some(slot.block);
            }
            if slot.address == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes and returns the block at `address`.
    #[inline]
    pub(crate) fn remove(&mut self, address: u64) -> Option<TracedBlock> {
        if address == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(address);
        loop {
            let current = self.slots[i].address;
            if current == address {
                break;
            }
            if current == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
        let removed = self.slots[i].block;
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let address = self.slots[j].address;
            if address == 0 {
                break;
            }
            let home = self.home(address);
            // The entry at j may fill the hole if the hole lies on its probe
            // path, i.e. between its home and j (cyclically).
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        Some(removed)
    }

    /// Every (address, block).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, TracedBlock)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.address != 0)
            .map(|s| (s.address, s.block))
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.len = 0;
        for slot in old.into_iter().filter(|s| s.address != 0) {
            self.insert(slot.address, slot.block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_a_hash_map_under_random_churn() {
        // GIVEN a reference map and ours
        let mut ours = AddressMap::default();
        let mut reference = HashMap::new();
        let mut x: u64 = 0x1234_5678;
        // WHEN both see the same random inserts and removes
        for step in 0..400_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let address = ((x % 5000) + 1) * 16;
            let block = TracedBlock {
                size: step,
                stack: (x >> 40) as u32,
                domain: 0,
            };
            if x % 3 == 0 {
                assert_eq!(ours.remove(address), reference.remove(&address));
            } else {
                assert_eq!(
                    ours.insert(address, block),
                    reference.insert(address, block)
                );
            }
            // THEN lookups agree at every step
            let probe = ((x >> 20) % 5000 + 1) * 16;
            assert_eq!(ours.get(probe), reference.get(&probe).copied());
        }
        assert_eq!(ours.len(), reference.len());
        let mut all: Vec<_> = ours.iter().collect();
        all.sort_by_key(|(a, _)| *a);
        let mut expected: Vec<_> = reference.into_iter().collect();
        expected.sort_by_key(|(a, _)| *a);
        assert_eq!(all, expected);
    }
}
