//! A pooled object cannot outlive its pool: the guard borrows it.
use framemem::Pool;

fn main() {
    let buffer;
    {
        let pool: Pool<Vec<u8>> = Pool::new(4);
        buffer = pool.get();
    }
    drop(buffer);
}
