//! A map with a cap on entries and an age limit: the oldest entry goes first, and entries older
//! than the limit are gone. Memory stays flat however long triage runs.

use std::collections::VecDeque;
use std::hash::Hash;
use std::time::{Duration, Instant};

use foldhash::{HashMap, HashMapExt};

#[derive(Debug)]
pub struct Bounded<K, V> {
    map: HashMap<K, (V, Instant, u64)>,
    /// Insertion/update order; stale positions (older `u64` than the map's) are skipped.
    order: VecDeque<(K, u64)>,
    cap: usize,
    max_age: Duration,
    next: u64,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    pub fn new(cap: usize, max_age: Duration) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
            max_age,
            next: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value and when it was last written, if written by `now` and not expired since.
    pub fn get(&self, k: &K, now: Instant) -> Option<(&V, Instant)> {
        let (v, at, _) = self.map.get(k)?;
        // A replay can ask about a moment before the value was written (an exchange replayed
        // after a later one): what was not seen yet at that moment is not known.
        (*at <= now && now.saturating_duration_since(*at) <= self.max_age).then_some((v, *at))
    }

    /// Writes a value (now), evicting the oldest entries beyond the cap and expired ones.
    pub fn put(&mut self, k: K, v: V, now: Instant) {
        self.next += 1;
        self.map.insert(k.clone(), (v, now, self.next));
        self.order.push_back((k, self.next));
        self.prune(now);
    }

    /// Updates a value in place (or inserts `default`), refreshing its time.
    pub fn update(
        &mut self,
        k: K,
        now: Instant,
        default: impl FnOnce() -> V,
        f: impl FnOnce(&mut V),
    ) {
        let expired = self
            .map
            .get(&k)
            .is_some_and(|(_, at, _)| now.saturating_duration_since(*at) > self.max_age);
        let mut v = match self.map.remove(&k) {
            Some((v, _, _)) if !expired => v,
            _ => default(),
        };
        f(&mut v);
        self.put(k, v, now);
    }

    fn prune(&mut self, now: Instant) {
        while let Some((k, gen)) = self.order.front() {
            let live = self.map.get(k).map(|(_, at, g)| {
                (
                    *g == *gen,
                    now.saturating_duration_since(*at) > self.max_age,
                )
            });
            match live {
                // A stale position: the key was rewritten later.
                Some((false, _)) | None => {
                    self.order.pop_front();
                }
                Some((true, expired)) if expired || self.map.len() > self.cap => {
                    let (k, _) = self.order.pop_front().expect("front exists");
                    self.map.remove(&k);
                }
                Some((true, _)) => break,
            }
        }
        // Rewrites of hot keys leave stale positions behind the front: compact now and then.
        if self.order.len() > 2 * self.cap + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|(_, _, mg)| mg == g));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_evicts_oldest_and_age_expires() {
        let t0 = Instant::now();
        let mut b = Bounded::new(2, Duration::from_secs(10));
        b.put("a", 1, t0);
        b.put("b", 2, t0);
        b.put("c", 3, t0);
        assert!(b.get(&"a", t0).is_none());
        assert_eq!(b.len(), 2);
        assert!(
            b.get(&"c", t0 + Duration::from_secs(11)).is_none(),
            "expired"
        );
        b.put("d", 4, t0 + Duration::from_secs(20));
        assert_eq!(b.len(), 1, "expired entries are dropped on the next write");
    }

    #[test]
    fn a_value_is_not_known_before_it_was_written() {
        let t0 = Instant::now();
        let mut b = Bounded::new(2, Duration::from_secs(10));
        b.put("a", 1, t0 + Duration::from_secs(5));
        assert!(b.get(&"a", t0).is_none(), "asked about an earlier moment");
        assert_eq!(
            b.get(&"a", t0 + Duration::from_secs(5)).map(|(v, _)| *v),
            Some(1)
        );
    }

    #[test]
    fn rewriting_one_key_forever_keeps_memory_flat() {
        let t0 = Instant::now();
        let mut b = Bounded::new(10, Duration::from_secs(60));
        for i in 0..100_000u32 {
            b.update("hot".to_string(), t0, || 0u32, |v| *v += 1);
            if i % 1000 == 0 {
                b.put(i.to_string(), 0, t0);
            }
        }
        assert!(b.order.len() <= 2 * 10 + 64 + 1, "{}", b.order.len());
        assert_eq!(*b.get(&"hot".to_string(), t0).unwrap().0, 100_000);
    }
}
