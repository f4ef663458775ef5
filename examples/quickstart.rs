//! The README's example: a job queue shared by every process that binds to
//! it. Run with a memcached on 127.0.0.1:11211, or say where one is:
//! `MEMCACHED=host:port cargo run --example quickstart`.

use memcache_collections::{BlockingDeque, DequeOptions, MemcachedOptions, MemcachedStore};

fn main() -> Result<(), memcache_collections::Error> {
    let address = std::env::var("MEMCACHED").unwrap_or_else(|_| "127.0.0.1:11211".to_owned());
    let store = MemcachedStore::connect(&[address], &MemcachedOptions::default())?;
    // Every process binds to the same queue; the first to start creates it.
    let mut jobs = BlockingDeque::create_or_bind(&store, "jobs", DequeOptions::default())?;
    jobs.push_back("resize image 42")?;
    match jobs.pop_front()? {
        Some(job) => println!("{}: took {:?}", jobs.name(), String::from_utf8_lossy(&job)),
        None => println!("{}: nothing to do", jobs.name()),
    }
    // A handle keeps a little work for its next request (the popped node's
    // delete, a push's neighbour link); one that is done sends it now.
    jobs.settle();
    Ok(())
}
