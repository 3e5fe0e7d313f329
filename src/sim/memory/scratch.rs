//! Scratch vectors: the per-frame arrays a system borrows from the strategy
//! and drops before it returns.
//!
//! - [`ScratchVec`]: the few operations the systems need, implemented once
//!   (by a macro) for the three vector types the strategies hand out: `Vec`
//!   (heap), `allocator_api2`'s `Vec` on the slab or the arena, and a
//!   [`Pooled`] `Vec` (pool).
//! - [`ScratchItem`]: the row types kept in them (`u32` indices and the rows
//!   of `rows.rs`). The pool strategy recycles vectors per type, in
//!   [`PoolScratch`], the framevec strategy keeps them per type, in
//!   [`KeptScratch`], and this trait says which of their fields a type uses.
//! - [`KeptVec`]: the framevec strategy's scratch vector, a plain `Vec` that
//!   goes back to its [`KeptScratch`] cleared, capacity kept.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

use crate::sim::rows::{Body, Contact, TargetRow};
use framemem::{Pool, Pooled};

/// The few operations the systems need from a scratch vector.
pub trait ScratchVec<T> {
    /// Appends a value.
    fn push(&mut self, value: T);
    /// Removes every value, keeping the capacity.
    fn clear(&mut self);
    /// Sets the length to `len`, filling new slots with `value`.
    fn resize(&mut self, len: usize, value: T);
    /// Removes consecutive repeated values.
    fn dedup(&mut self)
    where
        T: PartialEq;
    /// The values.
    fn as_slice(&self) -> &[T];
    /// The values, writable.
    fn as_mut_slice(&mut self) -> &mut [T];
    /// How many values there are.
    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// Implements [`ScratchVec`] for `$ty` by calling the inherent methods of
/// `$vec` (the type itself, or the `Vec` a [`Pooled`] derefs to).
macro_rules! impl_scratch_vec {
    ($(impl[$($generics:tt)*] $ty:ty => $vec:ty;)*) => {$(
        impl<$($generics)*> ScratchVec<T> for $ty {
            fn push(&mut self, value: T) {
                <$vec>::push(self, value);
            }
            fn clear(&mut self) {
                <$vec>::clear(self);
            }
            fn resize(&mut self, len: usize, value: T) {
                <$vec>::resize(self, len, value);
            }
            fn dedup(&mut self)
            where
                T: PartialEq,
            {
                <$vec>::dedup(self);
            }
            fn as_slice(&self) -> &[T] {
                self
            }
            fn as_mut_slice(&mut self) -> &mut [T] {
                self
            }
        }
    )*};
}

impl_scratch_vec! {
    impl[T: Clone] Vec<T> => Vec<T>;
    impl[T: Clone, A: allocator_api2::alloc::Allocator]
        allocator_api2::vec::Vec<T, A> => allocator_api2::vec::Vec<T, A>;
    impl[T: Clone + Send] Pooled<'_, Vec<T>> => Vec<T>;
    impl[T: Clone] KeptVec<'_, T> => Vec<T>;
}

/// A type the systems keep in scratch vectors.
pub trait ScratchItem: Copy + Default + Send + Sync + 'static {
    /// The pool strategy's recycled vectors of this type.
    fn vectors(scratch: &PoolScratch) -> &Pool<Vec<Self>>;
    /// The framevec strategy's kept vectors of this type.
    fn kept(scratch: &KeptScratch) -> &KeptVecs<Self>;
}

/// The pool strategy's scratch: recycled vectors, one [`Pool`] per
/// [`ScratchItem`] type.
#[derive(Debug)]
pub struct PoolScratch {
    indices: Pool<Vec<u32>>,
    bodies: Pool<Vec<Body>>,
    contacts: Pool<Vec<Contact>>,
    targets: Pool<Vec<TargetRow>>,
}

impl PoolScratch {
    /// The bound on idle vectors per type. A system holds at most four at
    /// once, but the bound must be far larger: `Pool` leases capacity to
    /// each thread in batches of 128, so a bound of 8 serves one thread, and
    /// every vector given back on another thread (the executor runs
    /// `collide` on any worker) would be dropped and allocated anew. Vectors
    /// are only made on demand, so a loose bound costs nothing.
    const IDLE_VECTORS: usize = 1024;

    /// Empty: vectors are made on first use.
    pub fn new() -> Self {
        Self {
            indices: Pool::new(Self::IDLE_VECTORS),
            bodies: Pool::new(Self::IDLE_VECTORS),
            contacts: Pool::new(Self::IDLE_VECTORS),
            targets: Pool::new(Self::IDLE_VECTORS),
        }
    }
}

/// Vectors of one type kept between uses, empty, capacity kept: a stack,
/// since a system may hold several at once.
pub type KeptVecs<T> = Mutex<Vec<Vec<T>>>;

/// The framevec strategy's scratch: plain `Vec`s kept between uses, one
/// stack per [`ScratchItem`] type. The lock is never contended (one system
/// takes scratch at a time) and taken once per vector: the cost of a
/// `Local<Vec<T>>` that a system generic over the strategy cannot have.
#[derive(Debug, Default)]
pub struct KeptScratch {
    indices: KeptVecs<u32>,
    bodies: KeptVecs<Body>,
    contacts: KeptVecs<Contact>,
    targets: KeptVecs<TargetRow>,
}

impl KeptScratch {
    /// Bytes held by the kept vectors (those in use are not counted).
    pub fn bytes_reserved(&self) -> usize {
        fn held<T>(vecs: &KeptVecs<T>) -> usize {
            let vecs = vecs.lock().unwrap_or_else(PoisonError::into_inner);
            vecs.iter()
                .map(|v| v.capacity() * std::mem::size_of::<T>())
                .sum()
        }
        held(&self.indices) + held(&self.bodies) + held(&self.contacts) + held(&self.targets)
    }
}

/// A scratch `Vec` taken from a [`KeptScratch`]; back there on drop,
/// cleared, capacity kept.
#[derive(Debug)]
pub struct KeptVec<'a, T> {
    vec: Vec<T>,
    home: &'a KeptVecs<T>,
}

impl<'a, T> KeptVec<'a, T> {
    /// A kept vector from `home` (a new one when none is left) with room
    /// for `capacity` values.
    pub fn take(home: &'a KeptVecs<T>, capacity: usize) -> Self {
        let mut vec = home
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        vec.reserve(capacity);
        KeptVec { vec, home }
    }
}

impl<T> Deref for KeptVec<'_, T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.vec
    }
}

impl<T> DerefMut for KeptVec<'_, T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.vec
    }
}

impl<T> Drop for KeptVec<'_, T> {
    fn drop(&mut self) {
        let mut vec = std::mem::take(&mut self.vec);
        vec.clear();
        self.home
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(vec);
    }
}

/// Implements [`ScratchItem`] for each type, with the field of
/// [`PoolScratch`] and of [`KeptScratch`] that holds its vectors.
macro_rules! impl_scratch_item {
    ($($ty:ty => $field:ident,)*) => {$(
        impl ScratchItem for $ty {
            fn vectors(scratch: &PoolScratch) -> &Pool<Vec<Self>> {
                &scratch.$field
            }
            fn kept(scratch: &KeptScratch) -> &KeptVecs<Self> {
                &scratch.$field
            }
        }
    )*};
}

impl_scratch_item! {
    u32 => indices,
    Body => bodies,
    Contact => contacts,
    TargetRow => targets,
}
