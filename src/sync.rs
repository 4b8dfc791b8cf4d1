//! Locking that a panic cannot wedge. A handler or a GTI call that panics
//! is caught (the server and the call pool go on), but it may poison a lock
//! it held; every lock in the crate guards data that its critical sections
//! never leave half-updated (they compute first, then assign), so the data
//! behind a poisoned lock is still sound and is used as it is.

use std::sync::{LockResult, Mutex, MutexGuard, PoisonError};

/// What a lock call (`lock`, `read`, `write`, a condition variable's wait)
/// gave, poisoned or not.
pub(crate) fn recover<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

/// `mutex`, locked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    recover(mutex.lock())
}
