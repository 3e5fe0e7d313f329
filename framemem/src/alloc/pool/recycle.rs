//! The hooks that clean an object on its way back into a [`Pool`](super::Pool):
//! [`Recycle`] for types that know how to clear themselves, [`ResetHook`] for
//! any cleaning a pool runs, and the two hooks framemem ships
//! ([`CallRecycle`], [`ClearBuffer`]).
//!
//! Invariant a hook must keep: it leaves the object in a state the pool's
//! next user may receive (`Pool::get` hands it out as is).

/// Puts an object back in a clean state before it returns to a pool.
pub trait Recycle {
    /// Clears the object, keeping what is worth reusing (its capacity).
    fn recycle(&mut self);
}

impl<T> Recycle for Vec<T> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl Recycle for String {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<T> Recycle for std::collections::VecDeque<T> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<K, V, S> Recycle for std::collections::HashMap<K, V, S> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<K, V> Recycle for std::collections::BTreeMap<K, V> {
    fn recycle(&mut self) {
        self.clear();
    }
}

/// The hook a [`Pool`](super::Pool) runs on every object that comes back.
///
/// A type parameter, not a boxed closure, so the hook is inlined into the
/// return path: [`CallRecycle`] calls [`Recycle::recycle`], any
/// `Fn(&mut T) + Send + Sync` is a hook too (a closure, a `fn` pointer, or a
/// `Box<dyn Fn(&mut T) + Send + Sync>` where the type must be named).
pub trait ResetHook<T>: Send + Sync {
    /// Cleans `value` before it is kept.
    fn reset(&self, value: &mut T);
}

/// The default hook: [`Recycle::recycle`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CallRecycle;

impl<T: Recycle> ResetHook<T> for CallRecycle {
    #[inline(always)]
    fn reset(&self, value: &mut T) {
        value.recycle();
    }
}

impl<T, F: Fn(&mut T) + Send + Sync> ResetHook<T> for F {
    #[inline(always)]
    fn reset(&self, value: &mut T) {
        self(value)
    }
}

/// The hook of [`Pool::byte_buffers`](super::Pool::byte_buffers): clear, and
/// shrink buffers that grew past four times their nominal size.
#[derive(Clone, Copy, Debug)]
pub struct ClearBuffer {
    /// The nominal capacity of a buffer, in bytes.
    pub buffer_bytes: usize,
}

impl ResetHook<Vec<u8>> for ClearBuffer {
    fn reset(&self, buf: &mut Vec<u8>) {
        buf.clear();
        if buf.capacity() > self.buffer_bytes.saturating_mul(4) {
            buf.shrink_to(self.buffer_bytes);
        }
    }
}
