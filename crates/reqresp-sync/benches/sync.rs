//! Criterion benches of the sync behaviour on loopback (placeholder until the benches land).

fn main() {}
