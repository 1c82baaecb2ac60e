//! `Table`: the simulated cloud's small ordered maps, a `Vec` kept sorted by key.
//!
//! The cloud holds a handful of accounts, devices and tokens, so a binary search over a sorted
//! `Vec` is as quick as a `BTreeMap`, and far less code: the simulated cloud also runs inside the
//! page (its "simulated Photon" mode), where `BTreeMap`'s node code cost about 12 KB of wasm.

use std::borrow::Borrow;
use std::fmt;

/// A map ordered by key, iterated in key order (as `BTreeMap` was).
#[derive(Clone, PartialEq, Eq)]
pub struct Table<K, V>(Vec<(K, V)>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> Table<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Table;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btree_map_for_any_sequence_of_inserts_and_removes() {
        // A fixed pseudo-random walk over a small key space, checked step by step.
        let mut table = Table::new();
        let mut model = BTreeMap::new();
        let mut x: u32 = 12345;
        for step in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (x >> 16) % 37);
            if (x >> 8).is_multiple_of(3) {
                assert_eq!(
                    table.remove(key.as_str()),
                    model.remove(&key),
                    "step {step}"
                );
            } else {
                assert_eq!(table.insert(key.clone(), step), model.insert(key, step));
            }
            assert_eq!(table.len(), model.len());
            assert!(
                table.iter().eq(model.iter()),
                "same entries in the same order"
            );
        }
        for key in ["k0", "k5", "nope"] {
            assert_eq!(table.get(key), model.get(key));
            assert_eq!(table.contains_key(key), model.contains_key(key));
        }
        if let Some(v) = table.get_mut("k1") {
            *v = 7;
        }
        assert!(table.get("k1").is_none_or(|v| *v == 7));
        assert_eq!(format!("{:?}", Table::<u8, u8>::new()), "{}");
    }
}
