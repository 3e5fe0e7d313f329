//! One copy of puffin in the build: with two (say puffin_http pulling
//! another version than the scopes use), the scopes go to one profiler and
//! the server listens to the other, and the viewer silently shows nothing.
//! `cargo tree -d` shows it too; this checks the lock file, offline.

#[test]
fn the_lock_file_has_one_puffin() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock is committed");
    for crate_name in ["puffin", "puffin_http"] {
        let line = format!("name = \"{crate_name}\"");
        let copies = lock.lines().filter(|l| l.trim() == line).count();
        assert_eq!(copies, 1, "{copies} copies of {crate_name} in Cargo.lock");
    }
}
