//! The tiles' listing cache: the four tiles of one `(key, period)` asked
//! within [`TTL`] share one GTI listing, the first asker fetching while the
//! others wait for it. Bounded in entries and in bytes (oldest dropped
//! first); a key's entries are dropped when its detections are resolved.
//!
//! The API key is never stored: entries are keyed by a hash of it under a
//! seed drawn at random when the cache is made, so the hash says nothing
//! outside this process. Failed fetches are not cached.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use std::time::{Duration, Instant};

use super::{Listing, Period};

/// How long one listing serves the tiles.
pub const TTL: Duration = Duration::from_secs(60);

/// The most entries kept.
pub const MAX_ENTRIES: usize = 1024;

/// The most bytes (approximately) the listings kept may hold.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Which listing: the hash of a key, and a period.
type Slot = (u64, Period);

struct Entry {
    made: Instant,
    /// Filled by the first asker; others wait on the lock meanwhile.
    listing: Mutex<Option<Arc<Listing>>>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Slot, (Arc<Entry>, usize)>,
    bytes: usize,
}

/// See the module documentation.
pub struct TileCache {
    seed: RandomState,
    entries: Mutex<Entries>,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for TileCache {
    fn default() -> Self {
        TileCache::new(MAX_ENTRIES, MAX_BYTES)
    }
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field("entries", &lock(&self.entries).map.len())
            .finish_non_exhaustive()
    }
}

impl TileCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> TileCache {
        TileCache {
            seed: RandomState::new(),
            entries: Mutex::new(Entries::default()),
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    /// The owner's hash under this cache's seed: all the cache keeps of it.
    /// The owner is whatever a listing belongs to: an API key, or a key in
    /// a region (the relay's `(Region, &str)`).
    fn hash(&self, owner: &(impl Hash + ?Sized)) -> u64 {
        self.seed.hash_one(owner)
    }

    /// The listing of `(key, period)`: the cached one when younger than
    /// [`TTL`], else the one `fetch` makes (once, however many ask at the
    /// same time). A failed fetch is returned, not kept.
    pub fn get_or_fetch<E>(
        &self,
        key: &(impl Hash + ?Sized),
        period: Period,
        fetch: impl FnOnce() -> Result<Listing, E>,
    ) -> Result<Arc<Listing>, E> {
        let slot = (self.hash(key), period);
        let entry = {
            let mut entries = lock(&self.entries);
            let fresh = entries
                .map
                .get(&slot)
                .filter(|(entry, _)| entry.made.elapsed() < TTL)
                .map(|(entry, _)| Arc::clone(entry));
            match fresh {
                Some(entry) => entry,
                None => {
                    let entry = Arc::new(Entry {
                        made: Instant::now(),
                        listing: Mutex::new(None),
                    });
                    if let Some((_, bytes)) = entries.map.insert(slot, (Arc::clone(&entry), 0)) {
                        entries.bytes = entries.bytes.saturating_sub(bytes);
                    }
                    entry
                }
            }
        };
        // Held while fetching: the other tiles of the slot wait here.
        let mut listing = lock(&entry.listing);
        if let Some(listing) = listing.as_ref() {
            return Ok(Arc::clone(listing));
        }
        let fetched = Arc::new(fetch()?);
        *listing = Some(Arc::clone(&fetched));
        drop(listing);
        self.account(slot, &entry, fetched.approximate_bytes());
        Ok(fetched)
    }

    /// Records the size of a filled entry and evicts the oldest entries
    /// beyond the bounds (a listing larger than the whole bound is not kept).
    fn account(&self, slot: Slot, entry: &Arc<Entry>, bytes: usize) {
        let mut entries = lock(&self.entries);
        let Some(stored) = entries.map.get_mut(&slot) else {
            return;
        };
        if !Arc::ptr_eq(&stored.0, entry) {
            return;
        }
        let before = std::mem::replace(&mut stored.1, bytes);
        entries.bytes = entries.bytes.saturating_sub(before).saturating_add(bytes);
        while entries.map.len() > self.max_entries || entries.bytes > self.max_bytes {
            let oldest = entries
                .map
                .iter()
                .min_by_key(|(_, (entry, _))| entry.made)
                .map(|(slot, _)| *slot);
            let Some(oldest) = oldest else { break };
            if let Some((_, bytes)) = entries.map.remove(&oldest) {
                entries.bytes = entries.bytes.saturating_sub(bytes);
            }
        }
    }

    /// Drops every listing of `key` (its detections changed).
    pub fn forget(&self, key: &(impl Hash + ?Sized)) {
        let hash = self.hash(key);
        let mut entries = lock(&self.entries);
        let mut freed = 0;
        entries.map.retain(|(owner, _), (_, bytes)| {
            let keep = *owner != hash;
            if !keep {
                freed += *bytes;
            }
            keep
        });
        entries.bytes = entries.bytes.saturating_sub(freed);
    }

    /// How many listings are kept (tests).
    pub fn len(&self) -> usize {
        lock(&self.entries).map.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fetch_counting(count: &AtomicUsize) -> impl FnOnce() -> Result<Listing, ()> + '_ {
        move || {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(Listing::default())
        }
    }

    #[test]
    fn one_fetch_per_key_and_period_shared_by_concurrent_askers() {
        let cache = TileCache::default();
        let count = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    cache
                        .get_or_fetch("key", Period::Last7Days, || {
                            std::thread::sleep(Duration::from_millis(20));
                            fetch_counting(&count)()
                        })
                        .unwrap();
                });
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 1);
        cache
            .get_or_fetch("key", Period::Last30Days, fetch_counting(&count))
            .unwrap();
        cache
            .get_or_fetch("other", Period::Last7Days, fetch_counting(&count))
            .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn failures_are_not_kept_and_forget_drops_a_key() {
        let cache = TileCache::default();
        let count = AtomicUsize::new(0);
        assert!(cache
            .get_or_fetch("key", Period::Last7Days, || Err::<Listing, _>("down"))
            .is_err());
        cache
            .get_or_fetch("key", Period::Last7Days, fetch_counting(&count))
            .unwrap();
        cache
            .get_or_fetch("key", Period::Last24Hours, fetch_counting(&count))
            .unwrap();
        cache
            .get_or_fetch("other", Period::Last24Hours, fetch_counting(&count))
            .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 3);
        cache.forget("key");
        assert_eq!(cache.len(), 1);
        cache
            .get_or_fetch("key", Period::Last7Days, fetch_counting(&count))
            .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let cache = TileCache::new(2, usize::MAX);
        let count = AtomicUsize::new(0);
        for key in ["a", "b", "c"] {
            cache
                .get_or_fetch(key, Period::Last7Days, fetch_counting(&count))
                .unwrap();
        }
        assert_eq!(cache.len(), 2);
        let tiny = TileCache::new(100, 1);
        tiny.get_or_fetch("a", Period::Last7Days, fetch_counting(&count))
            .unwrap();
        assert!(tiny.is_empty());
    }

    #[test]
    fn the_key_is_not_kept_in_clear() {
        let cache = TileCache::default();
        cache
            .get_or_fetch("secret-key", Period::Last7Days, || {
                Ok::<_, ()>(Listing::default())
            })
            .unwrap();
        assert!(!format!("{cache:?}").contains("secret-key"));
        assert_ne!(
            cache.hash("secret-key"),
            TileCache::default().hash("secret-key")
        );
    }
}
