//! Scratch vectors: the per-frame arrays a system borrows from the strategy
//! and drops before it returns.
//!
//! - [`ScratchVec`]: the few operations the systems need, implemented once
//!   (by a macro) for the three vector types the strategies hand out: `Vec`
//!   (heap), `allocator_api2`'s `Vec` on the slab or the arena, and a
//!   [`Pooled`] `Vec` (pool).
//! - [`ScratchItem`]: the row types kept in them (`u32` indices and the rows
//!   of `rows.rs`). The pool strategy recycles vectors per type, in
//!   [`PoolScratch`], and this trait says which of its pools a type uses.

use crate::alloc::{Pool, Pooled};
use crate::sim::rows::{Body, Contact, TargetRow};

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
}

/// A type the systems keep in scratch vectors.
pub trait ScratchItem: Copy + Default + Send + Sync + 'static {
    /// The pool strategy's recycled vectors of this type.
    fn vectors(scratch: &PoolScratch) -> &Pool<Vec<Self>>;
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

/// Implements [`ScratchItem`] for each type, with the field of
/// [`PoolScratch`] that holds its vectors.
macro_rules! impl_scratch_item {
    ($($ty:ty => $field:ident,)*) => {$(
        impl ScratchItem for $ty {
            fn vectors(scratch: &PoolScratch) -> &Pool<Vec<Self>> {
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
