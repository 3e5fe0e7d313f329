//! A pool's per-thread handle shared with another thread: it is not `Sync`
//! either, so scoped threads cannot borrow it.
use framemem::Pool;

fn main() {
    let pool: Pool<Vec<u8>> = Pool::new(8);
    let local = pool.local();
    std::thread::scope(|s| {
        s.spawn(|| drop(local.get())); // would pop from this thread's lane
    });
}
