//! A hash map from block address to [`TracedBlock`], built for allocator
//! churn: open addressing with linear probing, where a removal leaves the
//! address in its slot marked dead.
//!
//! Allocators hand a freed block out again soon and in last-in-first-out
//! order (pymalloc's pool free lists, malloc's tcache bins), so the common
//! sequence is "remove X, insert X". Keeping X's slot as a dead entry makes
//! the insert find it on the same probe path the removal walked and revive
//! it in place: both operations cost a successful lookup, with no entries
//! shifted and no hash recomputed. (Backward-shift deletion, used before,
//! rescanned the rest of the cluster on every removal: 8–9% of a traced
//! allocation-heavy program's samples.)
//!
//! Dead entries are kept from piling up by the occupancy bound: live and
//! dead together stay at most ¾ of the slots. When an insert would pass it,
//! the table is rebuilt without its dead entries, at twice the size if more
//! than half of the slots are live, else at the same size; either way at
//! least a quarter of the slots are free afterwards, so rebuilds cost O(1)
//! amortized per insert. A slot is 24 bytes; once grown past its initial
//! size, the table holds at least one live block per four slots.

use super::table::TracedBlock;

#[derive(Clone, Copy)]
struct Slot {
    /// 0 marks an empty slot (no allocator returns address 0).
    address: u64,
    /// `block.stack == DEAD` marks a removed entry that still holds its
    /// address (see the module doc).
    block: TracedBlock,
}

/// The stack id marking a dead slot. Stack ids count up from 1 per
/// session; this one would be the 4,294,967,295th distinct stack.
const DEAD: u32 = u32::MAX;

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
    /// Live entries.
    len: usize,
    /// Dead entries (address kept, block removed).
    dead: usize,
}

impl Default for AddressMap {
    fn default() -> Self {
        AddressMap {
            slots: vec![EMPTY; MIN_SLOTS],
            len: 0,
            dead: 0,
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

    /// Number of live entries.
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
        debug_assert!(address != 0 && block.stack != DEAD);
        let mask = self.mask();
        let mut i = self.home(address);
        let mut reusable = usize::MAX;
        loop {
            let slot = &mut self.slots[i];
            if slot.address == address {
                let old = std::mem::replace(&mut slot.block, block);
                if old.stack == DEAD {
                    self.dead -= 1;
                    self.len += 1;
                    return None;
                }
                return Some(old);
            }
            if slot.address == 0 {
                break;
            }
            if reusable == usize::MAX && slot.block.stack == DEAD {
                reusable = i;
            }
            i = (i + 1) & mask;
        }
        // Not present: take the first dead slot on the path, else the
        // empty one that ended it.
        if reusable != usize::MAX {
            self.slots[reusable] = Slot { address, block };
            self.dead -= 1;
            self.len += 1;
            return None;
        }
        if (self.len + self.dead + 1) * 4 > self.slots.len() * 3 {
            self.rebuild();
            return self.insert(address, block);
        }
        self.slots[i] = Slot { address, block };
        self.len += 1;
        None
    }

    /// The block at `address`.
    #[inline]
    pub(crate) fn get(&self, address: u64) -> Option<TracedBlock> {
        if address == 0 {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(address);
        loop {
            let slot = &self.slots[i];
            if slot.address == address {
                return (slot.block.stack != DEAD).then_some(slot.block);
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
            let slot = &mut self.slots[i];
            if slot.address == address {
                if slot.block.stack == DEAD {
                    return None;
                }
                let removed = slot.block;
                slot.block.stack = DEAD;
                self.len -= 1;
                self.dead += 1;
                return Some(removed);
            }
            if slot.address == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Every live (address, block).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, TracedBlock)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.address != 0 && s.block.stack != DEAD)
            .map(|s| (s.address, s.block))
    }

    /// Rebuilds without the dead entries: at twice the size when more than
    /// half of the slots are live, else at the same size.
    #[cold]
    fn rebuild(&mut self) {
        let size = if self.len * 2 > self.slots.len() {
            self.slots.len() * 2
        } else {
            self.slots.len()
        };
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        self.len = 0;
        self.dead = 0;
        let mask = self.mask();
        for slot in old {
            if slot.address == 0 || slot.block.stack == DEAD {
                continue;
            }
            let mut i = self.home(slot.address);
            while self.slots[i].address != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
            self.len += 1;
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

    #[test]
    fn dead_entries_do_not_grow_the_table() {
        // GIVEN a map that sees a million distinct addresses, at most 100
        // live at a time (a program that never reuses an address)
        let mut map = AddressMap::default();
        let block = TracedBlock {
            size: 1,
            stack: 1,
            domain: 0,
        };
        for n in 1..=1_000_000u64 {
            map.insert(n * 16, block);
            if n > 100 {
                // WHEN the oldest is removed each time
                assert_eq!(map.remove((n - 100) * 16), Some(block));
            }
            // THEN live and dead together never pass ¾ of the slots
            assert!((map.len + map.dead) * 4 <= map.capacity() * 3);
        }
        // AND the table stayed at its initial size
        assert_eq!(map.len(), 100);
        assert_eq!(map.capacity(), MIN_SLOTS);
        assert_eq!(map.iter().count(), 100);
    }

    #[test]
    fn a_freed_address_allocated_again_reuses_its_slot() {
        // GIVEN a live entry, removed
        let mut map = AddressMap::default();
        let first = TracedBlock {
            size: 8,
            stack: 1,
            domain: 0,
        };
        let second = TracedBlock { size: 24, ..first };
        map.insert(0x1000, first);
        assert_eq!(map.remove(0x1000), Some(first));
        // THEN it is gone, and a second removal finds nothing
        assert_eq!(map.get(0x1000), None);
        assert_eq!(map.remove(0x1000), None);
        assert_eq!((map.len, map.dead), (0, 1));
        // WHEN the same address is inserted again
        assert_eq!(map.insert(0x1000, second), None);
        // THEN the dead slot is revived, not a second one taken
        assert_eq!((map.len, map.dead), (1, 0));
        assert_eq!(map.get(0x1000), Some(second));
    }
}
