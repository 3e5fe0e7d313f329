//! [`Pooled<T>`]: an object on loan from a [`Pool`], and [`Pool::get`],
//! which lends it.
//!
//! Invariant: a guard's `value` is initialised from `get` until the guard
//! ends, in `drop` (back to the pool) or `into_inner` (kept by the caller),
//! each of which takes it out exactly once.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use super::Pool;
use super::recycle::{CallRecycle, ResetHook};

impl<T: Send, H: ResetHook<T>> Pool<T, H> {
    /// An object from the pool (or a new one), returned to the pool when the
    /// guard drops.
    #[inline(always)]
    pub fn get(&self) -> Pooled<'_, T, H> {
        Pooled {
            pool: self,
            value: ManuallyDrop::new(self.take()),
        }
    }
}

/// An object on loan from a [`Pool`]. Derefs to `T`; goes back to the pool
/// when dropped, whatever the path out of the scope (a `return`, `?`, a
/// panic that unwinds).
pub struct Pooled<'a, T: Send, H: ResetHook<T> = CallRecycle> {
    pool: &'a Pool<T, H>,
    /// Taken out only in `drop` and `into_inner`, each of which ends the guard.
    value: ManuallyDrop<T>,
}

impl<T: Send, H: ResetHook<T>> Pooled<'_, T, H> {
    /// Keeps the object for good: it will not go back to the pool.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `value` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T: Send, H: ResetHook<T>> Deref for Pooled<'_, T, H> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send, H: ResetHook<T>> DerefMut for Pooled<'_, T, H> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Send, H: ResetHook<T>> Drop for Pooled<'_, T, H> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `value` is not used after.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.pool.put(value);
    }
}

impl<T: Send + fmt::Debug, H: ResetHook<T>> fmt::Debug for Pooled<'_, T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&*self.value).finish()
    }
}
