//! The search's memo keys: a Zobrist hash of the linearized set and a
//! positional polynomial hash (mod 2^61 - 1) of the deque's contents, both
//! kept incrementally.

/// The Mersenne prime 2^61 - 1, modulus of the contents hash.
pub(super) const MODULUS: u64 = (1 << 61) - 1;
/// Base of the positional contents hash.
pub(super) const BASE: u64 = 1_000_003;

pub(super) fn mul_mod(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    let folded = (product & u128::from(MODULUS)) + (product >> 61);
    let folded = folded as u64;
    if folded >= MODULUS { folded - MODULUS } else { folded }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(super) fn zobrist(entry: usize) -> u64 {
    splitmix(entry as u64 ^ 0x5EED)
}

/// The linearized-set term of the `count`-th interchangeable unknown pop
/// at an end (front: 1); see `search::Search::interchangeable`.
pub(super) fn count_hash(end: usize, count: u32) -> u64 {
    splitmix((u64::from(count) << 1 | end as u64) ^ 0xC0C0_0000_0000_0000)
}

pub(super) fn value_hash(value: u32) -> u64 {
    splitmix(u64::from(value)) % (MODULUS - 1) + 1
}
